package listing

import (
	"slices"
	"testing"
)

// TestAssumedShapes checks which probed directory an unprobed folder's
// structure is borrowed from, and that irregular or unconfirmed levels
// borrow nothing.
func TestAssumedShapes(t *testing.T) {
	newLister := func() *lister {
		return &lister{prefix: "", dirs: map[string]*dirInfo{}, shapes: map[string]*dirInfo{},
			sibling: map[string]string{}, levels: map[int]*levelInfo{}}
	}
	probe := func(l *lister, dir string, folders ...string) {
		l.dirs[dir] = &dirInfo{probing: true}
		l.probed(dir, &dirInfo{folders: folders})
	}
	months := func(y string) []string {
		var f []string
		for _, m := range []string{"01", "02", "03", "04"} {
			f = append(f, y+"month="+m+"/")
		}
		return f
	}
	tests := []struct {
		name  string
		setup func(*lister)
		dir   string
		want  string   // source ("" with none)
		fold  []string // assumed folders (nil: no shape)
	}{
		{"probed itself", func(l *lister) {
			probe(l, "", "year=2022/", "year=2023/")
			probe(l, "year=2022/", months("year=2022/")...)
		}, "year=2022/", "year=2022/", months("year=2022/")},
		{"unconfirmed level", func(l *lister) {
			probe(l, "", "year=2022/", "year=2023/")
			probe(l, "year=2022/", months("year=2022/")...)
		}, "year=2023/", "", nil},
		{"regular level", func(l *lister) {
			probe(l, "", "year=2022/", "year=2023/", "year=2024/")
			probe(l, "year=2022/", months("year=2022/")...)
			probe(l, "year=2023/", months("year=2023/")...)
		}, "year=2024/", "year=2022/", months("year=2024/")},
		{"irregular level", func(l *lister) {
			probe(l, "", "a/", "b/", "c/")
			probe(l, "a/", "a/1/", "a/2/")
			probe(l, "b/", "b/1/", "b/2/", "b/3/", "b/4/", "b/5/", "b/6/")
		}, "c/", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLister()
			tc.setup(l)
			if got, ok := l.source(tc.dir, 0); got != tc.want || ok != (tc.fold != nil) {
				t.Fatalf("source(%q) = %q, want %q", tc.dir, got, tc.want)
			}
			d := l.shape(tc.dir)
			if tc.fold == nil {
				if d != nil {
					t.Fatalf("shape(%q) = %+v, want none", tc.dir, d)
				}
				return
			}
			if d == nil || !slices.Equal(d.folders, tc.fold) {
				t.Fatalf("shape(%q) = %+v, want folders %q", tc.dir, d, tc.fold)
			}
		})
	}
}

// TestStartProbe checks which folder a freshly cut range gets probed at
// once: one at a regular level whose folders hold folders, covered whole,
// that nobody probed and no sibling's shape stands in for.
func TestStartProbe(t *testing.T) {
	probe := func(l *lister, dir string, folders ...string) {
		l.dirs[dir] = &dirInfo{probing: true}
		l.probed(dir, &dirInfo{folders: folders})
	}
	years := func(l *lister) {
		probe(l, "", "year=2022/", "year=2023/", "year=2024/")
		probe(l, "year=2022/", "year=2022/month=01/", "year=2022/month=02/")
		probe(l, "year=2022/month=01/", "year=2022/month=01/day=01/", "year=2022/month=01/day=02/")
	}
	tests := []struct {
		name  string
		setup func(*lister)
		start string
		hi    string // "" for open-ended
		pages int
		want  string // "" for no probe
	}{
		{"folder of an unconfirmed level", years, "year=2023/", "year=2024/", 0, "year=2023/"},
		{"open-ended", years, "year=2024/", "", 1, "year=2024/"},
		{"month level", years, "year=2022/month=02/", "year=2023/", 0, "year=2022/month=02/"},
		{"ends inside the folder", years, "year=2023/", "year=2023/month=06/", 0, ""},
		{"not a folder", years, "year=2023/month=0", "year=2024/", 0, ""},
		{"leaf level", years, "year=2022/month=01/day=02/", "year=2022/month=02/", 0, ""},
		{"already two pages in", years, "year=2023/", "year=2024/", 2, ""},
		{"already probed", func(l *lister) {
			years(l)
			probe(l, "year=2023/", "year=2023/month=01/", "year=2023/month=02/")
		}, "year=2023/", "year=2024/", 0, ""},
		{"assumed from a sibling", func(l *lister) {
			years(l)
			probe(l, "year=2023/", "year=2023/month=01/", "year=2023/month=02/")
		}, "year=2024/", "", 0, ""},
		{"irregular level", func(l *lister) {
			probe(l, "", "a/", "b/", "c/")
			probe(l, "a/", "a/1/", "a/2/")
			probe(l, "b/", "b/1/", "b/2/", "b/3/", "b/4/", "b/5/", "b/6/")
		}, "c/", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &lister{prefix: "", dirs: map[string]*dirInfo{}, shapes: map[string]*dirInfo{},
				sibling: map[string]string{}, levels: map[int]*levelInfo{}}
			tc.setup(l)
			l.ranges = []*krange{{start: tc.start, cursor: tc.start, hi: tc.hi, open: tc.hi == "", pages: tc.pages}}
			got, ok := l.startProbe()
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("startProbe() = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

// TestSmallDirs checks which directories are too small to probe for cuts:
// fewer than MinSplitPages pages each by the projected total over the
// folder counts probes found above them.
func TestSmallDirs(t *testing.T) {
	tests := []struct {
		name    string
		planned int
		dir     string
		want    bool
	}{
		{"no projection yet", 0, "a/x/", false},
		{"level 2, 20 dirs, 100 pages", 100, "a/x/", true},
		{"level 2, 20 dirs, 1000 pages", 1000, "a/x/", false},
		{"level 1, 2 dirs, 10 pages", 10, "b/", true},
		{"level 1, 2 dirs, 100 pages", 100, "b/", false},
		{"level 3, level 2 never probed", 10, "a/x/y/", false},
		{"the prefix of a 5-page listing", 5, "", true},
		{"the prefix of a 100-page listing", 100, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := &lister{prefix: "", opt: Options{MinSplitPages: 8}, dirs: map[string]*dirInfo{}, shapes: map[string]*dirInfo{},
				sibling: map[string]string{}, levels: map[int]*levelInfo{}, planned: tc.planned}
			probe := func(dir string, folders ...string) {
				l.dirs[dir] = &dirInfo{probing: true}
				l.probed(dir, &dirInfo{folders: folders})
			}
			probe("", "a/", "b/")
			probe("a/", "a/0/", "a/1/", "a/2/", "a/3/", "a/4/", "a/5/", "a/6/", "a/7/")
			probe("b/", "b/0/", "b/1/", "b/2/", "b/3/", "b/4/", "b/5/", "b/6/", "b/7/", "b/8/", "b/9/", "b/10/", "b/11/")
			if got := l.small(tc.dir); got != tc.want {
				t.Fatalf("small(%q) with %d pages planned = %v, want %v", tc.dir, tc.planned, got, tc.want)
			}
		})
	}
}
