package upload

import (
	"bytes"
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

// TestWriterAppendReadRetried: appending to an object smaller than a part
// downloads its bytes; a connection reset or a short body on that GET is
// resumed (as downloads resume them) instead of failing the append, and a
// resumption stays pinned to the object's ETag, so an object replaced
// meanwhile fails with ErrChanged instead of mixing versions. It used to
// be one GET read with io.ReadFull, never retried.
func TestWriterAppendReadRetried(t *testing.T) {
	fresh(t)
	const readRetries = 4 // what a client with the default 5 attempts gives
	for _, tc := range []struct {
		name     string
		fault    testserver.Answer
		times    int64 // GETs of the object to break
		replace  bool  // replace the object after the first broken GET
		wantErr  s3err.Code
		wantGETs int64
	}{
		{name: "reset", fault: testserver.AnswerReset, times: 1, wantGETs: 2},
		{name: "truncated", fault: testserver.AnswerTruncated, times: 1, wantGETs: 2},
		{name: "reset-twice", fault: testserver.AnswerReset, times: 2, wantGETs: 3},
		{name: "status-500", fault: testserver.Answer500, times: 1, wantGETs: 2}, // the SDK's retry
		{name: "reset-always", fault: testserver.AnswerReset, times: 100, wantErr: s3err.Connection, wantGETs: 1 + readRetries},
		{name: "replaced-after-reset", fault: testserver.AnswerReset, times: 1, replace: true, wantErr: s3err.Changed, wantGETs: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "append-read/" + tc.name
			old := randBytes(100_000, 51)
			put(t, key, old)
			var gets atomic.Int64
			q := testserver.Quirks{Answer: func(r *http.Request) testserver.Answer {
				if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/"+key) {
					return testserver.Forward
				}
				n := gets.Add(1)
				if tc.replace && n == 2 { // the resumption finds another object
					if _, err := client.S3.PutObject(r.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket),
						Key: aws.String(key), Body: bytes.NewReader(randBytes(100_000, 52))}); err != nil {
						t.Errorf("replacing %s: %v", key, err)
					}
				}
				if n > tc.times {
					return testserver.Forward
				}
				return tc.fault
			}}
			opt := server.Proxy(t, q)
			opt.Retries = 2
			c, err := s3client.New(context.Background(), opt)
			if err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(context.Background(), c.S3, bucket, key, WriterOptions{PartSize: part, Append: true,
				ReadRetries: readRetries})
			if err != nil {
				t.Fatal(err)
			}
			add := randBytes(1000, 53)
			if _, err := w.Write(add); err != nil {
				t.Fatal(err)
			}
			_, err = w.Close(context.Background())
			if n := gets.Load(); n != tc.wantGETs {
				t.Errorf("%d GETs of the object, want %d", n, tc.wantGETs)
			}
			if tc.wantErr != s3err.OK {
				if s3err.Classify(err) != tc.wantErr || !strings.Contains(err.Error(), key) {
					t.Fatalf("err %v, want %v naming the key", err, tc.wantErr)
				}
				if tc.replace {
					return
				}
				checkObject(t, key, old)
				return
			}
			if err != nil {
				t.Fatalf("%s failed the append: %v", tc.name, err)
			}
			checkObject(t, key, append(append([]byte{}, old...), add...))
		})
	}
}
