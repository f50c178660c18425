package objects

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// spyCopy is the real client with counted (and optionally sabotaged)
// multipart calls.
type spyCopy struct {
	*s3.Client
	parts, aborts, completes atomicInt
	found                    atomicInt // ListParts calls that found the upload still there
	loseAborts               atomicInt // this many aborts succeed without reaching the server
	lost                     atomicInt // aborts that did so
	once                     sync.Once
	onFirstPart              func() // runs before the first UploadPartCopy is sent
	failPart                 int32  // part number answered with an error
}

func (s *spyCopy) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, opts ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	s.parts.Add(1)
	if s.onFirstPart != nil {
		s.once.Do(s.onFirstPart)
	}
	if aws.ToInt32(in.PartNumber) == s.failPart {
		return nil, httpErr(500)
	}
	return s.Client.UploadPartCopy(ctx, in, opts...)
}

func (s *spyCopy) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	s.aborts.Add(1)
	if s.loseAborts.Add(-1) >= 0 {
		s.lost.Add(1)
		return &s3.AbortMultipartUploadOutput{}, nil
	}
	return s.Client.AbortMultipartUpload(ctx, in, opts...)
}

func (s *spyCopy) ListParts(ctx context.Context, in *s3.ListPartsInput, opts ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	out, err := s.Client.ListParts(ctx, in, opts...)
	if err == nil {
		s.found.Add(1)
	}
	return out, err
}

func (s *spyCopy) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	s.completes.Add(1)
	return s.Client.CompleteMultipartUpload(ctx, in, opts...)
}

func pendingUploads(t *testing.T, b, prefix string) int {
	t.Helper()
	out, err := client.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(b), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Uploads)
}

func TestCopy(t *testing.T) {
	ctx := context.Background()
	small := randBytes(1000, 1)
	big := randBytes(12<<20+7, 2)
	odd := "copy/src ünï cødé +?#%&=;,@ (1).txt"
	put(t, bucket, "copy/small", small)
	put(t, bucket, odd, small)
	put(t, bucket, "copy/empty", nil)
	_, err := client.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy/big"),
		Body: bytes.NewReader(big), ContentType: aws.String("application/x-test"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	multi := Options{CopyThreshold: 5 << 20, PartSize: 5 << 20}
	for _, tc := range []struct {
		name     string
		item     CopyItem
		opt      Options
		want     []byte
		requests int64
		parts    int64
		code     s3err.Code
		msg      string
	}{
		{"small", CopyItem{Src: p(bucket, "copy/small"), Dst: p(bucket, "copy/out/small")}, Options{}, small, 1, 0, 0, ""},
		{"small-known-size", CopyItem{Src: p(bucket, "copy/small"), Dst: p(bucket, "copy/out/known"), Size: 1000, SizeKnown: true}, multi, small, 1, 0, 0, ""},
		{"small-low-threshold", CopyItem{Src: p(bucket, "copy/small"), Dst: p(bucket, "copy/out/low")}, multi, small, 2, 0, 0, ""},
		{"empty", CopyItem{Src: p(bucket, "copy/empty"), Dst: p(bucket, "copy/out/empty")}, multi, []byte{}, 2, 0, 0, ""},
		{"across-buckets", CopyItem{Src: p(bucket, "copy/small"), Dst: p(bucket2, "copy/out/small")}, Options{}, small, 1, 0, 0, ""},
		{"odd-key", CopyItem{Src: p(bucket, odd), Dst: p(bucket2, "copy/out/dst ünï +?#%&=.txt")}, Options{}, small, 1, 0, 0, ""},
		{"multipart", CopyItem{Src: p(bucket, "copy/big"), Dst: p(bucket2, "copy/out/big")}, multi, big, 6, 3, 0, ""},
		{"multipart-known-size", CopyItem{Src: p(bucket, "copy/big"), Dst: p(bucket, "copy/out/big-known"), Size: int64(len(big)), SizeKnown: true}, multi, big, 6, 3, 0, ""},
		{"multipart-small-parts-raised", CopyItem{Src: p(bucket, "copy/big"), Dst: p(bucket, "copy/out/big-raised")},
			Options{CopyThreshold: 5 << 20, PartSize: 1 << 20, Concurrency: 1}, big, 6, 3, 0, ""},
		{"multipart-two-parts", CopyItem{Src: p(bucket, "copy/big"), Dst: p(bucket, "copy/out/big-two")},
			Options{CopyThreshold: 5 << 20, PartSize: 8 << 20}, big, 5, 2, 0, ""},
		{"missing-source", CopyItem{Src: p(bucket, "copy/nope"), Dst: p(bucket, "copy/out/nope")}, Options{}, nil, 1, 0, s3err.NotFound,
			"s3://" + bucket + "/copy/nope: no such copy source"},
		{"missing-source-head", CopyItem{Src: p(bucket, "copy/nope"), Dst: p(bucket, "copy/out/nope")}, multi, nil, 1, 0, s3err.NotFound,
			"s3://" + bucket + "/copy/nope: no such copy source"},
		{"missing-dst-bucket", CopyItem{Src: p(bucket, "copy/small"), Dst: p(bucket+"-nope", "x")}, Options{}, nil, 1, 0, s3err.NotFound,
			"s3://" + bucket + "-nope/x"},
		{"not-an-object", CopyItem{Src: p(bucket, ""), Dst: p(bucket, "x")}, Options{}, nil, 0, 0, s3err.Invalid, "must both name objects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spy := &spyCopy{Client: client.S3}
			etags, errs, reqs := Copy(ctx, spy, []CopyItem{tc.item}, tc.opt)
			if got := s3err.Classify(errs[0]); got != tc.code {
				t.Fatalf("code %d (%v), want %d", got, errs[0], tc.code)
			}
			if tc.msg != "" {
				mustContain(t, errs[0], tc.msg)
			}
			if reqs != tc.requests || spy.parts.Load() != tc.parts {
				t.Errorf("requests = %d, parts = %d; want %d, %d", reqs, spy.parts.Load(), tc.requests, tc.parts)
			}
			if tc.code != 0 {
				return
			}
			if got := get(t, tc.item.Dst.Bucket, tc.item.Dst.Key); !bytes.Equal(got, tc.want) {
				t.Fatalf("copy holds %d bytes, want %d (or content differs)", len(got), len(tc.want))
			}
			if !strings.HasPrefix(etags[0], `"`) {
				t.Errorf("ETag %q", etags[0])
			}
			if tc.parts > 0 {
				head, err := client.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(tc.item.Dst.Bucket), Key: aws.String(tc.item.Dst.Key)})
				if err != nil {
					t.Fatal(err)
				}
				if aws.ToString(head.ContentType) != "application/x-test" || head.Metadata["k"] != "v" {
					t.Errorf("content type %q, metadata %v not carried over", aws.ToString(head.ContentType), head.Metadata)
				}
				t.Logf("multipart ETag %s", etags[0])
			}
		})
	}
}

func p(b, k string) objpath.Path { return objpath.Path{Bucket: b, Key: k} }

// TestCopyBatch copies many objects at once with a low concurrency.
func TestCopyBatch(t *testing.T) {
	var items []CopyItem
	var want [][]byte
	for i := 0; i < 20; i++ {
		data := randBytes(100+i, int64(i))
		src := keys("copybatch/src/", 20)[i]
		put(t, bucket, src, data)
		items = append(items, CopyItem{Src: p(bucket, src), Dst: p(bucket2, strings.Replace(src, "src", "dst", 1))})
		want = append(want, data)
	}
	items = append(items, CopyItem{Src: p(bucket, "copybatch/nope"), Dst: p(bucket2, "copybatch/nope")})
	var opt Options
	opt.Items, opt.Concurrency = new(atomicInt), 3
	_, errs, reqs := Copy(context.Background(), client.S3, items, opt)
	for i, it := range items[:20] {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(get(t, it.Dst.Bucket, it.Dst.Key), want[i]) {
			t.Fatalf("item %d differs", i)
		}
	}
	if s3err.Classify(errs[20]) != s3err.NotFound {
		t.Errorf("missing source: %v", errs[20])
	}
	if reqs != 21 || opt.Items.Load() != 21 {
		t.Errorf("requests %d, items %d; want 21, 21", reqs, opt.Items.Load())
	}
}

// wantClasses fails t for each item whose error is not of its class in
// want (s3err.OK for none).
func wantClasses(t *testing.T, errs []error, want ...s3err.Code) {
	t.Helper()
	for i, w := range want {
		if got := s3err.Classify(errs[i]); got != w {
			t.Errorf("item %d: %v, want class %v", i, errs[i], w)
		}
	}
}

// TestCopyTwinDestinations: two sources copied to one object in a batch;
// the later is refused before any request (each used to succeed, and the
// object kept whichever copy landed last); a repeated copy is not.
func TestCopyTwinDestinations(t *testing.T) {
	put(t, bucket, "copytwin/a", []byte("a"))
	put(t, bucket, "copytwin/b", []byte("b"))
	items := []CopyItem{
		{Src: p(bucket, "copytwin/a"), Dst: p(bucket, "copytwin/dst")},
		{Src: p(bucket, "copytwin/b"), Dst: p(bucket, "copytwin/dst")},
		{Src: p(bucket, "copytwin/a"), Dst: p(bucket, "copytwin/dst")},
		{Src: p(bucket, "copytwin/b"), Dst: p(bucket, "copytwin/dst2")},
	}
	_, errs, reqs := Copy(context.Background(), client.S3, items, Options{Concurrency: 4})
	wantClasses(t, errs, s3err.OK, s3err.Invalid, s3err.OK, s3err.OK)
	mustContain(t, errs[1], "s3://"+bucket+"/copytwin/dst", "also the destination of item 0", "copytwin/a")
	if reqs != 3 {
		t.Errorf("requests = %d, want 3", reqs)
	}
	if got := get(t, bucket, "copytwin/dst"); string(got) != "a" {
		t.Errorf("destination holds %q, want %q", got, "a")
	}
}

// TestCopyChains: an item whose source another item of the batch
// overwrites is refused before any request (it read the old content or
// the new at random); items reading what nobody writes go ahead.
func TestCopyChains(t *testing.T) {
	put(t, bucket, "copychain/a", []byte("a"))
	put(t, bucket, "copychain/b", []byte("b"))
	items := []CopyItem{
		{Src: p(bucket, "copychain/b"), Dst: p(bucket, "copychain/c")},
		{Src: p(bucket, "copychain/a"), Dst: p(bucket, "copychain/b")},
		{Src: p(bucket, "copychain/a"), Dst: p(bucket, "copychain/e")},
	}
	_, errs, reqs := Copy(context.Background(), client.S3, items, Options{Concurrency: 4})
	wantClasses(t, errs, s3err.Invalid, s3err.OK, s3err.OK)
	mustContain(t, errs[0], "s3://"+bucket+"/copychain/b", "destination of item 1", "copychain/a", "two batches")
	if reqs != 2 {
		t.Errorf("requests = %d, want 2", reqs)
	}
	for key, want := range map[string]string{"copychain/b": "a", "copychain/e": "a"} {
		if got := get(t, bucket, key); string(got) != want {
			t.Errorf("%s holds %q, want %q", key, got, want)
		}
	}
}

// TestPlanCopyChains: which items copyChains refuses, and for which writer.
func TestPlanCopyChains(t *testing.T) {
	it := func(src, dst string) CopyItem { return CopyItem{Src: p("b", src), Dst: p("b", dst)} }
	for _, tc := range []struct {
		name  string
		items []CopyItem
		want  []int
	}{
		{"independent", []CopyItem{it("a", "b"), it("c", "d")}, []int{-1, -1}},
		{"reader before writer", []CopyItem{it("b", "c"), it("a", "b")}, []int{1, -1}},
		{"reader after writer", []CopyItem{it("a", "b"), it("b", "c")}, []int{-1, 0}},
		{"swap", []CopyItem{it("a", "b"), it("b", "a")}, []int{1, 0}},
		{"self-copy writes nothing new", []CopyItem{it("a", "a"), it("a", "c")}, []int{-1, -1}},
		{"refused twin writes nothing", []CopyItem{it("x", "b"), it("y", "b"), it("b", "c")}, []int{-1, -1, 0}},
		{"same source twice", []CopyItem{it("a", "b"), it("a", "c")}, []int{-1, -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := copyChains(tc.items, copyTwins(tc.items)); !slices.Equal(got, tc.want) {
				t.Errorf("copyChains = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestCopyMultipartFailures checks that a failed, cancelled or raced
// multipart copy is aborted, stays aborted and reports the right error.
// A part copy stopped in flight may still be stored by the server after
// the abort, bringing the upload back (-count=4 left one behind once in
// three runs before the copy checked for it): Copy then checks with
// ListParts and aborts again. "abort-lost" stands for that case: its
// first abort never reaches the server.
func TestCopyMultipartFailures(t *testing.T) {
	big := randBytes(16<<20, 3)
	multi := Options{CopyThreshold: 5 << 20, PartSize: 5 << 20, Concurrency: 2}
	for _, tc := range []struct {
		name string
		spy  func(cancel context.CancelFunc, src string) *spyCopy
		code s3err.Code
		msg  string
	}{
		{"part-fails", func(context.CancelFunc, string) *spyCopy {
			return &spyCopy{Client: client.S3, failPart: 2}
		}, s3err.IO, "part 2"},
		{"abort-lost", func(context.CancelFunc, string) *spyCopy {
			s := &spyCopy{Client: client.S3, failPart: 2}
			s.loseAborts.Store(1)
			return s
		}, s3err.IO, "part 2"},
		{"cancelled", func(cancel context.CancelFunc, _ string) *spyCopy {
			return &spyCopy{Client: client.S3, onFirstPart: cancel}
		}, s3err.Cancelled, "copy s3://"},
		{"source-changed", func(_ context.CancelFunc, src string) *spyCopy {
			return &spyCopy{Client: client.S3, onFirstPart: func() { put(t, bucket, src, randBytes(16<<20, 4)) }}
		}, s3err.Changed, "source changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "copyfail/" + tc.name
			put(t, bucket, src, big)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			spy := tc.spy(cancel, src)
			_, errs, _ := Copy(ctx, spy, []CopyItem{{Src: p(bucket, src), Dst: p(bucket, "copyfail/out/"+tc.name)}}, multi)
			if got := s3err.Classify(errs[0]); got != tc.code {
				t.Fatalf("code %d (%v), want %d", got, errs[0], tc.code)
			}
			mustContain(t, errs[0], tc.msg, "s3://"+bucket+"/"+src)
			// One abort, and one more each time a check found the upload
			// still there (a part stored after the abort, or a lost abort).
			if want := 1 + spy.found.Load(); spy.aborts.Load() != want || spy.completes.Load() != 0 {
				t.Errorf("aborts %d, completes %d; want %d, 0", spy.aborts.Load(), spy.completes.Load(), want)
			}
			if spy.found.Load() < spy.lost.Load() {
				t.Errorf("%d aborts lost, but checks found the upload only %d times", spy.lost.Load(), spy.found.Load())
			}
			if n := pendingUploads(t, bucket, "copyfail/out/"); n != 0 {
				t.Errorf("%d multipart uploads left", n)
			}
			if exists(t, bucket, "copyfail/out/"+tc.name) {
				t.Errorf("destination exists after a failed copy")
			}
		})
	}
}

func TestCopySource(t *testing.T) {
	for _, tc := range []struct{ bucket, key, want string }{
		{"b", "a/b.txt", "b/a/b.txt"},
		{"b", "a b+c?d#e%f&g=h", "b/a%20b%2Bc%3Fd%23e%25f%26g%3Dh"},
		{"b", "ü/~._-", "b/%C3%BC/~._-"},
	} {
		if got := CopySource(tc.bucket, tc.key); got != tc.want {
			t.Errorf("CopySource(%q, %q) = %q, want %q", tc.bucket, tc.key, got, tc.want)
		}
	}
}

func TestCopyPartSize(t *testing.T) {
	for _, tc := range []struct{ size, want, got int64 }{
		{100 << 20, 8 << 20, 8 << 20},
		{100 << 20, 1 << 20, MinPartSize},
		{1 << 40, 8 << 20, 105 << 20},                   // 1 TiB / 10000 rounded up to a MiB
		{5 << 40, 8 << 20, 525 << 20},                   // 5 TiB, the largest object
		{5 << 40, 6 << 30, MaxPartSize},                 // capped
		{int64(MaxParts) * MinPartSize, 0, MinPartSize}, // exactly MaxParts parts
	} {
		ps := CopyPartSize(tc.size, tc.want)
		if ps != tc.got {
			t.Errorf("CopyPartSize(%d, %d) = %d, want %d", tc.size, tc.want, ps, tc.got)
		}
		if n := (tc.size + ps - 1) / ps; n > MaxParts {
			t.Errorf("CopyPartSize(%d, %d) gives %d parts", tc.size, tc.want, n)
		}
	}
}
