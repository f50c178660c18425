package fetch

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
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
	// apiOverride, when set, is the API run uses instead of client.Get.
	apiOverride API
	bucket      = fmt.Sprintf("fetch-test-%d", time.Now().UnixNano()%1e9)
)

const part = 64 << 10

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "fetch", bucket, func(srv *testserver.Server, c *s3client.Client) error {
		client, server = c, srv
		return nil
	}))
}

func put(t *testing.T, key string, data []byte) {
	t.Helper()
	_, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// run drives a batch the way the C ABI does: provide buffers as sizes arrive.
func run(t *testing.T, items []Item, opt Options) (*Batch, [][]byte) {
	t.Helper()
	var api API = client.Get // the lean path production uses
	if apiOverride != nil {
		api = apiOverride
	}
	b := Start(context.Background(), api, items, opt)
	out := make([][]byte, len(items))
	for i, it := range items {
		if it.Known {
			out[i] = it.Buf
		}
	}
	for {
		switch b.Wait(5 * time.Second) {
		case Done:
			return b, out
		case Ready:
			for _, r := range b.TakeReady(1 << 20) {
				out[r.Index] = make([]byte, r.Size)
				if err := b.Provide(r.Index, out[r.Index]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func TestFetchSizes(t *testing.T) {
	sizes := []struct {
		name string
		n    int
	}{
		{"empty", 0}, {"one", 1}, {"sub-part", part / 3}, {"exact-part", part},
		{"part-plus-one", part + 1}, {"multi-part", 3*part + 7}, {"two-parts", 2 * part},
	}
	var items, known []Item
	want := map[int][]byte{}
	for i, s := range sizes {
		key := "sizes/" + s.name
		data := randBytes(s.n, int64(i))
		put(t, key, data)
		want[i] = data
		items = append(items, Item{Bucket: bucket, Key: key})
		known = append(known, Item{Bucket: bucket, Key: key, Buf: make([]byte, s.n), Known: true})
	}
	for _, tc := range []struct {
		name  string
		items []Item
		conc  int
	}{
		{"unknown-sizes", items, 8},
		{"known-sizes", known, 8},
		{"unknown-serial", items, 1},
		{"known-serial", known, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, got := run(t, tc.items, Options{PartSize: part, Concurrency: tc.conc, ReadRetries: 2})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			for i := range sizes {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("%s: got %d bytes, want %d (or content differs)", sizes[i].name, len(got[i]), len(want[i]))
				}
			}
			objs, nbytes, reqs := b.Progress()
			if objs != int64(len(sizes)) {
				t.Errorf("completed = %d, want %d", objs, len(sizes))
			}
			var total int64
			var minReqs int64
			for _, s := range sizes {
				total += int64(s.n)
				minReqs += max(1, (int64(s.n)+part-1)/part)
			}
			if nbytes != total {
				t.Errorf("bytes = %d, want %d", nbytes, total)
			}
			// one request per part, plus at most one extra for the empty object's unsatisfiable range
			if reqs < minReqs || reqs > minReqs+1 {
				t.Errorf("requests = %d, want %d..%d", reqs, minReqs, minReqs+1)
			}
		})
	}
}

func TestFetchErrors(t *testing.T) {
	put(t, "err/ten", make([]byte, 10))
	for _, tc := range []struct {
		name  string
		items []Item
		code  s3err.Code
		bad   int
	}{
		{"missing-key", []Item{{Bucket: bucket, Key: "err/ten"}, {Bucket: bucket, Key: "err/nope"}}, s3err.NotFound, 1},
		{"missing-bucket", []Item{{Bucket: bucket + "-nope", Key: "x"}}, s3err.NotFound, 0},
		{"missing-key-range-past-end", []Item{{Bucket: bucket, Key: "err/nope", Ranged: true, Start: 1000, End: EOF}}, s3err.NotFound, 0},
		{"missing-key-suffix", []Item{{Bucket: bucket, Key: "err/nope", Ranged: true, Start: -5, End: -10}}, s3err.NotFound, 0},
		{"range-buffer-too-big", []Item{{Bucket: bucket, Key: "err/ten", Ranged: true, Start: 20, End: 30, Buf: make([]byte, 1), Known: true}}, s3err.Invalid, 0},
		{"buffer-too-small", []Item{{Bucket: bucket, Key: "err/ten", Buf: make([]byte, 9), Known: true}}, s3err.Invalid, 0},
		{"buffer-too-big", []Item{{Bucket: bucket, Key: "err/ten", Buf: make([]byte, 11), Known: true}}, s3err.Invalid, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := run(t, tc.items, Options{PartSize: part, Concurrency: 4})
			err := b.Err()
			if got := s3err.Classify(err); got != tc.code {
				t.Fatalf("code = %d (%v), want %d", got, err, tc.code)
			}
			if got := s3err.Classify(b.ItemErr(tc.bad)); got != tc.code {
				t.Fatalf("item code = %d, want %d", got, tc.code)
			}
			if !bytes.Contains([]byte(err.Error()), []byte(tc.items[tc.bad].Key)) {
				t.Errorf("error %q does not name the key", err)
			}
		})
	}
}

func TestFetchCancel(t *testing.T) {
	data := randBytes(4*part, 99)
	var items []Item
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("cancel/%03d", i)
		put(t, key, data)
		items = append(items, Item{Bucket: bucket, Key: key, Buf: make([]byte, len(data)), Known: true})
	}
	b := Start(context.Background(), client.S3, items, Options{PartSize: part, Concurrency: 4})
	time.Sleep(2 * time.Millisecond)
	b.Cancel()
	select {
	case <-b.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("batch did not stop after Cancel")
	}
	if b.Wait(0) != Done {
		t.Fatal("Wait after Done must report Done")
	}
	if err := b.Err(); err == nil {
		// It may legitimately have finished before the cancel landed.
		if objs, _, _ := b.Progress(); objs != int64(len(items)) {
			t.Fatalf("no error but only %d objects complete", objs)
		}
	} else if s3err.Classify(err) != s3err.Cancelled {
		t.Fatalf("cancel gave %v", err)
	}
}

func TestFetchEmptyBatch(t *testing.T) {
	b, _ := run(t, nil, Options{})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 7-9/10", 7, 9, 10, true},
		{"bytes 0-0/1", 0, 0, 1, true},
		{" bytes 5-5/6 ", 5, 5, 6, true},
		{"bytes */10", 0, 0, 0, false},
		{"bytes 0-9/*", 0, 0, 0, false},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes -1-4/10", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"garbage", 0, 0, 0, false},
	} {
		f, l, n, ok := ParseContentRange(tc.in)
		if f != tc.first || l != tc.last || n != tc.total || ok != tc.ok {
			t.Errorf("ParseContentRange(%q) = %d,%d,%d,%v want %d,%d,%d,%v", tc.in, f, l, n, ok, tc.first, tc.last, tc.total, tc.ok)
		}
	}
}

// TestResolve checks Resolve against results printed by CPython for
// bytes(range(size))[start:end] (start of the result, its length).
func TestResolve(t *testing.T) {
	for _, tc := range []struct {
		start, end, size int64
		s, n             int64
	}{
		{-3, EOF, 10, 7, 3},
		{-20, EOF, 10, 0, 10},
		{-20, 3, 10, 0, 3},
		{3, -2, 10, 3, 5},
		{-4, -2, 10, 6, 2},
		{-2, -4, 10, -1, 0},
		{12, EOF, 10, -1, 0},
		{5, 3, 10, -1, 0},
		{0, 0, 10, -1, 0},
		{-100, -50, 10, -1, 0},
		{7, 100, 10, 7, 3},
		{0, EOF, 10, 0, 10},
		{0, EOF, 0, -1, 0},
		{-1, EOF, 0, -1, 0},
		{math.MinInt64, EOF, 10, 0, 10},
		{math.MinInt64, math.MinInt64, 10, -1, 0},
		{EOF, EOF, 10, -1, 0},
	} {
		s, e := Resolve(tc.start, tc.end, tc.size)
		if e-s != tc.n || (tc.n > 0 && s != tc.s) || s < 0 || e > tc.size {
			t.Errorf("Resolve(%d, %d, %d) = [%d, %d), want start %d length %d", tc.start, tc.end, tc.size, s, e, tc.s, tc.n)
		}
	}
}

func TestParseTotal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"bytes 0-9/10", 10, true},
		{"bytes 0-0/1", 1, true},
		{"bytes */10", 10, true},
		{"bytes 0-9/*", 0, false},
		{"garbage", 0, false},
		{"bytes 0-9/-3", 0, false},
	} {
		got, ok := parseTotal(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseTotal(%q) = %d,%v want %d,%v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
