package upload

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tus/tusd/v2/pkg/handler"
)

// hashingStore keeps a running SHA-256 of each upload in the local folder
// as its bytes arrive: <dir>/<id>.sha256 holds how many bytes it covers and
// the hash's state. A finished upload's sum is then known at once, instead
// of reading a lesson of several gigabytes back from disk, which was most
// of the wait between the last byte and a playable clip.
//
// The state is advanced only when a chunk was written exactly as it was
// read, and used only when it covers exactly the bytes on disk (a crash
// between writing a chunk and its state, or a failed write, leaves them
// apart); otherwise the upload is hashed from disk as before.
type hashingStore struct {
	handler.DataStore
	term handler.TerminaterDataStore
	dir  string
}

func (s *hashingStore) NewUpload(ctx context.Context, info handler.FileInfo) (handler.Upload, error) {
	up, err := s.DataStore.NewUpload(ctx, info)
	if err != nil {
		return nil, err
	}
	got, err := up.GetInfo(ctx)
	if err != nil {
		return nil, err
	}
	return s.wrap(up, got.ID), nil
}

func (s *hashingStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	up, err := s.DataStore.GetUpload(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.wrap(up, id), nil
}

func (s *hashingStore) wrap(up handler.Upload, id string) *hashingUpload {
	path := ""
	if validID(id) == nil {
		path = filepath.Join(s.dir, id+".sha256")
	}
	return &hashingUpload{Upload: up, state: path}
}

// AsTerminatableUpload removes the hash state with the upload.
func (s *hashingStore) AsTerminatableUpload(up handler.Upload) handler.TerminatableUpload {
	h := up.(*hashingUpload)
	return terminate{h.Upload, s.term.AsTerminatableUpload(h.Upload), h.state}
}

type terminate struct {
	handler.Upload
	inner handler.TerminatableUpload
	state string
}

func (t terminate) Terminate(ctx context.Context) error {
	if err := t.inner.Terminate(ctx); err != nil {
		return err
	}
	if t.state != "" {
		if err := os.Remove(t.state); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove hash state: %w", err)
		}
	}
	return nil
}

type hashingUpload struct {
	handler.Upload
	state string // "" for an ID that is not a file name
}

func (u *hashingUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	h, ok := u.load(offset)
	if !ok {
		u.drop()
		return u.Upload.WriteChunk(ctx, offset, src)
	}
	r := &countingReader{r: io.TeeReader(src, h)}
	n, err := u.Upload.WriteChunk(ctx, offset, r)
	if r.n != n {
		u.drop() // read but not written: the state would run ahead
	} else if serr := u.save(offset+n, h); serr != nil {
		u.drop()
	}
	return n, err
}

// sum is the upload's SHA-256 if the state covers exactly size bytes.
func (u *hashingUpload) sum(size int64) (string, bool) {
	h, ok := u.load(size)
	if !ok {
		return "", false
	}
	return hex.EncodeToString(h.Sum(nil)), true
}

// load returns the hash of the first offset bytes, if the state has it: a
// fresh hash at 0 with no state yet.
func (u *hashingUpload) load(offset int64) (hash.Hash, bool) {
	if u.state == "" {
		return nil, false
	}
	h := sha256.New()
	b, err := os.ReadFile(u.state)
	if errors.Is(err, fs.ErrNotExist) {
		return h, offset == 0
	}
	if err != nil || len(b) < 8 || int64(binary.BigEndian.Uint64(b)) != offset {
		return nil, false
	}
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(b[8:]); err != nil {
		return nil, false
	}
	return h, true
}

func (u *hashingUpload) save(offset int64, h hash.Hash) error {
	st, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(st)), uint64(offset))
	tmp := u.state + ".tmp"
	if err := os.WriteFile(tmp, append(b, st...), 0o640); err != nil {
		return err
	}
	return os.Rename(tmp, u.state)
}

// drop forgets the state: the sum is then read from disk at the end.
func (u *hashingUpload) drop() {
	if u.state != "" {
		_ = os.WriteFile(u.state, []byte("stale"), 0o640)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
