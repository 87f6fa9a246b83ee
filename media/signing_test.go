package media

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestURLSigner: a link verifies for its clip, file and person until it
// expires (on a swappable clock), and not a moment after; any change to it
// is refused.
func TestURLSigner(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s := NewURLSigner(bytes.Repeat([]byte{7}, 32), clock)
	q, err := url.ParseQuery(s.Query("clip1", "720p/seg_000.ts", "user1", now.Add(time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if u, err := s.Verify("clip1", "720p/seg_000.ts", q); err != nil || u != "user1" {
		t.Fatalf("fresh link: %q %v", u, err)
	}
	code := func(err error) string {
		var ae *apperr.Error
		if errors.As(err, &ae) && errors.Is(err, apperr.ErrForbidden) {
			return ae.Code
		}
		return "not forbidden: " + err.Error()
	}
	for name, tc := range map[string]struct {
		clip, rel string
		change    func(url.Values)
	}{
		"another clip":   {"clip2", "720p/seg_000.ts", nil},
		"another file":   {"clip1", "720p/seg_001.ts", nil},
		"another person": {"clip1", "720p/seg_000.ts", func(v url.Values) { v.Set("u", "user2") }},
		"later expiry":   {"clip1", "720p/seg_000.ts", func(v url.Values) { v.Set("e", "9999999999") }},
		"no signature":   {"clip1", "720p/seg_000.ts", func(v url.Values) { v.Del("s") }},
		"other key": {"clip1", "720p/seg_000.ts", func(v url.Values) {
			v.Set("s", NewURLSigner(bytes.Repeat([]byte{8}, 32), clock).mac64("clip1", "720p/seg_000.ts", "user1", v.Get("e")))
		}},
	} {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		if tc.change != nil {
			tc.change(v)
		}
		if _, err := s.Verify(tc.clip, tc.rel, v); err == nil || code(err) != "media_link_invalid" {
			t.Errorf("%s: %v", name, err)
		}
	}
	now = now.Add(time.Hour - time.Second)
	if _, err := s.Verify("clip1", "720p/seg_000.ts", q); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := s.Verify("clip1", "720p/seg_000.ts", q); err == nil || code(err) != "media_link_expired" {
		t.Errorf("at expiry: %v", err)
	}
}

// TestSigningKeyShared: nodes on one database agree on the generated key,
// even when they start at once; a configured secret gives every node the
// same key without the database.
func TestSigningKeyShared(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			db := d.Open(t)
			ctx := context.Background()
			keys := make([][]byte, 4)
			var wg sync.WaitGroup
			for i := range keys {
				wg.Add(1)
				go func() {
					defer wg.Done()
					k, err := SigningKey(ctx, db, "")
					if err != nil {
						t.Error(err)
					}
					keys[i] = k
				}()
			}
			wg.Wait()
			for i := range keys {
				if len(keys[i]) != 32 || !bytes.Equal(keys[i], keys[0]) {
					t.Fatalf("node %d has key %x, node 0 %x", i, keys[i], keys[0])
				}
			}
			a, _ := SigningKey(ctx, db, "a configured secret of at least 32 chars")
			b, _ := SigningKey(ctx, nil, "a configured secret of at least 32 chars")
			if !bytes.Equal(a, b) || bytes.Equal(a, keys[0]) {
				t.Errorf("configured keys %x %x, generated %x", a, b, keys[0])
			}
		})
	}
}

// mac64 is the signature parameter for an expiry given as text.
func (s *URLSigner) mac64(clipID, rel, userID, exp string) string {
	e, _ := strconv.ParseInt(exp, 10, 64)
	return base64.RawURLEncoding.EncodeToString(s.mac(clipID, rel, userID, e))
}
