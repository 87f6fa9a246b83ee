package testsvc

import (
	"net"
	"net/url"
	"os"
	"testing"
	"time"
)

// NATSURL returns the NATS server the NATS runs use (FILMROOM_TEST_NATS,
// default nats://127.0.0.1:4222) after checking that it accepts
// connections: outside CI an unreachable server skips the test, in CI it
// fails it.
func NATSURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("FILMROOM_TEST_NATS")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		t.Fatalf("FILMROOM_TEST_NATS=%q is not a nats://host:port URL", u)
	}
	host := p.Host
	if p.Port() == "" {
		host = net.JoinHostPort(p.Hostname(), "4222")
	}
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		unavailable(t, "NATS at "+redact(u), err.Error()+"; start nats-server or set FILMROOM_TEST_NATS")
		return ""
	}
	c.Close()
	return u
}
