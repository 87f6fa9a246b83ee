package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
)

// TestServerKilledMidUpload kills `filmroom serve` (SQLite, local store)
// with SIGKILL while a tus PATCH is streaming, starts it again on the same
// data folder, and resumes as a tus client does: HEAD for the offset, PATCH
// the rest. The stored source has the SHA-256 of the original.
func TestServerKilledMidUpload(t *testing.T) {
	t.Parallel()
	bin := filmroomBinary(t)
	dataDir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dataDir, "filmroom.db")
	port := freePort(t)
	srv := startServe(t, "serve-1", bin, port, dbURL, dataDir, "--workers", "0")
	owner := &browser{t: t, base: srv.base}
	owner.must("POST", "/api/v1/setup", `{"email":"teacher@example.org","name":"Tess","password":"a long enough password"}`, 201)

	// Random bytes: the server takes any file at upload time, and a
	// pattern-free file makes a misplaced or doubled chunk visible.
	data := make([]byte, 6<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	up := owner.tusCreate(len(data), "lesson.mp4")

	// A PATCH whose body arrives slowly: the first 2 MiB, then nothing.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PATCH", srv.base+up, pr)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Upload-Offset", "0")
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: owner.session})
	req.Header.Set(accounts.CSRFHeader, owner.csrf)
	patched := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		patched <- err
	}()
	if _, err := pw.Write(data[:2<<20]); err != nil {
		t.Fatal(err)
	}
	// Watch tusd's file rather than ask (a HEAD would make tusd interrupt
	// the PATCH that holds the upload's lock).
	part := filepath.Join(dataDir, "uploads", uploadID(up))
	waitFor(t, "the server to have stored part of the upload", time.Minute, func() bool {
		st, err := os.Stat(part)
		return err == nil && st.Size() > 0
	})
	srv.kill9()
	_ = pw.CloseWithError(io.ErrUnexpectedEOF)
	<-patched // the request died with the server

	startServe(t, "serve-2", bin, port, dbURL, dataDir, "--workers", "0")
	offset := owner.tusOffset(up)
	if offset <= 0 || offset > 2<<20 {
		t.Fatalf("offset after the restart: %d, want 1..%d", offset, 2<<20)
	}
	if status, body := owner.tusPatch(up, offset, data[offset:]); status != 204 {
		t.Fatalf("resume at %d: %d %s", offset, status, body)
	}
	clipID := owner.uploadedClip(uploadID(up))
	var c faultClip
	waitFor(t, "the upload to be stored as the clip's source", time.Minute, func() bool {
		c = owner.clip(clipID)
		return c.SHA256 != ""
	})
	if c.SHA256 != hex.EncodeToString(want[:]) {
		t.Fatalf("clip sha256 %s, want %x", c.SHA256, want)
	}
	stored, err := os.ReadFile(filepath.Join(dataDir, "media", "clips", clipID, "source", "original"))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha256.Sum256(stored); got != want {
		t.Fatalf("stored source: %d bytes, sha256 %x; want %d bytes, %x", len(stored), got, len(data), want)
	}
	t.Logf("resumed at offset %s of %d", strconv.Itoa(offset), len(data))
}
