package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
)

// fakeServer answers ListObjectsV2 with start-after and max-keys over set
// (the synthlist server is a separate main package; this is just enough S3).
// drop, if non-empty, is a key it never returns.
func fakeServer(t *testing.T, set *layouts.Set, drop string) (*httptest.Server, *atomic.Int64) {
	var reqs atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs.Add(1)
		q := r.URL.Query()
		if r.URL.Path != "/bench" || q.Get("list-type") != "2" {
			http.Error(w, "no", 400)
			return
		}
		mk, _ := strconv.Atoi(q.Get("max-keys"))
		var b bytes.Buffer
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bench</Name>`)
		it := set.Iter(set.SearchAfter([]byte(q.Get("start-after"))))
		for c := 0; c < mk && it.Valid(); it.Next() {
			if string(it.Key()) == drop {
				continue
			}
			k := string(it.Key())
			size := len(k)
			if q.Get("encoding-type") == "url" {
				k = url.QueryEscape(k)
			}
			k = strings.NewReplacer("&", "&amp;", "<", "&lt;").Replace(k)
			fmt.Fprintf(&b, "<Contents><Key>%s</Key><Size>%d</Size></Contents>", k, size)
			c++
		}
		b.WriteString("</ListBucketResult>")
		w.Write(b.Bytes())
	}))
	t.Cleanup(ts.Close)
	return ts, &reqs
}

func TestOracleListsEveryKeyOnce(t *testing.T) {
	for _, tc := range []struct {
		layout     string
		n, workers int
	}{{"hex", 0, 4}, {"hex", 1, 64}, {"date", 5000, 7}, {"deep", 4321, 64}, {"skewed", 2500, 1}} {
		t.Run(fmt.Sprintf("%s/%d/w%d", tc.layout, tc.n, tc.workers), func(t *testing.T) {
			set, _ := layouts.Generate(tc.layout, tc.n, 1)
			ts, reqs := fakeServer(t, set, "")
			res, err := run(ts.URL, "bench", set, tc.workers, 1000, true)
			if err != nil {
				t.Fatal(err)
			}
			var size int64
			for _, k := range set.Strings() {
				size += int64(len(k))
			}
			if res.Keys != int64(tc.n) || res.Bytes != size || res.Requests != reqs.Load() {
				t.Fatalf("%+v, want %d keys, %d bytes, %d requests", res, tc.n, size, reqs.Load())
			}
			// CPU time is measured (the fake server runs in this process,
			// so any listing uses some).
			if tc.n > 0 && res.CPUSeconds <= 0 {
				t.Fatalf("cpu_seconds %v, want > 0", res.CPUSeconds)
			}
			// The oracle makes the minimum number of requests.
			if want := int64((tc.n + 999) / 1000); res.Requests != want {
				t.Fatalf("%d requests, want %d", res.Requests, want)
			}
		})
	}
}

func TestOracleDetectsMissingKey(t *testing.T) {
	set, _ := layouts.FromSorted([]string{"a", "b&c", "d", "e", "f", "g"})
	for _, urlKeys := range []bool{false, true} {
		ts, _ := fakeServer(t, set, "")
		if _, err := run(ts.URL, "bench", set, 2, 2, urlKeys); err != nil {
			t.Fatalf("escaped key (url %v): %v", urlKeys, err)
		}
		ts, _ = fakeServer(t, set, "e")
		if _, err := run(ts.URL, "bench", set, 3, 2, urlKeys); err == nil {
			t.Fatalf("a missing key went unnoticed (url %v)", urlKeys)
		}
	}
}

// TestOracleDecodesURLKeys lists keys that URL-encoding changes (the date
// layout's '=', a space, '+', '%', UTF-8) in both encodings: every one must
// compare equal to the key set's.
func TestOracleDecodesURLKeys(t *testing.T) {
	set, err := layouts.FromSorted([]string{"a b", "a%41", "a+b", "year=2024/x", "été"})
	if err != nil {
		t.Fatal(err)
	}
	for _, urlKeys := range []bool{false, true} {
		ts, _ := fakeServer(t, set, "")
		res, err := run(ts.URL, "bench", set, 2, 2, urlKeys)
		if err != nil || res.Keys != 5 {
			t.Fatalf("url %v: %+v, %v", urlKeys, res, err)
		}
	}
}

func TestURLDecode(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"year%3D2024/a+b", "year=2024/a b"},
		{"%E2%82%AC%2b", "€+"},
		{"plain", "plain"},
		{"end%4", ""},
		{"bad%zz", ""},
	} {
		got, err := urlDecode(nil, []byte(tc.in))
		if tc.want == "" {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("%q: %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestSplitAfter(t *testing.T) {
	for _, tc := range []struct {
		n, workers, page int
		want             []int // indexes of the keys the ranges start after
	}{
		{10, 3, 2, []int{1, 5}},        // 5 pages: ranges of 1, 2 and 2 pages
		{10, 64, 2, []int{1, 3, 5, 7}}, // no more ranges than pages
		{5000, 7, 1000, []int{999, 1999, 2999, 3999}},
		{999, 4, 1000, nil}, // one page: one range
		{0, 4, 1000, nil},
	} {
		set, _ := layouts.Generate("date", tc.n, 1)
		var want []string
		for _, i := range tc.want {
			want = append(want, set.Key(i))
		}
		got := splitAfter(set, tc.workers, tc.page)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("n=%d w=%d page=%d: got %q, want %q", tc.n, tc.workers, tc.page, got, want)
		}
		// They are where run's ranges start.
		_, w := clamp(tc.n, tc.workers, tc.page)
		for i, k := range got {
			if lo, _ := bounds(tc.n, w, tc.page, i+1); set.Key(lo-1) != k {
				t.Errorf("point %d = %q, range %d starts after %q", i, k, i+1, set.Key(lo-1))
			}
		}
	}
}
