package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

var (
	client *s3client.Client
	server *testserver.Server
	bucket = fmt.Sprintf("upload-test-%d", time.Now().UnixNano()%1e9)
)

const (
	part = MinPartSize    // 5 MiB: the smallest legal part keeps tests fast
	big  = 12<<20 + 12345 // three parts of 5 MiB
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "upload", bucket, func(srv *testserver.Server, c *s3client.Client) error {
		client, server = c, srv
		return nil
	}))
}

var buckets atomic.Int64

// fresh points the tests at a new empty bucket, so every top-level test
// (and every repetition under -count) starts from a clean key space.
func fresh(t *testing.T) {
	t.Helper()
	bucket = fmt.Sprintf("upload-test-%d-%d", time.Now().UnixNano()%1e9, buckets.Add(1))
	if _, err := client.S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func put(t *testing.T, key string, data []byte) string {
	t.Helper()
	out, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

// get returns the object's bytes, or nil and false if it does not exist.
func get(t *testing.T, key string) ([]byte, bool) {
	t.Helper()
	out, err := client.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		if s3err.Classify(err) == s3err.NotFound {
			return nil, false
		}
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b, true
}

func checkObject(t *testing.T, key string, want []byte) {
	t.Helper()
	got, ok := get(t, key)
	if !ok {
		t.Fatalf("%s: object missing", key)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: got %d bytes, want %d (or content differs)", key, len(got), len(want))
	}
}

// noUploads fails if multipart uploads are pending under prefix.
func noUploads(t *testing.T, prefix string) {
	t.Helper()
	out, err := client.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	if err != nil {
		t.Fatalf("ListMultipartUploads: %v", err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left under %s, first %s", len(out.Uploads), prefix, aws.ToString(out.Uploads[0].Key))
	}
}

// hookAPI wraps the real client to count calls and inject events.
type hookAPI struct {
	API
	puts, parts, copies, completes, aborts, heads atomic.Int64
	beforeComplete                                func(ctx context.Context, in *s3.CompleteMultipartUploadInput)
	afterPart                                     func(n int32, err error) error
	holdPart                                      int32        // this part's request waits until it is cancelled
	loseAborts                                    atomic.Int64 // this many aborts succeed without reaching the server
	found                                         atomic.Int64 // ListParts calls that found the upload still there
}

func (h *hookAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	h.puts.Add(1)
	return h.API.PutObject(ctx, in, o...)
}

func (h *hookAPI) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	h.heads.Add(1)
	return h.API.HeadObject(ctx, in, o...)
}

func (h *hookAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	h.parts.Add(1)
	if h.holdPart != 0 && aws.ToInt32(in.PartNumber) == h.holdPart {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	out, err := h.API.UploadPart(ctx, in, o...)
	if h.afterPart != nil {
		err = h.afterPart(aws.ToInt32(in.PartNumber), err)
	}
	return out, err
}

func (h *hookAPI) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, o ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	h.copies.Add(1)
	return h.API.UploadPartCopy(ctx, in, o...)
}

func (h *hookAPI) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	h.completes.Add(1)
	if h.beforeComplete != nil {
		h.beforeComplete(ctx, in)
	}
	return h.API.CompleteMultipartUpload(ctx, in, o...)
}

func (h *hookAPI) ListParts(ctx context.Context, in *s3.ListPartsInput, o ...func(*s3.Options)) (*s3.ListPartsOutput, error) {
	out, err := h.API.ListParts(ctx, in, o...)
	if err == nil {
		h.found.Add(1)
	}
	return out, err
}

func (h *hookAPI) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	h.aborts.Add(1)
	if h.loseAborts.Add(-1) >= 0 {
		return &s3.AbortMultipartUploadOutput{}, nil
	}
	return h.API.AbortMultipartUpload(ctx, in, o...)
}

func TestPartSizeFor(t *testing.T) {
	for _, tc := range []struct {
		size, base, want int64
		bad              bool
	}{
		{size: 1 << 30, base: 8 << 20, want: 8 << 20},
		{size: 1 << 30, base: 1 << 20, want: MinPartSize},
		{size: 100 << 30, base: 8 << 20, want: 11 << 20}, // 10.24 MiB rounded up to whole MiB
		{size: 5 << 40, base: 8 << 20, want: 525 << 20},
		{size: 60 << 40, base: 8 << 20, bad: true},
	} {
		got, err := partSizeFor(tc.size, tc.base)
		if tc.bad {
			if s3err.Classify(err) != s3err.Invalid {
				t.Errorf("partSizeFor(%d): err %v, want Invalid", tc.size, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("partSizeFor(%d, %d) = %d, %v; want %d", tc.size, tc.base, got, err, tc.want)
		}
		if (tc.size+got-1)/got > MaxParts {
			t.Errorf("partSizeFor(%d) = %d needs too many parts", tc.size, got)
		}
	}
}

func TestCopySource(t *testing.T) {
	for key, want := range map[string]string{
		"a/b.txt":   "bkt/a/b.txt",
		"a b+c":     "bkt/a%20b%2Bc",
		"x%y/ü?#&=": "bkt/x%25y/%C3%BC%3F%23%26%3D",
	} {
		if got := copySource("bkt", key); got != want {
			t.Errorf("copySource(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestPutBuffers(t *testing.T) {
	fresh(t)
	sizes := []struct {
		name string
		n    int
	}{
		{"empty", 0}, {"one", 1}, {"small", 1000}, {"exact-part", part},
		{"part-plus-one", part + 1}, {"big", big}, {"big2", 2*part + 17},
	}
	for _, tc := range []struct {
		name string
		conc int
	}{
		{"parallel", 8},
		{"serial", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var items []Buffer
			var total, minReqs int64
			for i, s := range sizes {
				data := randBytes(s.n, int64(i))
				items = append(items, Buffer{Bucket: bucket, Key: "bufs/" + tc.name + "/" + s.name, Data: data})
				total += int64(s.n)
				if int64(s.n) > part {
					minReqs += 2 + (int64(s.n)+part-1)/part
				} else {
					minReqs++
				}
			}
			api := &hookAPI{API: client.S3}
			var prog Progress
			res := PutBuffers(context.Background(), api, items, Options{PartSize: part, Concurrency: tc.conc}, &prog)
			if len(res) != len(items) {
				t.Fatalf("%d results for %d items", len(res), len(items))
			}
			for i, r := range res {
				if r.Err != nil {
					t.Fatalf("%s: %v", items[i].Key, r.Err)
				}
				if r.ETag == "" || r.Size != int64(len(items[i].Data)) {
					t.Errorf("%s: result %+v", items[i].Key, r)
				}
				checkObject(t, items[i].Key, items[i].Data)
			}
			n, b, reqs := prog.Snapshot()
			if n != int64(len(items)) || b != total || reqs != minReqs {
				t.Errorf("progress = %d items, %d bytes, %d requests; want %d, %d, %d", n, b, reqs, len(items), total, minReqs)
			}
			if got := api.puts.Load(); got != 4 {
				t.Errorf("%d PutObject, want 4 (objects up to the part size)", got)
			}
			if got := api.completes.Load(); got != 3 {
				t.Errorf("%d CompleteMultipartUpload, want 3", got)
			}
			noUploads(t, "bufs/")
		})
	}
}

func TestPutBuffersItemFailure(t *testing.T) {
	fresh(t)
	good := randBytes(big, 7)
	items := []Buffer{
		{Bucket: bucket, Key: "fail/a", Data: []byte("alpha")},
		{Bucket: bucket + "-missing", Key: "fail/b", Data: []byte("beta")},
		{Bucket: bucket + "-missing", Key: "fail/big", Data: good},
		{Bucket: bucket, Key: "fail/big", Data: good},
	}
	res := PutBuffers(context.Background(), client.S3, items, Options{PartSize: part, Concurrency: 4}, nil)
	for i, want := range []s3err.Code{s3err.OK, s3err.NotFound, s3err.NotFound, s3err.OK} {
		if got := s3err.Classify(res[i].Err); got != want {
			t.Errorf("item %d: code %d (%v), want %d", i, got, res[i].Err, want)
		}
		if res[i].Err != nil && !strings.Contains(res[i].Err.Error(), "s3://"+items[i].Bucket+"/"+items[i].Key) {
			t.Errorf("item %d: message %q does not name the object", i, res[i].Err)
		}
	}
	checkObject(t, "fail/a", []byte("alpha"))
	checkObject(t, "fail/big", good)
}

// TestTwinDestinations: two sources for one object in a batch; the later
// item is refused before anything is sent (each used to succeed, and the
// object kept whichever was stored last); a repeat of one source is not.
func TestTwinDestinations(t *testing.T) {
	fresh(t)
	dir := t.TempDir()
	fa, fb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := os.WriteFile(fa, []byte("file a"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fb, []byte("file b"), 0o600); err != nil {
		t.Fatal(err)
	}
	bigA, bigB := randBytes(big, 1), randBytes(big, 2)
	for _, tc := range []struct {
		name    string
		run     func() []Result
		refused []int
		want    map[string][]byte
	}{
		{"buffers", func() []Result {
			return PutBuffers(context.Background(), client.S3, []Buffer{
				{bucket, "twin/k", []byte("v0")}, {bucket, "twin/other", []byte("o")}, {bucket, "twin/k", []byte("v2")},
				{bucket, "twin/k", []byte("v0")}, {bucket, "twin/big", bigA}, {bucket, "twin/big", bigB}, {bucket, "twin/k", []byte("v6")},
			}, Options{PartSize: part, Concurrency: 4}, nil)
		}, []int{2, 5, 6}, map[string][]byte{"twin/k": []byte("v0"), "twin/other": []byte("o"), "twin/big": bigA}},
		{"files", func() []Result {
			return PutFiles(context.Background(), client.S3, []File{
				{fa, bucket, "twinf/k"}, {fb, bucket, "twinf/k"}, {filepath.Join(dir, ".", "a"), bucket, "twinf/k"},
			}, Options{PartSize: part, Concurrency: 4}, nil)
		}, []int{1}, map[string][]byte{"twinf/k": []byte("file a")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.run()
			for i, r := range res {
				refused := slices.Contains(tc.refused, i)
				switch {
				case refused && s3err.Classify(r.Err) != s3err.Invalid:
					t.Errorf("item %d: %v, want refused as invalid", i, r.Err)
				case refused && !strings.Contains(r.Err.Error(), "also the destination of item 0"):
					if !strings.Contains(r.Err.Error(), "also the destination of item 4") {
						t.Errorf("item %d: %q does not name the earlier item", i, r.Err)
					}
				case !refused && r.Err != nil:
					t.Errorf("item %d: %v", i, r.Err)
				}
			}
			for k, v := range tc.want {
				checkObject(t, k, v)
			}
		})
	}
}

func TestCreateOnly(t *testing.T) {
	fresh(t)
	old := []byte("the original")
	fresh := randBytes(big, 3)
	small := []byte("new small")
	dir := t.TempDir()
	bigPath, smallPath := filepath.Join(dir, "big"), filepath.Join(dir, "small")
	if err := os.WriteFile(bigPath, fresh, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(smallPath, small, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files bool
		data  []byte
		race  bool // create the key between the HEAD check and the completion
	}{
		{name: "buffer-single", data: small},
		{name: "buffer-multipart", data: fresh},
		{name: "buffer-multipart-race", data: fresh, race: true},
		{name: "file-single", files: true, data: small},
		{name: "file-multipart", files: true, data: fresh},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "create-only/" + tc.name
			api := &hookAPI{API: client.S3}
			if tc.race {
				api.beforeComplete = func(ctx context.Context, in *s3.CompleteMultipartUploadInput) {
					put(t, key, old)
				}
			} else {
				put(t, key, old)
			}
			opt := Options{PartSize: part, Concurrency: 4, CreateOnly: true}
			run := func(k string) Result {
				if tc.files {
					p := smallPath
					if len(tc.data) > part {
						p = bigPath
					}
					return PutFiles(context.Background(), api, []File{{Path: p, Bucket: bucket, Key: k}}, opt, nil)[0]
				}
				return PutBuffers(context.Background(), api, []Buffer{{Bucket: bucket, Key: k, Data: tc.data}}, opt, nil)[0]
			}
			r := run(key)
			if !errors.Is(r.Err, s3err.ErrExists) || s3err.Classify(r.Err) != s3err.Exists {
				t.Fatalf("err = %v, want ErrExists", r.Err)
			}
			if want := "s3://" + bucket + "/" + key + " already exists"; r.Err.Error() != want {
				t.Errorf("message %q, want %q", r.Err, want)
			}
			checkObject(t, key, old)
			noUploads(t, key)
			if tc.race && api.completes.Load() != 1 {
				t.Errorf("race case: %d completions, want 1 (the conditional one)", api.completes.Load())
			}
			// A fresh key is created.
			api.beforeComplete = nil
			if r := run(key + "-new"); r.Err != nil {
				t.Fatal(r.Err)
			}
			checkObject(t, key+"-new", tc.data)
		})
	}
}

func TestPutFiles(t *testing.T) {
	fresh(t)
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	contents := map[string][]byte{"empty": {}, "small": []byte("hello, files"), "big": randBytes(big, 11), "part": randBytes(part, 12)}
	if err := os.Mkdir(filepath.Join(dir, "subdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		code       s3err.Code
	}{
		{"empty", write("empty", contents["empty"]), s3err.OK},
		{"small", write("small", contents["small"]), s3err.OK},
		{"big", write("big", contents["big"]), s3err.OK},
		{"part", write("part", contents["part"]), s3err.OK},
		{"missing", filepath.Join(dir, "no-such-file"), s3err.NotFound},
		{"directory", filepath.Join(dir, "subdir"), s3err.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "files/" + tc.name
			var prog Progress
			res := PutFiles(context.Background(), client.S3, []File{{Path: tc.path, Bucket: bucket, Key: key}},
				Options{PartSize: part, Concurrency: 3}, &prog)
			if got := s3err.Classify(res[0].Err); got != tc.code {
				t.Fatalf("code %d (%v), want %d", got, res[0].Err, tc.code)
			}
			if tc.code != s3err.OK {
				if !strings.Contains(res[0].Err.Error(), tc.path) {
					t.Errorf("message %q does not name %s", res[0].Err, tc.path)
				}
				if _, ok := get(t, key); ok {
					t.Errorf("object %s exists after a failed upload", key)
				}
				return
			}
			checkObject(t, key, contents[tc.name])
			if items, b, _ := prog.Snapshot(); items != 1 || b != int64(len(contents[tc.name])) {
				t.Errorf("progress %d items %d bytes", items, b)
			}
		})
	}
	// All in one batch: failures don't stop the others.
	var items []File
	for _, name := range []string{"big", "missing", "small", "subdir", "empty"} {
		items = append(items, File{Path: filepath.Join(dir, name), Bucket: bucket, Key: "files-batch/" + name})
	}
	items[1].Path = filepath.Join(dir, "no-such-file")
	res := PutFiles(context.Background(), client.S3, items, Options{PartSize: part, Concurrency: 2}, nil)
	for i, want := range []s3err.Code{s3err.OK, s3err.NotFound, s3err.OK, s3err.Invalid, s3err.OK} {
		if got := s3err.Classify(res[i].Err); got != want {
			t.Errorf("batch item %d: code %d (%v), want %d", i, got, res[i].Err, want)
		}
	}
	checkObject(t, "files-batch/big", contents["big"])
	checkObject(t, "files-batch/empty", nil)
}

func TestCancelAborts(t *testing.T) {
	fresh(t)
	data := randBytes(6*part, 5)
	for _, tc := range []struct {
		name  string
		files bool
	}{
		{"buffers", false},
		{"files", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "cancel/" + tc.name
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			api := &hookAPI{API: client.S3}
			api.afterPart = func(n int32, err error) error {
				once.Do(cancel) // cancel as soon as the first part is in
				return err
			}
			opt := Options{PartSize: part, Concurrency: 2}
			var res []Result
			if tc.files {
				p := filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				res = PutFiles(ctx, api, []File{{Path: p, Bucket: bucket, Key: key}, {Path: p, Bucket: bucket, Key: key + "-2"}}, opt, nil)
			} else {
				res = PutBuffers(ctx, api, []Buffer{{Bucket: bucket, Key: key, Data: data}, {Bucket: bucket, Key: key + "-2", Data: data}}, opt, nil)
			}
			for i, r := range res {
				if s3err.Classify(r.Err) != s3err.Cancelled {
					t.Errorf("item %d: %v, want a cancellation", i, r.Err)
				}
			}
			if api.aborts.Load() == 0 {
				t.Error("no AbortMultipartUpload sent")
			}
			if api.parts.Load() >= 12 {
				t.Errorf("%d parts sent despite the cancellation", api.parts.Load())
			}
			if _, ok := get(t, key); ok {
				t.Error("object exists after cancellation")
			}
			noUploads(t, "cancel/")
		})
	}
}

// A failing part fails its object (upload aborted) but not the others.
func TestPartFailureAborts(t *testing.T) {
	fresh(t)
	data := randBytes(big, 9)
	api := &hookAPI{API: client.S3}
	var failed atomic.Bool
	api.afterPart = func(n int32, err error) error {
		if n == 2 && failed.CompareAndSwap(false, true) {
			return fmt.Errorf("injected failure: %w", s3err.ErrCorrupt)
		}
		return err
	}
	res := PutBuffers(context.Background(), api, []Buffer{
		{Bucket: bucket, Key: "partfail/a", Data: data},
		{Bucket: bucket, Key: "partfail/small", Data: []byte("x")},
	}, Options{PartSize: part, Concurrency: 1}, nil)
	if s3err.Classify(res[0].Err) != s3err.Corrupt || !strings.Contains(res[0].Err.Error(), "part 2 of 3") {
		t.Errorf("item 0: %v", res[0].Err)
	}
	if res[1].Err != nil {
		t.Errorf("item 1: %v", res[1].Err)
	}
	if api.aborts.Load() != 1 || api.completes.Load() != 0 {
		t.Errorf("aborts %d completes %d", api.aborts.Load(), api.completes.Load())
	}
	if _, ok := get(t, "partfail/a"); ok {
		t.Error("object exists after a failed part")
	}
	noUploads(t, "partfail/")
}

// Many objects and one large one share the pool: the pool is full while
// the large object's parts are interleaved with the small objects.
func TestSharedPool(t *testing.T) {
	fresh(t)
	var items []Buffer
	large := randBytes(4*part, 1)
	items = append(items, Buffer{Bucket: bucket, Key: "pool/large", Data: large})
	for i := range 200 {
		items = append(items, Buffer{Bucket: bucket, Key: fmt.Sprintf("pool/s%03d", i), Data: []byte(fmt.Sprint(i))})
	}
	var inflight, peak atomic.Int64
	api := &countingAPI{API: client.S3, inflight: &inflight, peak: &peak}
	res := PutBuffers(context.Background(), api, items, Options{PartSize: part, Concurrency: 8}, nil)
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
	}
	if p := peak.Load(); p > 8 || p < 2 {
		t.Errorf("peak requests in flight %d, want 2..8", p)
	}
	checkObject(t, "pool/large", large)
	checkObject(t, "pool/s199", []byte("199"))
}

type countingAPI struct {
	API
	inflight, peak *atomic.Int64
}

func (c *countingAPI) track() func() {
	n := c.inflight.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return func() { c.inflight.Add(-1) }
}

func (c *countingAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	defer c.track()()
	return c.API.PutObject(ctx, in, o...)
}

func (c *countingAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	defer c.track()()
	return c.API.UploadPart(ctx, in, o...)
}
