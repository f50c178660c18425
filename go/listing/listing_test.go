package listing_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/listing"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

var (
	client *s3client.Client
	bucket = fmt.Sprintf("listing-test-%d", time.Now().UnixNano()%1e9)
	// seedStart is taken just before the fixture objects are written.
	seedStart time.Time
	// objects maps every key PUT by seed to what PutObject reported.
	objects = map[string]putResult{}
)

type putResult struct {
	size int64
	etag string
}

const bigCount = 1100 // more than one 1000-key page

// encKeys are keys whose bytes need escaping in XML or a URL but contain
// neither '+' nor '%' (see encCases for those), listed together under "enc".
var encKeys = []string{
	"enc/with space",
	"enc/two  spaces ",
	"enc/k=v&x=y",
	"enc/ünïcödé",
	"enc/日本語のキー",
	"enc/emoji-😀",
	"enc/tilde~star*",
	"enc/question?hash#",
	"enc/semi;colon,comma:at@",
	"enc/quotes'\"",
	"enc/angle<brackets>",
	"enc/dollar$bang!paren()",
	"enc/sub dir=&x/f",
	"enc/ü-dir/g",
}

// encCases each PUT one key "encx/<name>/<leaf>" so that each awkward key is
// listed (and can fail) on its own.
var encCases = []struct {
	name, leaf string
}{
	{"space", "a b"},
	{"equals-amp", "k=v&x=y"},
	{"unicode", "ünï 日本"},
	{"plus", "a+b"},
	{"plus-space", "a+b c"},
	{"percent-end", "100%"},
	{"percent-hex", "a%41b"},
	{"percent-invalid", "%zz"},
	{"percent-2F", "a%2Fb"},
	{"percent-20", "a%20b"},
	{"plus-dir", "a+b/f"},
	{"percent-dir", "x%25y/f"},
}

// fixtureKeys returns every key the listing tests PUT.
func fixtureKeys() []string {
	keys := []string{
		"rootfile",
		"tree/top", "tree/a/file3", "tree/a/b/file2", "tree/a/b/c/file1",
		"tree/a/b/c/d/deep", "tree/a2",
		"mk/", "mk/f", "mk/sub/", "mk/sub/g",
		"emptydir/",
		"obj/plain", "obj/other",
		"big/zz-sub/x", "big/aa-sub/y",
	}
	for i := 0; i < bigCount; i++ {
		keys = append(keys, fmt.Sprintf("big/k%04d", i))
	}
	for _, c := range encCases {
		keys = append(keys, "encx/"+c.name+"/"+c.leaf)
	}
	return append(keys, encKeys...)
}

func body(key string) []byte {
	if strings.HasSuffix(key, "/") {
		return nil // directory marker
	}
	return []byte("data for " + key)
}

// seed PUTs the fixture with a bounded number of concurrent requests.
func seed(ctx context.Context) error {
	const workers = 16
	keys := fixtureKeys()
	work := make(chan string)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	seedStart = time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for key := range work {
				data := body(key)
				out, err := client.S3.PutObject(ctx, &s3.PutObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("put %q: %w", key, err)
				}
				if err == nil {
					objects[key] = putResult{size: int64(len(data)), etag: aws.ToString(out.ETag)}
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	return firstErr
}

// forAPIs runs test against both ways the engine fetches pages: the lean
// path (client.List, what the C API uses) and the SDK with the fast parser
// installed (client.S3, used where the lean path does not apply).
func forAPIs(t *testing.T, test func(*testing.T, listing.API)) {
	for _, a := range []struct {
		name string
		api  listing.API
	}{{"lean", client.List}, {"sdk", client.S3}} {
		t.Run(a.name, func(t *testing.T) { test(t, a.api) })
	}
}

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "listing", bucket, func(srv *testserver.Server, c *s3client.Client) error {
		server, client = srv, c
		return seed(context.Background())
	}))
}

// reference computes what Dir should return for a directory listing of
// prefix, from the keys that were PUT: objects directly under prefix+"/"
// sorted by key, then the common prefixes one level down, without the
// directory marker itself.
func reference(prefix string) []listing.Entry {
	dirPrefix := prefix
	if dirPrefix != "" && !strings.HasSuffix(dirPrefix, "/") {
		dirPrefix += "/"
	}
	var files, dirs []listing.Entry
	seen := map[string]bool{}
	for key, obj := range objects {
		rest, ok := strings.CutPrefix(key, dirPrefix)
		if !ok || rest == "" {
			continue
		}
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			d := dirPrefix + rest[:i]
			if !seen[d] {
				seen[d] = true
				dirs = append(dirs, listing.Entry{Key: d, IsDir: true})
			}
			continue
		}
		files = append(files, listing.Entry{Key: key, Size: obj.size, ETag: obj.etag})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Key < files[j].Key })
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].Key < dirs[j].Key })
	return append(files, dirs...)
}

// pages counts the ListObjectsV2 pages the server returns for a delimited
// listing of prefix, independently of the code under test.
func pages(t *testing.T, prefix string) int {
	t.Helper()
	p := s3.NewListObjectsV2Paginator(client.S3, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")})
	n := 0
	for p.HasMorePages() {
		if _, err := p.NextPage(context.Background()); err != nil {
			t.Fatalf("reference listing of %q: %v", prefix, err)
		}
		n++
	}
	return n
}

// checkEntries compares got with want key by key, and checks the metadata
// of files and directories.
func checkEntries(t *testing.T, got, want []listing.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d entries, want %d", len(got), len(want))
	}
	lo, hi := seedStart.Add(-2*time.Minute).UnixNano(), time.Now().Add(2*time.Minute).UnixNano()
	for i := 0; i < len(got) && i < len(want); i++ {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.IsDir != w.IsDir {
			t.Errorf("entry %d = {Key: %q, IsDir: %v}, want {Key: %q, IsDir: %v}", i, g.Key, g.IsDir, w.Key, w.IsDir)
			continue
		}
		if g.IsDir {
			if g.Size != 0 || g.ETag != "" || g.Mtime != 0 {
				t.Errorf("dir entry %q has metadata %+v", g.Key, g)
			}
			continue
		}
		if g.Size != w.Size {
			t.Errorf("%q: Size = %d, want %d", g.Key, g.Size, w.Size)
		}
		if g.ETag == "" || (w.ETag != "" && g.ETag != w.ETag) {
			t.Errorf("%q: ETag = %q, want %q", g.Key, g.ETag, w.ETag)
		}
		if g.Mtime < lo || g.Mtime > hi {
			t.Errorf("%q: Mtime = %d (%v), want around %v", g.Key, g.Mtime, time.Unix(0, g.Mtime), seedStart)
		}
	}
	if t.Failed() {
		for i := len(want); i < len(got); i++ {
			t.Logf("extra entry %q", got[i].Key)
		}
		for i := len(got); i < len(want); i++ {
			t.Logf("missing entry %q", want[i].Key)
		}
	}
}

func TestDirAgainstReference(t *testing.T) { forAPIs(t, testDirAgainstReference) }

func testDirAgainstReference(t *testing.T, api listing.API) {
	tests := []struct {
		name   string
		prefix string
		// listPrefix is the prefix Dir sends (prefix plus "/"), for counting pages.
		listPrefix string
		minPages   int
	}{
		{"root", "", "", 1},
		{"big-paginated", "big", "big/", 2},
		{"big-paginated-slash", "big/", "big/", 2},
		{"tree", "tree", "tree/", 1},
		{"tree-slash", "tree/", "tree/", 1},
		{"tree-a", "tree/a", "tree/a/", 1},
		{"tree-a-slash", "tree/a/", "tree/a/", 1},
		{"tree-a-b", "tree/a/b", "tree/a/b/", 1},
		{"tree-a-b-c", "tree/a/b/c", "tree/a/b/c/", 1},
		{"tree-a-b-c-d-slash", "tree/a/b/c/d/", "tree/a/b/c/d/", 1},
		{"encoded-keys", "enc", "enc/", 1},
		{"encoded-dir-name", "enc/sub dir=&x", "enc/sub dir=&x/", 1},
		{"unicode-dir-name", "enc/ü-dir/", "enc/ü-dir/", 1},
		{"marker-omitted", "mk", "mk/", 1},
		{"marker-omitted-slash", "mk/", "mk/", 1},
		{"nested-marker-omitted", "mk/sub", "mk/sub/", 1},
		{"marker-only", "emptydir", "emptydir/", 1},
		{"marker-only-slash", "emptydir/", "emptydir/", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, st, err := listing.Dir(context.Background(), api, bucket, tc.prefix)
			if err != nil {
				t.Fatalf("Dir(%q): class %d: %v", tc.prefix, s3err.Classify(err), err)
			}
			checkEntries(t, got, reference(tc.prefix))
			n := pages(t, tc.listPrefix)
			if n < tc.minPages {
				t.Fatalf("reference listing of %q took %d pages, want at least %d", tc.listPrefix, n, tc.minPages)
			}
			if st.Requests != n {
				t.Errorf("Stats.Requests = %d, want %d (one per page)", st.Requests, n)
			}
		})
	}
}

// TestDirEncodedKeysExact checks that every awkward key comes back from Dir
// byte for byte, each listed under its own prefix. (versitygw ignores
// EncodingType=url and sends raw keys, so this also checks that Dir only
// decodes responses that declare the encoding.)
func TestDirEncodedKeysExact(t *testing.T) { forAPIs(t, testDirEncodedKeysExact) }

func testDirEncodedKeysExact(t *testing.T, api listing.API) {
	for _, tc := range encCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prefix := "encx/" + tc.name
			want := listing.Entry{Key: prefix + "/" + tc.leaf}
			if i := strings.IndexByte(tc.leaf, '/'); i >= 0 {
				want = listing.Entry{Key: prefix + "/" + tc.leaf[:i], IsDir: true}
			}
			got, _, err := listing.Dir(context.Background(), api, bucket, prefix)
			if err != nil {
				t.Fatalf("Dir(%q): class %d: %v", prefix, s3err.Classify(err), err)
			}
			if len(got) != 1 || got[0].Key != want.Key || got[0].IsDir != want.IsDir {
				t.Fatalf("Dir(%q) = %q, want exactly [%q] (IsDir %v)", prefix, keysOf(got), want.Key, want.IsDir)
			}
		})
	}
}

func keysOf(es []listing.Entry) []string {
	ks := make([]string, len(es))
	for i, e := range es {
		ks[i] = e.Key
	}
	return ks
}

func TestDirObjectAndErrors(t *testing.T) { forAPIs(t, testDirObjectAndErrors) }

func testDirObjectAndErrors(t *testing.T, api listing.API) {
	tests := []struct {
		name     string
		bucket   string
		prefix   string
		want     []listing.Entry // nil with wantCode != OK
		wantCode s3err.Code
		requests int
	}{
		{
			name: "prefix-names-object", bucket: bucket, prefix: "obj/plain",
			want:     []listing.Entry{{Key: "obj/plain", Size: int64(len(body("obj/plain")))}},
			requests: 2, // list + HEAD
		},
		{
			name: "prefix-names-root-object", bucket: bucket, prefix: "rootfile",
			want:     []listing.Entry{{Key: "rootfile", Size: int64(len(body("rootfile")))}},
			requests: 2,
		},
		{
			name: "prefix-names-encoded-object", bucket: bucket, prefix: "encx/plus-space/a+b c",
			want:     []listing.Entry{{Key: "encx/plus-space/a+b c", Size: int64(len(body("encx/plus-space/a+b c")))}},
			requests: 2,
		},
		{name: "object-with-slash-is-not-object", bucket: bucket, prefix: "obj/plain/", wantCode: s3err.NotFound, requests: 1},
		{name: "nonexistent-prefix", bucket: bucket, prefix: "nope", wantCode: s3err.NotFound, requests: 2},
		{name: "nonexistent-prefix-slash", bucket: bucket, prefix: "nope/", wantCode: s3err.NotFound, requests: 1},
		{name: "nonexistent-nested", bucket: bucket, prefix: "tree/a/zzz", wantCode: s3err.NotFound, requests: 2},
		{name: "partial-name-is-not-prefix", bucket: bucket, prefix: "tre", wantCode: s3err.NotFound, requests: 2},
		{name: "missing-bucket", bucket: bucket + "-missing", prefix: "", wantCode: s3err.NotFound, requests: 1},
		{name: "missing-bucket-with-prefix", bucket: bucket + "-missing", prefix: "a/b", wantCode: s3err.NotFound, requests: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, st, err := listing.Dir(context.Background(), api, tc.bucket, tc.prefix)
			if c := s3err.Classify(err); c != tc.wantCode {
				t.Fatalf("Dir(%q, %q): class %d (%v), want %d", tc.bucket, tc.prefix, c, err, tc.wantCode)
			}
			if st.Requests != tc.requests {
				t.Errorf("Stats.Requests = %d, want %d", st.Requests, tc.requests)
			}
			if err != nil {
				if got != nil {
					t.Errorf("entries %v returned with error", got)
				}
				return
			}
			for i := range tc.want {
				tc.want[i].ETag = objects[tc.want[i].Key].etag
			}
			checkEntries(t, got, tc.want)
		})
	}
}

// fakeAPI serves canned ListObjectsV2 pages and a HeadObject result, and
// records the requests.
type fakeAPI struct {
	mu      sync.Mutex
	pages   []*s3.ListObjectsV2Output
	listErr error
	head    *s3.HeadObjectOutput
	headErr error
	inputs  []s3.ListObjectsV2Input
	heads   int
}

func (f *fakeAPI) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.inputs = append(f.inputs, *in)
	if f.listErr != nil {
		return nil, f.listErr
	}
	i := len(f.inputs) - 1
	if i >= len(f.pages) {
		return nil, fmt.Errorf("fake: unexpected request %d", i+1)
	}
	return f.pages[i], nil
}

func (f *fakeAPI) HeadObject(ctx context.Context, _ *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads++
	if f.headErr != nil {
		return nil, f.headErr
	}
	if f.head == nil {
		return nil, &types.NotFound{}
	}
	return f.head, nil
}

func obj(key string, size int64) types.Object {
	return types.Object{Key: aws.String(key), Size: aws.Int64(size), ETag: aws.String(`"e"`),
		LastModified: aws.Time(time.Unix(1700000000, 0))}
}

func cp(p string) types.CommonPrefix { return types.CommonPrefix{Prefix: aws.String(p)} }

func page(truncated bool, next string, objs []types.Object, cps ...types.CommonPrefix) *s3.ListObjectsV2Output {
	out := &s3.ListObjectsV2Output{Contents: objs, CommonPrefixes: cps, IsTruncated: aws.Bool(truncated),
		EncodingType: types.EncodingTypeUrl}
	if next != "-" {
		out.NextContinuationToken = aws.String(next)
	}
	return out
}

func TestDirFake(t *testing.T) {
	const mtime = int64(1700000000) * 1e9
	tests := []struct {
		name     string
		prefix   string
		api      *fakeAPI
		cancel   bool
		want     []listing.Entry
		wantCode s3err.Code
		requests int
		heads    int
		tokens   []string // ContinuationToken of each request ("" for none)
	}{
		{
			name: "truncated-without-token", prefix: "p",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(true, "-", []types.Object{obj("p/a", 1)})}},
			wantCode: s3err.Corrupt, requests: 1, tokens: []string{""},
		},
		{
			name: "truncated-with-empty-token", prefix: "p",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(true, "", []types.Object{obj("p/a", 1)})}},
			wantCode: s3err.Corrupt, requests: 1, tokens: []string{""},
		},
		{
			name: "truncated-without-token-on-second-page", prefix: "",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{
				page(true, "t1", []types.Object{obj("a", 1)}),
				page(true, "-", nil, cp("d/")),
			}},
			wantCode: s3err.Corrupt, requests: 2, tokens: []string{"", "t1"},
		},
		{
			name: "undecodable-key", prefix: "p",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", []types.Object{obj("p/%zz", 1)})}},
			wantCode: s3err.Corrupt, requests: 1,
		},
		{
			name: "undecodable-prefix", prefix: "p",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil, cp("p/%zz/"))}},
			wantCode: s3err.Corrupt, requests: 1,
		},
		{
			name: "undecodable-key-on-second-page", prefix: "p/",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{
				page(true, "t1", []types.Object{obj("p/a", 1)}),
				page(false, "-", []types.Object{obj("p/b%", 1)}),
			}},
			wantCode: s3err.Corrupt, requests: 2,
		},
		{
			name: "three-pages-files-then-dirs", prefix: "p",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{
				page(true, "t1", []types.Object{obj("p/", 0), obj("p/a", 1)}, cp("p/d1/")),
				page(true, "t2", []types.Object{obj("p/b", 2)}, cp("p/d2/")),
				page(false, "-", []types.Object{obj("p/c", 3)}),
			}},
			want: []listing.Entry{
				{Key: "p/a", Size: 1, ETag: `"e"`, Mtime: mtime},
				{Key: "p/b", Size: 2, ETag: `"e"`, Mtime: mtime},
				{Key: "p/c", Size: 3, ETag: `"e"`, Mtime: mtime},
				{Key: "p/d1", IsDir: true},
				{Key: "p/d2", IsDir: true},
			},
			requests: 3, tokens: []string{"", "t1", "t2"},
		},
		{
			name: "url-decoding", prefix: "p",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-",
				[]types.Object{obj("p/a+b%2Bc%20d", 1), obj("p/%C3%BC%25", 2)}, cp("p/x%3Dy%26z/"))}},
			want: []listing.Entry{
				{Key: "p/a b+c d", Size: 1, ETag: `"e"`, Mtime: mtime},
				{Key: "p/ü%", Size: 2, ETag: `"e"`, Mtime: mtime},
				{Key: "p/x=y&z", IsDir: true},
			},
			requests: 1,
		},
		{
			// A server that ignores EncodingType=url sends raw keys and
			// no EncodingType element: keys must not be decoded.
			name: "response-not-url-encoded", prefix: "p",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{{
				Contents:       []types.Object{obj("p/100%", 3), obj("p/a%41b", 2), obj("p/a+b", 1)}, // S3 sends keys sorted
				CommonPrefixes: []types.CommonPrefix{cp("p/x+y/")}}}},
			want: []listing.Entry{
				{Key: "p/100%", Size: 3, ETag: `"e"`, Mtime: mtime},
				{Key: "p/a%41b", Size: 2, ETag: `"e"`, Mtime: mtime},
				{Key: "p/a+b", Size: 1, ETag: `"e"`, Mtime: mtime},
				{Key: "p/x+y", IsDir: true},
			},
			requests: 1,
		},
		{
			name: "nil-metadata", prefix: "",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{{
				Contents: []types.Object{{Key: aws.String("k")}}}}},
			want:     []listing.Entry{{Key: "k"}},
			requests: 1,
		},
		{
			name: "marker-only", prefix: "p",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", []types.Object{obj("p/", 0)})}},
			want:     nil,
			requests: 1,
		},
		{
			name: "empty-root", prefix: "",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil)}},
			requests: 1,
		},
		{
			name: "empty-then-head-finds-object", prefix: "p/obj",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil)},
				head: &s3.HeadObjectOutput{ContentLength: aws.Int64(42), ETag: aws.String(`"h"`),
					LastModified: aws.Time(time.Unix(1700000000, 0))}},
			want:     []listing.Entry{{Key: "p/obj", Size: 42, ETag: `"h"`, Mtime: mtime}},
			requests: 2, heads: 1,
		},
		{
			name: "empty-then-head-not-found", prefix: "p/obj",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil)}},
			wantCode: s3err.NotFound, requests: 2, heads: 1,
		},
		{
			name: "empty-then-head-denied", prefix: "p/obj",
			api: &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil)},
				headErr: &smithy.GenericAPIError{Code: "AccessDenied"}},
			wantCode: s3err.Permission, requests: 2, heads: 1,
		},
		{
			name: "empty-with-slash-no-head", prefix: "p/",
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil)}},
			wantCode: s3err.NotFound, requests: 1,
		},
		{
			name: "list-no-such-bucket", prefix: "p",
			api:      &fakeAPI{listErr: &types.NoSuchBucket{}},
			wantCode: s3err.NotFound, requests: 1,
		},
		{
			name: "list-access-denied", prefix: "",
			api:      &fakeAPI{listErr: &smithy.GenericAPIError{Code: "AccessDenied"}},
			wantCode: s3err.Permission, requests: 1,
		},
		{
			name: "cancelled", prefix: "p", cancel: true,
			api:      &fakeAPI{pages: []*s3.ListObjectsV2Output{page(false, "-", nil)}},
			wantCode: s3err.Cancelled, requests: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			got, st, err := listing.Dir(ctx, tc.api, "bkt", tc.prefix)
			if c := s3err.Classify(err); c != tc.wantCode {
				t.Fatalf("Dir: class %d (%v), want %d", c, err, tc.wantCode)
			}
			if st.Requests != tc.requests {
				t.Errorf("Stats.Requests = %d, want %d", st.Requests, tc.requests)
			}
			if tc.api.heads != tc.heads {
				t.Errorf("HeadObject called %d times, want %d", tc.api.heads, tc.heads)
			}
			wantPrefix := tc.prefix
			if wantPrefix != "" && !strings.HasSuffix(wantPrefix, "/") {
				wantPrefix += "/"
			}
			for i, in := range tc.api.inputs {
				if aws.ToString(in.Bucket) != "bkt" || aws.ToString(in.Prefix) != wantPrefix ||
					aws.ToString(in.Delimiter) != "/" || in.EncodingType != types.EncodingTypeUrl {
					t.Errorf("request %d: bucket=%q prefix=%q delimiter=%q encoding=%q", i,
						aws.ToString(in.Bucket), aws.ToString(in.Prefix), aws.ToString(in.Delimiter), in.EncodingType)
				}
				if tc.tokens != nil && aws.ToString(in.ContinuationToken) != tc.tokens[i] {
					t.Errorf("request %d: ContinuationToken = %q, want %q", i, aws.ToString(in.ContinuationToken), tc.tokens[i])
				}
			}
			if err != nil {
				if got != nil {
					t.Errorf("entries %v returned with error", got)
				}
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
