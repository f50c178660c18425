package listing_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/s3turbo/s3turbo/go/listing"
)

// TestParallelStemProbes lists a tree whose levels are named alike
// (org-N/team-NN/proj-NN/run-N/file-NNNNN) against the server: probes
// use the stems as delimiters, so the server must roll keys up several
// levels, and every key comes back exactly once, also from a tree whose
// file names change stem past the first page (f_NNNNN in odd projects),
// where a probe's answer holds keys the delimiter should have rolled up.
func TestParallelStemProbes(t *testing.T) {
	var named, mixed []string
	for o := 0; o < 2; o++ {
		for tm := 0; tm < 3+5*o; tm++ {
			for p := 0; p < 2+tm%7; p++ {
				for r := 0; r < 1+(o+tm+p)%4; r++ {
					for f := 0; f < 40+30*((tm*p+r)%5); f++ {
						k := fmt.Sprintf("org-%d/team-%02d/proj-%02d/run-%d/file-%05d", o, tm, p, r, f)
						named = append(named, k)
						if p%2 == 1 {
							k = strings.Replace(k, "/file-", "/f_", 1)
						}
						mixed = append(mixed, k)
					}
				}
			}
		}
	}
	for _, tc := range []struct {
		name  string
		keys  []string
		stems bool
	}{
		{"named", named, true},
		{"mixed", mixed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sort.Strings(tc.keys)
			name := populate(t, bucket+"-par-stems-"+tc.name, tc.keys)
			for _, opt := range []listing.Options{{Workers: 16}, {Workers: 8, MinSplitPages: 1, Sorted: true}} {
				api := &recordingAPI{API: client.List, delim: map[string]int{}}
				var got []string
				if _, err := listing.Parallel(context.Background(), api, name, "", opt, func(p listing.Page) error {
					for _, e := range p.Entries {
						got = append(got, e.Key)
					}
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				checkOnce(t, got, tc.keys, opt.Sorted)
				stemProbes := 0
				for k, n := range api.delim {
					if i := strings.IndexByte(k, '|'); i >= 0 && len(k) > i+2 {
						stemProbes += n
						if delim := k[i+1:]; delim != "/proj-" && delim != "/run-" && delim != "/file-" {
							t.Errorf("%d probe(s) %q: not a stem of the tree", n, k)
						}
					}
				}
				if tc.stems && stemProbes == 0 {
					t.Errorf("%+v: no stem probes (requests %v)", opt, api.delim)
				}
			}
		})
	}
}
