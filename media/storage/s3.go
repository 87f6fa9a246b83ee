package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Config locates a bucket on AWS S3 or an S3-compatible service.
type S3Config struct {
	// Endpoint is the service URL, e.g. "http://127.0.0.1:9000" for MinIO;
	// empty means AWS's regional endpoint.
	Endpoint string
	// Region defaults to us-east-1, which S3-compatible services accept.
	Region string
	Bucket string
	// AccessKey and SecretKey are static credentials. When both are empty the
	// default AWS chain is used (environment, shared config, instance role).
	AccessKey string
	SecretKey string
	// PathStyle puts the bucket in the URL path instead of the host name;
	// MinIO and most self-hosted services need it.
	PathStyle bool
	// Prefix is prepended to every key ("filmroom/" shares a bucket with
	// other data). It follows the key rules and gets a trailing slash.
	Prefix string
	// PartSize is the multipart chunk for large Puts: each Put holds at most
	// one part in memory. Default 16 MiB; S3's minimum is 5 MiB.
	PartSize int64
	// RequestTimeout bounds each request (HEAD, LIST, DELETE, one PUT or one
	// part). Default 2 minutes.
	RequestTimeout time.Duration
	// ReadTimeout bounds one streaming GET behind Object.Read. Default 30 minutes.
	ReadTimeout time.Duration
}

const (
	defaultPartSize = 16 << 20
	minPartSize     = 5 << 20
	maxParts        = 10000
	maxPresignTTL   = 7 * 24 * time.Hour
)

func (c *S3Config) setDefaults() {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.PartSize == 0 {
		c.PartSize = defaultPartSize
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 2 * time.Minute
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Minute
	}
}

// NewS3Client builds an aws-sdk-go-v2 S3 client from cfg. It is exported so
// that other media packages (tus uploads) talk to the same bucket the same
// way.
//
// Request checksums are only sent when an operation requires them: the SDK's
// newer default (a CRC on every request) is not understood by every
// S3-compatible service.
func NewS3Client(ctx context.Context, cfg S3Config) (*s3.Client, error) {
	cfg.setDefaults()
	var awsCfg aws.Config
	if cfg.AccessKey != "" || cfg.SecretKey != "" {
		awsCfg = aws.Config{
			Region:      cfg.Region,
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")),
		}
	} else {
		loadCtx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
		defer cancel()
		var err error
		awsCfg, err = awsconfig.LoadDefaultConfig(loadCtx, awsconfig.WithRegion(cfg.Region))
		if err != nil {
			return nil, fmt.Errorf("s3: load AWS config: %w", err)
		}
	}
	awsCfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	awsCfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	return s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	}), nil
}

// s3Store keeps objects in one bucket under an optional prefix.
type s3Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	cfg     S3Config
	prefix  string
}

var _ Store = (*s3Store)(nil)

// NewS3 connects to the bucket in cfg and checks that it is reachable, so a
// wrong endpoint or credential fails at start-up rather than at first upload.
func NewS3(ctx context.Context, cfg S3Config) (Store, error) {
	cfg.setDefaults()
	if cfg.Bucket == "" {
		return nil, errors.New("s3 storage: empty bucket name")
	}
	if cfg.PartSize < minPartSize {
		return nil, fmt.Errorf("s3 storage: part size %d is below S3's minimum of %d", cfg.PartSize, minPartSize)
	}
	prefix, err := folderPrefix(cfg.Prefix)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	client, err := NewS3Client(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("s3 storage: %w", err)
	}
	s := &s3Store{client: client, presign: s3.NewPresignClient(client), cfg: cfg, prefix: prefix}
	hctx, cancel := s.reqCtx(ctx)
	defer cancel()
	if _, err := client.HeadBucket(hctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		return nil, fmt.Errorf("s3 storage: bucket %q at %q: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	return s, nil
}

func (s *s3Store) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.RequestTimeout)
}

func (s *s3Store) fullKey(key string) string { return s.prefix + key }

// isNotFound recognises a missing key. A missing bucket is deliberately not
// ErrNotFound: that is a configuration problem, not an absent object.
func isNotFound(err error) bool {
	var nb *types.NoSuchBucket
	if errors.As(err, &nb) {
		return false
	}
	var nk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) {
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound && !strings.Contains(err.Error(), "NoSuchBucket")
}

func s3err(err error) error {
	if isNotFound(err) {
		return ErrNotFound
	}
	return err
}

func unquote(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

func (s *s3Store) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if contentType == "" {
		contentType = ContentTypeFor(key)
	}
	partSize := s.cfg.PartSize
	if size > partSize*maxParts {
		partSize = (size + maxParts - 1) / maxParts
	}
	// Read the first part; an object that fits is sent in one PutObject.
	first := partSize
	if size >= 0 && size < first {
		first = size
	}
	buf := make([]byte, first+1) // +1 notices a reader longer than declared
	n, err := io.ReadFull(ctxReader{ctx: ctx, r: r}, buf)
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if size >= 0 && int64(n) != size {
			return fmt.Errorf("put %q: %w: declared %d bytes, reader gave %d", key, ErrSizeMismatch, size, n)
		}
		return s.putSingle(ctx, key, buf[:n], contentType)
	case err != nil:
		return fmt.Errorf("put %q: read: %w", key, err)
	}
	if size >= 0 && size <= first {
		return fmt.Errorf("put %q: %w: declared %d bytes, reader gave more", key, ErrSizeMismatch, size)
	}
	// The extra byte we read belongs to the next part.
	return s.putMultipart(ctx, key, io.MultiReader(bytes.NewReader(buf[first:first+1]), ctxReader{ctx: ctx, r: r}), buf[:first], size, partSize, contentType)
}

func (s *s3Store) putSingle(ctx context.Context, key string, data []byte, contentType string) error {
	pctx, cancel := s.reqCtx(ctx)
	defer cancel()
	_, err := s.client.PutObject(pctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.fullKey(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// putMultipart sends parts one after another from a single reused buffer, so
// memory stays at one part per Put whatever the object size. The object only
// appears when CompleteMultipartUpload succeeds; any failure aborts the
// upload so no parts are left behind.
func (s *s3Store) putMultipart(ctx context.Context, key string, rest io.Reader, firstPart []byte, size, partSize int64, contentType string) (err error) {
	cctx, cancel := s.reqCtx(ctx)
	created, err := s.client.CreateMultipartUpload(cctx, &s3.CreateMultipartUploadInput{
		Bucket:      aws.String(s.cfg.Bucket),
		Key:         aws.String(s.fullKey(key)),
		ContentType: aws.String(contentType),
	})
	cancel()
	if err != nil {
		return fmt.Errorf("put %q: start multipart: %w", key, err)
	}
	defer func() {
		if err != nil {
			// Abort with a fresh context: the caller's may be what failed.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.RequestTimeout)
			defer cancel()
			_, _ = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
				Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.fullKey(key)), UploadId: created.UploadId,
			})
		}
	}()

	buf := make([]byte, partSize)
	copy(buf, firstPart)
	filled := len(firstPart)
	var parts []types.CompletedPart
	var total int64
	for partNum := int32(1); ; partNum++ {
		if filled == 0 {
			n, rerr := io.ReadFull(rest, buf)
			if rerr != nil && !errors.Is(rerr, io.ErrUnexpectedEOF) && !errors.Is(rerr, io.EOF) {
				return fmt.Errorf("put %q: read: %w", key, rerr)
			}
			filled = n
		}
		if filled == 0 {
			break
		}
		if len(parts) == maxParts {
			return fmt.Errorf("put %q: object larger than %d parts of %d bytes", key, maxParts, partSize)
		}
		total += int64(filled)
		if size >= 0 && total > size {
			return fmt.Errorf("put %q: %w: declared %d bytes, reader gave more", key, ErrSizeMismatch, size)
		}
		uctx, cancel := s.reqCtx(ctx)
		out, uerr := s.client.UploadPart(uctx, &s3.UploadPartInput{
			Bucket:        aws.String(s.cfg.Bucket),
			Key:           aws.String(s.fullKey(key)),
			UploadId:      created.UploadId,
			PartNumber:    aws.Int32(partNum),
			Body:          bytes.NewReader(buf[:filled]),
			ContentLength: aws.Int64(int64(filled)),
		})
		cancel()
		if uerr != nil {
			return fmt.Errorf("put %q: part %d: %w", key, partNum, uerr)
		}
		parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(partNum)})
		short := filled < len(buf)
		filled = 0
		if short {
			break
		}
	}
	if size >= 0 && total != size {
		return fmt.Errorf("put %q: %w: declared %d bytes, reader gave %d", key, ErrSizeMismatch, size, total)
	}
	cctx, cancel = s.reqCtx(ctx)
	defer cancel()
	_, err = s.client.CompleteMultipartUpload(cctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(s.fullKey(key)),
		UploadId:        created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return fmt.Errorf("put %q: complete multipart: %w", key, err)
	}
	return nil
}

func (s *s3Store) Stat(ctx context.Context, key string) (Info, error) {
	if err := ValidateKey(key); err != nil {
		return Info{}, fmt.Errorf("stat %q: %w", key, err)
	}
	hctx, cancel := s.reqCtx(ctx)
	defer cancel()
	out, err := s.client.HeadObject(hctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.fullKey(key))})
	if err != nil {
		return Info{}, fmt.Errorf("stat %q: %w", key, s3err(err))
	}
	return Info{
		Key:         key,
		Size:        aws.ToInt64(out.ContentLength),
		ContentType: aws.ToString(out.ContentType),
		ModTime:     aws.ToTime(out.LastModified),
		ETag:        unquote(out.ETag),
	}, nil
}

func (s *s3Store) Open(ctx context.Context, key string) (Object, error) {
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return &s3Object{s: s, ctx: ctx, info: info}, nil
}

// s3Object reads lazily: Seek only moves a cursor, and Read opens a ranged
// GET from the cursor to the end, which it keeps streaming until the next
// Seek elsewhere. Every GET carries If-Match with the ETag seen at Open, so
// an object replaced mid-read fails loudly instead of mixing two versions.
type s3Object struct {
	s    *s3Store
	ctx  context.Context
	info Info

	pos     int64
	body    io.ReadCloser
	bodyPos int64
	cancel  context.CancelFunc
}

func (o *s3Object) Info() Info { return o.info }

func (o *s3Object) Read(p []byte) (int, error) {
	if o.pos >= o.info.Size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if o.body == nil || o.bodyPos != o.pos {
		if err := o.openBody(); err != nil {
			return 0, err
		}
	}
	n, err := o.body.Read(p)
	o.pos += int64(n)
	o.bodyPos += int64(n)
	if errors.Is(err, io.EOF) {
		o.closeBody()
		if o.pos < o.info.Size {
			return n, fmt.Errorf("read %q: %w", o.info.Key, io.ErrUnexpectedEOF)
		}
		if n > 0 {
			return n, nil
		}
		return 0, io.EOF
	}
	if err != nil {
		o.closeBody()
		return n, fmt.Errorf("read %q: %w", o.info.Key, err)
	}
	return n, nil
}

func (o *s3Object) openBody() error {
	o.closeBody()
	ctx, cancel := context.WithTimeout(o.ctx, o.s.cfg.ReadTimeout)
	in := &s3.GetObjectInput{
		Bucket: aws.String(o.s.cfg.Bucket),
		Key:    aws.String(o.s.fullKey(o.info.Key)),
		Range:  aws.String("bytes=" + strconv.FormatInt(o.pos, 10) + "-"),
	}
	if o.info.ETag != "" {
		in.IfMatch = aws.String(`"` + o.info.ETag + `"`)
	}
	out, err := o.s.client.GetObject(ctx, in)
	if err != nil {
		cancel()
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
			return fmt.Errorf("read %q: object changed since it was opened: %w", o.info.Key, err)
		}
		return fmt.Errorf("read %q at %d: %w", o.info.Key, o.pos, s3err(err))
	}
	o.body, o.bodyPos, o.cancel = out.Body, o.pos, cancel
	return nil
}

func (o *s3Object) closeBody() {
	if o.body != nil {
		_ = o.body.Close()
		o.body = nil
	}
	if o.cancel != nil {
		o.cancel()
		o.cancel = nil
	}
}

func (o *s3Object) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.info.Size + offset
	default:
		return o.pos, fmt.Errorf("seek %q: invalid whence %d", o.info.Key, whence)
	}
	if abs < 0 {
		return o.pos, fmt.Errorf("seek %q: negative position %d", o.info.Key, abs)
	}
	o.pos = abs
	return abs, nil
}

func (o *s3Object) Close() error {
	o.closeBody()
	return nil
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	dctx, cancel := s.reqCtx(ctx)
	defer cancel()
	_, err := s.client.DeleteObject(dctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.fullKey(key))})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	return nil
}

// eachPage lists the folder one page (up to 1000 keys) at a time.
func (s *s3Store) eachPage(ctx context.Context, fp string, fn func([]types.Object) error) error {
	pager := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.cfg.Bucket),
		Prefix: aws.String(s.prefix + fp),
	})
	for pager.HasMorePages() {
		lctx, cancel := s.reqCtx(ctx)
		page, err := pager.NextPage(lctx)
		cancel()
		if err != nil {
			return err
		}
		if err := fn(page.Contents); err != nil {
			return err
		}
	}
	return nil
}

func (s *s3Store) List(ctx context.Context, prefix string) ([]Info, error) {
	fp, err := folderPrefix(prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	var out []Info
	err = s.eachPage(ctx, fp, func(objs []types.Object) error {
		for _, o := range objs {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if ValidateKey(key) != nil {
				continue // written by something else; not addressable through Store
			}
			// ListObjectsV2 does not return content types; callers that need
			// one Stat the object.
			out = append(out, Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified), ETag: unquote(o.ETag)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (s *s3Store) DeletePrefix(ctx context.Context, prefix string) error {
	fp, err := folderPrefix(prefix)
	if err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	err = s.eachPage(ctx, fp, func(objs []types.Object) error {
		if len(objs) == 0 {
			return nil
		}
		ids := make([]types.ObjectIdentifier, 0, len(objs))
		for _, o := range objs {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		dctx, cancel := s.reqCtx(ctx)
		defer cancel()
		out, err := s.client.DeleteObjects(dctx, &s3.DeleteObjectsInput{
			Bucket: aws.String(s.cfg.Bucket),
			Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return err
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("%d keys not deleted, first %q: %s %s", len(out.Errors), aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete prefix %q: %w", prefix, err)
	}
	return nil
}

func (s *s3Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	if ttl <= 0 || ttl > maxPresignTTL {
		return "", fmt.Errorf("presign %q: ttl %s must be between 0 and %s", key, ttl, maxPresignTTL)
	}
	pctx, cancel := s.reqCtx(ctx)
	defer cancel()
	req, err := s.presign.PresignGetObject(pctx, &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(s.fullKey(key)),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	return req.URL, nil
}

// PutFile uploads the local file at path as Put does.
func (s *s3Store) PutFile(ctx context.Context, key, path, contentType string) error {
	return putFromFile(ctx, s, key, path, contentType)
}

// LocalFile: objects in S3 are not local files.
func (s *s3Store) LocalFile(_ context.Context, key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("local file %q: %w", key, err)
	}
	return "", fmt.Errorf("local file %q: %w", key, ErrNotLocal)
}
