package server

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestClientAddressIgnoresForwardedHeaders: throttles and the audit key on
// the client address, so a client must not choose it by sending
// X-Forwarded-For or X-Real-IP (echo's default extractor trusts them;
// GO-2026-6872 in scripts/vulncheck/allow.txt relies on this).
func TestClientAddressIgnoresForwardedHeaders(t *testing.T) {
	e := sqliteEnv(t)
	e.srv.Echo().GET("/test-client-address", func(c echo.Context) error { return c.String(http.StatusOK, c.RealIP()) })
	for _, h := range []map[string]string{
		{"X-Forwarded-For": "203.0.113.9"},
		{"X-Real-IP": "203.0.113.9"},
		{"X-Forwarded-For": "203.0.113.9, 198.51.100.7", "X-Real-IP": "198.51.100.7"},
	} {
		req := httptest.NewRequest(http.MethodGet, "/test-client-address", nil)
		req.RemoteAddr = "192.0.2.10:4567"
		for k, v := range h {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(rec, req)
		if got := rec.Body.String(); got != "192.0.2.10" {
			t.Errorf("headers %v: client address %q, want the connection's 192.0.2.10", h, got)
		}
	}
}

// TestNoEchoProxyMiddleware: GO-2026-6875 (allowed in
// scripts/vulncheck/allow.txt) is in echo's reverse-proxy middleware, which
// filmroom must not use.
func TestNoEchoProxyMiddleware(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && p != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "clientaddr_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, use := range []string{"middleware.Proxy", "middleware.NewRoundRobinBalancer", "middleware.NewRandomBalancer"} {
			if strings.Contains(string(src), use) {
				t.Errorf("%s uses %s; see GO-2026-6875 in scripts/vulncheck/allow.txt", p, use)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
