package listing

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestStemOf(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"proj-07", "proj-"},
		{"year=2024", "year="},
		{"shard_0001", "shard_"},
		{"part-00001-1a2b.parquet", "part-"},
		{"run-", ""},   // nothing after the separator
		{"3fa9c0", ""}, // a hash: no word first
		{"hot", ""},    // no separator
		{"été-1", ""},  // non-ASCII letters are not a stem
		{"", ""},
	} {
		if got := stemOf(tc.name); got != tc.want {
			t.Errorf("stemOf(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestLearnStems: a stem is kept at a depth only when every name there
// has it, and only from a page of at least half MaxKeys keys.
func TestLearnStems(t *testing.T) {
	page := func(f func(i int) string) []Entry {
		var e []Entry
		for i := 0; i < MaxKeys; i++ {
			e = append(e, Entry{Key: f(i)})
		}
		return e
	}
	for _, tc := range []struct {
		name   string
		prefix string
		keys   []Entry
		want   []string
	}{
		{"deep", "", page(func(i int) string { return fmt.Sprintf("org-0/team-%02d/run-%d/file-%06d.bin", i/100, i/10%10, i) }),
			[]string{"org-", "team-", "run-", "file-", ""}},
		{"under-prefix", "data/", page(func(i int) string { return fmt.Sprintf("data/year=2024/month=%02d/part-%05d", i/100+1, i) }),
			[]string{"year=", "month=", "part-", ""}},
		{"mixed-stems", "", page(func(i int) string {
			if i%2 == 0 {
				return fmt.Sprintf("a-1/run-%d/x-%d", i, i)
			}
			return fmt.Sprintf("a-1/trial-%d/x-%d", i, i)
		}), []string{"a-", "", "x-", ""}},
		{"hashes", "", page(func(i int) string { return fmt.Sprintf("%08x/obj-%d", i*2654435761, i) }), []string{"", "obj-", ""}},
		{"short-page", "", page(func(i int) string { return "a-1/b-2" })[:MaxKeys/2-1], nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.prefix = tc.prefix
			l.learnStems(tc.keys)
			if !slices.Equal(l.stems, tc.want) {
				t.Errorf("stems %q, want %q", l.stems, tc.want)
			}
		})
	}
}

// TestParseStemProbe turns the common prefixes of a probe of t/ two
// levels down into t/'s folders weighted by what each holds, and records
// the folders below only when the answer holds them whole.
func TestParseStemProbe(t *testing.T) {
	cps := func(names ...string) []Entry {
		var e []Entry
		for _, n := range names {
			e = append(e, Entry{Key: n, IsDir: !strings.HasSuffix(n, ".txt")})
		}
		return e
	}
	for _, tc := range []struct {
		name      string
		entries   []Entry
		levels    int
		truncated bool
		fits      bool
		folders   []string
		cum       []float64 // nil: not weighed
		below     []string  // the other shapes returned, all light
		upto      string
	}{
		{"weighed", cps("t/a/r-1/s-", "t/a/r-2/s-", "t/a/r-3/s-", "t/b/r-1/s-", "t/x.txt"), 2, false, true,
			[]string{"t/a/", "t/b/"}, []float64{0, 1.5, 2}, []string{"t/a/", "t/b/"}, ""},
		{"a-file-in-a-folder-counts-one", cps("t/a/r-1/s-", "t/b/f.txt", "t/b/r-1/s-"), 2, false, true,
			[]string{"t/a/", "t/b/"}, []float64{0, 2.0 / 3, 2}, []string{"t/a/", "t/b/"}, ""},
		{"three-levels", cps("t/a/p-1/r-1/s-", "t/a/p-1/r-2/s-", "t/a/p-2/r-1/s-", "t/b/p-1/r-1/s-"), 3, false, true,
			[]string{"t/a/", "t/b/"}, []float64{0, 1.5, 2}, []string{"t/a/", "t/a/p-1/", "t/a/p-2/", "t/b/", "t/b/p-1/"}, ""},
		{"truncated", cps("t/a/r-1/s-", "t/a/r-2/s-", "t/b/r-1/s-"), 2, true, true,
			[]string{"t/a/", "t/b/"}, nil, []string{"t/a/"}, "t/b/r-1/s-"},
		{"keys-too-deep", cps("t/a/r-1/s-", "t/b/r-1/f.txt"), 2, false, false,
			[]string{"t/a/", "t/b/"}, []float64{0, 1, 2}, []string{"t/a/", "t/b/", "t/b/r-1/"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			infos, fits := parseStemProbe("t/", tc.levels, tc.entries, tc.truncated)
			if fits != tc.fits {
				t.Errorf("fits %v, want %v", fits, tc.fits)
			}
			d := infos["t/"]
			if d == nil {
				t.Fatal("no shape for the probed folder")
			}
			if !slices.Equal(d.folders, tc.folders) {
				t.Errorf("folders %q, want %q", d.folders, tc.folders)
			}
			if len(d.cum) != len(tc.cum) {
				t.Fatalf("cum %v, want %v", d.cum, tc.cum)
			}
			for i := range d.cum {
				if math.Abs(d.cum[i]-tc.cum[i]) > 1e-9 {
					t.Errorf("cum %v, want %v", d.cum, tc.cum)
				}
			}
			if d.upto != tc.upto {
				t.Errorf("upto %q, want %q", d.upto, tc.upto)
			}
			var below []string
			for k, info := range infos {
				if k == "t/" {
					continue
				}
				below = append(below, k)
				if last := strings.Count(k[len("t/"):], "/") >= tc.levels-1; info.light != last {
					t.Errorf("%s: light %v, want %v", k, info.light, last)
				}
			}
			sort.Strings(below)
			if !slices.Equal(below, tc.below) {
				t.Errorf("shapes below %q, want %q", below, tc.below)
			}
		})
	}
}

// TestWeighedPositions: with weights, hpos and unpos place keys by the
// work their folders hold, and stay each other's inverse.
func TestWeighedPositions(t *testing.T) {
	l := testLister()
	l.dirs["t/"] = &dirInfo{folders: []string{"t/a/", "t/b/", "t/c/"}, cum: []float64{0, 2, 2.5, 3}}
	alpha := l.alphabet()
	for _, tc := range []struct {
		key  string
		want float64
	}{
		{"t/a/", 0},
		{"t/b/", 2},
		{"t/b/" + maxRune, 2.5},
		{"t/c/", 2.5},
		{"t/a/x", 1}, // a folder of unknown shape: its middle
		{"t/c/x", 2.75},
	} {
		got, ok := l.hpos(tc.key, "t/", alpha, 0)
		if !ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("hpos(%q) = %v, %v; want %v", tc.key, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		u    float64
		want string
	}{
		{-1, "t/"},
		{0.4, "t/a/"}, // inside a's first half: its start
		{1.6, "t/b/"}, // a's second half: the next folder
		{2, "t/b/"},
		{2.6, "t/c/"},
		{3, ""},
	} {
		if got := l.unpos(tc.u, "t/", alpha, 0); got != tc.want {
			t.Errorf("unpos(%v) = %q, want %q", tc.u, got, tc.want)
		}
	}
	d := l.dirs["t/"]
	for _, u := range []float64{0, 0.5, 2, 2.2, 2.5, 2.9} {
		i, f := d.index(u)
		if back := d.at(i) + (d.at(i+1)-d.at(i))*f; math.Abs(back-u) > 1e-9 {
			t.Errorf("index(%v) = %d, %v: back to %v", u, i, f, back)
		}
	}
}

// TestSweepProbeCache: sweepProbe's cached answer follows every change it
// depends on (a probe started or finished, a folder recorded, the plan
// grown): after each step it must be what a fresh scan gives, and the
// steps that move the answer must move it.
func TestSweepProbeCache(t *testing.T) {
	l := testLister()
	l.unevenAt = map[int]bool{}
	l.stems = []string{"team-", "proj-", ""}
	l.planned = 100
	l.dirs[""] = &dirInfo{probing: true}
	l.probed("", &dirInfo{folders: []string{"team-0/", "team-1/", "team-2/"}, cum: []float64{0, 2, 2.1, 3}, uneven: true})
	steps := []struct {
		name string
		do   func()
		want string
	}{
		{"the heaviest team", func() {}, "team-0/"},
		{"asked again", func() {}, "team-0/"},
		{"its probe started", func() { l.dirs["team-0/"] = &dirInfo{probing: true}; l.gen++ }, "team-2/"},
		{"a light folder recorded below", func() { l.dirs["team-2/"] = &dirInfo{light: true} }, "team-2/"},
		{"team-2's probe started", func() { l.dirs["team-2/"] = &dirInfo{probing: true}; l.gen++ }, ""},
		{"the plan grew", func() { l.planned = 1000 }, "team-1/"},
	}
	for _, s := range steps {
		s.do()
		got, ok := l.sweepProbe()
		if got != s.want || ok != (s.want != "") {
			t.Fatalf("%s: sweepProbe = %q, %v; want %q", s.name, got, ok, s.want)
		}
		if fresh := l.sweepScan(); fresh != got {
			t.Fatalf("%s: cached %q, a fresh scan %q", s.name, got, fresh)
		}
	}
}
