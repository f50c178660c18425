package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// wantGroups counts the requests coalescing should make, modelled
// independently: per object, ranges sorted by start; one joins the previous
// group when it starts at most gap bytes after the group's end (or inside
// it) and the group's span stays within part.
func wantGroups(cases []rangeCase, gap, part int64) int {
	byKey := map[string][]rangeCase{}
	for _, c := range cases {
		byKey[c.key] = append(byKey[c.key], c)
	}
	n := 0
	for _, cs := range byKey {
		sort.SliceStable(cs, func(a, b int) bool { return cs[a].start < cs[b].start })
		var lo, hi int64
		for i, c := range cs {
			if i > 0 && c.start-hi <= gap && max(hi, c.end)-lo <= part {
				hi = max(hi, c.end)
				continue
			}
			n++
			lo, hi = c.start, c.end
		}
	}
	return n
}

func TestFetchCoalesce(t *testing.T) {
	const size = 1 << 20
	data := map[string][]byte{"coalesce/a": randBytes(size, 31), "coalesce/b": randBytes(size/2, 32)}
	for k, v := range data {
		put(t, k, v)
	}
	rng := rand.New(rand.NewSource(7))
	var cases []rangeCase
	for i := 0; i < 300; i++ {
		k := "coalesce/a"
		if i%3 == 0 {
			k = "coalesce/b"
		}
		s := rng.Int63n(int64(len(data[k])))
		cases = append(cases, rangeCase{k, s, s + 1 + rng.Int63n(4096)}) // some run past the end
	}
	cases = append(cases, cases[5], cases[6]) // duplicates: overlapping ranges
	// Nested, repeated and straddling ranges, and one past the object's end
	// overlapping another that is clamped there.
	for _, r := range [][2]int64{{700000, 760000}, {701000, 702000}, {701000, 702000}, {759000, 800000},
		{0, 10}, {0, 10}, {5, 8}, {size - 100, size + 50}, {size - 60, size + 500}} {
		cases = append(cases, rangeCase{"coalesce/a", r[0], r[1]})
	}
	items, want := rangeItems(bucket, cases, data)
	for _, tc := range []struct {
		mode string
		gap  int64
		part int64
	}{
		{"unknown", 0, part}, {"unknown", 4096, part}, {"unknown", 1 << 20, part}, {"known", 1 << 20, part},
		{"known", 1 << 20, 256 << 10}, {"unknown", 1 << 30, 8 << 20},
	} {
		t.Run(fmt.Sprintf("%s/gap=%d/part=%d", tc.mode, tc.gap, tc.part), func(t *testing.T) {
			b, got := runMode(t, tc.mode, items, want, Options{PartSize: tc.part, Concurrency: 8, CoalesceGap: tc.gap})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			for i, c := range cases {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("%s[%d:%d]: got %d bytes, want %d (or content differs)", c.key, c.start, c.end, len(got[i]), len(want[i]))
				}
			}
			wantReqs := int64(len(cases))
			if tc.gap > 0 {
				wantReqs = int64(wantGroups(cases, tc.gap, tc.part))
			}
			if _, _, reqs := b.Progress(); reqs != wantReqs {
				t.Errorf("requests = %d, want %d", reqs, wantReqs)
			}
		})
	}
}

// TestFetchCoalesceErrors: a group's failures are each member's own.
func TestFetchCoalesceErrors(t *testing.T) {
	errData := randBytes(1000, 41)
	put(t, "coalesce/err", errData)
	mk := func(key string, s, e int64, buf int) Item {
		it := Item{Bucket: bucket, Key: key, Ranged: true, Start: s, End: e}
		if buf >= 0 {
			it.Buf, it.Known = make([]byte, buf), true
		}
		return it
	}
	tests := []struct {
		name  string
		items []Item
		opt   Options
		want  []s3err.Code // per item
	}{
		{"wrong buffer size fails only its member",
			[]Item{mk("coalesce/err", 0, 10, 10), mk("coalesce/err", 20, 30, 9), mk("coalesce/err", 40, 50, 10)},
			Options{ContinueOnError: true}, []s3err.Code{s3err.OK, s3err.Invalid, s3err.OK}},
		{"missing object fails every member",
			[]Item{mk("coalesce/none", 0, 10, 10), mk("coalesce/none", 20, 30, 10)},
			Options{ContinueOnError: true}, []s3err.Code{s3err.NotFound, s3err.NotFound}},
		{"stale ETag fails every member",
			[]Item{{Bucket: bucket, Key: "coalesce/err", Ranged: true, Start: 0, End: 5, IfMatch: `"00"`},
				{Bucket: bucket, Key: "coalesce/err", Ranged: true, Start: 6, End: 9, IfMatch: `"00"`}},
			Options{ContinueOnError: true}, []s3err.Code{s3err.Changed, s3err.Changed}},
		{"overlapping members around a failed one",
			[]Item{mk("coalesce/err", 0, 10, 10), mk("coalesce/err", 5, 8, 2), mk("coalesce/err", 6, 20, 14),
				mk("coalesce/err", 6, 20, 14), mk("coalesce/err", 2, 4, 2), mk("coalesce/err", 15, 18, 3)},
			Options{ContinueOnError: true}, []s3err.Code{s3err.OK, s3err.Invalid, s3err.OK, s3err.OK, s3err.OK, s3err.OK}},
		{"ranges past the end are empty",
			[]Item{mk("coalesce/err", 2000, 2010, 0), mk("coalesce/err", 2020, 2030, 0)},
			Options{}, []s3err.Code{s3err.OK, s3err.OK}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opt := tc.opt
			opt.PartSize, opt.Concurrency, opt.CoalesceGap = part, 4, 1<<20
			b, got := run(t, tc.items, opt)
			if _, _, reqs := b.Progress(); reqs != 1 {
				t.Errorf("requests = %d, want 1 (one coalesced group)", reqs)
			}
			for i, w := range tc.want {
				err := b.ItemErr(i)
				if it := tc.items[i]; err == nil && it.Key == "coalesce/err" && it.Start < 1000 &&
					!bytes.Equal(got[i], errData[it.Start:min(it.End, 1000)]) {
					t.Errorf("item %d: bytes [%d:%d] differ", i, it.Start, it.End)
				}
				if got := s3err.Classify(err); got != w {
					t.Errorf("item %d: %v (class %v), want class %v", i, err, got, w)
				}
				if err != nil && !bytes.Contains([]byte(err.Error()), []byte(tc.items[i].Key)) {
					t.Errorf("item %d: error %q does not name the object", i, err)
				}
			}
			if err := b.Err(); err != nil && !errors.Is(err, context.Canceled) && tc.opt.ContinueOnError {
				t.Errorf("batch error with ContinueOnError: %v", err)
			}
		})
	}
}

// inflightAPI counts requests in flight (and the most seen at once).
type inflightAPI struct {
	API
	now, peak atomic.Int32
}

func (a *inflightAPI) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	n := a.now.Add(1)
	defer a.now.Add(-1)
	for {
		p := a.peak.Load()
		if n <= p || a.peak.CompareAndSwap(p, n) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond) // let concurrent parts overlap
	return a.API.GetObject(ctx, in, opts...)
}

// TestFetchOneObjectPartsInParallel: one object larger than a part is
// fetched by concurrent ranged requests (a regression: the worker count
// was once capped by the number of items, so one large object's parts went
// one at a time).
func TestFetchOneObjectPartsInParallel(t *testing.T) {
	data := randBytes(int(6*part+5), 51)
	put(t, "parallel/one", data)
	for _, tc := range []struct {
		name  string
		known bool
		gap   int64
	}{{"unknown", false, 0}, {"known", true, 0}, {"known-coalescing-on", true, 1 << 20}, {"unknown-coalescing-on", false, 1 << 20}} {
		t.Run(tc.name, func(t *testing.T) {
			api := &inflightAPI{API: client.Get}
			it := Item{Bucket: bucket, Key: "parallel/one"}
			if tc.known {
				it.Buf, it.Known = make([]byte, len(data)), true
			}
			b := Start(context.Background(), api, []Item{it}, Options{PartSize: part, Concurrency: 8, CoalesceGap: tc.gap})
			got := it.Buf
			for b.Wait(5*time.Second) != Done {
				for _, r := range b.TakeReady(8) {
					got = make([]byte, r.Size)
					if err := b.Provide(r.Index, got); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("content differs")
			}
			if p := api.peak.Load(); p < 4 {
				t.Errorf("at most %d requests in flight for 7 parts with 8 workers, want >= 4", p)
			}
		})
	}
}
