package multipart_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/multipart"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

var (
	client *s3client.Client
	bucket = fmt.Sprintf("multipart-test-%d", time.Now().UnixNano()%1e9)
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "multipart", bucket, func(_ *testserver.Server, c *s3client.Client) error {
		client = c
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
