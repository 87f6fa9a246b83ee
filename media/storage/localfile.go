package storage

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// PutFile takes the file at src as the object at key. Where src is on the
// store's file system the object is a hard link to it: a lesson of several
// gigabytes becomes a clip's source, and an HLS segment written by ffmpeg
// becomes media, without a copy, which is most of the time between the last
// byte of an upload and a playable clip. Elsewhere it is copied as Put does.
//
// A linked object's ETag is made from its size and modification time, as
// for files dropped into the folder by hand, not from an MD5 of the bytes:
// computing one would read the whole file again.
func (s *localStore) PutFile(ctx context.Context, key, src, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if contentType == "" {
		contentType = ContentTypeFor(key)
	}
	dir, _ := path.Split(key)
	tmp, err := s.linkTemp(dir, src)
	if err != nil {
		// Another file system, or one without hard links: copy.
		return putFromFile(ctx, s, key, src, contentType)
	}
	committed := false
	defer func() {
		if !committed {
			_ = s.root.Remove(tmp)
		}
	}()
	// The bytes must be on disk before the object exists, as Put's are.
	f, err := s.root.Open(tmp)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return fmt.Errorf("put %q: sync: %w", key, err)
	}
	if err := s.commit(key, tmp, sidecar{ContentType: contentType}); err != nil {
		return err
	}
	committed = true
	return nil
}

// linkTemp hard-links src under a temporary name in the folder dir of the
// store, resolving dir inside the root (see linkAt).
func (s *localStore) linkTemp(dir, src string) (string, error) {
	st, err := os.Stat(src)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", src)
	}
	folder := "."
	if dir != "" {
		folder = strings.TrimSuffix(dir, "/")
		if err := s.root.MkdirAll(folder, 0o755); err != nil {
			return "", err
		}
	}
	d, err := s.root.Open(folder)
	if err != nil {
		return "", err
	}
	defer d.Close()
	tmp := tempName(dir)
	if err := linkAt(src, d, path.Base(tmp)); err != nil {
		return "", err
	}
	return tmp, nil
}

// putFromFile stores the file at src with Put (a copy).
func putFromFile(ctx context.Context, s Store, key, src, contentType string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return s.Put(ctx, key, f, st.Size(), contentType)
}

// LocalFile is the path of the file that holds the object at key.
func (s *localStore) LocalFile(ctx context.Context, key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("local file %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("local file %q: %w", key, err)
	}
	fi, err := s.root.Lstat(key)
	if err != nil {
		return "", fmt.Errorf("local file %q: %w", key, notFound(err))
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("local file %q: %w", key, fs.ErrNotExist)
	}
	return filepath.Join(s.root.Name(), filepath.FromSlash(key)), nil
}
