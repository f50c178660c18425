package listing

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// probeAPI answers delimiter probes with fixed folders (or fails) and
// records every request's prefix.
type probeAPI struct {
	mu       sync.Mutex
	prefixes []string
	folders  []string
	err      error
}

func (p *probeAPI) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	p.mu.Lock()
	p.prefixes = append(p.prefixes, aws.ToString(in.Prefix))
	p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, f := range p.folders {
		out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(f)})
	}
	return out, nil
}

func (p *probeAPI) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("not used")
}

// TestProbeBetweenPages checks that a worker between two pages of its
// range sends the probe another range is waiting for when no worker is
// idle to send it, and that a failed probe fails the listing.
func TestProbeBetweenPages(t *testing.T) {
	refused := errors.New("refused")
	tests := []struct {
		name   string
		idle   int
		wanted bool  // a busy range cannot be measured until "a/" is probed
		err    error // the probe's failure
		sent   []string
	}{
		{"every worker busy", 0, true, nil, []string{"a/"}},
		{"a worker idle probes instead", 1, true, nil, nil},
		{"nothing wanted", 0, false, nil, nil},
		{"the probe fails", 0, true, refused, []string{"a/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &probeAPI{folders: []string{"a/x/", "a/y/"}, err: tc.err}
			l := testLister()
			l.ctx, l.cancel = context.WithCancel(context.Background())
			defer l.cancel()
			l.api, l.bucket, l.counter = api, "bkt", &Counter{}
			l.cond = sync.NewCond(&l.mu)
			l.idle = tc.idle
			r := &krange{start: "a/", first: "a/x/0001", cursor: "a/x/2000", hi: "a/y/", seen: 2000, pages: 2, active: true}
			if !tc.wanted {
				r.done, r.active = true, false
			}
			l.ranges = []*krange{r}
			l.mu.Lock()
			ok := l.probeBetweenPages()
			l.mu.Unlock()
			if len(api.prefixes) != len(tc.sent) || len(tc.sent) > 0 && api.prefixes[0] != tc.sent[0] {
				t.Fatalf("probes sent for %q, want %q", api.prefixes, tc.sent)
			}
			if tc.err != nil {
				if ok || !errors.Is(l.err, tc.err) || l.ctx.Err() == nil {
					t.Fatalf("after a failed probe: ok %v, err %v, listing cancelled %v", ok, l.err, l.ctx.Err() != nil)
				}
				return
			}
			if !ok {
				t.Fatalf("probeBetweenPages failed: %v", l.err)
			}
			if d := l.dirs["a/"]; tc.sent != nil && (d == nil || d.probing || len(d.folders) != 2) {
				t.Fatalf("probe of a/ recorded as %+v", d)
			}
			if tc.sent != nil && l.discovery.Load() != 1 {
				t.Fatalf("discovery requests counted: %d, want 1", l.discovery.Load())
			}
		})
	}
}

// TestCountPath checks the keys a range has listed inside each folder on
// its cursor's path: added up while the cursor stays inside a folder,
// restarted from the page's own count when it moves to another.
func TestCountPath(t *testing.T) {
	page := func(keys ...string) []Entry {
		var e []Entry
		for _, k := range keys {
			e = append(e, Entry{Key: k})
		}
		return e
	}
	tests := []struct {
		name   string
		before []int64
		cursor string
		page   []Entry
		want   []int64
	}{
		{"first page", nil, "", page("a/x/1", "a/x/2", "a/y/1"), []int64{3, 1}},
		{"same folders", []int64{3, 1}, "a/y/1", page("a/y/2", "a/y/3"), []int64{5, 3}},
		{"next subfolder", []int64{5, 3}, "a/y/3", page("a/y/4", "a/z/1", "a/z/2"), []int64{8, 2}},
		{"next folder", []int64{8, 2}, "a/z/2", page("a/z/3", "b/1"), []int64{1}},
		{"deeper", []int64{1}, "b/1", page("b/2", "b/c/d/1"), []int64{3, 1, 1}},
		{"file directly under the prefix", []int64{3, 1, 1}, "b/c/d/1", page("b/c/d/2", "z"), []int64{}},
	}
	l := testLister()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := l.countPath(append([]int64(nil), tc.before...), tc.cursor, tc.page)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("countPath = %v, want %v", got, tc.want)
			}
		})
	}
	r := &krange{cursor: "a/y/1", pathKeys: []int64{3, 1}}
	for dir, want := range map[string]int64{"a/": 3, "a/y/": 1, "a/x/": 0, "b/": 0, "a/y/q/": 0} {
		if got := l.keysIn(r, dir); got != want {
			t.Errorf("keysIn(%q) = %d, want %d", dir, got, want)
		}
	}
}

// TestProbeEarned: once the probe budget is spent, a range that cannot be
// measured may still have the folder it lists probed, after it has listed
// half of MinSplitPages inside that folder; before the budget is spent,
// at once.
func TestProbeEarned(t *testing.T) {
	tests := []struct {
		name   string
		spent  bool
		inTeam int64 // keys the range listed inside org-0/t1/
		want   string
	}{
		{"budget left", false, 2000, "org-0/t1/"},
		{"budget spent, 2 pages in the folder", true, 2000, ""},
		{"budget spent, 4 pages in the folder", true, 4000, "org-0/t1/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			probeDir(l, "", "org-0/")
			probeDir(l, "org-0/", "org-0/t0/", "org-0/t1/", "org-0/t2/")
			l.counter = &Counter{}
			l.pages = 90
			if tc.spent {
				l.discovery.Store(8 + 90/probeEvery)
			}
			// Inside the first folder it listed: folder positions cannot
			// measure it until org-0/t1/ is probed.
			r := &krange{start: "org-0/t1/", first: "org-0/t1/p0/r0/f-0001", cursor: "org-0/t1/p3/r2/f-0001", hi: "org-0/t2/",
				seen: tc.inTeam, pages: int(tc.inTeam / MaxKeys), active: true, pathKeys: []int64{tc.inTeam, tc.inTeam, 500, 100}}
			for _, k := range []string{r.first, r.cursor} {
				l.learn(k)
			}
			l.ranges = []*krange{r}
			if est, _, _ := l.estimate(r, l.alphabet()); est >= 0 {
				t.Fatalf("setup: the range is measured (%.1f pages)", est)
			}
			dir, ok := l.neededProbe()
			if dir != tc.want || ok != (tc.want != "") {
				t.Fatalf("neededProbe = %q, %v; want %q", dir, ok, tc.want)
			}
		})
	}
}

// TestProbeClearsRetry: a range that found no cut because its rest lies
// in a folder nobody probed may be split as soon as that folder's probe
// is back, not two pages later; other ranges keep waiting.
func TestProbeClearsRetry(t *testing.T) {
	api := &probeAPI{folders: []string{"a/x/", "a/y/"}}
	l := testLister()
	l.ctx, l.cancel = context.WithCancel(context.Background())
	defer l.cancel()
	l.api, l.bucket, l.counter = api, "bkt", &Counter{}
	l.cond = sync.NewCond(&l.mu)
	waiting := &krange{cursor: "a/x/0001", hi: "b/", pages: 3, retryAt: 5, needDir: "a/", active: true}
	other := &krange{cursor: "b/c/0001", pages: 3, retryAt: 5, needDir: "b/c/", open: true, active: true}
	l.ranges = []*krange{waiting, other}
	l.mu.Lock()
	ok := l.runProbe("a/")
	l.mu.Unlock()
	if !ok || len(api.prefixes) != 1 {
		t.Fatalf("probe: ok %v, requests %q", ok, api.prefixes)
	}
	if waiting.retryAt != 0 || other.retryAt != 5 {
		t.Fatalf("retryAt after probing a/: waiting %d (want 0), other %d (want 5)", waiting.retryAt, other.retryAt)
	}
}

// folderAPI answers delimiter listings of its folders as S3 does: a
// common prefix is listed when a key inside it comes after StartAfter
// (its own name does), at most MaxKeys of them a page. It records each
// request's StartAfter.
type folderAPI struct {
	mu      sync.Mutex
	folders []string // sorted, each ending in "/"
	afters  []string
}

func (f *folderAPI) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	after := aws.ToString(in.StartAfter)
	f.afters = append(f.afters, after)
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, p := range f.folders {
		if !strings.HasPrefix(p, aws.ToString(in.Prefix)) || p+"key" <= after {
			continue
		}
		if len(out.CommonPrefixes) == int(aws.ToInt32(in.MaxKeys)) {
			out.IsTruncated = aws.Bool(true)
			break
		}
		out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(p)})
	}
	return out, nil
}

func (f *folderAPI) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("not used")
}

// TestProbeContinues: a directory of more folders than a probe's page
// (1 096 dt=YYYY-MM-DD/ partitions) is probed again from the first
// page's last folder, past that folder's keys, until the pages have
// listed every folder once; a range reaching past the first page's folders
// asks for that, one that is a counter across folders (shards/000123/)
// does not.
func TestProbeContinues(t *testing.T) {
	var dates []string
	for d := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC); len(dates) < 2500; d = d.AddDate(0, 0, 1) {
		dates = append(dates, "events/dt="+d.Format(time.DateOnly)+"/")
	}
	api := &folderAPI{folders: dates}
	l := testLister()
	l.prefix = "events/"
	l.ctx, l.cancel = context.WithCancel(context.Background())
	defer l.cancel()
	l.api, l.bucket, l.counter = api, "bkt", &Counter{}
	l.cond = sync.NewCond(&l.mu)
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.runProbe("events/") {
		t.Fatal(l.err)
	}
	d := l.dirs["events/"]
	if len(d.folders) != MaxKeys || d.upto != dates[MaxKeys-1] {
		t.Fatalf("first page: %d folders up to %q", len(d.folders), d.upto)
	}
	for _, tc := range []struct {
		name   string
		r      *krange
		wanted bool
	}{
		{"past the page", &krange{start: "events/", first: dates[0] + "part-0", cursor: dates[2] + "part-9", prev: dates[1] + "part-9", open: true, seen: 3000, pages: 3, active: true}, true},
		{"inside the page", &krange{start: "events/", first: dates[0] + "part-0", cursor: dates[2] + "part-9", prev: dates[1] + "part-9", hi: dates[500], seen: 3000, pages: 3, active: true}, false},
		{"a counter in a folder's names", &krange{start: "events/", first: dates[0] + "part-00000", cursor: dates[2] + "part-01057", prev: dates[2] + "part-00057", open: true, seen: 3000, pages: 3, active: true}, true},
		{"a counter across folders", &krange{start: "events/", first: "events/s/000000/a", cursor: "events/s/000040/a", prev: "events/s/000020/a", open: true, seen: 3000, pages: 3, active: true}, false},
	} {
		l.ranges = []*krange{tc.r}
		got, ok := l.neededProbe()
		if ok && got == "events/" != tc.wanted || !ok && tc.wanted {
			t.Errorf("%s: neededProbe = %q, %v; want the next page of events/: %v", tc.name, got, ok, tc.wanted)
		}
	}
	l.ranges = nil
	for d.upto != "" {
		if len(api.afters) > 5 {
			t.Fatalf("probed %d times", len(api.afters))
		}
		if !continues(d) || !l.runProbe("events/") {
			t.Fatalf("no next page: %+v, %v", d.upto, l.err)
		}
		d = l.dirs["events/"]
	}
	if !slices.Equal(d.folders, dates) {
		t.Fatalf("folders after %d probes: %d, want %d", len(api.afters), len(d.folders), len(dates))
	}
	want := []string{"", dates[999] + maxRune, dates[1999] + maxRune}
	if !slices.Equal(api.afters, want) {
		t.Fatalf("probed after %q, want %q", api.afters, want)
	}
	if lv := l.levels[l.level("events/")]; lv == nil || lv.probes != 1 || lv.total != len(dates) {
		t.Fatalf("level counted as %+v, want one probe of %d folders", lv, len(dates))
	}
}

// TestContinues: only a truncated probe of folders named by dates pages
// on, and only up to maxProbePages.
func TestContinues(t *testing.T) {
	dated := []string{"e/dt=2022-01-01/", "e/dt=2022-01-02/", "e/dt=2024-09-26/"}
	for _, tc := range []struct {
		name string
		d    *dirInfo
		want bool
	}{
		{"dates", &dirInfo{folders: dated, upto: dated[2], pages: 1, dated: datedFolders(dated)}, true},
		{"hours", &dirInfo{folders: []string{"l/2024-03-01T05/", "l/2024-03-01T06/"}, upto: "x", pages: 1,
			dated: datedFolders([]string{"l/2024-03-01T05/", "l/2024-03-01T06/"})}, true},
		{"complete", &dirInfo{folders: dated, pages: 1, dated: true}, false},
		{"the last page allowed", &dirInfo{folders: dated, upto: dated[2], pages: maxProbePages, dated: true}, false},
		{"next page on its way", &dirInfo{folders: dated, upto: dated[2], pages: 1, dated: true, more: true}, false},
		{"weighed by a stem probe", &dirInfo{folders: dated, upto: dated[2], pages: 1, dated: true, cum: []float64{0, 1, 2}}, false},
		{"uuids", &dirInfo{upto: "x", pages: 1, dated: datedFolders([]string{"u/0b5f3c1e-77aa-4e4c-9d1e-2f0c6a1b9e11/", "u/9c0d2e4f-1a2b-4c3d-8e9f-0a1b2c3d4e5f/"})}, false},
		{"logins", &dirInfo{upto: "x", pages: 1, dated: datedFolders([]string{"u/alice/", "u/bob/"})}, false},
		{"nil", nil, false},
	} {
		if got := continues(tc.d); got != tc.want {
			t.Errorf("%s: continues = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestHashFoldersPastProbe: an open range among folders named by UUIDs,
// whose probe listed the first 1 000 of 100 000, having listed two pages
// over 100 folders, is measured over the UUIDs' bytes to their end (~1 980
// pages of 20 names a folder), trusted, not up to the probe's last folder
// (four pages).
func TestHashFoldersPastProbe(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var all []string
	for i := 0; i < 100_000; i++ {
		var b [16]byte
		r.Read(b[:])
		h := fmt.Sprintf("%x", b)
		all = append(all, "users/"+h[:8]+"-"+h[8:12]+"-"+h[12:16]+"-"+h[16:20]+"-"+h[20:]+"/")
	}
	sort.Strings(all)
	l := testLister()
	l.prefix = "users/"
	d := &dirInfo{folders: all[:MaxKeys], first: all[0], last: all[MaxKeys-1], upto: all[MaxKeys-1], pages: 1,
		folderHashes: hashNames(all[:MaxKeys], "users/")}
	if d.folderHashes == nil {
		t.Fatal("UUID folders not read as hashes")
	}
	l.dirs["users/"] = d
	rg := &krange{start: "users/", first: all[700] + "0.jpg", prev: all[750] + "9.jpg", cursor: all[800] + "9.jpg",
		open: true, seen: 2000, pages: 2, active: true}
	est, trusted, _ := l.measure(rg, l.alphabet())
	if !trusted || est < 1500 || est > 2500 {
		t.Fatalf("open range past the probe: %.1f pages (trusted %v), want ~1 980, trusted", est, trusted)
	}
	inside := &krange{start: all[600], first: all[700] + "0.jpg", prev: all[750] + "9.jpg", cursor: all[800] + "9.jpg",
		hi: all[900], seen: 2000, pages: 2, active: true}
	if est, trusted, _ := l.measure(inside, l.alphabet()); !trusted || est < 1 || est > 4 {
		t.Fatalf("range inside the probe's folders: %.1f pages (trusted %v), want ~2 by folder positions", est, trusted)
	}
}

// TestLoginFoldersPastProbe: the same for folders named by logins
// (lowercase letters), measured over their letters to 'z'.
func TestLoginFoldersPastProbe(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	seen := map[string]bool{}
	var all []string
	for len(all) < 100_000 {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte('a' + r.Intn(26))
		}
		if f := "users/" + string(b) + "/"; !seen[f] {
			seen[f] = true
			all = append(all, f)
		}
	}
	sort.Strings(all)
	l := testLister()
	l.prefix = "users/"
	d := &dirInfo{folders: all[:MaxKeys], first: all[0], last: all[MaxKeys-1], upto: all[MaxKeys-1], pages: 1,
		folderNames: nameBytes(all[:MaxKeys], "users/")}
	if d.folderNames == nil || hashNames(all[:MaxKeys], "users/") != nil || datedFolders(all[:MaxKeys]) {
		t.Fatal("login folders not read as names")
	}
	l.dirs["users/"] = d
	rg := &krange{start: "users/", first: all[700] + "0.jpg", prev: all[750] + "9.jpg", cursor: all[800] + "9.jpg",
		open: true, seen: 2000, pages: 2, active: true}
	if est, trusted, _ := l.measure(rg, l.alphabet()); !trusted || est < 1200 || est > 3000 {
		t.Fatalf("open range past the probe: %.1f pages (trusted %v), want ~1 980, trusted", est, trusted)
	}
	if nameBytes([]string{"users/Alice/", "users/bob/"}, "users/") != nil {
		t.Error("capitals read as a login's bytes")
	}
}
