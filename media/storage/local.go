package storage

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// localStore keeps each object as a plain file at <root>/<key>, so an operator
// can inspect or back up the media folder with ordinary tools.
//
// The content type and ETag (hex MD5 of the content, as S3 computes for
// single-part uploads) live in a hidden sidecar "<dir>/.<name>.meta" written
// at Put time. We keep the type the caller gave rather than re-deriving it
// from the extension, because the system MIME table differs between hosts.
// Files dropped into the folder by hand (no sidecar) get a type derived from
// their extension and an ETag made from size and modification time.
//
// All file access goes through an os.Root, so even a bug in key validation
// cannot reach outside the root (symlinks included).
type localStore struct {
	root *os.Root
}

var _ Store = (*localStore)(nil)

// NewLocal opens (creating if needed) a local store rooted at dir. The store
// keeps a handle on dir for the life of the process.
func NewLocal(dir string) (Store, error) {
	if dir == "" {
		return nil, errors.New("local storage: empty root folder")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local storage: create root %s: %w", dir, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local storage: open root %s: %w", dir, err)
	}
	return &localStore{root: root}, nil
}

// sidecar is the JSON kept next to each object.
type sidecar struct {
	ContentType string `json:"content_type"`
	ETag        string `json:"etag"`
}

func metaPath(key string) string {
	dir, name := path.Split(key)
	return dir + "." + name + ".meta"
}

func tempName(dir string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return dir + ".tmp-" + hex.EncodeToString(b[:])
}

func (s *localStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if contentType == "" {
		contentType = ContentTypeFor(key)
	}
	dir, _ := path.Split(key)
	f, tmp, err := s.createTemp(dir)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	committed := false
	defer func() {
		if !committed {
			_ = f.Close()
			_ = s.root.Remove(tmp)
		}
	}()

	h := md5.New()
	var src io.Reader = ctxReader{ctx: ctx, r: r}
	if size >= 0 {
		// One byte more than declared lets us notice a reader that is too long.
		src = io.LimitReader(src, size+1)
	}
	n, err := io.Copy(io.MultiWriter(f, h), src)
	if err != nil {
		return fmt.Errorf("put %q: write: %w", key, err)
	}
	if size >= 0 && n != size {
		return fmt.Errorf("put %q: %w: declared %d bytes, reader gave %d or more", key, ErrSizeMismatch, size, n)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %q: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("put %q: close: %w", key, err)
	}

	if err := s.commit(key, tmp, sidecar{ContentType: contentType, ETag: hex.EncodeToString(h.Sum(nil))}); err != nil {
		return err
	}
	committed = true
	return nil
}

// commit writes the sidecar of key and renames the temp file tmp to key.
// The sidecar goes first and the data rename is the commit point: a crash
// in between leaves the old object with a newer sidecar, which the next Put
// of the key overwrites.
func (s *localStore) commit(key, tmp string, meta sidecar) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("put %q: encode sidecar: %w", key, err)
	}
	dir, _ := path.Split(key)
	metaTmp := tempName(dir)
	if err := s.root.WriteFile(metaTmp, b, 0o644); err != nil {
		return fmt.Errorf("put %q: write sidecar: %w", key, err)
	}
	if err := s.root.Rename(metaTmp, metaPath(key)); err != nil {
		_ = s.root.Remove(metaTmp)
		return fmt.Errorf("put %q: commit sidecar: %w", key, err)
	}
	if err := s.root.Rename(tmp, key); err != nil {
		return fmt.Errorf("put %q: commit: %w", key, err)
	}
	return nil
}

// createTemp makes the folder and a temp file in it. A concurrent Delete may
// prune the folder between the two steps, so that race is retried.
func (s *localStore) createTemp(dir string) (*os.File, string, error) {
	var lastErr error
	for range 3 {
		if dir != "" {
			if err := s.root.MkdirAll(strings.TrimSuffix(dir, "/"), 0o755); err != nil {
				return nil, "", fmt.Errorf("create folder %q: %w", dir, err)
			}
		}
		tmp := tempName(dir)
		f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return f, tmp, nil
		}
		lastErr = err
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	return nil, "", fmt.Errorf("create temp file: %w", lastErr)
}

func (s *localStore) info(key string, fi fs.FileInfo) Info {
	inf := Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	var meta sidecar
	if b, err := s.root.ReadFile(metaPath(key)); err == nil && json.Unmarshal(b, &meta) == nil {
		inf.ContentType, inf.ETag = meta.ContentType, meta.ETag
	}
	if inf.ContentType == "" {
		inf.ContentType = ContentTypeFor(key)
	}
	if inf.ETag == "" {
		inf.ETag = strconv.FormatInt(fi.Size(), 16) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 16)
	}
	return inf
}

func (s *localStore) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	fi, err := s.root.Stat(key)
	if err != nil {
		return Info{}, fmt.Errorf("stat %q: %w", key, notFound(err))
	}
	if !fi.Mode().IsRegular() {
		return Info{}, fmt.Errorf("stat %q: %w", key, ErrNotFound)
	}
	return s.info(key, fi), nil
}

// notFound maps the OS's "no such file" (and "a path component is a file")
// onto ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ErrNotFound
	}
	return err
}

type localObject struct {
	*os.File
	info Info
}

func (o *localObject) Info() Info { return o.info }

func (s *localStore) Open(ctx context.Context, key string) (Object, error) {
	if err := ValidateKey(key); err != nil {
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	f, err := s.root.Open(key)
	if err != nil {
		return nil, fmt.Errorf("open %q: %w", key, notFound(err))
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open %q: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, fmt.Errorf("open %q: %w", key, ErrNotFound)
	}
	return &localObject{File: f, info: s.info(key, fi)}, nil
}

func (s *localStore) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	fi, err := s.root.Lstat(key)
	if err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if fi.IsDir() {
		return nil // a folder is not an object
	}
	if err := s.root.Remove(key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	if err := s.root.Remove(metaPath(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: sidecar: %w", key, err)
	}
	s.pruneEmpty(path.Dir(key))
	return nil
}

// pruneEmpty removes dir and its parents while they are empty, so deleted
// clips leave no folder litter behind. Remove fails on a non-empty folder,
// which is where we stop.
func (s *localStore) pruneEmpty(dir string) {
	for dir != "." && dir != "/" && dir != "" {
		if err := s.root.Remove(dir); err != nil {
			return
		}
		dir = path.Dir(dir)
	}
}

func (s *localStore) DeletePrefix(ctx context.Context, prefix string) error {
	fp, err := folderPrefix(prefix)
	if err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	if fp == "" {
		entries, err := fs.ReadDir(s.root.FS(), ".")
		if err != nil {
			return fmt.Errorf("delete prefix %q: %w", prefix, err)
		}
		for _, e := range entries {
			if err := s.root.RemoveAll(e.Name()); err != nil {
				return fmt.Errorf("delete prefix %q: %w", prefix, err)
			}
		}
		return nil
	}
	dir := strings.TrimSuffix(fp, "/")
	fi, err := s.root.Lstat(dir)
	if err != nil {
		if errors.Is(notFound(err), ErrNotFound) {
			return nil
		}
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	if !fi.IsDir() {
		return nil // an object named like the folder is not inside it
	}
	if err := s.root.RemoveAll(dir); err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	s.pruneEmpty(path.Dir(dir))
	return nil
}

func (s *localStore) List(ctx context.Context, prefix string) ([]Info, error) {
	fp, err := folderPrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	start := "."
	if fp != "" {
		start = strings.TrimSuffix(fp, "/")
	}
	var out []Info
	err = fs.WalkDir(s.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(notFound(err), ErrNotFound) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == start && !d.IsDir() {
			return fs.SkipAll // an object named like the folder is not inside it
		}
		if strings.HasPrefix(d.Name(), ".") && p != "." {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil // temp files and sidecars
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while we walked
			}
			return err
		}
		out = append(out, s.info(p, fi))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (s *localStore) PresignGet(_ context.Context, key string, _ time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	return "", ErrPresignUnsupported
}
