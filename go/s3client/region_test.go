package s3client_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
)

// TestRegionRedirect: a bucket in another region than the client's is
// found from S3's answer (or a HEAD of the bucket when the answer does not
// say), remembered, and every kind of request reaches it, lean or through
// the SDK, as boto3's redirects do. Before, each failed with the 400 or
// 301: a client left at the default region could read no bucket elsewhere.
func TestRegionRedirect(t *testing.T) {
	ctx := context.Background()
	// The test server answers in us-east-1 (and refuses other regions'
	// signatures itself): the clients sign for eu-west-1 until redirected.
	const region, elsewhere = "us-east-1", "eu-west-1"
	payload := []byte("bytes in another region")
	// How many requests a redirect costs: one refused, plus the HEAD
	// that finds the region when the refusal does not name it (a HEAD's
	// own refusal names it in a header, and the lean path reads the
	// <Region> of an error body, which the SDK's errors drop).
	ops := []struct {
		name       string
		lean, head bool
		do         func(t *testing.T, c *s3client.Client, key string) error
	}{
		{"PutObject", false, false, func(t *testing.T, c *s3client.Client, key string) error {
			_, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key + "-put"),
				Body: bytes.NewReader(payload)})
			return err
		}},
		{"GetObject", true, false, func(t *testing.T, c *s3client.Client, key string) error {
			out, err := c.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err != nil {
				return err
			}
			defer out.Body.Close()
			got, err := io.ReadAll(out.Body)
			if err == nil && !bytes.Equal(got, payload) {
				t.Errorf("GetObject read %q, want %q", got, payload)
			}
			return err
		}},
		{"ListObjectsV2Raw", true, false, func(t *testing.T, c *s3client.Client, key string) error {
			var body bytes.Buffer
			handled, err := c.List.ListObjectsV2Raw(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket),
				Prefix: aws.String(key)}, &body)
			if !handled {
				t.Error("the lean path did not take the listing")
			}
			if err == nil && !bytes.Contains(body.Bytes(), []byte("<Key>"+key+"</Key>")) {
				t.Errorf("listing lacks %s: %s", key, body.String())
			}
			return err
		}},
		{"HeadObject", false, true, func(t *testing.T, c *s3client.Client, key string) error {
			out, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			if err == nil && aws.ToInt64(out.ContentLength) != int64(len(payload)) {
				t.Errorf("HeadObject size %d, want %d", aws.ToInt64(out.ContentLength), len(payload))
			}
			return err
		}},
		{"SDK GetObject", false, false, func(t *testing.T, c *s3client.Client, key string) error {
			// Options force the SDK's path.
			out, err := c.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
				func(*s3.Options) {})
			if err == nil {
				out.Body.Close()
			}
			return err
		}},
	}
	plain, err := srv.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, answer := range []string{"body", "header", "none"} {
		key := "region/" + answer
		if _, err := plain.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader(payload)}); err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			t.Run(answer+"/"+op.name, func(t *testing.T) {
				var refused atomic.Int64
				opt := srv.Proxy(t, testserver.Quirks{Region: region, RegionAnswer: answer, Refused: &refused})
				opt.Region = elsewhere
				c, err := s3client.New(ctx, opt)
				if err != nil {
					t.Fatal(err)
				}
				if err := op.do(t, c, key); err != nil {
					t.Fatalf("first call: %v", err)
				}
				want := int64(2)
				if op.head || answer == "header" || answer == "body" && op.lean {
					want = 1
				}
				if n := refused.Load(); n != want {
					t.Errorf("%d requests refused for their region, want %d", n, want)
				}
				if err := op.do(t, c, key); err != nil {
					t.Fatalf("second call: %v", err)
				}
				if n := refused.Load(); n != want {
					t.Errorf("the second call was sent to the wrong region again (%d refusals)", n)
				}
			})
		}
	}

	t.Run("concurrent", func(t *testing.T) {
		var refused atomic.Int64
		opt := srv.Proxy(t, testserver.Quirks{Region: region, RegionAnswer: "none", Refused: &refused})
		opt.Region = elsewhere
		c, err := s3client.New(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		const n = 16
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := c.Get.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("region/none")})
				if err == nil {
					_, err = io.Copy(io.Discard, out.Body)
					out.Body.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("GET %d: %v", i, err)
			}
		}
		if r := refused.Load(); r > 2*n {
			t.Errorf("%d refusals for %d GETs", r, n)
		}
	})

	t.Run("right region", func(t *testing.T) {
		// A client already in the bucket's region is never refused.
		var refused atomic.Int64
		opt := srv.Proxy(t, testserver.Quirks{Region: region, Refused: &refused})
		opt.Region = region
		c, err := s3client.New(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("region/body")}); err != nil {
			t.Fatal(err)
		}
		if n := refused.Load(); n != 0 {
			t.Errorf("%d refusals in the bucket's own region", n)
		}
	})
}

// TestRegionResolverAWS: on AWS a learnt region moves a bucket's requests
// to that region's endpoint and signature scope, on the lean path and the
// SDK's (seen through a presigned URL, which the same resolver makes).
func TestRegionResolverAWS(t *testing.T) {
	ctx := context.Background()
	c, err := s3client.New(ctx, s3client.Options{Region: "us-east-1", Key: "AKIDEXAMPLE", Secret: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	c.LearnRegion("far-bucket", "ap-southeast-2")
	for _, tc := range []struct{ bucket, host, scope string }{
		{"far-bucket", "far-bucket.s3.ap-southeast-2.amazonaws.com", "ap-southeast-2"},
		{"near-bucket", "near-bucket.s3.us-east-1.amazonaws.com", "us-east-1"},
	} {
		u, ok := c.Get.EndpointFor(ctx, tc.bucket, "k")
		if !ok || !strings.Contains(u, "https://"+tc.host+"/k") || !strings.HasSuffix(u, "s3/"+tc.scope) {
			t.Errorf("lean GET of %s: %q", tc.bucket, u)
		}
		p, err := s3.NewPresignClient(c.S3).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(tc.bucket), Key: aws.String("k")})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.URL, "https://"+tc.host+"/k?") || !strings.Contains(p.URL, "%2F"+tc.scope+"%2Fs3%2F") {
			t.Errorf("SDK request for %s: %s", tc.bucket, p.URL)
		}
	}
}
