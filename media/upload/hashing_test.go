package upload

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
)

// failingReader gives its bytes and then an error, as a dropped PATCH does.
type failingReader struct{ r io.Reader }

func (f failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection reset")
	}
	return n, err
}

// TestHashingStore: the running hash gives the upload's SHA-256 when it
// covers exactly the bytes on disk, and nothing (so the upload is read
// back) when a crash or a failed write left them apart.
func TestHashingStore(t *testing.T) {
	t.Parallel()
	data := payload(1_000_000, 7)
	want := sha256.Sum256(data)
	type step func(t *testing.T, up handler.Upload, state string)
	write := func(from, to int) step {
		return func(t *testing.T, up handler.Upload, _ string) {
			if _, err := up.WriteChunk(context.Background(), int64(from), bytes.NewReader(data[from:to])); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		hashed bool
	}{
		{"in one chunk", []step{write(0, len(data))}, true},
		{"in chunks", []step{write(0, 1), write(1, 300_000), write(300_000, len(data))}, true},
		{"a dropped chunk resumed", []step{
			func(t *testing.T, up handler.Upload, _ string) {
				n, _ := up.WriteChunk(context.Background(), 0, failingReader{bytes.NewReader(data[:400_000])})
				if n != 400_000 {
					t.Fatalf("wrote %d of a dropped chunk", n)
				}
			},
			write(400_000, len(data)),
		}, true},
		{"bytes written without their state (a crash)", []step{
			write(0, 300_000),
			func(t *testing.T, up handler.Upload, _ string) {
				inner := up.(*hashingUpload).Upload
				if _, err := inner.WriteChunk(context.Background(), 300_000, bytes.NewReader(data[300_000:600_000])); err != nil {
					t.Fatal(err)
				}
			},
			write(600_000, len(data)),
		}, false},
		{"a torn state", []step{
			write(0, 300_000),
			func(t *testing.T, _ handler.Upload, state string) {
				if err := os.WriteFile(state, []byte{0, 0, 0}, 0o640); err != nil {
					t.Fatal(err)
				}
			},
			write(300_000, len(data)),
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fs := filestore.New(dir)
			s := &hashingStore{DataStore: fs, term: fs, dir: dir}
			ctx := context.Background()
			up, err := s.NewUpload(ctx, handler.FileInfo{Size: int64(len(data))})
			if err != nil {
				t.Fatal(err)
			}
			info, _ := up.GetInfo(ctx)
			state := filepath.Join(dir, info.ID+".sha256")
			for _, st := range tc.steps {
				// Each PATCH gets the upload afresh, as tusd does.
				again, err := s.GetUpload(ctx, info.ID)
				if err != nil {
					t.Fatal(err)
				}
				st(t, again, state)
			}
			again, _ := s.GetUpload(ctx, info.ID)
			sum, ok := again.(*hashingUpload).sum(int64(len(data)))
			if ok != tc.hashed {
				t.Fatalf("hashed as it arrived: %v, want %v", ok, tc.hashed)
			}
			if ok && sum != hex.EncodeToString(want[:]) {
				t.Fatalf("sum %s, want %x", sum, want)
			}
			if _, ok := again.(*hashingUpload).sum(int64(len(data)) - 1); ok {
				t.Fatal("a sum for fewer bytes than the state covers")
			}
			if err := s.AsTerminatableUpload(again).Terminate(ctx); err != nil {
				t.Fatal(err)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 0 {
				t.Fatalf("left after terminate: %v", left)
			}
		})
	}
}
