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
