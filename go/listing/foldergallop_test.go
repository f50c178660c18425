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
	want := []string{"p49/obj-002968", "p49/obj-004937", "p49/obj-008874"} // 2, 4 and 8 pages on, less 1/64
	if !slices.Equal(got, want) {
		t.Fatalf("cuts %q, want %q", got, want)
	}
	// Bounded by a name on the counter, it is measured on it.
	r.hi, r.est = obj("p49/", 5999), estCache{}
	if est, trusted, sp := l.measure(r, l.alphabet()); math.Abs(est-5) > 0.01 || !trusted || sp == nil || sp.gallop {
		t.Fatalf("bounded on the counter: measure = %v, %v, %+v; want 5 pages, trusted", est, trusted, sp)
	}
}
