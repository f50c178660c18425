package listing

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testLister is a lister with no server behind it, listing the whole
// bucket, for exercising the splitter's bookkeeping directly.
func testLister() *lister {
	return &lister{prefix: "", opt: Options{MinSplitPages: 8}, dirs: map[string]*dirInfo{}, shapes: map[string]*dirInfo{},
		sibling: map[string]string{}, calendar: map[int]string{}, levels: map[int]*levelInfo{}, groupSets: map[string]*groupSet{}, loneGroups: map[string]bool{}, groupsAsked: map[string]int{}}
}

// probeDir records a complete probe of dir that found folders.
func probeDir(l *lister, dir string, folders ...string) {
	l.dirs[dir] = &dirInfo{probing: true}
	l.probed(dir, &dirInfo{folders: folders})
}

// calendar returns dir's folders numbered from..to, two digits each.
func calendar(dir string, from, to int) []string {
	var f []string
	for i := from; i <= to; i++ {
		f = append(f, fmt.Sprintf("%s%02d/", dir, i))
	}
	return f
}

// TestCalendarRun: folders counting up from 0 or 1 without a gap, as
// many as a calendar unit holds, named alike.
func TestCalendarRun(t *testing.T) {
	stem := func(dir, s string, n int) []string {
		var f []string
		for i := 1; i <= n; i++ {
			f = append(f, fmt.Sprintf("%s%s%02d/", dir, s, i))
		}
		return f
	}
	for _, tc := range []struct {
		name, dir string
		folders   []string
		want      bool
	}{
		{"months", "y/2024/", calendar("y/2024/", 1, 12), true},
		{"days of February", "y/2024/02/", calendar("y/2024/02/", 1, 29), true},
		{"days of a long month", "y/2024/03/", calendar("y/2024/03/", 1, 31), true},
		{"hours", "d/", calendar("d/", 0, 23), true},
		{"months with a stem", "year=2024/", stem("year=2024/", "month=", 12), true},
		{"a partial year", "y/2024/", calendar("y/2024/", 1, 6), false},
		{"a gap", "y/2024/", append(calendar("y/2024/", 1, 11), "y/2024/13/"), false},
		{"from 2", "y/2024/", calendar("y/2024/", 2, 13), false},
		{"mixed stems", "d/", append(stem("d/", "a-", 11), "d/b-12/"), false},
		{"years", "r/", []string{"r/2022/", "r/2023/", "r/2024/"}, false},
		{"wide numbers", "s/", stem("s/", "0", 12), false}, // 001 ... 012: a shard counter
		{"words", "x/", []string{"x/a/", "x/b/"}, false},
	} {
		if got := calendarRun(tc.dir, tc.folders); got != tc.want {
			t.Errorf("%s: calendarRun = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestAssumedShapes checks which probed directory an unprobed folder's
// structure is borrowed from, and that irregular or unconfirmed levels
// borrow nothing.
func TestAssumedShapes(t *testing.T) {
	months := func(y string) []string {
		var f []string
		for _, m := range []string{"01", "02", "03", "04"} {
			f = append(f, y+"month="+m+"/")
		}
		return f
	}
	days := func(m string) []string { return []string{m + "day=01/", m + "day=02/"} }
	// stemView is what a date listing's stem probes show: every year's
	// months, and the days of the months given.
	stemView := func(l *lister, months2 ...string) {
		probeDir(l, "", "year=2022/", "year=2023/")
		probeDir(l, "year=2022/", months("year=2022/")...)
		probeDir(l, "year=2023/", months("year=2023/")...)
		for _, m := range months2 {
			probeDir(l, m, days(m)...)
		}
	}
	// regions: two region folders' years probed, one year's months.
	regions := func(l *lister) {
		probeDir(l, "", "ap/", "us/")
		probeDir(l, "ap/", "ap/2022/", "ap/2023/")
		probeDir(l, "us/", "us/2022/", "us/2023/")
		probeDir(l, "ap/2022/", months("ap/2022/")...)
	}
	tests := []struct {
		name  string
		setup func(*lister)
		dir   string
		want  string   // source ("" with none)
		fold  []string // assumed folders (nil: no shape)
	}{
		{"probed itself", func(l *lister) {
			probeDir(l, "", "year=2022/", "year=2023/")
			probeDir(l, "year=2022/", months("year=2022/")...)
		}, "year=2022/", "year=2022/", months("year=2022/")},
		{"unconfirmed level", func(l *lister) {
			probeDir(l, "", "year=2022/", "year=2023/")
			probeDir(l, "year=2022/", months("year=2022/")...)
		}, "year=2023/", "", nil},
		{"regular level", func(l *lister) {
			probeDir(l, "", "year=2022/", "year=2023/", "year=2024/")
			probeDir(l, "year=2022/", months("year=2022/")...)
			probeDir(l, "year=2023/", months("year=2023/")...)
		}, "year=2024/", "year=2022/", months("year=2024/")},
		{"same name under the parent's sibling", func(l *lister) {
			stemView(l, "year=2022/month=01/", "year=2022/month=02/")
		}, "year=2023/month=02/", "year=2022/month=02/", days("year=2023/month=02/")},
		{"no such name under the parent's sibling", func(l *lister) {
			stemView(l, "year=2022/month=01/", "year=2022/month=02/")
		}, "year=2023/month=04/", "", nil},
		{"a sibling under the parent first", func(l *lister) {
			stemView(l, "year=2022/month=02/", "year=2023/month=01/")
		}, "year=2023/month=02/", "year=2023/month=01/", days("year=2023/month=02/")},
		// CloudTrail's AWSLogs/<account>/CloudTrail/<region>/<year>/...:
		// each region's years probed, one year's months. Waiting for a
		// second probe at the months' level left every region's range
		// unmeasured for 5 round trips (48 of 64 workers idle).
		{"same name under an aunt, one probe at its level", regions, "us/2022/", "ap/2022/", months("us/2022/")},
		{"another name, one probe at its level", regions, "us/2023/", "", nil},
		// A year's twelve months (or a month's days) are a calendar's:
		// one probe tells every year's. Left unassumed, a busy region's
		// 2023 and 2024 were each one range of 73 pages after the split.
		{"another name, one calendar probe at its level", func(l *lister) {
			probeDir(l, "", "ap/", "us/")
			probeDir(l, "ap/", "ap/2022/", "ap/2023/")
			probeDir(l, "us/", "us/2022/", "us/2023/")
			probeDir(l, "ap/2022/", calendar("ap/2022/", 1, 12)...)
		}, "us/2023/", "ap/2022/", calendar("us/2023/", 1, 12)},
		{"a calendar level, a name that is no number", func(l *lister) {
			probeDir(l, "", "ap/", "us/")
			probeDir(l, "ap/", "ap/2022/", "ap/latest/")
			probeDir(l, "us/", "us/2022/", "us/latest/")
			probeDir(l, "ap/2022/", calendar("ap/2022/", 1, 12)...)
		}, "us/latest/", "", nil},
		{"irregular level", func(l *lister) {
			probeDir(l, "", "a/", "b/", "c/")
			probeDir(l, "a/", "a/1/", "a/2/")
			probeDir(l, "b/", "b/1/", "b/2/", "b/3/", "b/4/", "b/5/", "b/6/")
		}, "c/", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
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
	years := func(l *lister) {
		probeDir(l, "", "year=2022/", "year=2023/", "year=2024/")
		probeDir(l, "year=2022/", "year=2022/month=01/", "year=2022/month=02/")
		probeDir(l, "year=2022/month=01/", "year=2022/month=01/day=01/", "year=2022/month=01/day=02/")
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
			probeDir(l, "year=2023/", "year=2023/month=01/", "year=2023/month=02/")
		}, "year=2023/", "year=2024/", 0, ""},
		{"assumed from a sibling", func(l *lister) {
			years(l)
			probeDir(l, "year=2023/", "year=2023/month=01/", "year=2023/month=02/")
		}, "year=2024/", "", 0, ""},
		{"irregular level", func(l *lister) {
			probeDir(l, "", "a/", "b/", "c/")
			probeDir(l, "a/", "a/1/", "a/2/")
			probeDir(l, "b/", "b/1/", "b/2/", "b/3/", "b/4/", "b/5/", "b/6/")
		}, "c/", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
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
			l := testLister()
			l.planned = tc.planned
			probeDir(l, "", "a/", "b/")
			probeDir(l, "a/", "a/0/", "a/1/", "a/2/", "a/3/", "a/4/", "a/5/", "a/6/", "a/7/")
			probeDir(l, "b/", "b/0/", "b/1/", "b/2/", "b/3/", "b/4/", "b/5/", "b/6/", "b/7/", "b/8/", "b/9/", "b/10/", "b/11/")
			if got := l.small(tc.dir); got != tc.want {
				t.Fatalf("small(%q) with %d pages planned = %v, want %v", tc.dir, tc.planned, got, tc.want)
			}
		})
	}
}

// TestDenseLeaf checks when a range counts as listing a dense flat folder
// whose extent no probe measured, and where such a range is cut.
func TestDenseLeaf(t *testing.T) {
	const day = "year=2023/month=05/day=11/"
	part := func(i int) string { return fmt.Sprintf("%spart-%05d-4aeb9c42.parquet", day, i) }
	tests := []struct {
		name     string
		prev     string
		leafKeys int64
		d0       string
		probe    *dirInfo // the day folder's probe (nil: none)
		want     bool
	}{
		{"two pages in an unprobed folder", part(1999), 3000, "year=2023/", nil, true},
		{"one page in", part(1999), 1500, "year=2023/", nil, false},
		{"previous page ended in another folder", "year=2023/month=05/day=10/part-00999-00000000.parquet", 3000, "year=2023/", nil, false},
		{"the folder is the range's own top", part(1999), 3000, day, nil, false},
		{"truncated probe of sequential names", part(1999), 3000, "year=2023/",
			&dirInfo{first: part(0), upto: part(999), last: part(999), alpha: []byte("-.0123456789aepqrt")}, true},
		{"probe saw the whole folder", part(1999), 3000, "year=2023/",
			&dirInfo{first: part(0), last: part(5999), alpha: []byte("-.0123456789aepqrt")}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			if tc.probe != nil {
				l.dirs[day] = tc.probe
			}
			r := &krange{first: part(0), prev: tc.prev, cursor: part(2999), hi: "year=2023/month=05/day=12/", leafKeys: tc.leafKeys}
			leaf, ok := l.denseLeaf(r, tc.d0)
			if ok != tc.want || ok && leaf != day {
				t.Fatalf("denseLeaf = %q, %v; want %v", leaf, ok, tc.want)
			}
		})
	}

	// Cuts: the estimated rest evenly, a page apart or more, at the last
	// page's extent (1 000 names a page), inside the folder.
	cuts := []struct {
		dense  float64
		pieces int
		want   []int // the part number each cut starts with
	}{
		{2, 3, []int{3983, 4968}},
		{8, 3, []int{5624, 8249}},
		{4, 1, nil},
	}
	for _, tc := range cuts {
		l := testLister()
		for i := 0; i < 3000; i += 7 {
			l.learn(part(i))
		}
		v := &krange{first: part(0), prev: part(1999), cursor: part(2999), hi: "year=2023/month=05/day=12/", leafKeys: 3000}
		points := l.splitPoints(v, tc.pieces, &span{dir: day, dense: tc.dense})
		if len(points) != len(tc.want) {
			t.Fatalf("dense %v, %d pieces: cuts %q, want %d", tc.dense, tc.pieces, points, len(tc.want))
		}
		for i, p := range points {
			var n int
			if _, err := fmt.Sscanf(strings.TrimPrefix(p, day+"part-"), "%05d", &n); err != nil || !strings.HasPrefix(p, day+"part-") {
				t.Fatalf("cut %q is not inside %s", p, day)
			}
			if abs(n-tc.want[i]) > 2 || p <= v.cursor || p >= v.hi || i > 0 && p <= points[i-1] {
				t.Fatalf("dense %v, %d pieces: cuts %q, want about part-%05d at %d", tc.dense, tc.pieces, points, tc.want[i], i)
			}
		}
	}
}

// TestDenseLeafCarriedOn checks that the last piece of a dense folder's
// split, which lists on into the folder, counts as dense after its first
// page: it inherits the keys listed there and cut off before it.
func TestDenseLeafCarriedOn(t *testing.T) {
	const day = "year=2023/month=05/day=11/"
	part := func(i int) string { return fmt.Sprintf("%spart-%05d-4aeb9c42.parquet", day, i) }
	l := testLister()
	l.cond = sync.NewCond(&l.mu)
	for i := 0; i < 3000; i += 7 {
		l.learn(part(i))
	}
	var days []string
	for d := 1; d <= 31; d++ {
		days = append(days, fmt.Sprintf("year=2023/month=05/day=%02d/", d))
	}
	probeDir(l, "", "year=2023/")
	probeDir(l, "year=2023/", "year=2023/month=04/", "year=2023/month=05/", "year=2023/month=06/")
	probeDir(l, "year=2023/month=05/", days...)
	v := &krange{first: part(0), prev: part(1999), cursor: part(2999), hi: "year=2023/month=05/day=12/", leafKeys: 3000, pages: 3, seen: 3000, active: true}
	l.ranges = []*krange{v}
	l.split(v, 3, &span{dir: day, dense: 8})
	if len(l.ranges) != 3 {
		t.Fatalf("%d ranges after the split, want 3", len(l.ranges))
	}
	last := l.ranges[2]
	if last.hi != "year=2023/month=05/day=12/" || !strings.HasPrefix(last.start, day) {
		t.Fatalf("last piece %q..%q", last.start, last.hi)
	}
	if mid := l.ranges[1]; mid.leafKeys != 0 {
		t.Errorf("a middle piece inherited %d keys", mid.leafKeys)
	}
	// The last piece lists one full page inside the folder (listRange's bookkeeping).
	last.first, last.prev, last.cursor, last.pages, last.seen = part(8250), last.start, part(9249), 1, 1000
	last.leafKeys += 1000
	if _, ok := l.denseLeaf(last, "year=2023/"); !ok {
		t.Fatalf("after one page the last piece (leafKeys %d) is not seen as dense", last.leafKeys)
	}
	if est, _, sp := l.measure(last, l.alphabet()); sp == nil || sp.dense <= 8 {
		t.Errorf("its estimate %v (span %+v) does not grow past the victim's 8 pages", est, sp)
	}
}

// TestNumberedCuts checks cuts among sequential names (numbered and
// counter.cuts), and that other names are left to byte interpolation.
func TestNumberedCuts(t *testing.T) {
	tests := []struct {
		prev, cursor string
		step         float64
		n            int
		want         []string // nil: not numbered
	}{
		{"d/part-01999-a.parquet", "d/part-02999-b.parquet", 1, 2, []string{"d/part-03983", "d/part-04968"}},
		{"d/part-01999-a.parquet", "d/part-02999-b.parquet", 1.5, 2, []string{"d/part-04476", "d/part-05952"}},
		{"d/f-000980.bin", "d/f-001980.bin", 2, 3, []string{"d/f-003949", "d/f-005918", "d/f-007886"}},
		{"d/part-97999-a", "d/part-98999-b", 1, 3, []string{"d/part-99983"}}, // no wider than the names
		{"d/part-999-a", "d/part-1999-b", 1, 2, nil},                         // widths differ
		{"d/3f2a", "d/3f9c", 1, 2, nil},         // a hash
		{"d/3f20041b", "d/3f90012a", 1, 2, nil}, // a hash
		{"d/a", "d/b", 1, 2, nil},               // first differ at a letter
		{"d/a", "d/a", 1, 2, nil},
	}
	for _, tc := range tests {
		c, per, ok := numbered(&krange{prev: tc.prev, cursor: tc.cursor}, false)
		var got []string
		if ok {
			var pages []float64
			for j := 1; j <= tc.n; j++ {
				pages = append(pages, float64(j)*tc.step)
			}
			got = c.cuts(tc.cursor, per, pages)
		}
		if ok != (tc.want != nil) || !slices.Equal(got, tc.want) {
			t.Errorf("cuts after (%q, %q), step %v, n %d = %q, %v; want %q", tc.prev, tc.cursor, tc.step, tc.n, got, ok, tc.want)
		}
	}
}

// TestCounterOf checks which pairs of names step a counter: decimal runs
// of 3 digits or more, after a word even when it ends in a letter a-f, but
// not digits inside a hash.
func TestCounterOf(t *testing.T) {
	for _, tc := range []struct {
		prev, cursor string
		at, width    int // at < 0: not a counter
	}{
		{"d/part-01999-a.parquet", "d/part-02999-b.parquet", 7, 5},
		{"d000/f00975", "d000/f01000", 6, 5},
		{"shoot/image0975.jpg", "shoot/image1000.jpg", 11, 4},
		{"abc00975", "abc01000", 3, 5},
		{"x/3fa9c012", "x/3fa9c057", -1, 0}, // a hash's digits after its letters
		{"x/9c012", "x/9c057", -1, 0},
		{"x/ab012f", "x/ab057f", -1, 0}, // a hex letter after the digits
		{"x/f07", "x/f09", -1, 0},       // too short to tell
	} {
		c, ok := counterOf(tc.prev, tc.cursor)
		if ok != (tc.at >= 0) || ok && (c.at != tc.at || c.width != tc.width) {
			t.Errorf("counterOf(%q, %q) = %+v, %v; want at %d width %d", tc.prev, tc.cursor, c, ok, tc.at, tc.width)
		}
	}
}

// TestCounterBound checks where a cut string falls on a counter: the
// bound of a range cut inside a folder of numbered names.
func TestCounterBound(t *testing.T) {
	c, ok := counterOf("d/part-01999-a.parquet", "d/part-02999-b.parquet")
	if !ok || c.at != len("d/part-") || c.width != 5 || c.prev != 1999 || c.cur != 2999 {
		t.Fatalf("counterOf = %+v, %v", c, ok)
	}
	tests := []struct {
		bound string
		want  float64
		ok    bool
	}{
		{"d/part-04133", 4133, true},
		{"d/part-04133-f.parquet", 4133, true},
		{"d/part-06", 6000, true},            // before every part-06xxx
		{"d/part-66r27b0dp0cu", 67000, true}, // past every part-66xxx (an old byte cut)
		{"d/part-0-", 0, true},               // '-' sorts before the digits
		{"d/part-", 0, true},
		{"d/part", 0, false}, // shorter than the text before the counter
		{"e/part-04133", 0, false},
		{"d/zzz", 0, false},
	}
	for _, tc := range tests {
		got, ok := c.bound(tc.bound, "d/part-02999-b.parquet")
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("bound(%q) = %v, %v; want %v, %v", tc.bound, got, ok, tc.want, tc.ok)
		}
	}
}

// TestNumberedPiece checks a range cut inside a flat folder of numbered
// names (a piece of a spike day): its remaining pages are counted on the
// counter, and it is cut there, not by the names' bytes. Over the bytes,
// with the letters of hashes and extensions in the alphabet, the 45 pages
// left below read as 130, and the cuts fell between part-66999 and
// part-67000 ("part-66r27b0dp0cu").
func TestNumberedPiece(t *testing.T) {
	const day = "year=2024/month=07/day=15/"
	part := func(i int) string { return fmt.Sprintf("%spart-%05d-0edc7a22.parquet", day, i) }
	l := testLister()
	for i := 42929; i < 45000; i += 7 {
		l.learn(part(i))
	}
	r := &krange{start: day + "part-42929", first: part(42929), prev: part(43928), cursor: part(44928),
		hi: day + "part-89627", seen: 2000, pages: 2, leafKeys: 2000}
	est, trusted, sp := l.measure(r, l.alphabet())
	if math.Abs(est-44.699) > 0.01 || !trusted || sp == nil || sp.dense != est {
		t.Fatalf("measure = %v, %v, %+v; want 44.7 pages on the counter, trusted", est, trusted, sp)
	}
	points := l.splitPoints(r, 3, sp)
	want := []string{day + "part-59595", day + "part-74262"} // 44 928 + 14.9 and 29.8 pages of 1 000, less 1/64
	if !slices.Equal(points, want) {
		t.Fatalf("cuts %q, want %q", points, want)
	}
	// Bounded past the folder, the range's top is the month: folder
	// positions (and denseLeaf) measure it, not the counter.
	r.hi = "year=2024/month=07/day=16/"
	r.est = estCache{}
	if _, _, sp := l.measure(r, l.alphabet()); sp != nil && sp.dense == 0 {
		t.Fatalf("a range bounded past the folder measured on folder positions: %+v", sp)
	}
}

// TestNumberedFromFirst checks that a piece whose start is not a name of
// the counter's width (a cut interpolated over bytes, part-2b997q2) still
// finds the counter, from its first key, and gallops on it.
func TestNumberedFromFirst(t *testing.T) {
	part := func(i int) string { return fmt.Sprintf("part-%05d-3f1c2a9e-c000.snappy.parquet", i) }
	r := &krange{start: "part-2b997q2", first: part(30000), prev: "part-2b997q2", cursor: part(30999), seen: 1000, pages: 1, open: true}
	c, per, ok := numbered(r, false)
	if !ok || c.cur != 30999 || per != 1000 {
		t.Fatalf("numbered = %+v, %v, %v; want the counter at 30999, 1000 a page", c, per, ok)
	}
	l := testLister()
	for i := 30000; i < 31000; i += 7 {
		l.learn(part(i))
	}
	got := l.splitPoints(r, 4, nil)
	want := []string{"part-32968", "part-38874", "part-62499"} // 2, 8 and 32 pages on, less 1/64 (see gallopRatio)
	if !slices.Equal(got, want) {
		t.Fatalf("gallop %q, want %q", got, want)
	}
}

// TestEstimateCache checks that a range's cached estimate follows every
// change it depends on: a page listed, a probe started or finished, the
// range's bound moved, the alphabet grown. Each step must give what a fresh
// computation gives, and the steps marked change must move the estimate.
func TestEstimateCache(t *testing.T) {
	month := func(m int) string { return fmt.Sprintf("year=2022/month=%02d/", m) }
	l := testLister()
	l.cond = sync.NewCond(&l.mu)
	probeDir(l, "", "year=2022/", "year=2023/")
	var months []string
	for m := 1; m <= 12; m++ {
		months = append(months, month(m))
	}
	probeDir(l, "year=2022/", months...)
	r := &krange{first: month(1) + "day=01/a", cursor: month(3) + "day=01/x", open: true, pages: 3, seen: 3000, active: true}
	l.ranges = []*krange{r}
	for _, k := range []string{r.first, r.cursor} {
		l.learn(k)
	}
	steps := []struct {
		name   string
		do     func()
		change bool
	}{
		{"first estimate", func() {}, false},
		{"nothing changed", func() {}, false},
		{"a page listed", func() { r.cursor, r.pages, r.seen = month(6)+"day=01/x", 4, 4000 }, true},
		{"a probe started", func() { l.dirs[month(6)] = &dirInfo{probing: true}; l.gen++ }, false},
		{"the cursor's folder probed", func() {
			var days []string
			for d := 1; d <= 30; d++ {
				days = append(days, fmt.Sprintf("%sday=%02d/", month(6), d))
			}
			l.probed(month(6), &dirInfo{folders: days})
		}, true},
		{"the bound lowered by a split", func() { l.apply(r, []string{month(9)}) }, true},
		{"the alphabet grew", func() { l.learn(month(6) + "day=01/~") }, false},
	}
	prev := -2.0
	for _, st := range steps {
		st.do()
		alpha := l.alphabet()
		got, gotTrusted, _ := l.estimate(r, alpha)
		want, wantTrusted, _ := l.measure(r, alpha)
		if got != want || gotTrusted != wantTrusted {
			t.Fatalf("%s: estimate = %v (trusted %v), a fresh one = %v (%v)", st.name, got, gotTrusted, want, wantTrusted)
		}
		if st.change && got == prev {
			t.Fatalf("%s: estimate stayed %v", st.name, got)
		}
		prev = got
	}
}

// TestTrailingCut checks that names after the listing directory's last
// folder (loose files sorting after every folder, as in the skewed
// layout) get a range of their own when an open range is split along
// folders, and only then.
func TestTrailingCut(t *testing.T) {
	folders := []string{"hot/", "p00/", "p01/"}
	tests := []struct {
		name  string
		probe *dirInfo // the root's probe (nil: none)
		want  string   // trailing("")
	}{
		{"files after the last folder", &dirInfo{folders: folders, first: "hot/", last: "top-000948.json", upto: "top-000948.json"}, "p01/" + maxRune},
		{"the last folder is the last name", &dirInfo{folders: folders, first: "a.txt", last: "p01/"}, ""},
		{"flat directory", &dirInfo{first: "a", last: "z"}, ""},
		{"not probed", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			if tc.probe != nil {
				l.dirs[""] = &dirInfo{probing: true}
				l.probed("", tc.probe)
			}
			if got := l.trailing(""); got != tc.want {
				t.Fatalf("trailing = %q, want %q", got, tc.want)
			}
		})
	}

	splits := []struct {
		name      string
		open      bool
		cursor    string
		wantTrail bool
	}{
		{"open range in the first folder", true, "hot/8000", true},
		{"open range past the folders", true, "top-000999.json", false},
		{"closed range", false, "hot/8000", false},
	}
	for _, tc := range splits {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.dirs[""] = &dirInfo{probing: true}
			l.probed("", &dirInfo{folders: folders, first: "hot/", last: "top-000948.json", upto: "top-000948.json"})
			for _, k := range []string{"hot/0000", "hot/ffff", "p00/x", "top-000948.json"} {
				l.learn(k)
			}
			v := &krange{first: "hot/0000", cursor: tc.cursor, open: tc.open}
			if !tc.open {
				v.hi = "p01/"
			}
			points := l.splitPoints(v, 3, &span{dir: "", pc: 0.5, ph: 3})
			if !slices.IsSorted(points) || len(slices.Compact(slices.Clone(points))) != len(points) {
				t.Fatalf("cuts %q are not strictly increasing", points)
			}
			for _, p := range points {
				if p <= v.cursor || !v.open && p >= v.hi {
					t.Fatalf("cut %q outside the range (%q, %q]", p, v.cursor, v.hi)
				}
			}
			if got := slices.Contains(points, "p01/"+maxRune); got != tc.wantTrail {
				t.Fatalf("cuts %q: trailing cut present = %v, want %v", points, got, tc.wantTrail)
			}
		})
	}
}

// TestNeedDir: when a range worth splitting finds no cut because the rest
// of it lies in one folder nobody probed, the folder to probe is that one
// (the shallowest unknown folder on the cursor's path), not the known
// folder of the span's directory holding it, and it is probed however
// small its level's folders are on average: before, a 10 M-key deep
// listing ended with two such ranges listed page by page for ~15 round
// trips while 62 workers waited.
func TestNeedDir(t *testing.T) {
	newLister := func() *lister {
		l := testLister()
		probeDir(l, "", "org-0/")
		probeDir(l, "org-0/", "org-0/t0/", "org-0/t1/", "org-0/t2/")
		probeDir(l, "org-0/t0/", "org-0/t0/p0/", "org-0/t0/p1/")
		probeDir(l, "org-0/t1/", "org-0/t1/p0/", "org-0/t1/p1/")
		for _, k := range []string{"org-0/t0/p0/r0/f-000.bin", "org-0/t1/p1/r9/f-999.bin"} {
			l.learn(k)
		}
		return l
	}
	folders := []struct {
		name, key, dir, want string
	}{
		{"unknown project", "org-0/t1/p1/r3/f-001.bin", "org-0/", "org-0/t1/p1/"},
		{"from the root", "org-0/t1/p1/r3/f-001.bin", "", "org-0/t1/p1/"},
		{"team assumed from its probed siblings", "org-0/t2/p0/f", "org-0/", "org-0/t2/p0/"},
		{"key directly in dir", "org-0/file", "org-0/", ""},
	}
	for _, tc := range folders {
		t.Run(tc.name, func(t *testing.T) {
			if got := newLister().unknownFolder(tc.key, tc.dir); got != tc.want {
				t.Fatalf("unknownFolder(%q, %q) = %q, want %q", tc.key, tc.dir, got, tc.want)
			}
		})
	}

	l := newLister()
	l.planned = 10 // a few pages over many folders: every project is "small"
	if !l.small("org-0/t1/p1/") {
		t.Fatal("setup: org-0/t1/p1/ should count as small")
	}
	v := &krange{first: "org-0/t0/p0/r0/f-000.bin", cursor: "org-0/t1/p1/r3/f-001.bin", hi: "org-0/t2/",
		pages: 3, seen: 3000, active: true}
	l.ranges = []*krange{v}
	alpha := l.alphabet()
	pc, ok1 := l.hpos(v.cursor, "org-0/", alpha, 0)
	ph, ok2 := l.hpos(v.hi, "org-0/", alpha, 0)
	if !ok1 || !ok2 {
		t.Fatal("setup: positions unknown")
	}
	if points := l.splitPoints(v, 4, &span{dir: "org-0/", pc: pc, ph: ph}); len(points) != 0 {
		t.Fatalf("cuts %q inside a folder of unknown shape", points)
	}
	if v.needDir != "org-0/t1/p1/" {
		t.Fatalf("needDir = %q, want org-0/t1/p1/", v.needDir)
	}
	if dir, ok := l.neededProbe(); !ok || dir != "org-0/t1/p1/" {
		t.Fatalf("neededProbe = %q, %v; want org-0/t1/p1/, true", dir, ok)
	}
}

// TestRoot checks the directory an open range is measured from: down
// through folders that were their directory's only entry, and no further
// than a complete probe shows.
func TestRoot(t *testing.T) {
	only := func(l *lister, dir, folder string) {
		l.dirs[dir] = &dirInfo{probing: true}
		l.probed(dir, &dirInfo{folders: []string{folder}, first: folder, last: folder})
	}
	tests := []struct {
		name  string
		setup func(*lister)
		want  string
	}{
		{"nothing probed", func(*lister) {}, ""},
		{"one folder chain", func(l *lister) {
			only(l, "", "datasets/")
			only(l, "datasets/", "datasets/raw/")
		}, "datasets/raw/"},
		{"two folders", func(l *lister) { probeDir(l, "", "a/", "b/") }, ""},
		{"a loose name beside the folder", func(l *lister) {
			l.dirs[""] = &dirInfo{probing: true}
			l.probed("", &dirInfo{folders: []string{"a/"}, first: "a/", last: "readme.txt"})
		}, ""},
		{"truncated probe", func(l *lister) {
			l.dirs[""] = &dirInfo{probing: true}
			l.probed("", &dirInfo{folders: []string{"a/"}, first: "a/", last: "a/", upto: "a/"})
		}, ""},
		{"probe in flight below", func(l *lister) {
			only(l, "", "a/")
			l.dirs["a/"] = &dirInfo{probing: true}
		}, "a/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			tc.setup(l)
			if got := l.root(); got != tc.want {
				t.Fatalf("root = %q, want %q", got, tc.want)
			}
			r := &krange{open: true, cursor: tc.want + "x"}
			if got := l.topDir(r); got != tc.want {
				t.Fatalf("topDir of an open range = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStuckRanges checks ranges folder positions cannot place and no
// probe will: past a truncated probe of their directory, or inside a
// folder whose own probe was truncated. They are measured on a counter
// their names share across folders (shards/NNNNNN/), galloping when open
// and cut evenly when bounded, where they used to wait for ever: 10 000
// shard folders, of which the probe saw 1 000, were listed serially.
func TestStuckRanges(t *testing.T) {
	shard := func(i, f int) string { return fmt.Sprintf("shards/%06d/%03d.bin", i, f) }
	folders := func(n int) []string {
		var f []string
		for i := 0; i < n; i++ {
			f = append(f, fmt.Sprintf("shards/%06d/", i))
		}
		return f
	}
	setup := func() *lister {
		l := testLister()
		l.dirs[""] = &dirInfo{probing: true}
		l.probed("", &dirInfo{folders: []string{"shards/"}, first: "shards/", last: "shards/"})
		f := folders(1000)
		l.dirs["shards/"] = &dirInfo{probing: true}
		l.probed("shards/", &dirInfo{folders: f, first: f[0], last: f[999], upto: f[999]})
		return l
	}
	t.Run("open past the probe", func(t *testing.T) {
		l := setup()
		r := &krange{start: "shards/001000", first: shard(1000, 0), prev: shard(1049, 19), cursor: shard(1099, 19), seen: 2000, pages: 2, open: true}
		est, trusted, sp := l.measure(r, l.alphabet())
		if !math.IsInf(est, 1) || trusted || sp == nil || !sp.across {
			t.Fatalf("measure = %v, %v, %+v; want +Inf untrusted, galloping on the counter", est, trusted, sp)
		}
		got := l.splitPoints(r, 4, sp)
		want := []string{"shards/001197", "shards/001493", "shards/002674"} // 2, 8, 32 pages of 50 folders, less 1/64
		if !slices.Equal(got, want) {
			t.Fatalf("cuts %q, want %q", got, want)
		}
	})
	t.Run("bounded past the probe", func(t *testing.T) {
		l := setup()
		r := &krange{start: "shards/001000", first: shard(1000, 0), prev: shard(1049, 19), cursor: shard(1099, 19), hi: "shards/002100", seen: 2000, pages: 2}
		est, trusted, sp := l.measure(r, l.alphabet())
		if math.Abs(est-20.02) > 0.001 || !trusted || sp == nil || !sp.across || sp.dense != est {
			t.Fatalf("measure = %v, %v, %+v; want (2100-1099)/50 pages on the counter, trusted", est, trusted, sp)
		}
		got := l.splitPoints(r, 2, sp)
		if want := []string{"shards/001592"}; !slices.Equal(got, want) {
			t.Fatalf("cuts %q, want %q", got, want)
		}
	})
	t.Run("inside a folder whose probe was truncated", func(t *testing.T) {
		l := testLister()
		probeDir(l, "", "logs/", "shards/")
		f := folders(1000)
		l.dirs["shards/"] = &dirInfo{probing: true}
		l.probed("shards/", &dirInfo{folders: f, first: f[0], last: f[999], upto: f[999]})
		r := &krange{start: "shards/", first: shard(0, 0), prev: shard(49, 19), cursor: shard(99, 19), seen: 2000, pages: 2, open: true}
		if _, _, sp := l.measure(r, l.alphabet()); sp == nil || !sp.across {
			t.Fatalf("measure's span %+v, want the counter across folders", sp)
		}
		// Waiting, not stuck, while the folder's own probe is unknown.
		delete(l.dirs, "shards/")
		l.gen++
		if est, _, _ := l.measure(r, l.alphabet()); est != -1 {
			t.Fatalf("measure = %v before the folder's probe, want -1 (wait for it)", est)
		}
	})
}

// TestHashLike checks which alphabets of a truncated probe's names are
// taken for hashes, whose first names are a fair sample of the rest.
func TestHashLike(t *testing.T) {
	tests := []struct {
		names  string
		shared string
		want   bool
	}{
		{"0123456789abcdef", "", true},
		{"3f2a9c1e-77b1-4c1e-9a0d-5e2f1b7c8d90", "", true}, // a UUID
		{"0123456789", "", false},                          // a sequence more likely
		{"0123456789.json", "", false},
		{"0123456789abcdef/", "", false},
		{"0123456789abcdef/", "cas/", true}, // bytes of the text every name shares
		{"0123456789ABCDEF", "", false},
	}
	for _, tc := range tests {
		var seen [256]bool
		for i := 0; i < len(tc.names); i++ {
			seen[tc.names[i]] = true
		}
		alpha := setBytes(&seen)
		if got := hashLike(alpha, tc.shared); got != tc.want {
			t.Errorf("hashLike(%q, %q) = %v, want %v", alpha, tc.shared, got, tc.want)
		}
	}
}

// TestGallopRatio checks how far a gallop's cuts go: far enough that the
// last reaches the counter's end, no less than doubling and no more than
// four times as far each. Doubling over 8 pieces reached 256 pages, and a
// folder of 1 M unpadded numbers galloped three round trips in a row.
func TestGallopRatio(t *testing.T) {
	for _, tc := range []struct {
		name          string
		reach         float64
		pieces        int
		want          float64
		wantLastPages float64 // the last cut, in pages ahead (0: not checked)
	}{
		{"two pieces double", 1e6, 2, 2, 0},
		{"small reach doubles", 10, 8, 2, 0},
		{"reach under one cut", 1.5, 8, 2, 0},
		{"spans a 6-digit counter", 1000, 8, math.Pow(500, 1.0/6), 1000},
		{"capped at 4", 1e4, 8, 4, 2 * 4096},
		{"three pieces reach", 32, 3, 4, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := gallopRatio(tc.reach, tc.pieces)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("gallopRatio(%v, %d) = %v, want %v", tc.reach, tc.pieces, got, tc.want)
			}
			if tc.wantLastPages > 0 {
				if last := 2 * math.Pow(got, float64(tc.pieces-2)); math.Abs(last-tc.wantLastPages) > 1e-6 {
					t.Fatalf("last cut %v pages ahead, want %v", last, tc.wantLastPages)
				}
			}
		})
	}
}

// TestGallopSpansCounter checks a flat folder of unpadded numbers, open
// after its second page: the 8 pieces a second round trip may cut reach
// the end of the counter's width (data/999999), not 256 pages on.
func TestGallopSpansCounter(t *testing.T) {
	name := func(i int) string { return fmt.Sprintf("data/%d.json", i) }
	r := &krange{first: name(0), prev: name(100896), cursor: name(101796), seen: 2000, pages: 2, open: true}
	c, per, ok := numbered(r, false)
	if !ok || c.width != 6 || per != 900 {
		t.Fatalf("numbered = %+v, %v, %v; want a 6-digit counter, 900 a page", c, per, ok)
	}
	got := c.gallop(r.cursor, per, 8)
	if len(got) != 7 {
		t.Fatalf("gallop %q: want 7 cuts", got)
	}
	if !slices.IsSorted(got) || got[0] <= "data/101796" {
		t.Fatalf("gallop %q: cuts must be sorted, after the cursor", got)
	}
	if last := got[len(got)-1]; last < "data/900000" {
		t.Fatalf("last cut %q: want it near the counter's end, data/999999", last)
	}
}
