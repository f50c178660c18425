package listing

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// stamp is the i-th name of a folder of ISO timestamps 1.5 s apart
// (events/2024-01-01T00:00:00.000Z-000000.json, ...).
func stamp(i int) string {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 1500 * time.Millisecond)
	return fmt.Sprintf("events/%s-%06x.json", t.Format("2006-01-02T15:04:05.000Z"), i*7919%(1<<24))
}

// TestColumns checks which columns' alphabets are known after some names
// (those after a byte where a name differs from the one listed before it
// or from the first one seen in its directory, in the same path segment),
// with the bytes seen there, and whether a name may end there.
func TestColumns(t *testing.T) {
	var hours, hexes, mixed, unpadded []string
	for i := 0; i < 2*2400; i += 7 { // two hours of timestamps
		hours = append(hours, stamp(i))
	}
	for i := 0; i < 4096; i += 3 { // hot/000..hot/fff, sorted
		hexes = append(hexes, fmt.Sprintf("hot/%03x", i))
	}
	mixed = append(mixed, "hot/3fa9", "p00/obj-000001.dat", "p01/obj-000002.dat")
	for i := 1; i < 300; i += 3 { // file-1.txt ... file-298.txt, sorted as strings
		unpadded = append(unpadded, fmt.Sprintf("logs/file-%d.txt", i))
	}
	slices.Sort(unpadded)
	days := []string{stamp(0), stamp(3 * 57600)} // listed by two ranges: no prev
	for _, tc := range []struct {
		name       string
		keys       []string
		apart      bool // learnt without prev, as by different ranges
		depth, col int
		want       string // "" for unknown
		end        bool   // a name may end there
	}{
		{"minutes' tens", hours, false, 1, 14, "012345", false},
		{"minutes' units", hours, false, 1, 15, "0123456789", false},
		{"the separator after the hour", hours, false, 1, 13, ":", false},
		{"hours' units: the first byte that varied", hours, false, 1, 12, "", false},
		{"the year", hours, false, 1, 0, "", false},
		{"the folder", hours, false, 0, 0, "", false},
		{"a hash's first digit", hexes, false, 1, 0, "", false},
		{"a hash's second digit", hexes, false, 1, 1, "0123456789abcdef", false},
		{"names of other folders", mixed, false, 1, 1, "", false},
		{"'T' after another range's day", days, true, 1, 10, "T", false},
		{"the day, before it", days, true, 1, 9, "", false},
		{"a folder's names after the folder changed", []string{"day=01/part-00098", "day=01/part-00099", "day=02/part-00000"}, false, 1, 7, "", false},
		{"a name of one width ends past the column", hexes, false, 1, 2, "0123456789abcdef", false},
		{"unpadded numbers' third digit", unpadded, false, 1, 7, ".0123456789t", false},
		{"where some names end", unpadded, false, 1, 10, "tx", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c columns
			for i, k := range tc.keys {
				prev := ""
				if i > 0 && !tc.apart {
					prev = tc.keys[i-1]
				}
				c.learn(prev, k)
			}
			a := c.list[tc.depth*colWidth+tc.col]
			if got := string(a.bytes); got != tc.want {
				t.Errorf("column %d at depth %d: %q, want %q", tc.col, tc.depth, got, tc.want)
			}
			if a.end != tc.end {
				t.Errorf("column %d at depth %d: a name may end there: %v, want %v", tc.col, tc.depth, a.end, tc.end)
			}
		})
	}
}

// TestTimestampRanges checks ranges over a folder of ISO timestamps, whose
// names use ~27 bytes though most columns use a few: a bounded range is
// estimated near its size, and an open one gallops from its cursor.
// Over one alphabet of every byte, a range of 39 pages read as ~20 000 and
// one of 78 (its first page crossing midnight) as one; and an open range
// found no cut until its hour's second digit changed, 24 pages on.
func TestTimestampRanges(t *testing.T) {
	l := testLister()
	for i := 7; i < 3*57600; i += 7 { // three days, sampled as listRange does
		l.learnAfter(stamp(i-7), stamp(i))
	}
	day := 57600 // names a day
	for _, tc := range []struct {
		name              string
		first, pages, end int // name numbers; the range has listed pages
	}{
		{"a day and a half", 2400, 2, 2400 + 39000},
		{"from before midnight", day - 300, 2, 2*day + 8*2400},
		{"inside an hour", 2*day + 100, 1, 2*day + 2300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cursor := tc.first + tc.pages*MaxKeys - 1
			r := &krange{first: stamp(tc.first), prev: stamp(cursor - MaxKeys), cursor: stamp(cursor), hi: stamp(tc.end),
				pages: tc.pages, seen: int64(tc.pages * MaxKeys)}
			est, trusted, _ := l.measure(r, l.alphabet())
			want := float64(tc.end-cursor) / MaxKeys
			t.Logf("estimate %.1f pages, %.1f left", est, want)
			if !trusted || est < want/2 || est > want*3 {
				t.Errorf("estimate %.1f pages (trusted %v), want %.1f within 1/2-3x", est, trusted, want)
			}
		})
	}
	l.dirs["events/"] = &dirInfo{upto: stamp(999), first: stamp(0), last: stamp(999), alpha: []byte("-.0123456789:TZabcdefjnos")}
	v := &krange{open: true, first: stamp(0), prev: stamp(999), cursor: stamp(1999), pages: 2, seen: 2000}
	points := l.splitPoints(v, 4, nil)
	if len(points) == 0 {
		t.Fatalf("an open range in a folder of timestamps got no cuts")
	}
	for i, p := range points {
		if p <= v.cursor || !strings.HasPrefix(p, "events/2024-01-01T") || i > 0 && p <= points[i-1] {
			t.Errorf("cut %d %q: not after the cursor %q, in order, on its day", i, p, v.cursor)
		}
	}
}

// TestHashesKeepOneAlphabet checks that names under a directory of hashes
// are read in its probe's alphabet, not in column alphabets learnt from
// their first pages (whose second digit has shown 0-2 when other ranges
// start listing): those read a range of 12 pages as one or two.
func TestHashesKeepOneAlphabet(t *testing.T) {
	l := testLister()
	names := []string{"blobs/0000490b-0ea9", "blobs/014c633e-c411", "blobs/029e771d-75a0", "blobs/70993654-800a", "blobs/71f7556d-e7eb"}
	for i, k := range names {
		if i > 0 {
			l.learnAfter(names[i-1], k)
		}
	}
	if l.cols.list[colWidth+1].bytes == nil {
		t.Fatalf("the second digit's column is not known: nothing to keep out")
	}
	l.dirs["blobs/"] = &dirInfo{upto: "blobs/029e771d-75a0", alpha: []byte("-0123456789abcdef"), hashes: true}
	l.dirs["logs/"] = &dirInfo{upto: "logs/2024-01-01T00:24", alpha: []byte("-0123456789:T")}
	if sc := l.alphaFor("blobs/"); sc.cols != nil {
		t.Errorf("blobs/ of hashes is read in column alphabets")
	}
	if sc := l.alphaFor("logs/"); sc.cols == nil {
		t.Errorf("logs/ of timestamps is not read in column alphabets")
	}
}

// TestHashNames checks which names count as hashes past a prefix they all
// have and the text they all end with, and the bytes they are then read
// in: a sample's own common prefix is not the folder's.
func TestHashNames(t *testing.T) {
	uuids := func(pre, ext string) []string {
		var n []string
		for i := 0; i < 200; i++ {
			h := fmt.Sprintf("%08x", uint32(i)*2654435761)
			n = append(n, pre+h[:4]+"-"+h[4:]+ext)
		}
		slices.Sort(n)
		return n
	}
	var parts, stampNames, dashed, lettered, images, hexNumbers, hexHoles []string
	for i := 0; i < 1000; i += 25 { // a page's sample
		lettered = append(lettered, fmt.Sprintf("d000/f%05d", i))
		images = append(images, fmt.Sprintf("shoot/image%04d.jpg", i))
		hexNumbers = append(hexNumbers, fmt.Sprintf("d000/%08x", i))
		hexHoles = append(hexHoles, fmt.Sprintf("ids/%010X.dat", 7*i+i/100)) // some steps longer
	}
	for i := 0; i < 200; i++ {
		h := fmt.Sprintf("%08x%08x", uint32(i)*2654435761, uint32(i)*40503+7)
		j := 1 + i%14 // the dash's column varies
		dashed = append(dashed, "d/"+h[:j]+"-"+h[j:])
		parts = append(parts, fmt.Sprintf("t/part-%05d-%08x-c000.snappy.parquet", i, uint32(i)*2654435761))
		stampNames = append(stampNames, stamp(i*7))
	}
	for _, tc := range []struct {
		name  string
		names []string
		pre   string
		want  string // "" when not hashes
	}{
		{"uuids with an extension", uuids("blobs/", ".jpg"), "blobs/", "0123456789abcdef"},
		{"uuids after a prefix every name has", uuids("blobs/img_", ""), "blobs/img_", "0123456789abcdef"},
		{"hashes with dashes anywhere", dashed, "d/", "-0123456789abcdef"},
		{"uuids after a prefix a sample's names have", uuids("blobs/img_", ""), "blobs/", ""},
		{"a sample of one word's names", uuids("données/naïve/façade-", ".txt"), "données/naïve/", ""},
		{"numbered parts with a uuid", parts, "t/", ""},
		{"numbered after a letter a-f", lettered, "d000/", ""},
		{"numbered after a word ending in a-f", images, "shoot/", ""},
		{"hexadecimal numbers counted up", hexNumbers, "d000/", ""},
		{"hexadecimal numbers with a few longer steps", hexHoles, "ids/", ""},
		{"timestamps", stampNames, "events/", ""},
		{"one name", uuids("blobs/", ".jpg")[:1], "blobs/", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(hashNames(tc.names, tc.pre)); got != tc.want {
				t.Errorf("hashNames: %q, want %q", got, tc.want)
			}
		})
	}
}

// hashName is a name of folder leaf of hashes, x/2^32 of the way through
// it (its letters keep it from reading as a counter).
func hashName(leaf string, x uint32) string {
	return fmt.Sprintf("%s%08x-0ea9.bin", leaf, x|0xa0b0c)
}

// TestHashRest checks the rest of a folder of hashes a range is listing,
// measured from its last page's extent: up to the folder's end, or to the
// range's bound inside the folder.
func TestHashRest(t *testing.T) {
	const leaf = "users/u00407/"
	name := func(x uint32) string { return hashName(leaf, x) }
	hexes := []byte("-0123456789abcdef")
	for _, tc := range []struct {
		name         string
		prev, cursor uint32
		hi           string
		open         bool
		want         float64 // pages, within 10% (the dash and "end of name" take digits too)
	}{
		{"the folder's rest", 1 << 28, 2 << 28, "users/u00504/", false, 14},
		{"open", 1 << 28, 2 << 28, "", true, 14},
		{"to a bound inside it", 1 << 28, 2 << 28, name(6 << 28), false, 4},
		{"a bound before the cursor", 1 << 28, 2 << 28, name(2<<28 - 1), false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &krange{prev: name(tc.prev), cursor: name(tc.cursor), hi: tc.hi, open: tc.open, leafHashes: hexes}
			sp, ok := hashRest(r, leaf, r.leafHashes)
			if !ok || math.Abs(sp.dense-tc.want) > 0.1*tc.want+0.05 || sp.dir != leaf || string(sp.hashes) != string(hexes) {
				t.Fatalf("hashRest = %+v, %v; want %v pages in %s", sp, ok, tc.want, leaf)
			}
		})
	}
	if _, ok := hashRest(&krange{prev: name(1 << 28), cursor: name(2 << 28), open: true}, leaf, nil); ok {
		t.Errorf("names not known as hashes were measured")
	}

	// Cuts: evenly through the folder's rest, then at its end, so what
	// follows the folder gets a range of its own (not for a range ending
	// inside it).
	l := testLister()
	for _, tc := range []struct {
		name    string
		hi      string
		open    bool
		trailed bool
	}{
		{"open", "", true, true},
		{"bounded past the folder", "users/u00504/", false, true},
		{"bounded inside it", name(6 << 28), false, false},
	} {
		t.Run("cuts "+tc.name, func(t *testing.T) {
			v := &krange{prev: name(1 << 28), cursor: name(2 << 28), hi: tc.hi, open: tc.open, leafHashes: hexes}
			sp, _ := hashRest(v, leaf, hexes)
			points := l.splitPoints(v, 4, sp)
			if len(points) < 2 {
				t.Fatalf("cuts %q", points)
			}
			inside := points
			if last := points[len(points)-1]; tc.trailed != (last == leaf+maxRune) {
				t.Fatalf("cuts %q: the folder's end cut %v, want %v", points, last == leaf+maxRune, tc.trailed)
			} else if tc.trailed {
				inside = points[:len(points)-1]
			}
			for i, p := range inside {
				if p <= v.cursor || !strings.HasPrefix(p, leaf) || i > 0 && p <= inside[i-1] || !tc.open && p >= tc.hi {
					t.Errorf("cut %q: not inside the folder, after the cursor, in order, before the bound", p)
				}
			}
		})
	}
}

// TestHugeFolderEntered checks a range that entered a huge folder of
// hashes from tiny ones before it: the folder's rest is measured from its
// last page, not from the range's average over the folders it crossed.
func TestHugeFolderEntered(t *testing.T) {
	const leaf = "users/u00007/"
	name := func(x uint32) string { return hashName(leaf, x) }
	l := testLister()
	var users []string
	for i := 0; i < 60; i++ {
		users = append(users, fmt.Sprintf("users/u%05d/", i))
	}
	probeDir(l, "", "users/")
	probeDir(l, "users/", users...)
	l.dirs[leaf] = &dirInfo{upto: name(1 << 24), first: name(0), last: name(1 << 24), alpha: []byte("-.0123456789abcdefin"), hashes: true}
	for _, tc := range []struct {
		name  string
		first string
		want  bool // measured on the folder's rest (about 14 pages)
	}{
		{"entered from tiny folders", "users/u00000/0aef-0ea9.bin", true},
		{"began inside it", name(1 << 27), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &krange{first: tc.first, prev: name(1 << 28), cursor: name(2 << 28), hi: "users/u00057/",
				pages: 3, seen: 2500, leafKeys: 2000}
			est, trusted, sp := l.measure(r, l.alphabet())
			got := sp != nil && sp.dir == leaf && sp.dense > 12 && sp.dense < 16 && trusted && est >= sp.dense
			if got != tc.want {
				t.Errorf("estimate %.1f (trusted %v, span %+v); measured on the folder's rest: %v, want %v", est, trusted, sp, got, tc.want)
			}
		})
	}
}

// TestTruncatedProbeBytes checks a range past what a truncated probe saw:
// its bytes (train/cat.*: no 'd') are not the folder's, and a bound that
// reads as behind the cursor is no estimate. A range of 100 pages of
// dog.* names was estimated at -17 pages, trusted, and never split.
func TestTruncatedProbeBytes(t *testing.T) {
	l := testLister()
	var names []string
	for i := 0; i < 3000; i++ {
		names = append(names, fmt.Sprintf("train/cat.%d.jpg", i), fmt.Sprintf("train/dog.%d.jpg", i))
	}
	slices.Sort(names)
	for i := 7; i < len(names); i += 7 {
		l.learnAfter(names[i-7], names[i])
	}
	l.dirs["train/"] = &dirInfo{upto: "train/cat.1899.jpg", first: "train/cat.0.jpg", last: "train/cat.1899.jpg", alpha: []byte(".0123456789acgjpt")}
	if a := l.alphaFor("train/"); !slices.Contains(a.fallback, 'd') {
		t.Errorf("names under train/ are read in its truncated probe's bytes %q", a.fallback)
	}
	r := &krange{first: "train/cat.98614.jpg", prev: "train/dog.98613.jpg", cursor: "train/dog.99513.jpg", hi: "train/gog.15374",
		pages: 101, seen: 101_000}
	if est, trusted, _ := l.measure(r, l.alphabet()); est <= 0 {
		t.Errorf("estimate %.1f pages (trusted %v) for a range that has not reached its bound", est, trusted)
	}
}
