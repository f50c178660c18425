package objects

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
)

var (
	client  *s3client.Client
	nanos   = time.Now().UnixNano() % 1e9
	bucket  = fmt.Sprintf("objects-test-%d", nanos)
	bucket2 = fmt.Sprintf("objects-test2-%d", nanos)
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "objects", bucket, func(_ *testserver.Server, c *s3client.Client) error {
		client = c
		_, err := c.S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket2)})
		return err
	}))
}

func put(t testing.TB, b, key string, data []byte) {
	t.Helper()
	_, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put s3://%s/%s: %v", b, key, err)
	}
}

func get(t testing.TB, b, key string) []byte {
	t.Helper()
	out, err := client.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s: %v", b, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("read s3://%s/%s: %v", b, key, err)
	}
	return data
}

func exists(t testing.TB, b, key string) bool {
	t.Helper()
	_, err := client.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	return err == nil
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// httpErr builds the error the SDK returns for an HTTP status without a
// parseable body (as for HEAD requests).
func httpErr(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      errors.New(http.StatusText(status)),
	}}
}

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one mentioning %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not mention %q", err, p)
		}
	}
}

type atomicInt = atomic.Int64

func bytesReader(s string) io.Reader { return strings.NewReader(s) }
