package s3client_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3client"
)

// TestCloseDuringCalls: connections of calls running when the client is
// closed, and of calls made on it afterwards, are closed when those calls
// end; before, they went back to the idle pool and stayed open on both
// sides for the transport's IdleConnTimeout (90 s), one batch's worth per
// Close.
func TestCloseDuringCalls(t *testing.T) {
	const calls = 8
	tests := []struct {
		name string
		get  func(context.Context, *s3client.Client, string) error
	}{
		{"lean-get", func(ctx context.Context, c *s3client.Client, key string) error {
			out, err := c.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String(key)})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.Copy(io.Discard, out.Body)
			return err
		}},
		{"sdk-head", func(ctx context.Context, c *s3client.Client, key string) error {
			_, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String(key)})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var open atomic.Int64
			release := make(chan struct{})
			var arrived sync.WaitGroup
			arrived.Add(calls)
			var first atomic.Int64
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if first.Add(1) <= calls {
					arrived.Done()
					<-release
				}
				w.Header().Set("Content-Length", "5")
				w.Header().Set("ETag", `"x"`)
				if r.Method == http.MethodGet {
					_, _ = w.Write([]byte("hello"))
				}
			}))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				switch s {
				case http.StateNew:
					open.Add(1)
				case http.StateClosed, http.StateHijacked:
					open.Add(-1)
				}
			}
			srv.Start()
			defer srv.Close()
			c, err := s3client.New(context.Background(), s3client.Options{EndpointURL: srv.URL, Key: "k", Secret: "s", Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			errs := make(chan error, calls)
			for i := 0; i < calls; i++ {
				go func() { errs <- tc.get(ctx, c, fmt.Sprintf("k%d", i)) }()
			}
			arrived.Wait() // every call is on its own connection, waiting for its answer
			c.Close()
			// Calls of the same batch go on being made after Close (which
			// makes the transport keep newly idle connections again).
			for i := 0; i < 3; i++ {
				if err := tc.get(ctx, c, "during"); err != nil {
					t.Fatalf("call after Close: %v", err)
				}
			}
			close(release)
			for i := 0; i < calls; i++ {
				if err := <-errs; err != nil {
					t.Fatalf("call running across Close: %v", err)
				}
			}
			waitClosed(t, &open, "calls running when the client was closed")
			// A closed client stays usable and, once idle, keeps nothing open.
			for i := 0; i < 3; i++ {
				if err := tc.get(ctx, c, "after"); err != nil {
					t.Fatalf("call after Close: %v", err)
				}
			}
			waitClosed(t, &open, "calls made after the client was closed")
		})
	}
}

// waitClosed waits up to 5 s for the server to see every connection
// closed (the transport closes them from its own goroutines).
func waitClosed(t *testing.T, open *atomic.Int64, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); open.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := open.Load(); n > 0 {
		t.Errorf("%s: %d connections still open (until the idle timeout)", what, n)
	}
}
