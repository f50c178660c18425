package listing

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
)

// TestListPrefix checks the prefix a range's next page is listed under:
// the text its cursor and end share, never less than the listing's
// prefix, never ending inside a character, and the listing's own for
// open ranges and in Delimiter mode.
func TestListPrefix(t *testing.T) {
	for _, tc := range []struct {
		name, prefix, cursor, hi string
		open                     bool
		delim                    string
		want                     string
	}{
		{"one folder", "", "d/a/part-1", "d/a/" + maxRune, false, "", "d/a/"},
		{"folder names sharing text", "", "d/a1/x", "d/a2/", false, "", "d/a"},
		{"not yet listed", "", "d/a/" + maxRune, "d/c/" + maxRune, false, "", "d/"},
		{"nothing shared past the prefix", "d/", "d/a/x", "d/b/", false, "", "d/"},
		{"shorter than the prefix", "data/", "data/", "data/x", false, "", "data/"},
		{"open range", "", "d/a/x", "", true, "", ""},
		{"open range under a prefix", "p/", "p/a/x", "", true, "", "p/"},
		{"delimiter mode", "", "d/a/x", "d/a/z", false, "/", ""},
		// é is C3 A9 and è C3 A8: the shared byte alone is half a character.
		{"inside a character", "", "u/été", "u/èze", false, "", "u/"},
		{"after a character", "", "u/été-1", "u/été-9", false, "", "u/été-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &lister{prefix: tc.prefix, opt: Options{Delimiter: tc.delim}}
			r := &krange{cursor: tc.cursor, hi: tc.hi, open: tc.open}
			if got := l.listPrefix(r); got != tc.want {
				t.Fatalf("listPrefix(%q, %q) = %q, want %q", tc.cursor, tc.hi, got, tc.want)
			}
		})
	}
}

// TestFolderEnd checks where a cut at a folder moves: to the end of the
// folder before it, known from its directory's probe.
func TestFolderEnd(t *testing.T) {
	l := &lister{prefix: "", dirs: map[string]*dirInfo{
		"d/":      {folders: []string{"d/a/", "d/b/", "d/c/"}},
		"p/":      {probing: true},
		"d/a/":    {first: "d/a/1", last: "d/a/9"},
		"flat/x/": {},
	}, shapes: map[string]*dirInfo{}, sibling: map[string]string{}}
	for _, tc := range []struct{ cut, want string }{
		{"d/b/", "d/a/" + maxRune},
		{"d/c/", "d/b/" + maxRune},
		{"d/a/", ""},      // the first folder: what comes before it is not known
		{"d/bb/", ""},     // not a folder the probe saw
		{"d/b/x", ""},     // not a folder
		{"p/q/", ""},      // its directory's probe is in flight
		{"z/a/", ""},      // its directory was never probed
		{"flat/x/y/", ""}, // probed and held no folders
	} {
		if got := l.folderEnd(tc.cut); got != tc.want {
			t.Errorf("folderEnd(%q) = %q, want %q", tc.cut, got, tc.want)
		}
	}
}

// TestApplyFolderEnds checks that a split at folders cuts at the ends of
// the folders before them, and that each range still knows the folder it
// begins with and, for estimates, the folder its end stands for.
func TestApplyFolderEnds(t *testing.T) {
	l := &lister{prefix: "", dirs: map[string]*dirInfo{
		"d/": {folders: []string{"d/a/", "d/b/", "d/c/", "d/e/"}},
	}, shapes: map[string]*dirInfo{}, sibling: map[string]string{}}
	l.cond = sync.NewCond(&l.mu)
	v := &krange{start: "", cursor: "d/a/0005", open: true}
	l.ranges = []*krange{v}
	l.apply(v, []string{"d/b/", "d/c/x", "d/e/"})
	var got []string
	for _, r := range l.ranges {
		got = append(got, fmt.Sprintf("(%q %q] folder %q hiFolder %q", r.start, r.hi, r.folder, r.hiFolder))
	}
	want := []string{
		fmt.Sprintf("(%q %q] folder %q hiFolder %q", "", "d/a/"+maxRune, "", "d/b/"),
		fmt.Sprintf("(%q %q] folder %q hiFolder %q", "d/a/"+maxRune, "d/c/x", "d/b/", ""),
		fmt.Sprintf("(%q %q] folder %q hiFolder %q", "d/c/x", "d/c/"+maxRune, "", "d/e/"),
		fmt.Sprintf("(%q %q] folder %q hiFolder %q", "d/c/"+maxRune, "", "d/e/", ""),
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ranges\n%q\nwant\n%q", got, want)
	}
	if b := l.ranges[0].bound(); b != "d/b/" {
		t.Errorf("bound() = %q, want the folder the end stands for", b)
	}
	if b := l.ranges[1].bound(); b != "d/c/x" {
		t.Errorf("bound() = %q, want hi", b)
	}
}

// TestLastPageKeys checks the keys a range's last page asks for in a
// folder of hashes: the rest at the density the range listed, with a
// margin; a full page elsewhere.
func TestLastPageKeys(t *testing.T) {
	hexa := []byte("0123456789abcdef")
	// 4096 keys seen between h/000 and h/100: 16 keys per 001.
	r := func(hi string, open bool) *krange {
		return &krange{first: "h/000", cursor: "h/100", seen: 4097, hi: hi, open: open, leafHashes: hexa}
	}
	margin := func(est float64) int { return int(math.Ceil(est + 4*math.Sqrt(est) + 20)) }
	for _, tc := range []struct {
		name  string
		r     *krange
		delim string
		want  int
	}{
		{"rest in the folder", r("h/120", false), "", margin(32 * 16)},
		{"to the folder's end", r("h/"+maxRune, false), "", MaxKeys}, // 3840 keys left
		{"near the folder's end", &krange{first: "h/e00", cursor: "h/ff0", seen: 496*16 + 1, hi: "h/" + maxRune, leafHashes: hexa}, "", margin(16 * 16)},
		{"open range", r("", true), "", MaxKeys},
		{"end past the folder", r("i/", false), "", MaxKeys},
		{"names not hashes", &krange{first: "h/000", cursor: "h/100", seen: 4097, hi: "h/120"}, "", MaxKeys},
		{"less than a page listed", &krange{first: "h/000", cursor: "h/100", seen: 500, hi: "h/120", leafHashes: hexa}, "", MaxKeys},
		{"delimiter mode", r("h/120", false), "/", MaxKeys},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &lister{prefix: "", opt: Options{Delimiter: tc.delim}, dirs: map[string]*dirInfo{}}
			if got := l.lastPageKeys(tc.r); got != tc.want {
				t.Fatalf("lastPageKeys = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestHashScalePositions checks positions on a hash scale, as
// lastPageKeys reads them: evenly spread digits, with no room for the end
// of a name, and the folder's end at 1.
func TestHashScalePositions(t *testing.T) {
	hexa := hashScale([]byte("0123456789abcdef"))
	for _, tc := range []struct {
		s    string
		want float64
	}{
		{"h/", 0},
		{"h/0", 0},
		{"h/8", 0.5},
		{"h/80", 0.5},
		{"h/f8", 15.5 / 16},
		{"h/" + maxRune, 1},
		{"h/f" + maxRune, 1},
	} {
		if got := position(tc.s, "h/", hexa); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("position(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
	// UUIDs: hashNames leaves their dashes, at the same places in every
	// name, out of the alphabet; read as its lowest digit in every name,
	// they do not part names either side of a first digit's change by
	// more than the same step anywhere else, at any extent a page spans.
	names := []string{"u/3fa85f64-5717-4562-b3fc-2c963f66afa6", "u/9c858901-8a57-4791-81fe-4c455b099bc9",
		"u/c9bf9e57-1685-4c89-bafb-ff5af830be8a", "u/0b7e5c2d-e43a-4d27-9b0c-7f3a1e2d4c5b"}
	alpha := hashNames(names, "u/")
	if alpha == nil || slices.Contains(alpha, '-') {
		t.Fatalf("hashNames(UUIDs) = %q, want hex digits without the dash", alpha)
	}
	uuid := hashScale(alpha)
	step := func(a, b string) float64 { return position(b, "u/", uuid) - position(a, "u/", uuid) }
	across, within := step("u/3fffffff-ffff", "u/40000000-0000"), step("u/30000000-0000", "u/30000000-0001")
	if math.Abs(across-within) > 1e-9 {
		t.Errorf("a step across a first digit's change is %g, within one %g", across, within)
	}
	if got := position("u/80000000-0000", "u/", uuid); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("position(u/80000000-0000) = %v, want 0.5", got)
	}
}

// TestApplyMergesEnds: a point that moves to the end of the folder (or
// group) before it, when the point before is already that end (a folder
// of hashes' end, see splitPoints), is the same cut and makes no range:
// kept, the range between held no key and cost a request that listed a
// page of the next range's names only to drop them.
func TestApplyMergesEnds(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cursor string
		points []string
		want   []string // each range as (start hi] folder hiFolder
	}{
		{"group", "img/a_0042", []string{"img/a_" + maxRune, "img/b_", "img/c_"}, []string{
			fmt.Sprintf("(%q %q] %q %q", "", "img/a_"+maxRune, "", ""),
			fmt.Sprintf("(%q %q] %q %q", "img/a_"+maxRune, "img/b_"+maxRune, "", ""),
			fmt.Sprintf("(%q %q] %q %q", "img/b_"+maxRune, "", "", ""),
		}},
		{"folder", "d/a/0005", []string{"d/a/" + maxRune, "d/b/", "d/e/"}, []string{
			fmt.Sprintf("(%q %q] %q %q", "", "d/a/"+maxRune, "", "d/b/"),
			fmt.Sprintf("(%q %q] %q %q", "d/a/"+maxRune, "d/c/"+maxRune, "d/b/", "d/e/"),
			fmt.Sprintf("(%q %q] %q %q", "d/c/"+maxRune, "", "d/e/", ""),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.cond = sync.NewCond(&l.mu)
			l.dirs["d/"] = &dirInfo{folders: []string{"d/a/", "d/b/", "d/c/", "d/e/"}}
			l.groupSets["img/"] = &groupSet{groups: []string{"img/a_", "img/b_", "img/c_"}}
			v := &krange{cursor: tc.cursor, open: true}
			l.ranges = []*krange{v}
			l.apply(v, tc.points)
			var got []string
			for _, r := range l.ranges {
				got = append(got, fmt.Sprintf("(%q %q] %q %q", r.start, r.hi, r.folder, r.hiFolder))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("ranges\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
