package listing

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"testing"
	"testing/synctest"
	"time"
)

// TestYieldToFolders: workers listing a folder of hashes leave it for the
// numbered folders after it once those are measured (see yieldTo), the
// parked ranges of hashes are listed by the workers that come free, and
// every key still arrives exactly once. Sorted listings (whose pages past a
// parked range would wait in memory), layouts without hashes and layouts
// of hashes alone never yield.
func TestYieldToFolders(t *testing.T) {
	hashes := func(n int) []string {
		var k []string
		for i := 0; i < n; i++ {
			s := md5.Sum([]byte(fmt.Sprint(i)))
			k = append(k, "hot/"+hex.EncodeToString(s[:]))
		}
		return k
	}
	folders := func(n, each int) []string {
		var k []string
		for d := 0; d < n; d++ {
			for i := 0; i < each; i++ {
				k = append(k, fmt.Sprintf("p%02d/obj-%06d.dat", d, i))
			}
		}
		return k
	}
	for _, tc := range []struct {
		name   string
		keys   []string
		sorted bool
		yields bool
	}{
		{"hashes then folders", append(hashes(270_000), folders(30, 1_500)...), false, true},
		{"hashes then folders, sorted", append(hashes(270_000), folders(30, 1_500)...), true, false},
		{"hashes alone", hashes(300_000), false, false},
		{"folders alone", folders(60, 5_000), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := append([]string(nil), tc.keys...)
			sort.Strings(keys)
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var got []string
				opt := Options{Workers: 32, MinSplitPages: 8, Sorted: tc.sorted}
				l := newParallel(ctx, cancel, &treeAPI{keys: keys, latency: 30 * time.Millisecond}, "b", "", opt, &Counter{}, func(p Page) error {
					for _, e := range p.Entries {
						got = append(got, e.Key)
					}
					return nil
				})
				if _, err := l.run(); err != nil {
					t.Fatal(err)
				}
				if tc.sorted && !sort.StringsAreSorted(got) {
					t.Error("Sorted listing out of order")
				}
				sort.Strings(got)
				if !slices.Equal(got, keys) {
					t.Fatalf("got %d keys, want %d: a key missing or listed twice", len(got), len(keys))
				}
				if tc.yields != (l.yields > 0) {
					t.Errorf("%d ranges of hashes yielded, want some: %v", l.yields, tc.yields)
				}
			})
		})
	}
}
