package server

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/ratelimit"
)

// TestLimitFlags reads the rate-limit flags and FILMROOM_* variables.
func TestLimitFlags(t *testing.T) {
	t.Setenv("FILMROOM_WRITE_RATE_ADDRESS", "1000/1m,500")
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, c Config)
		err   string
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			l := c.Limits
			if l.WritesPerUser != (ratelimit.Rate{Count: 120, Per: time.Minute, Burst: 60}) ||
				l.UploadsPerUser != (ratelimit.Rate{Count: 60, Per: time.Hour, Burst: 30}) ||
				l.SignIn.Address != (ratelimit.Rate{Count: 20, Per: time.Minute, Burst: 100}) ||
				l.SignIn.Email != (ratelimit.Rate{Count: 30, Per: time.Hour, Burst: 100}) {
				t.Fatalf("defaults: %+v", l)
			}
			want := ratelimit.Backoff{After: 5, Base: time.Second, Max: 15 * time.Minute, Forget: 24 * time.Hour}
			if l.SignIn.Pair != want || l.SignIn.Password != want {
				t.Fatalf("back-offs: %+v", l.SignIn)
			}
		}},
		{name: "the environment", check: func(t *testing.T, c Config) {
			l := c.Limits
			if l.WritesPerAddress != (ratelimit.Rate{Count: 1000, Per: time.Minute, Burst: 500}) {
				t.Fatalf("FILMROOM_WRITE_RATE_ADDRESS: %+v", l.WritesPerAddress)
			}
		}},
		{name: "flags", args: []string{"--write-rate-user", "off", "--signin-backoff-after", "3", "--signin-backoff-max", "1m"}, check: func(t *testing.T, c Config) {
			l := c.Limits
			if !l.WritesPerUser.Off() || l.SignIn.Pair.After != 3 || l.SignIn.Pair.Max != time.Minute || l.SignIn.Password.After != 3 {
				t.Fatalf("flags: %+v", l)
			}
		}},
		{name: "trusted proxies", args: []string{"--trusted-proxies", "10.0.0.1, 192.168.0.0/16,::1"}, check: func(t *testing.T, c Config) {
			if len(c.TrustedProxies) != 3 || c.TrustedProxies[0].String() != "10.0.0.1/32" || c.TrustedProxies[2].String() != "::1/128" {
				t.Fatalf("trusted proxies: %v", c.TrustedProxies)
			}
		}},
		{name: "a bad proxy", args: []string{"--trusted-proxies", "balancer"}, err: "--trusted-proxies"},
		{name: "a bad rate", args: []string{"--signin-rate-email", "lots"}, err: "--signin-rate-email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c.Bind(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			err := c.Finish()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Finish = %v, want an error naming %s", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}
