package s3client_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
)

// truncating returns a client (3 attempts per request) behind a proxy
// that cuts off the answers to requests match picks, at most limit of them
// (no limit when limit is 0), and the count of answers cut.
func truncating(t *testing.T, match func(r *http.Request) bool, limit int64) (*s3client.Client, *atomic.Int64) {
	t.Helper()
	cut := &atomic.Int64{}
	opt := srv.Proxy(t, testserver.Quirks{Answer: func(r *http.Request) testserver.Answer {
		for match(r) {
			n := cut.Load()
			if limit > 0 && n >= limit {
				break
			}
			if cut.CompareAndSwap(n, n+1) {
				return testserver.AnswerTruncated
			}
		}
		return testserver.Forward
	}})
	opt.Retries = 3
	c, err := s3client.New(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, cut
}

// isDelete matches DeleteObjects requests.
func isDelete(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Query().Has("delete")
}

// TestTruncatedAnswerRetried: an SDK operation whose answer is cut off
// mid-body (a reset, a proxy closing the connection) is sent again, as
// boto3 does. The SDK reports such an answer as a deserialization error,
// which its retryer did not retry: one short answer failed the operation.
func TestTruncatedAnswerRetried(t *testing.T) {
	ctx := context.Background()
	plain, err := srv.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := "truncated/src"
	if _, err := plain.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(src),
		Body: bytes.NewReader(bytes.Repeat([]byte("s"), 1000))}); err != nil {
		t.Fatal(err)
	}
	// startUpload begins a multipart upload (through the plain client).
	startUpload := func(t *testing.T, key string) string {
		out, err := plain.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_, _ = plain.S3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket),
				Key: aws.String(key), UploadId: out.UploadId})
		})
		return aws.ToString(out.UploadId)
	}
	tests := []struct {
		name  string
		match func(r *http.Request) bool
		do    func(t *testing.T, c *s3client.Client) error
	}{
		{"CopyObject", func(r *http.Request) bool {
			return r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != ""
		},
			func(t *testing.T, c *s3client.Client) error {
				_, err := c.S3.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("truncated/copy"),
					CopySource: aws.String(bucket + "/" + src)})
				return err
			}},
		{"DeleteObjects", isDelete,
			func(t *testing.T, c *s3client.Client) error {
				out, err := c.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
					Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("truncated/none")}}}})
				if err == nil && len(out.Errors) != 0 {
					t.Errorf("DeleteObjects errors: %+v", out.Errors)
				}
				return err
			}},
		{"DeleteObjects quiet", isDelete,
			func(t *testing.T, c *s3client.Client) error {
				_, err := c.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
					Delete: &types.Delete{Quiet: aws.Bool(true), Objects: []types.ObjectIdentifier{{Key: aws.String("truncated/none")}}}})
				return err
			}},
		{"CreateMultipartUpload", func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("uploads") },
			func(t *testing.T, c *s3client.Client) error {
				out, err := c.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket),
					Key: aws.String("truncated/mpu")})
				if err == nil {
					_, _ = c.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket),
						Key: aws.String("truncated/mpu"), UploadId: out.UploadId})
				}
				return err
			}},
		{"UploadPartCopy", func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Has("partNumber") },
			func(t *testing.T, c *s3client.Client) error {
				id := startUpload(t, "truncated/partcopy")
				_, err := c.S3.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String(bucket), Key: aws.String("truncated/partcopy"),
					UploadId: aws.String(id), PartNumber: aws.Int32(1), CopySource: aws.String(bucket + "/" + src)})
				return err
			}},
		{"ListMultipartUploads", func(r *http.Request) bool { return r.Method == http.MethodGet && r.URL.Query().Has("uploads") },
			func(t *testing.T, c *s3client.Client) error {
				_, err := c.S3.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
				return err
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, cut := truncating(t, tc.match, 1)
			if err := tc.do(t, c); err != nil {
				t.Fatalf("after one truncated answer: %v", err)
			}
			if cut.Load() != 1 {
				t.Fatalf("the proxy cut %d answers, want 1 (the test matched nothing)", cut.Load())
			}
		})
	}
	t.Run("persistent", func(t *testing.T) {
		// Every answer cut: the error comes back after the retries, naming the cause.
		c, cut := truncating(t, isDelete, 0)
		_, err := c.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket),
			Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("truncated/none")}}}})
		// Go's transport names the cut an unexpected EOF, or a read on
		// the connection it closed under the read (see truncatedResponse).
		if err == nil || !strings.Contains(err.Error(), "unexpected EOF") && !strings.Contains(err.Error(), "use of closed network connection") {
			t.Fatalf("err = %v, want the truncation", err)
		}
		if n := cut.Load(); n != 3 {
			t.Errorf("%d attempts, want 3", n)
		}
	})
}
