package listing

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// arenaAPI serves sorted keys the way the fast parser hands them over:
// every key of a page is a view of one string made for that page. It
// records each page's string.
type arenaAPI struct {
	keys   []string
	mu     sync.Mutex
	arenas []string
}

func (a *arenaAPI) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	i := sort.SearchStrings(a.keys, aws.ToString(in.StartAfter)+"\x00")
	j := min(len(a.keys), i+int(aws.ToInt32(in.MaxKeys)))
	arena := strings.Join(a.keys[i:j], "")
	a.mu.Lock()
	a.arenas = append(a.arenas, arena)
	a.mu.Unlock()
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(j < len(a.keys))}
	at := 0
	for _, k := range a.keys[i:j] {
		key := arena[at : at+len(k)]
		at += len(k)
		out.Contents = append(out.Contents, types.Object{Key: &key, Size: aws.Int64(1)})
	}
	return out, nil
}

func (a *arenaAPI) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("not used")
}

// TestRangeKeepsNoPageAlive: a range remembers keys (its first, its
// cursor, the cursor before its last page) for the whole listing, finished
// ranges too. Keys are views of their page's names, so the range must hold
// copies: views kept every page a range ended on alive, and a 10 M-key du
// grew by ~70 MB of them. The same holds for what a probe records.
func TestRangeKeepsNoPageAlive(t *testing.T) {
	var keys []string
	for i := 0; i < 2500; i++ {
		keys = append(keys, fmt.Sprintf("day=%02d/part-%05d.parquet", i/100, i))
	}
	api := &arenaAPI{keys: keys}
	l := testLister()
	l.ctx, l.api, l.bucket, l.counter = context.Background(), api, "b", &Counter{}
	l.cond = sync.NewCond(&l.mu)
	l.emit = func(Page) error { return nil }
	r := &krange{open: true, active: true}
	l.ranges = []*krange{r}
	if _, err := l.listRange(r); err != nil {
		t.Fatal(err)
	}
	d, err := l.probe("")
	if err != nil {
		t.Fatal(err)
	}
	if r.seen != int64(len(keys)) || r.pages != 3 {
		t.Fatalf("listed %d keys in %d pages, want %d in 3", r.seen, r.pages, len(keys))
	}
	for _, k := range []struct{ name, s string }{
		{"range's first", r.first}, {"range's cursor", r.cursor}, {"range's prev", r.prev},
		{"probe's first", d.first}, {"probe's last", d.last},
	} {
		p := uintptr(unsafe.Pointer(unsafe.StringData(k.s)))
		for i, a := range api.arenas {
			lo := uintptr(unsafe.Pointer(unsafe.StringData(a)))
			if p >= lo && p < lo+uintptr(len(a)) {
				t.Errorf("the %s (%q) is a view of page %d", k.name, k.s, i)
			}
		}
	}
}
