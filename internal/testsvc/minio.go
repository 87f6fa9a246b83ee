package testsvc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// S3Env is one empty bucket on the test MinIO server and how to reach it.
type S3Env struct {
	Endpoint  string // http://127.0.0.1:<port>
	Region    string
	Bucket    string
	AccessKey string
	SecretKey string
}

// Client returns an aws-sdk-go-v2 client for env (path-style, as MinIO wants).
func (env S3Env) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     env.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(env.AccessKey, env.SecretKey, ""),
		BaseEndpoint:               aws.String(env.Endpoint),
		UsePathStyle:               true,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

const (
	minioUser     = "filmroom"
	minioPassword = "filmroom-test-secret"
	minioRegion   = "us-east-1"
)

// minioServer is the one MinIO process a test binary shares. Starting MinIO
// takes about a second, so every test gets its own bucket on a shared server
// instead of its own server. This package-level state is the exception to
// "no globals": it is what makes the server per binary rather than per test.
var minioServer struct {
	once     sync.Once
	endpoint string
	err      error
	stop     func()
}

// MinIOBinary is where MinIO is looked for: FILMROOM_MINIO_BIN, else
// <repo>/.cache/bin/minio as installed by scripts/minio.sh.
func MinIOBinary(t testing.TB) string {
	if p := os.Getenv("FILMROOM_MINIO_BIN"); p != "" {
		return p
	}
	// scripts/minio.sh builds into a cache shared by every clone.
	cache := os.Getenv("FILMROOM_CACHE")
	if cache == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return filepath.Join(RepoRoot(t), ".cache", "bin", "minio")
		}
		cache = filepath.Join(base, "filmroom")
	}
	return filepath.Join(cache, "bin", "minio")
}

// MinIO returns a fresh, empty bucket on a real MinIO server started for
// this test binary on a free loopback port (with a temporary data folder and
// fixed test credentials). The bucket and its objects are removed when the
// test ends. The server stops when StopMinIO is called (from TestMain) or,
// at the latest, when the test binary exits.
//
// Without the MinIO binary the test is skipped with a hint to run
// scripts/minio.sh; with CI set it fails instead, so the S3 paths can never
// be skipped silently in CI.
func MinIO(t testing.TB) S3Env {
	t.Helper()
	bin := MinIOBinary(t)
	if _, err := os.Stat(bin); err != nil {
		unavailable(t, "MinIO", fmt.Sprintf("no binary at %s; run scripts/minio.sh or set FILMROOM_MINIO_BIN", bin))
	}
	minioServer.once.Do(func() {
		minioServer.endpoint, minioServer.stop, minioServer.err = startMinIO(bin)
	})
	if minioServer.err != nil {
		t.Fatalf("start MinIO: %v", minioServer.err)
	}
	env := S3Env{
		Endpoint:  minioServer.endpoint,
		Region:    minioRegion,
		Bucket:    bucketName(t.Name()),
		AccessKey: minioUser,
		SecretKey: minioPassword,
	}
	client := env.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(env.Bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", env.Bucket, err)
	}
	t.Cleanup(func() {
		if err := emptyAndDeleteBucket(client, env.Bucket); err != nil {
			t.Logf("remove bucket %s: %v", env.Bucket, err)
		}
	})
	return env
}

// StopMinIO stops the shared server if one was started. Call it after
// m.Run() in TestMain to remove the data folder promptly; without it the
// server still dies with the test binary and the next run removes the folder.
func StopMinIO() {
	if minioServer.stop != nil {
		minioServer.stop()
	}
}

var nonBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)

// bucketName makes a valid, unique bucket name (3-63 chars of a-z, 0-9, -)
// that still hints at the test it belongs to.
func bucketName(testName string) string {
	var b [5]byte
	_, _ = rand.Read(b[:])
	slug := strings.Trim(nonBucketChars.ReplaceAllString(strings.ToLower(testName), "-"), "-")
	if len(slug) > 40 {
		slug = strings.TrimRight(slug[:40], "-")
	}
	name := "t-" + hex.EncodeToString(b[:])
	if slug != "" {
		name += "-" + slug
	}
	return name
}

func emptyAndDeleteBucket(client *s3.Client, bucket string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	uploads, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		return fmt.Errorf("list multipart uploads: %w", err)
	}
	for _, u := range uploads.Uploads {
		_, _ = client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
	}
	pager := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list objects: %w", err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Contents))
		for _, o := range page.Contents {
			ids = append(ids, types.ObjectIdentifier{Key: o.Key})
		}
		if _, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("delete objects: %w", err)
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("delete bucket: %w", err)
	}
	return nil
}

const minioDirPrefix = "filmroom-minio-"

// removeStaleMinIODirs deletes data folders left by earlier test binaries
// that exited without StopMinIO (their pid is in the folder name).
func removeStaleMinIODirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), minioDirPrefix+"*"))
	for _, dir := range matches {
		rest := strings.TrimPrefix(filepath.Base(dir), minioDirPrefix)
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(dir)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startMinIO runs MinIO and waits until it answers its liveness probe. A
// free port can be taken by someone else between our probe and MinIO's
// bind, so a server that exits at start-up is retried on new ports.
func startMinIO(bin string) (endpoint string, stop func(), err error) {
	removeStaleMinIODirs()
	for attempt := range 3 {
		endpoint, stop, err = startMinIOOnce(bin)
		if err == nil {
			return endpoint, stop, nil
		}
		err = fmt.Errorf("attempt %d: %w", attempt+1, err)
	}
	return "", nil, err
}

func startMinIOOnce(bin string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, fmt.Errorf("find free port: %w", err)
	}
	consolePort, err := freePort()
	if err != nil {
		return "", nil, fmt.Errorf("find free port: %w", err)
	}
	dir, err := os.MkdirTemp("", minioDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return "", nil, fmt.Errorf("create data folder: %w", err)
	}
	var output lockedBuffer
	cmd := exec.Command(bin, "server", "--quiet",
		"--address", "127.0.0.1:"+strconv.Itoa(port),
		"--console-address", "127.0.0.1:"+strconv.Itoa(consolePort),
		filepath.Join(dir, "data"))
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+minioUser,
		"MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_REGION="+minioRegion,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"MINIO_CI_CD=on",
	)
	cmd.Stdout, cmd.Stderr = &output, &output
	// Pdeathsig kills MinIO when the thread that started it exits, which
	// covers a test binary that dies without cleaning up. The starting
	// goroutine stays locked to its thread until stop, so the Go runtime
	// cannot retire that thread (and fire the signal) early.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	started := make(chan error, 1)
	exited := make(chan error, 1)
	release := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return // leaving while locked retires the thread; nothing was started
		}
		started <- nil
		exited <- cmd.Wait()
		<-release
		runtime.UnlockOSThread()
	}()
	if err := <-started; err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("run %s: %w", bin, err)
	}

	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			close(release)
			_ = os.RemoveAll(dir)
		})
	}

	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // let stop observe it too
			stop()
			return "", nil, fmt.Errorf("minio exited at start-up (%v):\n%s", err, output.String())
		default:
		}
		// "live" answers before the object layer is initialized; "cluster"
		// waits for write quorum, after which bucket calls succeed.
		resp, err := client.Get(endpoint + "/minio/health/cluster")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return endpoint, stop, nil
			}
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("minio not ready after 60s:\n%s", output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer collects MinIO's output (capped) for start-up error messages.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() < 64<<10 {
		b.buf.Write(p)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// PrivateMinIO is a MinIO server of one test, with one bucket, that the
// test may stop and start again on the same port and data folder (the
// shared server of MinIO must never be stopped).
type PrivateMinIO struct {
	t           testing.TB
	bin, dir    string
	port, cport int
	stop        func()
	// Env reaches the bucket.
	Env S3Env
}

// StartPrivateMinIO starts a MinIO server for t with one empty bucket; it
// is stopped and its data removed when t ends.
func StartPrivateMinIO(t testing.TB) *PrivateMinIO {
	t.Helper()
	bin := MinIOBinary(t)
	if _, err := os.Stat(bin); err != nil {
		unavailable(t, "MinIO", fmt.Sprintf("no binary at %s; run scripts/minio.sh or set FILMROOM_MINIO_BIN", bin))
	}
	dir, err := os.MkdirTemp("", minioDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		t.Fatal(err)
	}
	m := &PrivateMinIO{t: t, bin: bin, dir: dir}
	t.Cleanup(func() {
		m.Stop()
		_ = os.RemoveAll(dir)
	})
	if m.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if m.cport, err = freePort(); err != nil {
		t.Fatal(err)
	}
	m.Env = S3Env{Endpoint: "http://127.0.0.1:" + strconv.Itoa(m.port), Region: minioRegion, Bucket: bucketName(t.Name()),
		AccessKey: minioUser, SecretKey: minioPassword}
	m.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.Env.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(m.Env.Bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", m.Env.Bucket, err)
	}
	return m
}

// Start starts the server (again) and waits until it serves the bucket.
func (m *PrivateMinIO) Start() {
	m.t.Helper()
	var output lockedBuffer
	cmd := exec.Command(m.bin, "server", "--quiet", "--address", "127.0.0.1:"+strconv.Itoa(m.port),
		"--console-address", "127.0.0.1:"+strconv.Itoa(m.cport), filepath.Join(m.dir, "data"))
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+minioUser, "MINIO_ROOT_PASSWORD="+minioPassword,
		"MINIO_REGION="+minioRegion, "MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=on")
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("run %s: %v", m.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m.stop = func() {
		_ = cmd.Process.Kill() // as a storage host that goes away does
		<-exited
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-exited:
			m.t.Fatalf("minio exited at start-up:\n%s", output.String())
		default:
		}
		if res, err := client.Get(m.Env.Endpoint + "/minio/health/cluster"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("minio not ready after 2 minutes:\n%s", output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server and waits until it is gone.
func (m *PrivateMinIO) Stop() {
	if m.stop != nil {
		m.stop()
		m.stop = nil
	}
}
