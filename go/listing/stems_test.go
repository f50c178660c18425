package listing

import (
	"context"
	"errors"
	"fmt"
	"math"
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
		// One folder named by a word (CloudTrail's region): its stem
		// says nothing of the folders beside it (eu-west-1/).
		{"one word", "", page(func(i int) string { return fmt.Sprintf("ap-northeast-1/2022/day-%02d/f-%d", i/100, i) }),
			[]string{"", "", "day-", "f-", ""}},
		{"two words", "", page(func(i int) string {
			return fmt.Sprintf("%s/2022/day-%02d/f-%d", []string{"ap-northeast-1", "ap-south-1"}[i/500], i%500/50, i)
		}), []string{"ap-", "", "day-", "f-", ""}},
		{"one numbered folder", "", page(func(i int) string { return fmt.Sprintf("org-3/run-%d/f-%d", i/100, i) }),
			[]string{"org-", "run-", "f-", ""}},
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

// treeAPI answers listings of a fixed, sorted set of keys as S3 does
// (StartAfter, MaxKeys, common prefixes rolled up at the delimiter after
// the prefix), each after latency (virtual time inside a synctest bubble),
// and records each request's prefix and delimiter.
type treeAPI struct {
	keys    []string // sorted
	latency time.Duration
	mu      sync.Mutex
	sent    []string // "prefix|delimiter"
}

func (a *treeAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	time.Sleep(a.latency)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	pre, delim, limit := aws.ToString(in.Prefix), aws.ToString(in.Delimiter), int(aws.ToInt32(in.MaxKeys))
	a.mu.Lock()
	a.sent = append(a.sent, pre+"|"+delim)
	a.mu.Unlock()
	i := sort.SearchStrings(a.keys, pre)
	if after := aws.ToString(in.StartAfter); after >= pre {
		i = sort.SearchStrings(a.keys, after)
		if i < len(a.keys) && a.keys[i] == after {
			i++
		}
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for i < len(a.keys) && strings.HasPrefix(a.keys[i], pre) {
		if len(out.Contents)+len(out.CommonPrefixes) == limit {
			out.IsTruncated = aws.Bool(true)
			break
		}
		k := a.keys[i]
		if j := strings.Index(k[len(pre):], delim); delim != "" && j >= 0 {
			cp := k[:len(pre)+j+len(delim)]
			out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(cp)})
			i = sort.SearchStrings(a.keys, cp+maxRune) // past every key under it
			continue
		}
		out.Contents = append(out.Contents, types.Object{Key: aws.String(k)})
		i++
	}
	return out, nil
}

func (a *treeAPI) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("not used")
}

// TestTruncatedStemProbe: a stem probe whose page of prefixes runs out
// inside the probed directory's folders leaves its folder list cut short,
// and every range past the cut could be measured only over key bytes, out
// to bounds interpolated past the directory's real folders (estimates of
// 1e9-1e16 pages, and thousands of probes, on a deep tree of 10 M keys).
// The directory must then be probed with "/" too, so that its folders are
// all known; the folders the stem probe held whole keep their shapes.
func TestTruncatedStemProbe(t *testing.T) {
	// tree: runs 0 leaves the run level out, so the stems (/run-) do not fit.
	tree := func(teams, projs, runs int) []string {
		var keys []string
		for tm := 0; tm < teams; tm++ {
			for p := 0; p < projs; p++ {
				if runs == 0 {
					keys = append(keys, fmt.Sprintf("org-1/team-%02d/proj-%02d/file-000000.bin", tm, p))
					continue
				}
				for r := 0; r < runs; r++ {
					keys = append(keys, fmt.Sprintf("org-1/team-%02d/proj-%02d/run-%d/file-000000.bin", tm, p, r))
				}
			}
		}
		sort.Strings(keys)
		return keys
	}
	tests := []struct {
		name       string
		keys       []string
		sent       []string // the probes, in order
		whole      []string // folders whose shapes the stem probe gave
		notRecords string   // the folder the truncated stem probe held in part
	}{
		{"truncated: probed with / too", tree(20, 60, 1), []string{"org-1/|/run-", "org-1/|/"},
			[]string{"org-1/team-00/", "org-1/team-15/"}, "org-1/team-16/"},
		{"complete: one probe", tree(3, 4, 2), []string{"org-1/|/run-"},
			[]string{"org-1/team-00/", "org-1/team-01/", "org-1/team-02/"}, ""},
		{"truncated, stems that do not fit: probed with / too", tree(20, 60, 0), []string{"org-1/|/run-", "org-1/|/"},
			nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &treeAPI{keys: tc.keys}
			l := testLister()
			l.ctx, l.cancel = context.WithCancel(context.Background())
			defer l.cancel()
			l.api, l.bucket, l.counter = api, "bkt", &Counter{}
			l.cond = sync.NewCond(&l.mu)
			l.stems = []string{"org-", "team-", "proj-", "run-", "file-", ""}
			l.mu.Lock()
			ok := l.runProbe("org-1/")
			l.mu.Unlock()
			if !ok {
				t.Fatalf("runProbe failed: %v", l.err)
			}
			if !slices.Equal(api.sent, tc.sent) {
				t.Fatalf("probes %q, want %q", api.sent, tc.sent)
			}
			teams := map[string]bool{}
			for _, k := range tc.keys {
				teams[k[:len("org-1/team-00/")]] = true
			}
			d := l.dirs["org-1/"]
			if d == nil || d.probing || d.upto != "" || len(d.folders) != len(teams) {
				t.Fatalf("org-1/ recorded as %+v, want its %d teams, complete", d, len(teams))
			}
			for _, f := range d.folders {
				if !teams[f] {
					t.Errorf("org-1/ holds %q, not a team of the tree", f)
				}
			}
			for _, f := range tc.whole {
				if sd := l.dirs[f]; sd == nil || sd.probing || sd.upto != "" || len(sd.folders) == 0 {
					t.Errorf("%s: shape %+v, want its projects from the stem probe", f, sd)
				}
			}
			if tc.notRecords != "" && l.dirs[tc.notRecords] != nil {
				t.Errorf("%s recorded from a probe that held it in part: %+v", tc.notRecords, l.dirs[tc.notRecords])
			}
			if fits := strings.Count(tc.keys[0], "/") == 4; l.stemsOff == fits {
				t.Errorf("stems off = %v, want %v (the tree has a run level: %v)", l.stemsOff, !fits, fits)
			}
			if got := l.discovery.Load(); got != int64(len(tc.sent)) {
				t.Errorf("discovery requests counted: %d, want %d", got, len(tc.sent))
			}
		})
	}
}

// TestStemDelimDaily: a level whose folders the first page showed named by
// a whole date (dt=2024-03-01/) is taken to hold a folder a day, past a
// page of prefixes, so no stem probe rolls it up (both the root's and
// events/' ran out of page over 1 096 dates and cost a round trip each);
// the levels below it are rolled up as before.
func TestStemDelimDaily(t *testing.T) {
	for _, tc := range []struct {
		name   string
		key    func(i int) string
		dir    string
		levels int // 0: a "/" probe
	}{
		{"dates at the root's second level", func(i int) string {
			return fmt.Sprintf("events/dt=2024-03-%02d/hour=%02d/part-%05d.parquet", 1+i/960, i/40%24, i)
		}, "", 0},
		{"dates under events/", func(i int) string {
			return fmt.Sprintf("events/dt=2024-03-%02d/hour=%02d/part-%05d.parquet", 1+i/960, i/40%24, i)
		}, "events/", 0},
		{"below the dates", func(i int) string {
			return fmt.Sprintf("events/dt=2024-03-%02d/hour=%02d/run-%d/part-%05d.parquet", 1+i/960, i/40%24, i%3, i)
		}, "events/dt=2024-03-01/", 2},
		{"a date in a name, not a folder", func(i int) string {
			return fmt.Sprintf("org-%d/team-%02d/log-2024-03-01-%05d", i/500, i/50%10, i)
		}, "", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			var keys []Entry
			for i := 0; i < MaxKeys; i++ {
				keys = append(keys, Entry{Key: tc.key(i)})
			}
			l.learnStems(keys)
			if _, levels := l.stemDelim(tc.dir); (levels >= 2) != (tc.levels >= 2) {
				t.Fatalf("stemDelim(%q) rolls up %d levels, want %d (daily %v, stems %q)", tc.dir, levels, tc.levels, l.daily, l.stems)
			}
		})
	}
	for _, tc := range []struct {
		s    string
		want bool
	}{{"2024-03-01", true}, {"2024-03-01T05", true}, {"20240301", false}, {"2024-3-1", false}, {"v2024-03-01", false}} {
		if got := wholeDate(tc.s); got != tc.want {
			t.Errorf("wholeDate(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
