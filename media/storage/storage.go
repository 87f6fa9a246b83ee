package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strings"
	"time"
	"unicode/utf8"
)

// Store keeps media objects under slash-separated keys like
// "clips/<id>/hls/720p/seg_001.ts". Implementations are safe for concurrent
// use; a Put is atomic (readers see the old object or the new one, never a
// partial write).
type Store interface {
	// Put stores the object read from r under key, replacing any previous one.
	// size is the exact number of bytes r yields, or -1 when unknown; a reader
	// that yields a different count fails the Put and leaves no object behind.
	// An empty contentType is derived from the key's extension.
	Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// Open returns a seekable reader of the object, ErrNotFound when missing.
	Open(ctx context.Context, key string) (Object, error)
	// Stat describes the object, ErrNotFound when missing.
	Stat(ctx context.Context, key string) (Info, error)
	// Delete removes the object; deleting a missing object is not an error,
	// so cleanup can be retried safely.
	Delete(ctx context.Context, key string) error
	// DeletePrefix removes every object in the folder prefix (see the package
	// doc for folder semantics). An empty prefix removes everything.
	DeletePrefix(ctx context.Context, prefix string) error
	// List describes every object in the folder prefix, sorted by key.
	List(ctx context.Context, prefix string) ([]Info, error)
	// PresignGet returns a URL that lets anyone holding it GET the object
	// until ttl passes, so players can fetch segments straight from S3.
	// Stores that cannot do that return ErrPresignUnsupported.
	PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error)
	// PutFile stores the local file at path under key, like Put. The local
	// store takes the file itself (a hard link, no copy) where it can, so
	// the caller must not change the file afterwards; it may remove it.
	PutFile(ctx context.Context, key, path, contentType string) error
	// LocalFile is the path of a file holding the object, for reading
	// without a copy, or ErrNotLocal where objects are not files here.
	LocalFile(ctx context.Context, key string) (string, error)
}

// ErrNotLocal: the store keeps its objects elsewhere (LocalFile).
var ErrNotLocal = errors.New("object is not a local file")

// Object is an open stored object. Seek is cheap and Read fetches lazily, so
// http.ServeContent can answer Range requests on every implementation.
type Object interface {
	io.ReadSeekCloser
	// Info describes the object as it was when opened.
	Info() Info
}

// Info describes a stored object.
type Info struct {
	Key         string
	Size        int64
	ContentType string
	ModTime     time.Time
	// ETag changes whenever the content changes; it is unquoted. Use it for
	// HTTP caching, not as a content hash (S3 multipart ETags are not MD5s).
	ETag string
}

var (
	// ErrNotFound reports a key with no object.
	ErrNotFound = errors.New("storage: object not found")
	// ErrPresignUnsupported reports a store that cannot hand out direct URLs;
	// the caller should stream the object through Open instead.
	ErrPresignUnsupported = errors.New("storage: presigned URLs are not supported by this store")
	// ErrInvalidKey reports a key or prefix that breaks the key rules.
	ErrInvalidKey = errors.New("storage: invalid key")
	// ErrSizeMismatch reports a Put whose reader yielded a different number
	// of bytes than the declared size.
	ErrSizeMismatch = errors.New("storage: size mismatch")
)

// maxKeyLen matches S3's limit so that keys are portable between stores.
const maxKeyLen = 1024

// ValidateKey checks a key against the rules every store enforces: not
// empty, at most 1024 bytes of UTF-8, relative, slash-separated with no empty
// segments, no backslashes or control characters, and no segment starting
// with "." (that rules out "." and ".." and keeps the local store's hidden
// temp and sidecar files out of the key space).
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: key is %d bytes, longer than %d", ErrInvalidKey, len(key), maxKeyLen)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("%w: %q is not valid UTF-8", ErrInvalidKey, key)
	}
	for _, r := range key {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %q contains a control character", ErrInvalidKey, key)
		}
		if r == '\\' {
			return fmt.Errorf("%w: %q contains a backslash; use /", ErrInvalidKey, key)
		}
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("%w: %q is absolute; keys are relative", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" {
			return fmt.Errorf("%w: %q has an empty path segment", ErrInvalidKey, key)
		}
		if strings.HasPrefix(seg, ".") {
			return fmt.Errorf("%w: %q has a segment starting with '.'", ErrInvalidKey, key)
		}
	}
	return nil
}

// folderPrefix validates a List/DeletePrefix prefix and returns it in folder
// form: "" (everything) or a valid key followed by "/".
func folderPrefix(prefix string) (string, error) {
	p := strings.TrimSuffix(prefix, "/")
	if p == "" {
		if prefix != "" {
			return "", fmt.Errorf("%w: prefix %q", ErrInvalidKey, prefix)
		}
		return "", nil
	}
	if err := ValidateKey(p); err != nil {
		return "", fmt.Errorf("prefix: %w", err)
	}
	return p + "/", nil
}

// mediaTypes covers the files filmroom writes. It is consulted before the
// system MIME table, which varies between hosts and often lacks HLS types.
var mediaTypes = map[string]string{
	".m3u8": "application/vnd.apple.mpegurl",
	".ts":   "video/mp2t",
	".m4s":  "video/iso.segment",
	".mp4":  "video/mp4",
	".m4a":  "audio/mp4",
	".webm": "video/webm",
	".mov":  "video/quicktime",
	".vtt":  "text/vtt; charset=utf-8",
	".srt":  "application/x-subrip",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".webp": "image/webp",
	".json": "application/json",
	".wav":  "audio/wav",
	".txt":  "text/plain; charset=utf-8",
}

// ContentTypeFor derives a content type from a key's extension, falling back
// to application/octet-stream.
func ContentTypeFor(key string) string {
	ext := strings.ToLower(path.Ext(key))
	if ext == "" {
		return "application/octet-stream"
	}
	if ct, ok := mediaTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

// ctxReader stops a long copy as soon as its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
