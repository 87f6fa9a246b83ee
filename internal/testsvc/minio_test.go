package testsvc

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func TestMinIOBucketsAreSeparate(t *testing.T) {
	t.Parallel()
	a, b := MinIO(t), MinIO(t)
	if a.Endpoint != b.Endpoint {
		t.Fatalf("two servers in one binary: %s and %s", a.Endpoint, b.Endpoint)
	}
	if a.Bucket == b.Bucket {
		t.Fatalf("bucket %s handed out twice", a.Bucket)
	}
	ctx := context.Background()
	ca := a.Client()
	if _, err := ca.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(a.Bucket), Key: aws.String("hello.txt"),
		Body: bytes.NewReader([]byte("hi")), ContentLength: aws.Int64(2),
	}); err != nil {
		t.Fatalf("put: %v", err)
	}
	out, err := ca.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(a.Bucket), Key: aws.String("hello.txt")})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	got, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(got) != "hi" {
		t.Fatalf("got %q, want %q", got, "hi")
	}
	list, err := b.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b.Bucket)})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Contents) != 0 {
		t.Fatalf("bucket %s sees %d objects of another bucket", b.Bucket, len(list.Contents))
	}
}

func TestBucketName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "TestX", "TestSuite/put_get_roundtrip#01", "Très_Long/" + string(bytes.Repeat([]byte("x"), 100))} {
		got := bucketName(name)
		if len(got) < 3 || len(got) > 63 || !bucketRe.MatchString(got) {
			t.Errorf("bucketName(%q) = %q, not a valid bucket name", name, got)
		}
	}
}

var bucketRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*[a-z0-9]$`)
