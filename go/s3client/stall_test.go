package s3client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3client"
)

// TestStalledServer: a server that sends a response's headers and part of
// its body, then nothing, fails the request after the read timeout
// (ResponseHeaderTimeout alone let a GET or a LIST page wait forever),
// while a request whose body takes longer than the timeout to send, but
// keeps moving, succeeds.
func TestStalledServer(t *testing.T) {
	const timeout = 400 * time.Millisecond
	tests := []struct {
		name string
		call func(context.Context, *s3client.Client) error
	}{
		{"get body", func(ctx context.Context, c *s3client.Client) error {
			out, err := c.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			_, err = io.ReadAll(out.Body)
			return err
		}},
		{"list page", func(ctx context.Context, c *s3client.Client) error {
			_, err := c.List.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b")})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			release := make(chan struct{})
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tries.Add(1)
				if r.Method == http.MethodGet && r.URL.Query().Has("list-type") {
					w.Header().Set("Content-Type", "application/xml")
					w.Header().Set("Content-Length", "4096")
					io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><Contents><Key>a`)
				} else {
					w.Header().Set("ETag", `"e"`)
					w.Header().Set("Content-Length", "10")
					io.WriteString(w, "hello")
				}
				w.(http.Flusher).Flush()
				select { // then nothing, until the client gives up
				case <-r.Context().Done():
				case <-release:
				}
			}))
			defer ts.Close()
			defer close(release)
			c, err := s3client.New(context.Background(), s3client.Options{
				EndpointURL: ts.URL, Key: "k", Secret: "s", Retries: 2, ReadTimeout: timeout.Seconds()})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			start := time.Now()
			err = tt.call(ctx, c)
			took := time.Since(start)
			if err == nil {
				t.Fatal("no error from a server that stopped sending")
			}
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				t.Fatalf("still waiting after %v (the test's own deadline): %v", took, err)
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				if !strings.Contains(err.Error(), "timeout") {
					t.Errorf("error %v is not a timeout", err)
				}
			}
			if took > 10*timeout*time.Duration(max(1, tries.Load())) {
				t.Errorf("failed after %v (%d requests), want about %v a request", took, tries.Load(), timeout)
			}
		})
	}
}

// slowBody sends its bytes a chunk at a time, pausing between chunks.
type slowBody struct {
	*bytes.Reader
	pause time.Duration
}

func (b *slowBody) Read(p []byte) (int, error) {
	time.Sleep(b.pause)
	return b.Reader.Read(p[:min(len(p), 1000)])
}

// TestSlowUploadKeepsConnection: the transport reads (waits for the
// response) while it sends a request's body; an upload slower than the
// read timeout, but moving, must not fail for it.
func TestSlowUploadKeepsConnection(t *testing.T) {
	const timeout = 300 * time.Millisecond
	var got atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		w.Header().Set("ETag", `"e"`)
	}))
	defer ts.Close()
	c, err := s3client.New(context.Background(), s3client.Options{
		EndpointURL: ts.URL, Key: "k", Secret: "s", Retries: 1, ReadTimeout: timeout.Seconds()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data := bytes.Repeat([]byte("x"), 10_000) // 10 chunks, 100 ms apart: over 3 timeouts
	body := &slowBody{Reader: bytes.NewReader(data), pause: 100 * time.Millisecond}
	if _, err := c.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"),
		Body: body, ContentLength: aws.Int64(int64(len(data)))}); err != nil {
		t.Fatalf("slow upload failed: %v", err)
	}
	if got.Load() != int64(len(data)) {
		t.Fatalf("server got %d bytes, want %d", got.Load(), len(data))
	}
}
