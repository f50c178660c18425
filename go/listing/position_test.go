package listing

import (
	"fmt"
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
