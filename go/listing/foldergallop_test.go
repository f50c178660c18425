package listing

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

// skewedRoot is a lister whose root probe found a big folder, three small
// numbered ones and loose names after them it did not see the end of
// (the benchmark's skewed layout).
func skewedRoot() *lister {
	l := testLister()
	l.dirs[""] = &dirInfo{probing: true}
	l.probed("", &dirInfo{folders: []string{"hot/", "p47/", "p48/", "p49/"}, first: "hot/", last: "top-000948.json", upto: "top-000948.json"})
	for _, k := range []string{"hot/0000", "hot/ffff", "p47/obj-000000.dat", "top-000948.json"} {
		l.learn(k)
	}
	return l
}

// obj is the i-th name of small folder dir.
func obj(dir string, i int) string { return fmt.Sprintf("%sobj-%06d.dat", dir, i) }

// TestFolderEndGallop: a range bounded by its folder's end, not by a name
// on the counter its names share, has an unknown size, as an open range
// has: it is galloped on the counter. Over the names' bytes, obj-000000 to
// obj-000999 was a sliver of p49/, its rest read as 136 M pages, and the
// range was cut into 43 pieces past its last name, every one empty.
func TestFolderEndGallop(t *testing.T) {
	l := skewedRoot()
	r := &krange{first: obj("p49/", 0), prev: "p48/obj-004952", cursor: obj("p49/", 999), hi: "p49/" + maxRune, seen: 1000, pages: 1}
	est, trusted, sp := l.measure(r, l.alphabet())
	if !math.IsInf(est, 1) || trusted || sp == nil || !sp.gallop {
		t.Fatalf("measure = %v, %v, %+v; want +Inf, untrusted, galloping", est, trusted, sp)
	}
	got := l.splitPoints(r, 4, sp)
	want := []string{"p49/obj-002968", "p49/obj-008874", "p49/obj-032499"} // 2, 8 and 32 pages on, less 1/64 (see gallopRatio)
	if !slices.Equal(got, want) {
		t.Fatalf("cuts %q, want %q", got, want)
	}
	// Bounded by a name on the counter, it is measured on it.
	r.hi, r.est = obj("p49/", 5999), estCache{}
	if est, trusted, sp := l.measure(r, l.alphabet()); math.Abs(est-5) > 0.01 || !trusted || sp == nil || sp.gallop {
		t.Fatalf("bounded on the counter: measure = %v, %v, %+v; want 5 pages, trusted", est, trusted, sp)
	}
}

// TestDenseFolderPieceBounded: a range that entered a dense folder from
// the folders before it and was then cut inside it, along the counter its
// names share, is measured to its bound there. The folder's guess (twice
// what the range had listed in it) read a 2-page piece up to part-08316
// as 12 pages: it was picked to be split again and again, and every cut
// fell past its end.
func TestDenseFolderPieceBounded(t *testing.T) {
	l := testLister()
	var days []string
	for d := 1; d <= 28; d++ {
		days = append(days, fmt.Sprintf("year=2023/month=01/day=%02d/", d))
	}
	probeDir(l, "", "year=2023/")
	probeDir(l, "year=2023/", "year=2023/month=01/", "year=2023/month=02/")
	probeDir(l, "year=2023/month=01/", days...)
	part := func(day, i int) string {
		return fmt.Sprintf("year=2023/month=01/day=%02d/part-%05d-3f8cb02b.parquet", day, i)
	}
	for _, k := range []string{part(1, 0), part(28, 999), part(16, 6190)} {
		l.learn(k)
	}
	for _, tc := range []struct {
		name    string
		hi      string
		want    float64 // pages; 0: the folder's guess, untrusted
		trusted bool
	}{
		{"bounded inside the folder", "year=2023/month=01/day=16/part-08316", (8316 - 6190) / 1000.0, true},
		{"bounded past the folder", "year=2023/month=01/day=20/", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &krange{first: part(10, 0), prev: part(16, 5190), cursor: part(16, 6190), hi: tc.hi,
				seen: 13_000, pages: 13, leafKeys: 6190}
			est, trusted, sp := l.measure(r, l.alphabet())
			if trusted != tc.trusted || sp == nil || sp.dir != "year=2023/month=01/day=16/" {
				t.Fatalf("measure = %v, %v, %+v; want trusted %v, a span of day=16/", est, trusted, sp, tc.trusted)
			}
			if tc.want > 0 && math.Abs(est-tc.want) > 0.01 {
				t.Fatalf("estimate %.2f pages, want %.2f", est, tc.want)
			}
			if tc.want == 0 && est < 12 {
				t.Fatalf("estimate %.2f pages, want the folder's guess (12.38 and the days after it)", est)
			}
			if !tc.trusted {
				return
			}
			// Its cuts fall inside it.
			for _, m := range l.splitPoints(r, 3, sp) {
				if m <= r.cursor || m >= r.hi {
					t.Fatalf("cut %q outside (%q, %q)", m, r.cursor, r.hi)
				}
			}
		})
	}
}
