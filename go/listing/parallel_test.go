package listing_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	. "github.com/s3turbo/s3turbo/go/listing"
)

var server *testserver.Server

// layouts generates small versions of the key layouts the parallel lister
// must handle: flat hex, date partitions, a deep hierarchy, and a skewed
// tree with 90% of keys under one prefix.
func layoutKeys(layout string, n int) []string {
	h := func(i int) string {
		s := sha1.Sum([]byte(fmt.Sprint(layout, i)))
		return hex.EncodeToString(s[:])
	}
	keys := make([]string, 0, n)
	for i := 0; i < n; i++ {
		switch layout {
		case "hex":
			keys = append(keys, h(i)[:24])
		case "date":
			day := i * 97 % 60
			keys = append(keys, fmt.Sprintf("year=%d/month=%02d/day=%02d/part-%05d-%s.parquet",
				2024+day/30%2, 1+day%12, 1+day%28, i, h(i)[:6]))
		case "deep":
			keys = append(keys, fmt.Sprintf("org-%d/team-%02d/proj-%d/run-%d/shard-%02d/file-%06d.bin",
				i%3, i%7, i%5, i%2, i%11, i))
		case "skewed":
			if i%10 != 0 {
				keys = append(keys, "hot/"+h(i)[:20])
			} else {
				keys = append(keys, fmt.Sprintf("p%02d/%s", i%50, h(i)[:10]))
			}
		}
	}
	sort.Strings(keys)
	return keys
}

// bucketSeq numbers the buckets populate and populateViaPut create, so
// that every call gets a bucket of its own and `go test -count=N` (a flake
// hunt) does not fail on BucketAlreadyOwnedByYou from the previous run.
var bucketSeq atomic.Int64

// freshBucket creates a bucket named name with this process's next bucket
// number appended and returns its name.
func freshBucket(t *testing.T, name string) string {
	t.Helper()
	name = fmt.Sprintf("%s-%d", name, bucketSeq.Add(1))
	if _, err := client.S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
	return name
}

// populate creates the keys in a fresh bucket named after name (see
// freshBucket) and returns the bucket's name: as files in the server's
// posix directory when we run the server, else with PUTs.
func populate(t *testing.T, name string, keys []string) string {
	t.Helper()
	ctx := context.Background()
	name = freshBucket(t, name)
	if root := server.Root(); root != "" {
		for _, k := range keys {
			p := filepath.Join(root, name, filepath.FromSlash(k))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(k[:1]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return name
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func(k string) {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := client.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(k), Body: bytes.NewReader([]byte(k[:1]))})
			if err != nil {
				t.Error(err)
			}
		}(k)
	}
	wg.Wait()
	return name
}

func TestParallelLayouts(t *testing.T) {
	const n = 4500
	for _, layout := range []string{"hex", "date", "deep", "skewed"} {
		t.Run(layout, func(t *testing.T) {
			keys := layoutKeys(layout, n)
			name := populate(t, fmt.Sprintf("%s-par-%s", bucket, layout), keys)
			// The serial walk is the reference (it is the SDK paginator).
			var ref []string
			if _, err := Walk(context.Background(), client.List, name, "", "", func(p Page) error {
				for _, e := range p.Entries {
					ref = append(ref, e.Key)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(ref) != len(keys) {
				t.Fatalf("serial walk found %d keys, created %d", len(ref), len(keys))
			}
			// Split points as an earlier listing gives them (every 600th
			// key), and a messy set: unsorted, duplicated, outside the
			// keys, not keys at all, the first and last key.
			var exact []string
			for i := 599; i < len(ref); i += 600 {
				exact = append(exact, ref[i])
			}
			messy := []string{ref[len(ref)-1], ref[2000], "", ref[0], ref[2000], "~~~", ref[2000] + "\x00", "!", ref[10] + "zz"}
			for _, tc := range []struct {
				name string
				opt  Options
			}{
				{"one-worker", Options{Workers: 1, MinSplitPages: 1}},
				{"eager-splits-sorted", Options{Workers: 8, MinSplitPages: 1, Sorted: true}},
				{"eager-splits-unsorted", Options{Workers: 8, MinSplitPages: 1}},
				{"defaults", Options{Workers: 16}},
				{"split-after-sorted", Options{Workers: 8, Sorted: true, SplitAfter: exact}},
				{"split-after-one-worker", Options{Workers: 1, SplitAfter: exact}},
				{"split-after-messy", Options{Workers: 8, MinSplitPages: 1, SplitAfter: messy}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					var got []string
					var sizes int64
					st, err := Parallel(context.Background(), client.List, name, "", tc.opt, func(p Page) error {
						for i, e := range p.Entries {
							if i > 0 && e.Key <= p.Entries[i-1].Key {
								t.Errorf("page not sorted at %q", e.Key)
							}
							got = append(got, e.Key)
							sizes += e.Size
						}
						return nil
					})
					if err != nil {
						t.Fatal(err)
					}
					if sizes != int64(len(keys)) {
						t.Errorf("sizes sum %d, want %d", sizes, len(keys))
					}
					if tc.opt.Sorted && !sort.StringsAreSorted(got) {
						t.Errorf("Sorted listing is out of order")
					}
					sort.Strings(got)
					if len(got) != len(ref) {
						t.Fatalf("got %d keys, want %d (ranges %d)", len(got), len(ref), st.Ranges)
					}
					for i := range ref {
						if got[i] != ref[i] {
							t.Fatalf("key %d: got %q want %q (duplicate or missing)", i, got[i], ref[i])
						}
					}
					if st.Keys != int64(len(keys)) {
						t.Errorf("Stats.Keys = %d", st.Keys)
					}
					if n := len(tc.opt.SplitAfter); n > 0 && st.Ranges < n/2 {
						t.Errorf("%d split points gave only %d ranges: not used", n, st.Ranges)
					}
					minReq := (len(keys) + MaxKeys - 1) / MaxKeys
					if st.Requests < minReq || st.Requests > 4*minReq+3*st.Ranges+20 {
						t.Errorf("requests = %d (min %d, ranges %d, discovery %d)", st.Requests, minReq, st.Ranges, st.Discovery)
					}
					t.Logf("requests %d (min %d), discovery %d, ranges %d", st.Requests, minReq, st.Discovery, st.Ranges)
				})
			}
		})
	}
}

func TestParallelPrefixAndEmpty(t *testing.T) {
	keys := []string{"a", "dat", "data/", "data/x", "data/y/z", "datab", "zz"}
	name := populateViaPut(t, bucket+"-par-prefix", keys)
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"data", []string{"data/", "data/x", "data/y/z", "datab"}},
		{"datab", []string{"datab"}}, // a key equal to the prefix is listed
		{"data/", []string{"data/", "data/x", "data/y/z"}},
		{"nothing-here/", nil},
		{"", keys},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			var got []string
			// Split points outside the prefix, or equal to it, are ignored.
			opt := Options{Workers: 4, MinSplitPages: 1, Sorted: true,
				SplitAfter: []string{"zz", "data/x", "a", tc.prefix, "data/x", "datab"}}
			_, err := Parallel(context.Background(), client.List, name, tc.prefix, opt, func(p Page) error {
				for _, e := range p.Entries {
					got = append(got, e.Key)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %q want %q", got, tc.want)
			}
		})
	}
}

// populateViaPut is populate with PUTs always (zero-byte bodies for keys
// ending in "/"), for tests that need the server to store every key as sent.
func populateViaPut(t *testing.T, name string, keys []string) string {
	t.Helper()
	ctx := context.Background()
	name = freshBucket(t, name)
	for _, k := range keys {
		body := []byte("x")
		if k[len(k)-1] == '/' {
			body = nil
		}
		if _, err := client.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(k), Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	return name
}

func TestFastParserUsedAgainstServer(t *testing.T) {
	h0, m0 := FastParseStats()
	if _, _, err := Dir(context.Background(), client.List, bucket, ""); err != nil {
		t.Fatal(err)
	}
	h1, m1 := FastParseStats()
	if h1 <= h0 || m1 != m0 {
		t.Fatalf("fast parser hits %d→%d, misses %d→%d: the server's responses fell back to the SDK decoder", h0, h1, m0, m1)
	}
}

func TestParallelMissingBucket(t *testing.T) {
	_, err := Parallel(context.Background(), client.List, bucket+"-nope", "", Options{Workers: 4}, func(Page) error { return nil })
	if err == nil {
		t.Fatal("expected an error")
	}
}

func TestDu(t *testing.T) {
	keys := layoutKeys("skewed", 3000)
	name := populate(t, bucket+"-du", keys) // every object holds 1 byte
	want := map[string]Usage{}
	for _, k := range keys {
		g := k[:len(k)-len(k[strings.IndexByte(k, '/')+1:])]
		u := want[g]
		u.Size++
		u.Count++
		want[g] = u
	}
	for _, tc := range []struct {
		name     string
		parallel bool
	}{{"serial", false}, {"parallel", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var c Counter
			res, st, err := Du(context.Background(), client.List, name, "", 1, tc.parallel, Options{Workers: 8, MinSplitPages: 1}, &c)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != (Usage{Size: int64(len(keys)), Count: int64(len(keys))}) {
				t.Errorf("total %+v, want %d/%d", res.Total, len(keys), len(keys))
			}
			if fmt.Sprint(res.Groups) != fmt.Sprint(want) {
				t.Errorf("groups %v\nwant %v", res.Groups, want)
			}
			if c.Keys.Load() != int64(len(keys)) || c.Requests.Load() != int64(st.Requests) {
				t.Errorf("counter keys=%d requests=%d, stats %+v", c.Keys.Load(), c.Requests.Load(), st)
			}
		})
	}
}

func TestDirParallelMatchesSerial(t *testing.T) {
	var keys []string
	for i := 0; i < 3200; i++ {
		keys = append(keys, fmt.Sprintf("lvl/f-%05d", i*7%3200))
		if i%40 == 0 {
			for j := 0; j < 30; j++ { // folders big enough that range cuts land inside them
				keys = append(keys, fmt.Sprintf("lvl/f-%05d.d/part-%02d", i, j))
			}
		}
	}
	name := populate(t, bucket+"-dirpar", keys)
	want, _, err := Dir(context.Background(), client.List, name, "lvl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"eager", Options{Workers: 8, MinSplitPages: 1}},
		{"defaults", Options{Workers: 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, st, err := Dir(context.Background(), client.List, name, "lvl/", tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("got %d entries, want %d (stats %+v)", len(got), len(want), st)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("entry %d: got %+v want %+v", i, got[i], want[i])
				}
			}
			t.Logf("stats %+v", st)
		})
	}
}

// checkOnce fails t unless got, the keys a listing emitted, are want's
// (sorted), each once, and when sorted is set in order as emitted.
func checkOnce(t *testing.T, got, want []string, sorted bool) {
	t.Helper()
	if sorted && !sort.StringsAreSorted(got) {
		t.Errorf("Sorted listing is out of order")
	}
	got = append([]string(nil), got...)
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %d keys, want %d: a key missing or listed twice", len(got), len(want))
	}
}

// recordingAPI passes requests on to api and records each one's prefix
// and delimiter.
type recordingAPI struct {
	API
	mu    sync.Mutex
	delim map[string]int // "prefix|delimiter" → requests
}

func (a *recordingAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	a.mu.Lock()
	a.delim[aws.ToString(in.Prefix)+"|"+aws.ToString(in.Delimiter)]++
	a.mu.Unlock()
	return a.API.ListObjectsV2(ctx, in, opts...)
}

// TestParallelGroups lists a flat folder of word-<hex> names (apple-…,
// banana-…, été-…) against the server: its groups are learnt with one
// listing delimited by '-' (names without it, and a subfolder whose names
// hold it, among them), and every key comes back exactly once.
func TestParallelGroups(t *testing.T) {
	words := []string{"apple", "banana", "cherry", "été", "kiwi"}
	var keys []string
	for i := 0; i < 15_000; i++ {
		h := sha1.Sum([]byte(fmt.Sprint(i)))
		keys = append(keys, fmt.Sprintf("fruit/%s-%s-%05d.txt", words[i%len(words)], hex.EncodeToString(h[:])[:8], i))
	}
	for i := 0; i < 300; i++ {
		keys = append(keys, fmt.Sprintf("fruit/sub/x-%03d", i), fmt.Sprintf("fruit/plain%03d.txt", i))
	}
	sort.Strings(keys)
	name := populate(t, bucket+"-par-groups", keys)
	for _, tc := range []struct {
		name   string
		prefix string
		opt    Options
		probe  string // the group probe wanted ("" for none)
	}{
		{"defaults", "", Options{Workers: 16}, "fruit/|-"},
		{"eager-sorted", "", Options{Workers: 8, MinSplitPages: 1, Sorted: true}, "fruit/|-"},
		{"eager-under-prefix", "fruit/", Options{Workers: 16, MinSplitPages: 1}, "fruit/|-"},
		// The groups' text is no longer than the prefix: its "groups"
		// would be one per name.
		{"prefix-inside-group", "fruit/kiwi-", Options{Workers: 16}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &recordingAPI{API: client.List, delim: map[string]int{}}
			var got []string
			st, err := Parallel(context.Background(), api, name, tc.prefix, tc.opt, func(p Page) error {
				for _, e := range p.Entries {
					got = append(got, e.Key)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, k := range keys {
				if strings.HasPrefix(k, tc.prefix) {
					want = append(want, k)
				}
			}
			checkOnce(t, got, want, tc.opt.Sorted)
			groupProbes := 0
			for k, n := range api.delim {
				if !strings.HasSuffix(k, "|") && !strings.HasSuffix(k, "|/") {
					groupProbes += n
					if k != tc.probe || n != 1 {
						t.Errorf("%d listing(s) of %q; want one of %q", n, k, tc.probe)
					}
				}
			}
			if (groupProbes == 1) != (tc.probe != "") {
				t.Errorf("%d group probes, want %q", groupProbes, tc.probe)
			}
			if tc.probe != "" && tc.opt.MinSplitPages == 1 && st.Ranges < len(words) {
				t.Errorf("%d ranges for %d groups of 3 pages each", st.Ranges, len(words))
			}
			t.Logf("stats %+v, listings by prefix|delimiter %v", st, api.delim)
		})
	}
}

// TestParallelFolderEnds lists folders holding their own marker objects
// (m/f07/, as consoles create), with a file beside each (m/f07.txt),
// against the server: ranges cut at the ends of folders (m/f06/ then
// U+10FFFF) and listed under the text their cursor and end share lose no
// key and list none twice, the markers at the cuts included, and some
// pages are listed under a folder's own prefix.
func TestParallelFolderEnds(t *testing.T) {
	var files, markers []string
	for f := 0; f < 12; f++ { // folders of more than a page: a range's last page starts inside one
		markers = append(markers, fmt.Sprintf("m/f%02d/", f))
		files = append(files, fmt.Sprintf("m/f%02d.txt", f))
		for i := 0; i < 1200; i++ {
			files = append(files, fmt.Sprintf("m/f%02d/part-%05d.bin", f, i))
		}
	}
	name := populate(t, bucket+"-par-folder-ends", files)
	for _, m := range markers {
		if _, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(name), Key: aws.String(m), Body: bytes.NewReader(nil)}); err != nil {
			t.Fatalf("put %q: %v", m, err)
		}
	}
	want := append(append([]string(nil), files...), markers...)
	sort.Strings(want)
	for _, tc := range []struct {
		name string
		opt  Options
	}{
		{"eager", Options{Workers: 8, MinSplitPages: 1}},
		{"eager-sorted", Options{Workers: 8, MinSplitPages: 1, Sorted: true}},
		{"defaults", Options{Workers: 16}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &recordingAPI{API: client.List, delim: map[string]int{}}
			var got []string
			st, err := Parallel(context.Background(), api, name, "", tc.opt, func(p Page) error {
				for _, e := range p.Entries {
					got = append(got, e.Key)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			checkOnce(t, got, want, tc.opt.Sorted)
			inFolder := 0
			for k, n := range api.delim {
				p, delim, _ := strings.Cut(k, "|")
				if delim == "" && strings.HasPrefix(p, "m/f") && strings.HasSuffix(p, "/") {
					inFolder += n
				}
			}
			if tc.opt.MinSplitPages == 1 && inFolder == 0 {
				t.Errorf("no page was listed under a folder's prefix (requests by prefix|delimiter %v)", api.delim)
			}
			t.Logf("stats %+v, pages under a folder's prefix %d", st, inFolder)
		})
	}
}
