package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/benchmarks/internal/s3test"
	"github.com/s3turbo/s3turbo/go/s3client"
)

const bucket = "getoracle"

var (
	server *s3test.Server
	bodies = map[string][]byte{} // key -> content, written in TestMain
)

func TestMain(m *testing.M) {
	os.Exit(s3test.Main(m, "getoracle", bucket, func(srv *s3test.Server, c *s3client.Client) error {
		server = srv
		rng := rand.New(rand.NewPCG(1, 2))
		sizes := map[string]int{
			"empty": 0, "one": 1, "small/a": 1000, "small/b": 4096, "dir/odd name+&=.bin": 777,
			"large": 3<<20 + 12345, "exact": 1 << 20,
		}
		for k, n := range sizes {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if _, err := c.S3.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String(k), Body: bytes.NewReader(b),
			}); err != nil {
				return fmt.Errorf("put %s: %w", k, err)
			}
			bodies[k] = b
		}
		return nil
	}))
}

func cfg(t *testing.T, part int64, concurrency int) Config {
	if server == nil {
		t.Skip("no S3 server")
	}
	return Config{Endpoint: server.Endpoint, Bucket: bucket, Region: "us-east-1",
		Access: server.Key, Secret: server.Secret, Part: part, Concurrency: concurrency}
}

// check runs o with a sink that compares every body with the expected bytes
// and returns the result and the requests seen.
func check(t *testing.T, o *Oracle) (*Result, int) {
	t.Helper()
	var mu sync.Mutex
	seen := 0
	var bad []string
	o.sink = func(r *request, body []byte) {
		it := o.items[r.item]
		want := bodies[it.Key]
		if it.Whole && !r.ranged {
			want = want[:it.Length]
		} else {
			want = want[r.start : r.start+r.length]
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if !bytes.Equal(body, want) {
			bad = append(bad, fmt.Sprintf("%s [%d,+%d)", it.Key, r.start, r.length))
		}
	}
	res, err := o.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bad) > 0 {
		t.Fatalf("wrong bytes for %v", bad)
	}
	return res, seen
}

func TestObjectsWholeAndParts(t *testing.T) {
	var items []Item
	var total int64
	for k, b := range bodies {
		items = append(items, Item{Key: k, Length: int64(len(b)), Whole: true})
		total += int64(len(b))
	}
	for _, c := range []int{1, 3, 64} {
		o, err := New(cfg(t, 1<<20, c), items)
		if err != nil {
			t.Fatal(err)
		}
		res, seen := check(t, o)
		// "large" is 4 parts of 1 MiB, "exact" one request, the rest one each.
		if want := int64(len(items) - 1 + 4); res.Requests != want || seen != int(want) {
			t.Fatalf("concurrency %d: %d requests (%d seen), want %d", c, res.Requests, seen, want)
		}
		if res.Bytes != total || res.Items != len(items) || res.Concurrency != min(c, int(res.Requests)) {
			t.Fatalf("concurrency %d: %+v, want %d bytes", c, res, total)
		}
	}
}

func TestRanges(t *testing.T) {
	c := cfg(t, 1<<10, 16) // part size does not split ranges
	rng := rand.New(rand.NewPCG(3, 4))
	size := int64(len(bodies["large"]))
	var items []Item
	var total int64
	for i := 0; i < 200; i++ {
		n := 1 + rng.Int64N(70000)
		s := rng.Int64N(size - n + 1)
		items = append(items, Item{Key: "large", Start: s, Length: n})
		total += n
	}
	items = append(items, Item{Key: "dir/odd name+&=.bin", Start: 700, Length: 77})
	total += 77
	o, err := New(c, items)
	if err != nil {
		t.Fatal(err)
	}
	res, seen := check(t, o)
	if res.Requests != int64(len(items)) || seen != len(items) || res.Bytes != total {
		t.Fatalf("%+v (%d seen), want %d requests, %d bytes", res, seen, len(items), total)
	}
}

func TestWrongKnowledgeFails(t *testing.T) {
	c := cfg(t, 8<<20, 4)
	for name, items := range map[string][]Item{
		"size too small": {{Key: "small/a", Length: 999, Whole: true}},
		"size too large": {{Key: "small/a", Length: 1001, Whole: true}},
		"missing key":    {{Key: "nope", Length: 10, Whole: true}},
		"range past end": {{Key: "small/a", Start: 990, Length: 20}},
	} {
		o, err := New(c, items)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.Run(context.Background()); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	c.Secret = "wrong"
	o, _ := New(c, []Item{{Key: "one", Length: 1, Whole: true}})
	if _, err := o.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("bad signature: %v", err)
	}
}

func TestServeOneRunPerLine(t *testing.T) {
	o, err := New(cfg(t, 8<<20, 2), []Item{{Key: "small/a", Length: 1000, Whole: true}, {Key: "one", Length: 1, Whole: true}})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := o.Serve(context.Background(), strings.NewReader("\n\ngo\n"), &out); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(&out)
	var ready Ready
	if err := dec.Decode(&ready); err != nil || ready != (Ready{Ready: true, Requests: 2, Bytes: 1001}) {
		t.Fatalf("ready line: %+v %v", ready, err)
	}
	runs := 0
	for dec.More() {
		var r Result
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		if r.Bytes != 1001 || r.Requests != 2 || r.Seconds <= 0 {
			t.Fatalf("run %d: %+v", runs, r)
		}
		runs++
	}
	if runs != 3 {
		t.Fatalf("%d runs, want 3", runs)
	}
}

func TestParseSpec(t *testing.T) {
	items, err := parseSpec(strings.NewReader("10\ta/b c\n\n0\tempty\n"), false)
	if err != nil || len(items) != 2 || items[0] != (Item{Key: "a/b c", Length: 10, Whole: true}) || items[1].Length != 0 {
		t.Fatalf("%+v %v", items, err)
	}
	items, err = parseSpec(strings.NewReader("5\t3\tk\te\n"), true)
	if err != nil || len(items) != 1 || items[0] != (Item{Key: "k\te", Start: 5, Length: 3}) {
		t.Fatalf("%+v %v", items, err)
	}
	for _, bad := range []string{"", "x\tk\n", "-1\tk\n", "10\n"} {
		if _, err := parseSpec(strings.NewReader(bad), false); err == nil {
			t.Errorf("objects %q: no error", bad)
		}
	}
	if _, err := parseSpec(strings.NewReader("1\t0\tk\n"), true); err == nil {
		t.Error("empty range: no error")
	}
}

func TestEscape(t *testing.T) {
	if got := escapeSegment("a b+&=~._-Z9é"); got != "a%20b%2B%26%3D~._-Z9%C3%A9" {
		t.Fatal(got)
	}
}
