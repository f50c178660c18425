package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
	"github.com/s3turbo/s3turbo/benchmarks/internal/listsim"
	"github.com/s3turbo/s3turbo/go/listing"
)

// TestRequestBudget lists every layout through the simulated server (no
// latency) and checks every key arrives once and the request count stays
// within the budget over ceil(keys/1000).
func TestRequestBudget(t *testing.T) {
	n := 1_000_000 // the scale: fewer keys leave less room for discovery
	if testing.Short() {
		n = 100_000
	}
	// At 1 M keys the 1.15x holds on every layout (1.06-1.14 over
	// runs); the budgets leave room for scheduling. With -short's 100 k
	// keys (100 pages for 64 workers) probes and partial pages are a far
	// larger share: 1.3x on date and deep.
	for _, tc := range []struct {
		layout        string
		budget, short float64
	}{
		{"hex", 1.15, 1.15},
		{"date", 1.2, 1.4},
		{"deep", 1.2, 1.5},
		{"skewed", 1.2, 1.3},
	} {
		t.Run(tc.layout, func(t *testing.T) {
			set, err := layouts.Generate(tc.layout, n, 1)
			if err != nil {
				t.Fatal(err)
			}
			api := &listsim.API{Set: set, Latency: time.Millisecond}
			r, err := simulate(api, listing.Options{Workers: 64})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d requests (min %d, %.3fx), %d discovery, %d ranges, %.2fs", r.Requests, r.Min, r.PerMin(), r.Discovery, r.Ranges, r.Wall.Seconds())
			budget := tc.budget
			if testing.Short() {
				budget = tc.short
			}
			if r.PerMin() > budget {
				t.Errorf("%d requests = %.3f x the minimum %d, budget %.2f", r.Requests, r.PerMin(), r.Min, budget)
			}
		})
	}
}

// bestOfThree lists through a fresh newAPI() up to three times and fails t
// when no run stays within bound times the minimum requests. The
// splitter's choices depend on when answers arrive, so on a loaded machine
// (go test ./... -race on 2 cores) one run in a few goes over: the best of
// three must hold the bound.
func bestOfThree(t *testing.T, newAPI func() *listsim.API, opt listing.Options, bound float64) {
	t.Helper()
	best := math.Inf(1)
	for attempt := 0; attempt < 3 && best > bound; attempt++ {
		r, err := simulate(newAPI(), opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d requests (%.2fx the minimum %d), %.3fs, peak %d in flight",
			r.Requests, r.PerMin(), r.Min, r.Wall.Seconds(), r.Peak)
		best = min(best, r.PerMin())
	}
	if best > bound {
		t.Errorf("best of three runs: %.2fx the minimum requests, want <= %.2f", best, bound)
	}
}

// withLatency is a listing server over set answering after 1 ms.
func withLatency(set *layouts.Set) func() *listsim.API {
	return func() *listsim.API { return &listsim.API{Set: set, Latency: time.Millisecond} }
}

// labelledKeys is a flat folder of 100 labels' names, per each, numbered
// with format (%d, %05d): images/red_apple_7.jpg. Some labels share their
// first word, so a group probe with '_' finds fewer groups than labels.
func labelledKeys(t *testing.T, format string, per int) *layouts.Set {
	t.Helper()
	set, err := layouts.FromSorted(labelledNames(format, per))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// labelledNames is labelledKeys' names, sorted.
func labelledNames(format string, per int) []string {
	adjectives := []string{"red", "green", "big_blue", "small", "wild", "sweet", "old_english", "fried", "hot", "grilled"}
	nouns := []string{"apple", "bulldog", "cat", "dumpling", "eagle_owl", "fish", "goat", "hummus", "ibis", "jelly_roll"}
	var keys []string
	for _, a := range adjectives {
		for _, n := range nouns {
			for k := 1; k <= per; k++ {
				keys = append(keys, fmt.Sprintf("images/%s_%s_"+format+".jpg", a, n, k))
			}
		}
	}
	slices.Sort(keys)
	return keys
}

// TestColocatedDoesNotBlowUp: against a CPU-bound server on 2 cores, 64
// workers must not send many more requests than a serial listing.
func TestColocatedDoesNotBlowUp(t *testing.T) {
	set := folders(100, 1000)
	for _, w := range []int{4, 64} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			// ~1.05-1.22 alone, 1.27 seen under CI's load (see bestOfThree).
			bestOfThree(t, func() *listsim.API { return colocated(set) }, listing.Options{Workers: w}, 1.25)
		})
	}
}

// TestNumberedFolders: 100 folders of 1 000 numbered names, a page each,
// listed with 1 ms latency, stay within 1.5x the minimum requests (1.14-
// 1.38x seen). Names numbered after a letter a-f (f00000, image0001) or
// in hexadecimal (000003e7) read as hashes, each folder's first page as a
// sliver of a huge folder of them: up to 30 empty pieces a folder, 4x-38x
// the minimum, and slower than a serial listing.
func TestNumberedFolders(t *testing.T) {
	for _, name := range []string{"d%03d/f%05d", "d%03d/f%04d", "d%03d/%08x", "dir-%03d/image%05d.png", "dir-%03d/key-%05d"} {
		t.Run(strings.ReplaceAll(name, "/", "|"), func(t *testing.T) {
			keys := make([]string, 0, 100_000)
			for f := 0; f < 100; f++ {
				for k := 0; k < 1000; k++ {
					keys = append(keys, fmt.Sprintf(name, f, k))
				}
			}
			set, err := layouts.FromSorted(keys)
			if err != nil {
				t.Fatal(err)
			}
			bestOfThree(t, withLatency(set), listing.Options{Workers: 64}, 1.5)
		})
	}
}

// TestLabelledNames: a flat folder of <label>_<n>.jpg names (a dataset's
// classes flattened, as Oxford pets or Food-101), 100 labels of 1 000
// unpadded numbers, stays within 1.5x the minimum requests (1.18-1.28x
// seen). Each label's names read over their bytes were a sliver of the
// key space, and that density spread over the empty space between labels
// cut ranges into hundreds of pieces listed empty: 7.7-9.4x.
func TestLabelledNames(t *testing.T) {
	bestOfThree(t, withLatency(labelledKeys(t, "%d", 1000)), listing.Options{Workers: 64}, 1.5)
}

// TestPaddedLabelledNames is TestLabelledNames with zero-padded numbers
// (images/red_apple_00001.jpg): each word's counter ran to the folder's
// end as far as the counter knew, and ranges were cut galloping 2, 4, 8
// ... pages ahead on it, past the word's end, every piece empty: 6.4x the
// minimum requests at 1 000 names a word, and 3x at 3 000, where the
// words were listed one after the other, as slowly as by one worker.
func TestPaddedLabelledNames(t *testing.T) {
	for _, per := range []int{1000, 3000} {
		t.Run(fmt.Sprint(per), func(t *testing.T) {
			bestOfThree(t, withLatency(labelledKeys(t, "%05d", per)), listing.Options{Workers: 64}, 1.4)
		})
	}
}

// TestNonASCIINames: flat folders of names in Chinese, Cyrillic or
// Korean are listed in parallel. Their first bytes are UTF-8 lead bytes
// above 0xC3, which the guess of an open range's largest key wrote as the
// character U+00xx, sorting before them: the listing never split and ran
// as one range, as slow as a serial one.
func TestNonASCIINames(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	name := func(lo, n int) string {
		rs := make([]rune, 2+r.IntN(7))
		for j := range rs {
			rs[j] = rune(lo + r.IntN(n))
		}
		return string(rs)
	}
	for _, tc := range []struct {
		name    string
		pattern string
		lo, n   int
	}{
		{"chinese", "corpus/zh/%s.txt", 0x4e00, 3000},
		{"cyrillic", "документы/%s_%d.docx", 0x430, 32},
		{"korean", "사용자/%s/%03d.jpg", 0xac00, 2000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := make([]string, 0, 100_000)
			for i := 0; i < 100_000; i++ {
				keys = append(keys, strings.Replace(fmt.Sprintf(tc.pattern, name(tc.lo, tc.n), i%1000), "%!(EXTRA int=", "", 1))
			}
			slices.Sort(keys)
			keys = slices.Compact(keys)
			set, err := layouts.FromSorted(keys)
			if err != nil {
				t.Fatal(err)
			}
			res, err := simulate(&listsim.API{Set: set, Latency: time.Millisecond}, listing.Options{Workers: 64})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d keys: %d requests (%.2fx), %d ranges, peak %d in flight", set.Len(), res.Requests, res.PerMin(), res.Ranges, res.Peak)
			if res.Ranges < 4 { // 9-36 now (6-32 requests in flight); 1 before
				t.Errorf("listed as %d ranges: serially", res.Ranges)
			}
		})
	}
}

// TestSmallListingOneRequest: a listing that fits one page costs one request.
func TestSmallListingOneRequest(t *testing.T) {
	for _, layout := range layouts.Names {
		set, _ := layouts.Generate(layout, 900, 1)
		r, err := simulate(&listsim.API{Set: set}, listing.Options{Workers: 64})
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests != 1 {
			t.Errorf("%s: %d requests for 900 keys", layout, r.Requests)
		}
	}
}
