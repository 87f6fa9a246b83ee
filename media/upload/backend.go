package upload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/tus/tusd/v2/pkg/filestore"
	"github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/s3store"
)

// S3Target puts uploads in an S3 bucket with tusd's s3store: the file is
// assembled as an S3 multipart upload, so a finished upload is one object
// at Prefix+<object id>.
type S3Target struct {
	// Client is an aws-sdk-go-v2 client (storage.NewS3Client builds one).
	Client *s3.Client
	Bucket string
	// Prefix keeps uploads apart from other objects, e.g. "uploads/".
	Prefix string
	// TempDir holds parts on local disk until they are big enough to send
	// (default os.TempDir()); this, not RAM, is where PATCH bodies buffer.
	TempDir string
	// RequestTimeout bounds each S3 call this package makes itself
	// (listing, markers, cleanup). Default 1 minute.
	RequestTimeout time.Duration
}

// stored is one upload found in the backing storage.
type stored struct {
	ID           string
	LastActivity time.Time
}

// backend is the storage-specific part that tusd does not provide: listing
// uploads (for recovery and Sweep) and the "completion delivered" markers.
type backend interface {
	compose(c *handler.StoreComposer)
	list(ctx context.Context) ([]stored, error)
	isDone(ctx context.Context, id string) (bool, error)
	markDone(ctx context.Context, id string) error
	clearDone(ctx context.Context, id string) error
	// localPath is the file holding an upload's bytes, "" where there is
	// none on this machine.
	localPath(id string) string
}

// localBackend uses tusd's filestore: <dir>/<id> holds the bytes and
// <dir>/<id>.info the state, so a restarted server resumes from the folder.
// We add <dir>/<id>.done once Completed has succeeded.
type localBackend struct {
	dir   string
	store filestore.FileStore
}

func newLocalBackend(dir string) (*localBackend, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create upload folder %s: %w", dir, err)
	}
	return &localBackend{dir: dir, store: filestore.New(dir)}, nil
}

func (b *localBackend) compose(c *handler.StoreComposer) {
	h := &hashingStore{DataStore: b.store, term: b.store, dir: b.dir}
	c.UseCore(h)
	c.UseTerminater(h)
}

func (b *localBackend) list(ctx context.Context) ([]stored, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fmt.Errorf("list uploads in %s: %w", b.dir, err)
	}
	var out []stored
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		id, ok := strings.CutSuffix(e.Name(), ".info")
		if !ok || validID(id) != nil {
			continue
		}
		var last time.Time
		for _, name := range []string{id + ".info", id} {
			if fi, err := os.Stat(filepath.Join(b.dir, name)); err == nil && fi.ModTime().After(last) {
				last = fi.ModTime()
			}
		}
		out = append(out, stored{ID: id, LastActivity: last})
	}
	return out, nil
}

func (b *localBackend) localPath(id string) string {
	if validID(id) != nil {
		return ""
	}
	return filepath.Join(b.dir, id) // tusd's filestore: <dir>/<id>
}

func (b *localBackend) markerPath(id string) (string, error) {
	if err := validID(id); err != nil {
		return "", err
	}
	return filepath.Join(b.dir, id+".done"), nil
}

func (b *localBackend) isDone(_ context.Context, id string) (bool, error) {
	p, err := b.markerPath(id)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (b *localBackend) markDone(_ context.Context, id string) error {
	p, err := b.markerPath(id)
	if err != nil {
		return err
	}
	return os.WriteFile(p, []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o640)
}

func (b *localBackend) clearDone(_ context.Context, id string) error {
	p, err := b.markerPath(id)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// s3Backend uses tusd's s3store. Its upload IDs are "<object id>+<multipart
// id>"; the state is the object <prefix><object id>.info, a not-yet-sent
// tail is <prefix><object id>.part, and we add <prefix><object id>.done.
type s3Backend struct {
	t     S3Target
	store s3store.S3Store
}

func newS3Backend(t S3Target) (*s3Backend, error) {
	if t.Client == nil || t.Bucket == "" {
		return nil, errors.New("S3 upload target needs a client and a bucket")
	}
	if t.Prefix != "" && !strings.HasSuffix(t.Prefix, "/") {
		t.Prefix += "/"
	}
	if t.RequestTimeout <= 0 {
		t.RequestTimeout = time.Minute
	}
	store := s3store.New(t.Bucket, t.Client)
	store.ObjectPrefix = t.Prefix
	store.MetadataObjectPrefix = t.Prefix
	store.TemporaryDirectory = t.TempDir
	return &s3Backend{t: t, store: store}, nil
}

func (b *s3Backend) compose(c *handler.StoreComposer) {
	c.UseCore(b.store)
	c.UseTerminater(b.store)
}

func objectID(id string) string {
	if i := strings.LastIndex(id, "+"); i >= 0 {
		return id[:i]
	}
	return id
}

func (b *s3Backend) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, b.t.RequestTimeout)
}

func (b *s3Backend) list(ctx context.Context) ([]stored, error) {
	type found struct {
		last    time.Time
		hasInfo bool
	}
	objects := map[string]*found{}
	var order []string
	pager := s3.NewListObjectsV2Paginator(b.t.Client, &s3.ListObjectsV2Input{Bucket: aws.String(b.t.Bucket), Prefix: aws.String(b.t.Prefix)})
	for pager.HasMorePages() {
		lctx, cancel := b.reqCtx(ctx)
		page, err := pager.NextPage(lctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("list uploads in s3://%s/%s: %w", b.t.Bucket, b.t.Prefix, err)
		}
		for _, o := range page.Contents {
			name := strings.TrimPrefix(aws.ToString(o.Key), b.t.Prefix)
			oid, suffix := name, ""
			if i := strings.LastIndex(name, "."); i >= 0 {
				oid, suffix = name[:i], name[i:]
			}
			if suffix != ".info" && suffix != ".part" {
				continue
			}
			f := objects[oid]
			if f == nil {
				f = &found{}
				objects[oid] = f
				order = append(order, oid)
			}
			if t := aws.ToTime(o.LastModified); t.After(f.last) {
				f.last = t
			}
			if suffix == ".info" {
				f.hasInfo = true
			}
		}
	}
	var out []stored
	for _, oid := range order {
		f := objects[oid]
		if !f.hasInfo {
			continue
		}
		id, err := b.readID(ctx, oid)
		if err != nil {
			if errors.Is(err, handler.ErrNotFound) {
				continue // removed while we listed
			}
			return nil, err
		}
		last := f.last
		if t, err := b.lastPart(ctx, id); err == nil && t.After(last) {
			last = t
		}
		out = append(out, stored{ID: id, LastActivity: last})
	}
	return out, nil
}

// readID reads the full upload ID from the .info object tusd wrote.
func (b *s3Backend) readID(ctx context.Context, oid string) (string, error) {
	gctx, cancel := b.reqCtx(ctx)
	defer cancel()
	out, err := b.t.Client.GetObject(gctx, &s3.GetObjectInput{Bucket: aws.String(b.t.Bucket), Key: aws.String(b.t.Prefix + oid + ".info")})
	if err != nil {
		var nk *types.NoSuchKey
		if errors.As(err, &nk) {
			return "", handler.ErrNotFound
		}
		return "", fmt.Errorf("read upload info %s: %w", oid, err)
	}
	defer out.Body.Close()
	var info handler.FileInfo
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("decode upload info %s: %w", oid, err)
	}
	if info.ID == "" {
		return "", fmt.Errorf("upload info %s has no ID", oid)
	}
	return info.ID, nil
}

// lastPart returns when the newest part of an unfinished upload arrived; a
// finished (completed multipart) upload has none and returns an error.
func (b *s3Backend) lastPart(ctx context.Context, id string) (time.Time, error) {
	i := strings.LastIndex(id, "+")
	if i < 0 {
		return time.Time{}, errors.New("no multipart id")
	}
	var last time.Time
	pager := s3.NewListPartsPaginator(b.t.Client, &s3.ListPartsInput{
		Bucket: aws.String(b.t.Bucket), Key: aws.String(b.t.Prefix + id[:i]), UploadId: aws.String(id[i+1:]),
	})
	for pager.HasMorePages() {
		lctx, cancel := b.reqCtx(ctx)
		page, err := pager.NextPage(lctx)
		cancel()
		if err != nil {
			return time.Time{}, err
		}
		for _, p := range page.Parts {
			if t := aws.ToTime(p.LastModified); t.After(last) {
				last = t
			}
		}
	}
	return last, nil
}

func (b *s3Backend) localPath(string) string { return "" }

func (b *s3Backend) markerKey(id string) string { return b.t.Prefix + objectID(id) + ".done" }

func (b *s3Backend) isDone(ctx context.Context, id string) (bool, error) {
	hctx, cancel := b.reqCtx(ctx)
	defer cancel()
	_, err := b.t.Client.HeadObject(hctx, &s3.HeadObjectInput{Bucket: aws.String(b.t.Bucket), Key: aws.String(b.markerKey(id))})
	if err == nil {
		return true, nil
	}
	var nf *types.NotFound
	var nk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nk) {
		return false, nil
	}
	return false, err
}

func (b *s3Backend) markDone(ctx context.Context, id string) error {
	pctx, cancel := b.reqCtx(ctx)
	defer cancel()
	body := []byte(time.Now().UTC().Format(time.RFC3339) + "\n")
	_, err := b.t.Client.PutObject(pctx, &s3.PutObjectInput{
		Bucket: aws.String(b.t.Bucket), Key: aws.String(b.markerKey(id)),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
	})
	return err
}

func (b *s3Backend) clearDone(ctx context.Context, id string) error {
	dctx, cancel := b.reqCtx(ctx)
	defer cancel()
	_, err := b.t.Client.DeleteObject(dctx, &s3.DeleteObjectInput{Bucket: aws.String(b.t.Bucket), Key: aws.String(b.markerKey(id))})
	return err
}

// validID accepts the IDs tusd's stores generate (hex for filestore;
// "<hex>+<multipart id>" for s3store) and refuses anything that could walk
// out of the upload folder.
func validID(id string) error {
	if id == "" || len(id) > 512 || strings.HasPrefix(id, ".") || strings.Contains(id, "..") {
		return fmt.Errorf("invalid upload id %q", id)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+-_.~=", r)
		if !ok {
			return fmt.Errorf("invalid upload id %q", id)
		}
	}
	return nil
}
