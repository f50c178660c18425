package multipart_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/multipart"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

var (
	client *s3client.Client
	server *testserver.Server
	bucket = fmt.Sprintf("multipart-test-%d", time.Now().UnixNano()%1e9)
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "multipart", bucket, func(s *testserver.Server, c *s3client.Client) error {
		client, server = c, s
		return nil
	}))
}

// lossy passes calls to the real server, except that its first lose
// aborts succeed without reaching it: the client cannot tell that from an
// abort the server carried out and a part stored afterwards undid.
type lossy struct {
	*s3.Client
	lose           atomic.Int64
	aborts, checks atomic.Int64
	failAbort      error // every abort that reaches the server fails with this instead
}

func (l *lossy) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	l.aborts.Add(1)
	if l.lose.Add(-1) >= 0 {
		return &s3.AbortMultipartUploadOutput{}, nil
	}
	if l.failAbort != nil {
		return nil, l.failAbort
	}
	return l.Client.AbortMultipartUpload(ctx, in, o...)
}

func (l *lossy) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	l.checks.Add(1)
	return l.Client.ListParts(ctx, in, o...)
}

// start creates a multipart upload of key with one part stored.
func start(t *testing.T, key string) string {
	t.Helper()
	ctx := context.Background()
	up, err := client.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.S3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
		UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("part one"))}); err != nil {
		t.Fatal(err)
	}
	return aws.ToString(up.UploadId)
}

func pending(t *testing.T, key string) int {
	t.Helper()
	out, err := client.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func TestAbort(t *testing.T) {
	denied := errors.New("AccessDenied: not allowed")
	for _, tc := range []struct {
		name     string
		inflight bool
		lose     int64
		fail     error
		// want: aborts sent, ListParts checks, uploads left, requests counted
		aborts, checks, left int64
		err                  error
	}{
		{name: "settled", aborts: 1},
		{name: "settled-lost", lose: 1, aborts: 1, left: 1}, // nothing was in flight: no check
		{name: "inflight", inflight: true, aborts: 1, checks: 1},
		{name: "inflight-lost-once", inflight: true, lose: 1, aborts: 2, checks: 2},
		{name: "inflight-lost-twice", inflight: true, lose: 2, aborts: 3, checks: 3},
		{name: "inflight-lost-always", inflight: true, lose: 9, aborts: 4, checks: 3, left: 1},
		{name: "denied", inflight: true, fail: denied, aborts: 1, left: 1, err: denied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("abort/%s/%d", tc.name, time.Now().UnixNano())
			id := start(t, key)
			api := &lossy{Client: client.S3, failAbort: tc.fail}
			api.lose.Store(tc.lose)
			var counted atomic.Int64
			err := multipart.Abort(context.Background(), api, bucket, key, id, tc.inflight, func() { counted.Add(1) })
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if a, c := api.aborts.Load(), api.checks.Load(); a != tc.aborts || c != tc.checks {
				t.Errorf("%d aborts and %d checks, want %d and %d", a, c, tc.aborts, tc.checks)
			}
			if n := counted.Load(); n != api.aborts.Load()+api.checks.Load() {
				t.Errorf("%d requests counted, %d sent", n, api.aborts.Load()+api.checks.Load())
			}
			if n := int64(pending(t, key)); n != tc.left {
				t.Errorf("%d uploads left, want %d", n, tc.left)
			}
			if tc.left > 0 { // clean up what the case meant to leave
				if _, err := client.S3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestAbortStopsCheckingWhenCancelled: a context that ends during the
// settling wait ends the checks; the first abort still went out.
func TestAbortStopsCheckingWhenCancelled(t *testing.T) {
	key := fmt.Sprintf("abort/cancelled/%d", time.Now().UnixNano())
	id := start(t, key)
	api := &lossy{Client: client.S3}
	ctx, cancel := context.WithTimeout(context.Background(), multipart.Settle/2)
	defer cancel()
	if err := multipart.Abort(ctx, api, bucket, key, id, true, nil); err != nil {
		t.Fatal(err)
	}
	if a, c := api.aborts.Load(), api.checks.Load(); a != 1 || c != 0 {
		t.Errorf("%d aborts and %d checks, want 1 and 0", a, c)
	}
	if n := pending(t, key); n != 0 {
		t.Errorf("%d uploads left", n)
	}
	// A later abort of the gone upload is NotFound, as the checks expect.
	_, err := client.S3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)})
	if s3err.Classify(err) != s3err.NotFound {
		t.Errorf("abort of an aborted upload: %v, want NotFound", err)
	}
}

// cancelling passes CreateMultipartUpload to the real server, cancelling
// the caller's context while the request is in flight (Ctrl-C landing
// there): before the server answers, and, when release is set, holding the
// answer back until it is closed.
type cancelling struct {
	*s3.Client
	cancel   context.CancelFunc
	release  chan struct{}
	finished chan struct{} // closed once the server has answered
}

func (c *cancelling) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	if c.cancel != nil {
		c.cancel()
	}
	if c.release != nil {
		<-c.release
	}
	defer close(c.finished)
	return c.Client.CreateMultipartUpload(ctx, in, o...)
}

// TestCreateSurvivesCancellation: a cancellation landing while
// CreateMultipartUpload is in flight returns the cancellation at once and
// leaves no upload behind: the one the server creates is aborted. The
// request used to stop on the client only, and the upload it created on
// the server was never aborted (nobody knew its id).
func TestCreateSurvivesCancellation(t *testing.T) {
	for _, tc := range []struct {
		name           string
		cancel, holdUp bool
	}{
		{"not cancelled", false, false},
		{"cancelled in flight", true, false},
		{"cancelled, answer held back", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "create/" + strings.ReplaceAll(tc.name, " ", "-")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			api := &cancelling{Client: client.S3, finished: make(chan struct{})}
			if tc.cancel {
				api.cancel = cancel
			}
			if tc.holdUp {
				api.release = make(chan struct{})
			}
			type result struct {
				out *s3.CreateMultipartUploadOutput
				err error
			}
			done := make(chan result, 1)
			go func() {
				out, err := multipart.Create(ctx, api, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				done <- result{out, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Create did not return after its context was cancelled")
			}
			if api.release != nil {
				close(api.release) // the server answers only now, after Create returned
			}
			select {
			case <-api.finished:
			case <-time.After(10 * time.Second):
				t.Fatal("the create request never finished")
			}
			if !tc.cancel {
				if r.err != nil || r.out == nil || pending(t, key) != 1 {
					t.Fatalf("Create = %+v, %v; %d uploads pending, want 1", r.out, r.err, pending(t, key))
				}
				if _, err := client.S3.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
					Bucket: aws.String(bucket), Key: aws.String(key), UploadId: r.out.UploadId}); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(r.err, context.Canceled) || r.out != nil {
				t.Fatalf("Create = %+v, %v; want context.Canceled", r.out, r.err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for pending(t, key) != 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%d uploads of %s left behind", pending(t, key), key)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// noSuchUpload answers CompleteMultipartUpload as S3 answers a retry whose
// first attempt completed the upload: NoSuchUpload. With complete set, the
// first attempt (whose answer was lost) reaches the real server first.
type noSuchUpload struct {
	*s3.Client
	complete bool
}

func (n noSuchUpload) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if n.complete {
		if _, err := n.Client.CompleteMultipartUpload(ctx, in, o...); err != nil {
			return nil, err
		}
	}
	return nil, &smithy.GenericAPIError{Code: "NoSuchUpload", Message: "The specified upload does not exist."}
}

// TestCompleteAnswerLost: when CompleteMultipartUpload's answer is lost and
// the retry finds the upload gone (NoSuchUpload: S3 names completed uploads
// so), Complete recognises the object it completed by its multipart ETag.
// An upload never completed, or whose object a later write replaced, still
// fails: nothing shows that this call completed it. Before, the lost answer
// failed an upload whose object was written.
func TestCompleteAnswerLost(t *testing.T) {
	ctx := context.Background()
	parts := [][]byte{bytes.Repeat([]byte("a"), 5<<20), []byte("tail")}
	upload := func(t *testing.T, key string) *s3.CompleteMultipartUploadInput {
		t.Helper()
		up, err := client.S3.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		in := &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{}}
		for i, p := range parts {
			out, err := client.S3.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key),
				UploadId: up.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
			if err != nil {
				t.Fatal(err)
			}
			in.MultipartUpload.Parts = append(in.MultipartUpload.Parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
		}
		return in
	}
	tests := []struct {
		name    string
		api     func(c *s3.Client) multipart.CompleteAPI
		between func(t *testing.T, in *s3.CompleteMultipartUploadInput) // before Complete
		ok      bool
	}{
		{"answer lost, retry finds no upload", func(c *s3.Client) multipart.CompleteAPI { return noSuchUpload{c, true} }, nil, true},
		{"answer arrives", func(c *s3.Client) multipart.CompleteAPI { return c }, nil, true},
		{"never completed", func(c *s3.Client) multipart.CompleteAPI { return noSuchUpload{c, false} },
			func(t *testing.T, in *s3.CompleteMultipartUploadInput) {
				if _, err := client.S3.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: in.Bucket, Key: in.Key,
					UploadId: in.UploadId}); err != nil {
					t.Fatal(err)
				}
			}, false},
		{"completed, then replaced", func(c *s3.Client) multipart.CompleteAPI { return noSuchUpload{c, false} },
			func(t *testing.T, in *s3.CompleteMultipartUploadInput) {
				if _, err := client.S3.CompleteMultipartUpload(ctx, in); err != nil {
					t.Fatal(err)
				}
				if _, err := client.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: in.Bucket, Key: in.Key,
					Body: bytes.NewReader([]byte("other"))}); err != nil {
					t.Fatal(err)
				}
			}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "complete/" + strings.ReplaceAll(tc.name, " ", "-")
			in := upload(t, key)
			if tc.between != nil {
				tc.between(t, in)
			}
			out, err := multipart.Complete(ctx, tc.api(client.S3), in)
			if !tc.ok {
				if s3err.Classify(err) != s3err.NotFound {
					t.Fatalf("Complete = %v, want NoSuchUpload", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			head, err := client.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.ETag) != aws.ToString(head.ETag) || aws.ToInt64(head.ContentLength) != int64(5<<20+4) {
				t.Errorf("Complete's ETag %s, object %s of %d bytes", aws.ToString(out.ETag), aws.ToString(head.ETag),
					aws.ToInt64(head.ContentLength))
			}
		})
	}
	t.Run("answer cut off on the wire", func(t *testing.T) {
		// End to end through the retryer (versitygw completes the retry
		// again rather than answering NoSuchUpload).
		var cuts atomic.Int64
		opt := server.Proxy(t, testserver.Quirks{Answer: func(r *http.Request) testserver.Answer {
			if r.Method == http.MethodPost && r.URL.Query().Has("uploadId") && cuts.CompareAndSwap(0, 1) {
				return testserver.AnswerTruncated
			}
			return testserver.Forward
		}})
		c, err := s3client.New(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		in := upload(t, "complete/cut")
		out, err := multipart.Complete(ctx, c.S3, in)
		if err != nil || cuts.Load() != 1 {
			t.Fatalf("Complete = %v after %d cut answers", err, cuts.Load())
		}
		if want, _ := multipart.MultipartETag(in.MultipartUpload.Parts); aws.ToString(out.ETag) != want {
			t.Errorf("ETag %s, want %s", aws.ToString(out.ETag), want)
		}
	})
}

func TestMultipartETag(t *testing.T) {
	md5hex := func(b string) string { s := md5.Sum([]byte(b)); return `"` + hex.EncodeToString(s[:]) + `"` }
	both := md5.New()
	for _, b := range []string{"one", "two"} {
		s := md5.Sum([]byte(b))
		both.Write(s[:])
	}
	tests := []struct {
		name  string
		etags []string
		want  string
		ok    bool
	}{
		{"two parts", []string{md5hex("one"), md5hex("two")}, fmt.Sprintf(`"%x-2"`, both.Sum(nil)), true},
		{"unquoted", []string{strings.Trim(md5hex("one"), `"`), strings.Trim(md5hex("two"), `"`)}, fmt.Sprintf(`"%x-2"`, both.Sum(nil)), true},
		{"not an MD5 (SSE-KMS)", []string{md5hex("one"), `"abc"`}, "", false},
		{"none", nil, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var parts []types.CompletedPart
			for _, e := range tc.etags {
				parts = append(parts, types.CompletedPart{ETag: aws.String(e)})
			}
			got, ok := multipart.MultipartETag(parts)
			if got != tc.want || ok != tc.ok {
				t.Errorf("MultipartETag = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
