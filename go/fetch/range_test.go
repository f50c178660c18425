package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// pySlice is data[start:end] as Python computes it, written independently
// of Resolve (EOF stands for an omitted end).
func pySlice(data []byte, start, end int64) []byte {
	n := int64(len(data))
	norm := func(v int64) int64 {
		switch {
		case v == EOF:
			return n
		case v < -n:
			return 0
		case v < 0:
			return n + v
		case v > n:
			return n
		}
		return v
	}
	s, e := norm(start), norm(end)
	if s >= e {
		return []byte{}
	}
	return data[s:e]
}

// memSink collects items in memory through the Sink interface and checks
// the calls' contract.
type memSink struct {
	mu       sync.Mutex
	files    map[int]*memFile
	finished map[int]error
	t        *testing.T
}

type memFile struct{ b []byte }

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(f.b)) {
		return 0, fmt.Errorf("write of %d bytes at %d outside [0, %d)", len(p), off, len(f.b))
	}
	return copy(f.b[off:], p), nil
}

func newMemSink(t *testing.T) *memSink {
	return &memSink{files: map[int]*memFile{}, finished: map[int]error{}, t: t}
}

func (s *memSink) Open(i int, length int64) (io.WriterAt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.files[i]; dup {
		s.t.Errorf("item %d opened twice", i)
	}
	f := &memFile{b: make([]byte, length)}
	s.files[i] = f
	return f, nil
}

func (s *memSink) Finish(i int, err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.finished[i]; dup {
		s.t.Errorf("item %d finished twice", i)
	}
	if _, ok := s.files[i]; !ok {
		s.t.Errorf("item %d finished without Open", i)
	}
	s.finished[i] = err
	return nil
}

type rangeCase struct {
	key        string
	start, end int64
}

// rangeItems makes an item per case and the bytes Python's
// objects[key][start:end] gives for it.
func rangeItems(bucket string, cases []rangeCase, objects map[string][]byte) ([]Item, [][]byte) {
	items := make([]Item, len(cases))
	want := make([][]byte, len(cases))
	for i, c := range cases {
		items[i] = Item{Bucket: bucket, Key: c.key, Ranged: true, Start: c.start, End: c.end}
		want[i] = pySlice(objects[c.key], c.start, c.end)
	}
	return items, want
}

// runMode fetches items in one of three ways: sizes discovered through
// Ready/Provide, known buffers, or a Sink; it returns each item's bytes.
func runMode(t *testing.T, mode string, items []Item, want [][]byte, opt Options) (*Batch, [][]byte) {
	t.Helper()
	switch mode {
	case "unknown":
		return run(t, items, opt)
	case "known":
		known := append([]Item(nil), items...)
		for i := range known {
			known[i].Buf, known[i].Known = make([]byte, len(want[i])), true
		}
		return run(t, known, opt)
	case "sink":
		sink := newMemSink(t)
		opt.Sink = sink
		b, _ := run(t, items, opt)
		got := make([][]byte, len(items))
		for i := range items {
			if f := sink.files[i]; f != nil {
				got[i] = f.b
				if err, ok := sink.finished[i]; !ok || err != nil {
					t.Errorf("item %d: Finish called %v with %v", i, ok, err)
				}
			}
		}
		return b, got
	}
	t.Fatalf("unknown mode %s", mode)
	return nil, nil
}

func TestFetchRanges(t *testing.T) {
	objects := map[string][]byte{
		"ranges/empty": {},
		"ranges/one":   randBytes(1, 11),
		"ranges/ten":   randBytes(10, 12),
		"ranges/100":   randBytes(100, 13),
	}
	for k, v := range objects {
		put(t, k, v)
	}
	bounds := []int64{math.MinInt64, -101, -100, -50, -10, -9, -3, -1, 0, 1, 3, 9, 10, 11, 50, 100, 101, EOF}
	var cases []rangeCase
	for k := range objects {
		for _, s := range bounds {
			for _, e := range bounds {
				cases = append(cases, rangeCase{k, s, e})
			}
		}
	}
	items, want := rangeItems(bucket, cases, objects)
	for _, tc := range []struct {
		mode string
		ps   int64
		gap  int64
	}{{"unknown", 7, 0}, {"unknown", part, 0}, {"known", 7, 0}, {"known", part, 0}, {"sink", 7, 0},
		// Coalesced: every kind of range mixed in groups, including ranges past the end.
		{"unknown", part, 1 << 20}, {"known", part, 1 << 20}, {"unknown", 7, 3}, {"known", 30, 5}} {
		mode, ps := tc.mode, tc.ps
		t.Run(fmt.Sprintf("%s/part=%d/gap=%d", mode, ps, tc.gap), func(t *testing.T) {
			b, got := runMode(t, mode, items, want, Options{PartSize: ps, Concurrency: 16, CoalesceGap: tc.gap})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, c := range cases {
				if !bytes.Equal(got[i], want[i]) && bad < 10 {
					bad++
					t.Errorf("%s[%s:%s]: got %d bytes, want %d (or content differs)", c.key, sliceBound(c.start), sliceBound(c.end), len(got[i]), len(want[i]))
				}
				if b.Size(i) != int64(len(want[i])) {
					t.Errorf("%s[%s:%s]: Size = %d, want %d", c.key, sliceBound(c.start), sliceBound(c.end), b.Size(i), len(want[i]))
				}
			}
			objs, nbytes, reqs := b.Progress()
			var total int64
			for _, w := range want {
				total += int64(len(w))
			}
			if objs != int64(len(items)) || nbytes != total {
				t.Errorf("progress: %d objects, %d bytes; want %d, %d", objs, nbytes, len(items), total)
			}
			// Every range of these small objects fits in one part of
			// 64 KiB: exactly one request each (no HEAD, no retry after
			// a 416).
			if ps == part && tc.gap == 0 && reqs != int64(len(items)) {
				t.Errorf("requests = %d, want %d", reqs, len(items))
			}
			t.Logf("%d ranges, %d requests", len(items), reqs)
		})
	}
}

func TestFetchRangesMultiPart(t *testing.T) {
	size := int64(3*part + 7)
	data := randBytes(int(size), 21)
	put(t, "ranges/big", data)
	bounds := []int64{0, 1, 5, part - 1, part, part + 1, 2*part + 5, size - 1, size, size + 1, EOF,
		-1, -5, -part, -(part + 1), -2 * part, -(size - 1), -size, -(size + 1)}
	var items []Item
	var want [][]byte
	var cases []rangeCase
	for _, s := range bounds {
		for _, e := range bounds {
			cases = append(cases, rangeCase{"ranges/big", s, e})
			items = append(items, Item{Bucket: bucket, Key: "ranges/big", Ranged: true, Start: s, End: e})
			want = append(want, pySlice(data, s, e))
		}
	}
	for _, mode := range []string{"unknown", "known", "sink"} {
		t.Run(mode, func(t *testing.T) {
			b, got := runMode(t, mode, items, want, Options{PartSize: part, Concurrency: 16})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				if !bytes.Equal(got[i], want[i]) {
					t.Errorf("big[%s:%s]: got %d bytes, want %d (or content differs)", sliceBound(c.start), sliceBound(c.end), len(got[i]), len(want[i]))
				}
			}
			// One request per part of the range, plus at most one for the
			// first response and one for a part split by it.
			var maxReqs int64
			for _, w := range want {
				maxReqs += 2 + (int64(len(w))+part-1)/part
			}
			if _, _, reqs := b.Progress(); reqs > maxReqs {
				t.Errorf("requests = %d, want at most %d", reqs, maxReqs)
			}
		})
	}
}

// TestFetchFirstRequest checks the first request's Range header for each
// kind of range (the smallest request that reveals the size and covers the
// range's beginning, never more than a part).
func TestFetchFirstRequest(t *testing.T) {
	const p = 100
	b := &Batch{opt: Options{PartSize: p}}
	for _, tc := range []struct {
		start, end int64
		want       string
	}{
		{0, EOF, "bytes=0-99"},
		{5, EOF, "bytes=5-104"},
		{5, 10, "bytes=5-9"},
		{5, 500, "bytes=5-104"},
		{5, -3, "bytes=5-104"},
		{5, 5, "bytes=5-5"},
		{9, 2, "bytes=9-9"},
		{-3, EOF, "bytes=-3"},
		{-300, EOF, "bytes=-100"},
		{-3, 50, "bytes=-3"},
		{-30, 20, "bytes=0-19"},
		{-300, 200, "bytes=0-99"},
		{-150, 300, "bytes=-100"},
		{-3, 0, "bytes=0-0"},
		{-10, -3, "bytes=-10"},
		{-3, -10, "bytes=0-0"},
		{-300, -100, "bytes=0-0"},
		{-300, -99, "bytes=-100"},
		{math.MinInt64, EOF, "bytes=-100"},
	} {
		it := &itemState{Item: Item{Ranged: true, Start: tc.start, End: tc.end}}
		if got, _ := b.firstRange(it); got != tc.want {
			t.Errorf("[%s:%s]: first request %q, want %q", sliceBound(tc.start), sliceBound(tc.end), got, tc.want)
		}
	}
}

func TestFetchRangeKnownMismatch(t *testing.T) {
	put(t, "ranges/mismatch", randBytes(10, 31))
	items := []Item{{Bucket: bucket, Key: "ranges/mismatch", Ranged: true, Start: -4, End: EOF, Buf: make([]byte, 5), Known: true}}
	b, _ := run(t, items, Options{PartSize: part, Concurrency: 2})
	err := b.Err()
	if s3err.Classify(err) != s3err.Invalid {
		t.Fatalf("got %v, want Invalid", err)
	}
	for _, want := range []string{"ranges/mismatch", "4 bytes", "holds 5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func etagOf(t *testing.T, key string) string {
	t.Helper()
	out, err := client.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.ETag)
}

func TestFetchIfMatch(t *testing.T) {
	data := randBytes(3*part+1, 41)
	put(t, "ifmatch/obj", data)
	etag := etagOf(t, "ifmatch/obj")
	put(t, "ifmatch/replaced", data[:100])
	old := etagOf(t, "ifmatch/replaced")
	put(t, "ifmatch/replaced", data[100:300])
	for _, tc := range []struct {
		name string
		item Item
		code s3err.Code
		want []byte
	}{
		{"whole-matching", Item{Key: "ifmatch/obj", IfMatch: etag}, s3err.OK, data},
		{"range-matching", Item{Key: "ifmatch/obj", IfMatch: etag, Ranged: true, Start: 5, End: -5}, s3err.OK, data[5 : len(data)-5]},
		{"suffix-matching", Item{Key: "ifmatch/obj", IfMatch: etag, Ranged: true, Start: -2*part - 3, End: EOF}, s3err.OK, data[len(data)-2*part-3:]},
		{"bogus", Item{Key: "ifmatch/obj", IfMatch: `"0123456789abcdef0123456789abcdef"`}, s3err.Changed, nil},
		{"bogus-range", Item{Key: "ifmatch/obj", IfMatch: `"nope"`, Ranged: true, Start: 0, End: 10}, s3err.Changed, nil},
		{"replaced", Item{Key: "ifmatch/replaced", IfMatch: old, Ranged: true, Start: 0, End: EOF}, s3err.Changed, nil},
		{"replaced-past-end", Item{Key: "ifmatch/replaced", IfMatch: old, Ranged: true, Start: 1000, End: EOF}, s3err.Changed, nil},
		{"missing", Item{Key: "ifmatch/missing", IfMatch: etag}, s3err.NotFound, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.item.Bucket = bucket
			b, got := run(t, []Item{tc.item}, Options{PartSize: part, Concurrency: 4})
			err := b.Err()
			if code := s3err.Classify(err); code != tc.code {
				t.Fatalf("code %d (%v), want %d", code, err, tc.code)
			}
			if tc.code == s3err.OK {
				if !bytes.Equal(got[0], tc.want) {
					t.Errorf("got %d bytes, want %d", len(got[0]), len(tc.want))
				}
				return
			}
			if !strings.Contains(err.Error(), tc.item.Key) {
				t.Errorf("error %q does not name the key", err)
			}
			if tc.code == s3err.Changed && !strings.Contains(err.Error(), "changed since it was opened") {
				t.Errorf("error %q does not say the object changed since it was opened", err)
			}
			if !errors.Is(b.ItemErr(0), err) && b.ItemErr(0) != err {
				t.Errorf("ItemErr %v differs from Err %v", b.ItemErr(0), err)
			}
		})
	}
}

func TestFetchContinueOnError(t *testing.T) {
	big := randBytes(2*part+3, 51)
	put(t, "coe/a", []byte("alpha"))
	put(t, "coe/big", big)
	items := []Item{
		{Bucket: bucket, Key: "coe/a"},
		{Bucket: bucket, Key: "coe/missing"},
		{Bucket: bucket, Key: "coe/big"},
		{Bucket: bucket, Key: "coe/a", IfMatch: `"bogus"`},
		{Bucket: bucket, Key: "coe/big", Ranged: true, Start: -part - 1, End: EOF},
		{Bucket: bucket + "-nope", Key: "x"},
	}
	wantCodes := []s3err.Code{s3err.OK, s3err.NotFound, s3err.OK, s3err.Changed, s3err.OK, s3err.NotFound}
	want := [][]byte{[]byte("alpha"), nil, big, nil, big[len(big)-part-1:], nil}
	for _, mode := range []string{"unknown", "sink"} {
		for _, conc := range []int{1, 8} {
			t.Run(fmt.Sprintf("%s/conc=%d", mode, conc), func(t *testing.T) {
				b, got := runMode(t, mode, items, want, Options{PartSize: part, Concurrency: conc, ContinueOnError: true})
				if err := b.Err(); err != nil {
					t.Fatalf("batch error %v, want nil (item failures only)", err)
				}
				for i, c := range wantCodes {
					err := b.ItemErr(i)
					if s3err.Classify(err) != c {
						t.Errorf("item %d: %v, want code %d", i, err, c)
					}
					if c == s3err.OK && !bytes.Equal(got[i], want[i]) {
						t.Errorf("item %d: got %d bytes, want %d", i, len(got[i]), len(want[i]))
					}
					if c != s3err.OK && !strings.Contains(err.Error(), items[i].Key) {
						t.Errorf("item %d: error %q does not name its key", i, err)
					}
				}
				if objs, _, _ := b.Progress(); objs != 3 {
					t.Errorf("completed = %d, want 3", objs)
				}
			})
		}
	}
	t.Run("fail-fast", func(t *testing.T) {
		b, _ := run(t, items, Options{PartSize: part, Concurrency: 1})
		if s3err.Classify(b.Err()) != s3err.NotFound {
			t.Fatalf("fail-fast batch error %v, want NotFound", b.Err())
		}
	})
}

func TestFetchContinueOnErrorCancel(t *testing.T) {
	data := randBytes(4*part, 61)
	var items []Item
	for i := 0; i < 40; i++ {
		key := fmt.Sprintf("coecancel/%03d", i)
		put(t, key, data)
		items = append(items, Item{Bucket: bucket, Key: key, Buf: make([]byte, len(data)), Known: true})
	}
	b := Start(context.Background(), client.S3, items, Options{PartSize: part, Concurrency: 4, ContinueOnError: true})
	time.Sleep(2 * time.Millisecond)
	b.Cancel()
	<-b.Done()
	err := b.Err()
	if objs, _, _ := b.Progress(); objs == int64(len(items)) {
		if err != nil {
			t.Fatalf("all complete but Err = %v", err)
		}
		return
	}
	if s3err.Classify(err) != s3err.Cancelled {
		t.Fatalf("cancelled ContinueOnError batch: Err = %v, want Cancelled", err)
	}
}

// failSink fails Open for one item and Finish for another.
type failSink struct {
	*memSink
	openFail, finishFail int
}

func (s *failSink) Open(i int, n int64) (io.WriterAt, error) {
	if i == s.openFail {
		return nil, fmt.Errorf("open %d: %w", i, s3err.ErrPermission)
	}
	return s.memSink.Open(i, n)
}

func (s *failSink) Finish(i int, err error) error {
	_ = s.memSink.Finish(i, err)
	if i == s.finishFail && err == nil {
		return fmt.Errorf("rename %d: %w", i, s3err.ErrExists)
	}
	return nil
}

func TestFetchSinkErrors(t *testing.T) {
	put(t, "sinkerr/a", []byte("aaaa"))
	items := []Item{{Bucket: bucket, Key: "sinkerr/a"}, {Bucket: bucket, Key: "sinkerr/a"}, {Bucket: bucket, Key: "sinkerr/a"}, {Bucket: bucket, Key: "sinkerr/missing"}}
	sink := &failSink{memSink: newMemSink(t), openFail: 0, finishFail: 1}
	b, _ := run(t, items, Options{PartSize: part, Concurrency: 2, ContinueOnError: true, Sink: sink})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	for i, c := range []s3err.Code{s3err.Permission, s3err.Exists, s3err.OK, s3err.NotFound} {
		if got := s3err.Classify(b.ItemErr(i)); got != c {
			t.Errorf("item %d: %v, want code %d", i, b.ItemErr(i), c)
		}
	}
	if _, ok := sink.finished[0]; ok {
		t.Error("Finish called for an item whose Open failed")
	}
	if err, ok := sink.finished[2]; !ok || err != nil {
		t.Errorf("item 2 finished %v with %v", ok, err)
	}
}

// panicSink panics in Open: the worker's recover turns it into the item's
// Internal error instead of killing the process.
type panicSink struct{ *memSink }

func (panicSink) Open(int, int64) (io.WriterAt, error) { panic("sink exploded") }

func TestFetchSinkPanic(t *testing.T) {
	put(t, "sinkerr/p", []byte("pp"))
	items := []Item{{Bucket: bucket, Key: "sinkerr/p"}, {Bucket: bucket, Key: "sinkerr/p"}}
	b, _ := run(t, items, Options{PartSize: part, Concurrency: 2, ContinueOnError: true, Sink: panicSink{newMemSink(t)}})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range items {
		if err := b.ItemErr(i); s3err.Classify(err) != s3err.Internal || !strings.Contains(err.Error(), "sink exploded") {
			t.Errorf("item %d: %v, want Internal naming the panic", i, err)
		}
	}
}
