package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// apiError is an answer with a status the caller did not expect.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("status %d: %s", e.Status, e.Body) }

// reason is the short label an error is counted under in the report.
func reason(err error) string {
	var ae *apiError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ae):
		return "http " + strconv.Itoa(ae.Status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "connection reset"), strings.Contains(err.Error(), "EOF"), strings.Contains(err.Error(), "broken pipe"):
		return "connection dropped"
	default:
		msg := err.Error()
		if len(msg) > 60 {
			msg = msg[:60]
		}
		return msg
	}
}

// transient reports whether a failed request is worth retrying: the server
// is restarting or overloaded, not refusing the request.
func transient(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status >= 500 || ae.Status == http.StatusTooManyRequests || ae.Status == http.StatusRequestTimeout
	}
	return err != nil
}

// client calls the filmroom API as one user with a personal API token.
type client struct {
	base  string
	token string
	name  string
	http  *http.Client
}

func newHTTPClient() *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}}
}

// signIn signs in with the password (session cookie + CSRF token) and makes
// a personal API token, which every later request uses.
func signIn(ctx context.Context, base, email, password string) (*client, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sign in %s: %w", email, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sign in %s: %w", email, &apiError{resp.StatusCode, string(body)})
	}
	u, _ := url.Parse(base)
	var csrf string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "filmroom_csrf" {
			csrf = ck.Value
		}
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/me/tokens", strings.NewReader(`{"name":"soak","scope":"full","expires_in_days":7}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err = hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("token for %s: %w", email, err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("token for %s: %w", email, &apiError{resp.StatusCode, string(body)})
	}
	var out struct {
		Token struct {
			Token string `json:"token"`
		} `json:"token"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("token for %s: %w", email, err)
	}
	tok := out.Token.Token
	if tok == "" {
		return nil, fmt.Errorf("token for %s: no token in %s", email, body)
	}
	return &client{base: base, token: tok, name: email, http: newHTTPClient()}, nil
}

// do sends a JSON request and decodes a 2xx answer into out (if not nil).
func (c *client) do(ctx context.Context, method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		if len(b) > 200 {
			b = b[:200]
		}
		return resp.StatusCode, &apiError{resp.StatusCode, string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// tusUpload sends a file with tus 1.0 in chunks of chunk bytes and resumes
// (HEAD for the offset, then PATCH on) after any failure until deadline: a
// restarted server continues the same upload. It returns the upload id.
func (c *client) tusUpload(ctx context.Context, path string, meta map[string]string, chunk int64, pause time.Duration, deadline time.Time, record func(op string, err error)) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	size := int64(len(data))
	var pairs []string
	for k, v := range meta {
		pairs = append(pairs, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	var loc string
	for loc == "" {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/api/v1/uploads/", nil)
		c.tusHeaders(req)
		req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
		req.Header.Set("Upload-Metadata", strings.Join(pairs, ","))
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				loc = resp.Header.Get("Location")
				record("upload.create", nil)
				break
			}
			err = &apiError{resp.StatusCode, "tus create"}
		}
		record("upload.create", err)
		if !transient(err) || time.Now().After(deadline) {
			return "", fmt.Errorf("tus create: %w", err)
		}
		time.Sleep(time.Second)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = c.base + loc
	}
	uploadID := loc[strings.LastIndex(loc, "/")+1:]
	off := int64(0)
	for off < size {
		n := min(chunk, size-off)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPatch, loc, bytes.NewReader(data[off:off+n]))
		c.tusHeaders(req)
		req.ContentLength = n
		req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				off, err = strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
				if err == nil {
					record("upload.patch", nil)
					time.Sleep(pause)
					continue
				}
			} else {
				err = &apiError{resp.StatusCode, "tus patch"}
			}
		}
		record("upload.patch", err)
		if !transient(err) && !isConflict(err) || time.Now().After(deadline) {
			return uploadID, fmt.Errorf("tus patch at %d: %w", off, err)
		}
		// Resume: ask the server where the upload stands.
		for {
			time.Sleep(time.Second)
			o, herr := c.tusOffset(ctx, loc)
			record("upload.resume", herr)
			if herr == nil {
				off = o
				break
			}
			if !transient(herr) || time.Now().After(deadline) {
				return uploadID, fmt.Errorf("tus head: %w", herr)
			}
		}
	}
	return uploadID, nil
}

func isConflict(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict
}

func (c *client) tusHeaders(req *http.Request) {
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+c.token)
}

func (c *client) tusOffset(ctx context.Context, loc string) (int64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, loc, nil)
	c.tusHeaders(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &apiError{resp.StatusCode, "tus head"}
	}
	return strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
}

// makeClip renders a small test clip with ffmpeg (test pattern and a tone of
// its own frequency, so every file differs; noise makes some harder to
// encode) and returns its SHA-256.
func makeClip(ctx context.Context, path string, seconds int, freq int, noise bool) (string, error) {
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x240:rate=25:duration=%d", seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:duration=%d", freq, seconds)}
	if noise {
		args = append(args, "-vf", "noise=alls=30:allf=t")
	}
	args = append(args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", "-threads", "1", path)
	if out, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return fileSHA256(path)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
