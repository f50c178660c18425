package upload

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// TestAbortFailureReported: when parts fail and AbortMultipartUpload fails
// too, the upload stays behind (its parts billed) and the error says so,
// naming the upload id and the object, so that someone can abort it. The
// part's failure stays the error's class (what it wraps). An abort that
// succeeds (at once, or after the SDK's retry) adds nothing. Both the
// batch (PutBuffers) and the streaming Writer. The abort's failure used to
// be dropped.
func TestAbortFailureReported(t *testing.T) {
	fresh(t)
	data := randBytes(big, 61)
	for _, tc := range []struct {
		name      string
		writer    bool
		abortFail int64 // AbortMultipartUpload requests answered 500
		wantLeft  bool
	}{
		{"batch-abort-fails", false, 1000, true},
		{"batch-abort-fails-once", false, 1, false}, // the SDK retries it
		{"batch-abort-works", false, 0, false},
		{"writer-abort-fails", true, 1000, true},
		{"writer-abort-works", true, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "abort-fail/" + tc.name
			var aborts atomic.Int64
			q := testserver.Quirks{Answer: func(r *http.Request) testserver.Answer {
				query := r.URL.Query()
				switch {
				case r.Method == http.MethodPut && query.Has("partNumber"):
					return testserver.Answer500
				case r.Method == http.MethodDelete && query.Has("uploadId"):
					if aborts.Add(1) <= tc.abortFail {
						return testserver.Answer500
					}
				}
				return testserver.Forward
			}}
			opt := server.Proxy(t, q)
			opt.Retries = 2
			c, err := s3client.New(context.Background(), opt)
			if err != nil {
				t.Fatal(err)
			}
			if tc.writer {
				w, werr := NewWriter(context.Background(), c.S3, bucket, key, WriterOptions{PartSize: part, Concurrency: 2})
				if werr != nil {
					t.Fatal(werr)
				}
				_, err = w.Write(data)
				if err == nil {
					_, err = w.Close(context.Background())
				}
			} else {
				err = PutBuffers(context.Background(), c.S3, []Buffer{{Bucket: bucket, Key: key, Data: data}},
					Options{PartSize: part, Concurrency: 2}, nil)[0].Err
			}
			if err == nil {
				t.Fatal("no error although every part failed")
			}
			if s3err.APICode(err) != "InternalError" || s3err.Classify(err) == s3err.Cancelled {
				t.Errorf("err %v (class %v): the part's failure is not what it wraps", err, s3err.Classify(err))
			}
			out, lerr := client.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
				Bucket: aws.String(bucket), Prefix: aws.String(key)})
			if lerr != nil {
				t.Fatal(lerr)
			}
			if left := len(out.Uploads) > 0; left != tc.wantLeft {
				t.Fatalf("upload left behind: %v, want %v (err %v)", left, tc.wantLeft, err)
			}
			mentioned := strings.Contains(err.Error(), "aborting multipart upload")
			if !tc.wantLeft {
				if mentioned {
					t.Errorf("err %v mentions an abort that worked", err)
				}
				return
			}
			id := aws.ToString(out.Uploads[0].UploadId)
			if !mentioned || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), objName(bucket, key)) {
				t.Errorf("err %v does not say that aborting upload %s of %s failed", err, id, objName(bucket, key))
			}
			if _, err := client.S3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)}); err != nil {
				t.Fatalf("cleaning up: %v", err)
			}
		})
	}
}
