package objects

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

func TestPresign(t *testing.T) {
	ctx := context.Background()
	data := randBytes(3000, 5)
	key := "presign/ünï cødé+?#.bin"
	put(t, bucket, key, data)

	t.Run("get", func(t *testing.T) {
		url, err := Presign(ctx, client.S3, bucket, key, "GET", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Equal(got, data) {
			t.Fatalf("status %d, %d bytes (want 200, %d bytes): %.200s", resp.StatusCode, len(got), len(data), got)
		}
	})
	t.Run("put", func(t *testing.T) {
		body := randBytes(5000, 6)
		url, err := Presign(ctx, client.S3, bucket, "presign/put me+.bin", "put", time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, msg)
		}
		if got := get(t, bucket, "presign/put me+.bin"); !bytes.Equal(got, body) {
			t.Fatalf("object holds %d bytes, want %d", len(got), len(body))
		}
	})
	t.Run("expired", func(t *testing.T) {
		url, err := Presign(ctx, client.S3, bucket, key, "GET", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(2100 * time.Millisecond)
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("expired URL answered %d, want 403", resp.StatusCode)
		}
	})
	for _, tc := range []struct {
		name, bucket, key, method string
		expires                   time.Duration
	}{
		{"bad-method", bucket, key, "DELETE", time.Minute},
		{"no-key", bucket, "", "GET", time.Minute},
		{"zero-expiry", bucket, key, "GET", 0},
		{"too-long", bucket, key, "GET", 8 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Presign(ctx, client.S3, tc.bucket, tc.key, tc.method, tc.expires)
			if s3err.Classify(err) != s3err.Invalid {
				t.Fatalf("got %v, want an Invalid error", err)
			}
			mustContain(t, err, "s3://"+tc.bucket)
		})
	}
}

func TestBuckets(t *testing.T) {
	ctx := context.Background()
	b := strings.Replace(bucket, "objects-test", "objects-mkb", 1)
	for _, tc := range []struct {
		name string
		run  func() error
		code s3err.Code
		msg  string
	}{
		{"create", func() error { return MakeBucket(ctx, client.S3, b, "") }, 0, ""},
		{"create-exists", func() error { return MakeBucket(ctx, client.S3, b, "") }, s3err.Exists, "s3://" + b + ": bucket already exists"},
		{"create-explicit-region", func() error { return MakeBucket(ctx, client.S3, b+"-r", "us-east-1") }, 0, ""},
		{"put-object", func() error { put(t, b, "x", []byte("x")); return nil }, 0, ""},
		{"remove-not-empty", func() error { return RemoveBucket(ctx, client.S3, b) }, s3err.IO, "s3://" + b + ": bucket is not empty"},
		{"empty-it", func() error { errs, _ := Delete(ctx, client.S3, paths(b, "x"), Options{}); return errs[0] }, 0, ""},
		{"remove", func() error { return RemoveBucket(ctx, client.S3, b) }, 0, ""},
		{"remove-region-bucket", func() error { return RemoveBucket(ctx, client.S3, b+"-r") }, 0, ""},
		{"remove-missing", func() error { return RemoveBucket(ctx, client.S3, b) }, s3err.NotFound, "s3://" + b + ": no such bucket"},
		{"create-empty-name", func() error { return MakeBucket(ctx, client.S3, "", "") }, s3err.Invalid, "empty bucket name"},
		{"remove-empty-name", func() error { return RemoveBucket(ctx, client.S3, "") }, s3err.Invalid, "empty bucket name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if got := s3err.Classify(err); got != tc.code {
				t.Fatalf("code %d (%v), want %d", got, err, tc.code)
			}
			if tc.msg != "" {
				mustContain(t, err, tc.msg)
			}
		})
	}
}

// fakeBucket records CreateBucket inputs.
type fakeBucket struct{ in *s3.CreateBucketInput }

func (f *fakeBucket) CreateBucket(_ context.Context, in *s3.CreateBucketInput, _ ...func(*s3.Options)) (*s3.CreateBucketOutput, error) {
	f.in = in
	return &s3.CreateBucketOutput{}, nil
}

func (f *fakeBucket) DeleteBucket(context.Context, *s3.DeleteBucketInput, ...func(*s3.Options)) (*s3.DeleteBucketOutput, error) {
	return &s3.DeleteBucketOutput{}, nil
}

// fakeRegional is a fakeBucket that knows its region, like *s3.Client.
type fakeRegional struct{ fakeBucket }

func (f *fakeRegional) Options() s3.Options { return s3.Options{Region: "ap-south-1"} }

func TestMakeBucketRegion(t *testing.T) {
	for _, tc := range []struct {
		name, region, want string
		regional           bool
	}{
		{"explicit", "eu-west-1", "eu-west-1", false},
		{"us-east-1", "us-east-1", "", false},
		{"none", "", "", false},
		{"client-region", "", "ap-south-1", true},
		{"explicit-over-client", "eu-west-1", "eu-west-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var api BucketAPI
			var f *fakeBucket
			if tc.regional {
				r := &fakeRegional{}
				api, f = r, &r.fakeBucket
			} else {
				f = &fakeBucket{}
				api = f
			}
			if err := MakeBucket(context.Background(), api, "b", tc.region); err != nil {
				t.Fatal(err)
			}
			got := ""
			if c := f.in.CreateBucketConfiguration; c != nil {
				got = string(c.LocationConstraint)
			}
			if got != tc.want {
				t.Errorf("location constraint %q, want %q", got, tc.want)
			}
		})
	}
}
