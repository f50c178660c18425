package objects

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

func TestStat(t *testing.T) {
	ctx := context.Background()
	_, err := client.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("stat/file.txt"),
		Body: bytesReader("hello"), ContentType: aws.String("text/plain")})
	if err != nil {
		t.Fatal(err)
	}
	put(t, bucket, "stat/dir/sub/x", []byte("x"))
	put(t, bucket, "stat/marker/", nil)
	put(t, bucket, "stat/ünï cødé+?#", []byte("12345"))
	missing := bucket + "-missing"
	for _, tc := range []struct {
		name     string
		bucket   string
		key      string
		dir      bool
		size     int64
		code     s3err.Code
		requests int64
		msg      string // the error must contain it
	}{
		{"file", bucket, "stat/file.txt", false, 5, 0, 1, ""},
		{"unicode-file", bucket, "stat/ünï cødé+?#", false, 5, 0, 1, ""},
		{"dir-prefix", bucket, "stat/dir", true, 0, 0, 2, ""},
		{"dir-prefix-slash", bucket, "stat/dir/", true, 0, 0, 1, ""},
		{"nested-prefix", bucket, "stat/dir/sub", true, 0, 0, 2, ""},
		{"dir-marker", bucket, "stat/marker", true, 0, 0, 2, ""},
		{"dir-marker-slash", bucket, "stat/marker/", true, 0, 0, 1, ""},
		{"bucket", bucket, "", true, 0, 0, 1, ""},
		{"missing-bucket", missing, "", false, 0, s3err.NotFound, 1, "s3://" + missing + ": no such bucket"},
		{"missing-bucket-key", missing, "a/b", false, 0, s3err.NotFound, 2, "no such bucket"},
		{"missing-key", bucket, "stat/nope", false, 0, s3err.NotFound, 2, "s3://" + bucket + "/stat/nope"},
		{"file-with-slash", bucket, "stat/file.txt/", false, 0, s3err.NotFound, 1, "s3://" + bucket + "/stat/file.txt/"},
		{"partial-name", bucket, "stat/fi", false, 0, s3err.NotFound, 2, "stat/fi"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			infos, errs, reqs := Stat(ctx, client.S3, []objpath.Path{{Bucket: tc.bucket, Key: tc.key}}, Options{})
			if got := s3err.Classify(errs[0]); got != tc.code {
				t.Fatalf("code %d (%v), want %d", got, errs[0], tc.code)
			}
			if tc.msg != "" {
				mustContain(t, errs[0], tc.msg)
			}
			if reqs != tc.requests {
				t.Errorf("requests = %d, want %d", reqs, tc.requests)
			}
			in := infos[0]
			if in.IsDir != tc.dir || in.Size != tc.size {
				t.Errorf("info = %+v, want dir=%v size=%d", in, tc.dir, tc.size)
			}
			if tc.code == 0 && !tc.dir {
				if len(in.ETag) < 3 || in.ETag[0] != '"' {
					t.Errorf("ETag %q is not quoted", in.ETag)
				}
				if d := time.Since(time.Unix(0, in.Mtime)); d < -time.Minute || d > time.Hour {
					t.Errorf("mtime %v is not recent", time.Unix(0, in.Mtime))
				}
			}
			if tc.key == "stat/file.txt" && in.ContentType != "text/plain" {
				t.Errorf("content type %q", in.ContentType)
			}
		})
	}
}

// TestStatBatch checks that a batch answers every item in order, counts
// requests and items, and respects the concurrency bound.
func TestStatBatch(t *testing.T) {
	var paths []objpath.Path
	for i := 0; i < 50; i++ {
		paths = append(paths, objpath.Path{Bucket: bucket, Key: "stat/file.txt"}, objpath.Path{Bucket: bucket, Key: "stat/nope"})
	}
	var opt Options
	opt.Items, opt.Requests = new(atomicInt), new(atomicInt)
	opt.Concurrency = 7
	infos, errs, reqs := Stat(context.Background(), client.S3, paths, opt)
	for i := range paths {
		if i%2 == 0 && (errs[i] != nil || infos[i].Size != 5) {
			t.Fatalf("item %d: %+v %v", i, infos[i], errs[i])
		}
		if i%2 == 1 && s3err.Classify(errs[i]) != s3err.NotFound {
			t.Fatalf("item %d: %v", i, errs[i])
		}
	}
	if reqs != 150 || opt.Requests.Load() != 150 || opt.Items.Load() != 100 {
		t.Errorf("requests %d/%d items %d, want 150/150 100", reqs, opt.Requests.Load(), opt.Items.Load())
	}
}

// fakeStat answers HEAD with a fixed error and counts LIST probes.
type fakeStat struct {
	headErr error
	panicky bool
	lists   atomicInt
}

func (f *fakeStat) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if f.panicky {
		panic("boom")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, f.headErr
}

func (f *fakeStat) HeadBucket(ctx context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	return nil, f.headErr
}

func (f *fakeStat) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.lists.Add(1)
	return &s3.ListObjectsV2Output{}, nil
}

func TestStatFake(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		api   *fakeStat
		key   string
		code  s3err.Code
		lists int64
	}{
		{"head-403", context.Background(), &fakeStat{headErr: httpErr(http.StatusForbidden)}, "k", s3err.Permission, 0},
		{"bucket-403", context.Background(), &fakeStat{headErr: httpErr(http.StatusForbidden)}, "", s3err.Permission, 0},
		{"head-404-probe", context.Background(), &fakeStat{headErr: httpErr(http.StatusNotFound)}, "k", s3err.NotFound, 1},
		{"panic", context.Background(), &fakeStat{panicky: true}, "k", s3err.Internal, 0},
		{"cancelled", cancelled, &fakeStat{}, "k", s3err.Cancelled, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs, _ := Stat(tc.ctx, tc.api, []objpath.Path{{Bucket: "b", Key: tc.key}}, Options{})
			if got := s3err.Classify(errs[0]); got != tc.code {
				t.Fatalf("code %d (%v), want %d", got, errs[0], tc.code)
			}
			mustContain(t, errs[0], "s3://b")
			if got := tc.api.lists.Load(); got != tc.lists {
				t.Errorf("%d LIST probes, want %d", got, tc.lists)
			}
		})
	}
}
