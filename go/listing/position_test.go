package listing

import (
	"fmt"
	"slices"
	"sort"
	"testing"
)

func TestPositionRoundTrip(t *testing.T) {
	alpha := scale{fallback: []byte("0123456789abcdef")}
	for _, tc := range []struct{ a, b string }{
		{"00", "ff"}, {"1234", "1299"}, {"a", "b"}, {"", "f"},
	} {
		pa, pb := position(tc.a, "", alpha), position(tc.b, "", alpha)
		if !(pa < pb) {
			t.Fatalf("position not monotonic for %q < %q: %v %v", tc.a, tc.b, pa, pb)
		}
		m := unposition((pa+pb)/2, "", alpha)
		if !(m > tc.a && m < tc.b) {
			t.Errorf("midpoint %q not inside (%q, %q)", m, tc.a, tc.b)
		}
	}
}

func TestGroupOf(t *testing.T) {
	for _, tc := range []struct {
		key, prefix string
		depth       int
		want        string
	}{
		{"data/a/x", "data/", 1, "data/a/"},
		{"data/a/b/x", "data/", 2, "data/a/b/"},
		{"data/a/x", "data/", 2, "data/a/"},
		{"data/z", "data/", 1, "data/"},
		{"hot/k", "", 1, "hot/"},
		{"top", "", 1, ""},
	} {
		if got := groupOf(tc.key, tc.prefix, tc.depth); got != tc.want {
			t.Errorf("groupOf(%q, %q, %d) = %q, want %q", tc.key, tc.prefix, tc.depth, got, tc.want)
		}
	}
}

func TestSeedPoints(t *testing.T) {
	for _, tc := range []struct {
		prefix string
		in     []string
		want   []string
	}{
		{"", nil, nil},
		{"", []string{"b", "a", "b", ""}, []string{"a", "b"}},
		{"data/", []string{"data/", "data/x", "dat", "data0", "zz", "data/b", "data/x"}, []string{"data/b", "data/x"}},
		{"p", []string{"q", "o"}, nil},
	} {
		got := seedPoints(tc.prefix, tc.in)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("seedPoints(%q, %q) = %q, want %q", tc.prefix, tc.in, got, tc.want)
		}
	}
}

// TestPositionFolderEnd: a folder's end (a text + maxRune, see folderEnd)
// sorts after every name with the text, so it sits at the text's
// successor and never beyond: positions stay in [0, 1] and in key order.
// Under a folder of hex names hot/ + maxRune read as 1.06 when maxRune's
// bytes were read as digits, past names that sort after it, and a range
// up to it could not be split.
func TestPositionFolderEnd(t *testing.T) {
	alpha := scale{fallback: []byte("0123456789abcdef")}
	tests := []struct {
		name string
		s    string
		want float64
	}{
		{"the folder's end", "hot/" + maxRune, 1},
		{"a subfolder's end: at hot/9", "hot/8" + maxRune, 10.0 / 17},
		{"the largest name in it: short of 1 by 17^-12", "hot/ffffffffffff", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := position(tc.s, "hot/", alpha)
			if got < tc.want-1e-9 || got > tc.want+1e-9 {
				t.Errorf("position(%q) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
	// In key order, folder ends among names.
	ordered := []string{"hot/0", "hot/7f", "hot/7" + maxRune, "hot/8", "hot/80", "hot/9", "hot/ffff", "hot/f" + maxRune, "hot/" + maxRune}
	for i := 1; i < len(ordered); i++ {
		a, b := position(ordered[i-1], "hot/", alpha), position(ordered[i], "hot/", alpha)
		if a > b {
			t.Errorf("position(%q) = %v > position(%q) = %v", ordered[i-1], a, ordered[i], b)
		}
	}
}

// TestHashScaleEvenCuts: even cuts of a hash scale's number line hold
// even shares of hash names, the scale's bytes being what hashNames finds
// in the first 1 000 names (a first page). With a digit for "end of name"
// in every column (names of one width never end there), the second
// column's empty slivers (1/289 of the line every 1/17) fell inside one
// piece in four: a root of hex names cut in 64 gave pieces of 0.80-1.06
// of a 64th of the keys, and the largest took a page more than the
// oracle's. A UUID's dash, read as a digit of every column, was another
// such sliver.
func TestHashScaleEvenCuts(t *testing.T) {
	const n, pieces = 200_000, 64
	hex := func(i int) string {
		return fmt.Sprintf("%016x%016x", mix(uint64(i)), mix(uint64(i)^0x9e3779b97f4a7c15))
	}
	uuid := func(i int) string {
		h := hex(i)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	for _, tc := range []struct {
		name         string
		base, prefix string // prefix: every name's
		gen          func(int) string
		ext          string
	}{
		{"a root of hex names", "", "", hex, ""},
		{"a folder of hex names", "hot/", "hot/", hex, ""},
		{"a folder of UUIDs with an extension", "blobs/", "blobs/", uuid, ".jpg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			names := make([]string, n)
			for i := range names {
				names[i] = tc.prefix + tc.gen(i) + tc.ext
			}
			slices.Sort(names)
			bytes := hashNames(names[:1000], tc.base)
			if bytes == nil {
				t.Fatalf("hashNames: not hashes")
			}
			alpha := hashScale(bytes)
			counts := make([]int, pieces)
			cuts := make([]string, pieces-1)
			for j := range cuts {
				cuts[j] = unposition(float64(j+1)/pieces, tc.base, alpha)
			}
			for _, name := range names {
				counts[sort.SearchStrings(cuts, name)]++
			}
			lo, hi := slices.Min(counts), slices.Max(counts)
			// Binomial noise alone: a 64th is 3 125 names, sd ~56.
			if float64(hi) > 1.1*float64(n)/pieces || float64(lo) < 0.9*float64(n)/pieces {
				t.Errorf("pieces hold %d to %d names, want within 10%% of %d (bytes %q)", lo, hi, n/pieces, bytes)
			}
		})
	}
}

// mix is the splitmix64 finaliser: distinct inputs, hash-like outputs.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
