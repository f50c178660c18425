// Command getoracle is the practical limit for reading objects: raw
// concurrent HTTP GETs with perfect knowledge of what to fetch.
//
// It knows every object's size (or every byte range) in advance, so it plans
// the minimum set of requests before the clock starts: one plain GET per
// object up to -part bytes, ranged GETs of -part bytes for larger objects,
// one ranged GET per requested range. -concurrency workers then pull requests
// from the plan, sign each with SigV4 (aws-sdk-go-v2's v4 signer, no SDK
// client; or unsigned with -anon) and read each body into a buffer
// preallocated for that worker, then discard it. Every response is checked:
// status 200 (206 for ranges), Content-Length and the number of bytes read
// must equal the planned length, or the run fails.
//
// What to read (one of):
//
//	-key K -size N        one object of N bytes (split into -part ranges)
//	-objects FILE         lines "size<TAB>key"
//	-ranges FILE          lines "start<TAB>length<TAB>key" (one ranged GET each)
//
// Output, one JSON line per run:
//
//	{"seconds": s, "bytes": b, "requests": r, "concurrency": c, "items": n}
//
// seconds covers the requests only: planning, buffer allocation and process
// start-up are the oracle's prior knowledge. With -stdin the process stays up
// (connections stay warm, as in a long-lived client) and does one run per
// line read from stdin, printing one JSON line each, until EOF: a benchmark
// harness can time each run without process start-up. The first line it
// prints, {"ready": true, "requests": r, "bytes": b}, says the plan is made.
//
// Credentials: -access/-secret, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint, e.g. http://127.0.0.1:9000 (required)")
	bucket := flag.String("bucket", "bench", "bucket")
	region := flag.String("region", "us-east-1", "signing region")
	access := flag.String("access", os.Getenv("AWS_ACCESS_KEY_ID"), "access key (default $AWS_ACCESS_KEY_ID)")
	secret := flag.String("secret", os.Getenv("AWS_SECRET_ACCESS_KEY"), "secret key (default $AWS_SECRET_ACCESS_KEY)")
	anon := flag.Bool("anon", false, "send unsigned requests")
	key := flag.String("key", "", "one object to read (with -size)")
	size := flag.Int64("size", -1, "size of -key in bytes")
	objects := flag.String("objects", "", `file of "size<TAB>key" lines`)
	ranges := flag.String("ranges", "", `file of "start<TAB>length<TAB>key" lines`)
	part := flag.Int64("part", 8<<20, "bytes per ranged GET for objects larger than this")
	concurrency := flag.Int("concurrency", 64, "requests in flight")
	stdin := flag.Bool("stdin", false, "one run per line read from stdin, until EOF")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("getoracle: ")
	if *endpoint == "" {
		log.Fatal("-endpoint is required")
	}
	if !*anon && (*access == "" || *secret == "") {
		log.Fatal("credentials needed: -access/-secret, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or -anon")
	}

	var items []Item
	var err error
	switch {
	case *key != "" && *objects == "" && *ranges == "":
		if *size < 0 {
			log.Fatal("-key needs -size")
		}
		items = []Item{{Key: *key, Length: *size, Whole: true}}
	case *key == "" && *objects != "" && *ranges == "":
		items, err = readSpec(*objects, false)
	case *key == "" && *objects == "" && *ranges != "":
		items, err = readSpec(*ranges, true)
	default:
		log.Fatal("give exactly one of -key, -objects, -ranges")
	}
	if err != nil {
		log.Fatal(err)
	}
	o, err := New(Config{
		Endpoint: *endpoint, Bucket: *bucket, Region: *region,
		Access: *access, Secret: *secret, Anon: *anon,
		Part: *part, Concurrency: *concurrency,
	}, items)
	if err != nil {
		log.Fatal(err)
	}
	enc := json.NewEncoder(os.Stdout)
	if !*stdin {
		res, err := o.Run(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		enc.Encode(res)
		return
	}
	if err := o.Serve(context.Background(), os.Stdin, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// Item is one thing to read: a whole object of known size, or a byte range.
type Item struct {
	Key    string
	Start  int64
	Length int64
	Whole  bool // the whole object (Length is its size); else the range [Start, Start+Length)
}

// readSpec parses an -objects ("size\tkey") or -ranges ("start\tlength\tkey") file.
func readSpec(path string, isRanges bool) ([]Item, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseSpec(f, isRanges)
}

func parseSpec(r io.Reader, isRanges bool) ([]Item, error) {
	var items []Item
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	fields := 2
	if isRanges {
		fields = 3
	}
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if text == "" {
			continue
		}
		parts := strings.SplitN(text, "\t", fields)
		if len(parts) != fields || parts[fields-1] == "" {
			return nil, fmt.Errorf("line %d: want %d tab-separated fields, got %q", line, fields, text)
		}
		nums := make([]int64, fields-1)
		for i := range nums {
			v, err := strconv.ParseInt(parts[i], 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("line %d: bad number %q", line, parts[i])
			}
			nums[i] = v
		}
		if isRanges {
			if nums[1] == 0 {
				return nil, fmt.Errorf("line %d: empty range", line)
			}
			items = append(items, Item{Key: parts[2], Start: nums[0], Length: nums[1]})
		} else {
			items = append(items, Item{Key: parts[1], Length: nums[0], Whole: true})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, errors.New("nothing to read")
	}
	return items, nil
}

// Config says where and how to read.
type Config struct {
	Endpoint, Bucket, Region string
	Access, Secret           string
	Anon                     bool
	Part                     int64 // bytes per ranged GET of a whole object larger than this
	Concurrency              int
}

// request is one planned GET.
type request struct {
	url    *url.URL
	start  int64
	length int64
	ranged bool
	item   int // index into the items
}

// Oracle holds a plan and everything a run needs, all made before the clock starts.
type Oracle struct {
	cfg    Config
	items  []Item
	reqs   []request
	bytes  int64
	client *http.Client
	signer *v4.Signer
	creds  aws.Credentials
	bufs   [][]byte // one per worker
	// sink, if set (tests), sees every body before it is discarded.
	sink func(r *request, body []byte)
}

// Result is what one run measured.
type Result struct {
	Seconds     float64 `json:"seconds"`
	Bytes       int64   `json:"bytes"`
	Requests    int64   `json:"requests"`
	Concurrency int     `json:"concurrency"`
	Items       int     `json:"items"`
}

// New plans the requests for items and preallocates one buffer per worker.
func New(cfg Config, items []Item) (*Oracle, error) {
	if cfg.Part <= 0 {
		return nil, errors.New("part size must be positive")
	}
	base, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("bad endpoint %q", cfg.Endpoint)
	}
	o := &Oracle{cfg: cfg, items: items, signer: v4.NewSigner(func(so *v4.SignerOptions) {
		so.DisableURIPathEscaping = true // S3 signs the path as sent, escaped once
	}), creds: aws.Credentials{AccessKeyID: cfg.Access, SecretAccessKey: cfg.Secret}}
	var maxLen int64
	for i, it := range items {
		u := objectURL(base, cfg.Bucket, it.Key)
		if !it.Whole {
			o.reqs = append(o.reqs, request{url: u, start: it.Start, length: it.Length, ranged: true, item: i})
			maxLen = max(maxLen, it.Length)
		} else if it.Length <= cfg.Part {
			o.reqs = append(o.reqs, request{url: u, length: it.Length, item: i})
			maxLen = max(maxLen, it.Length)
		} else {
			for off := int64(0); off < it.Length; off += cfg.Part {
				n := min(cfg.Part, it.Length-off)
				o.reqs = append(o.reqs, request{url: u, start: off, length: n, ranged: true, item: i})
			}
			maxLen = max(maxLen, cfg.Part)
		}
		o.bytes += it.Length
	}
	w := max(1, min(cfg.Concurrency, len(o.reqs)))
	o.cfg.Concurrency = w
	o.bufs = make([][]byte, w)
	for i := range o.bufs {
		o.bufs[i] = make([]byte, maxLen+1) // +1: a byte past the planned length is an error
		for j := 0; j < len(o.bufs[i]); j += 4096 {
			o.bufs[i][j] = 0 // fault the pages in now, not during the run
		}
	}
	o.client = &http.Client{Transport: &http.Transport{
		MaxIdleConns: w, MaxIdleConnsPerHost: w, DisableCompression: true, ForceAttemptHTTP2: false,
		IdleConnTimeout: 5 * time.Minute,
	}}
	return o, nil
}

// objectURL is endpoint/bucket/key, path-style, each path segment escaped once.
func objectURL(base *url.URL, bucket, key string) *url.URL {
	segs := strings.Split(key, "/")
	for i, s := range segs {
		segs[i] = escapeSegment(s)
	}
	u := *base
	raw := base.EscapedPath() + "/" + escapeSegment(bucket) + "/" + strings.Join(segs, "/")
	p, _ := url.PathUnescape(raw)
	u.Path, u.RawPath = p, raw
	return &u
}

// escapeSegment percent-encodes everything but S3's unreserved characters
// (A-Z a-z 0-9 - _ . ~), as SigV4's canonical URI requires.
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// emptySHA256 is the payload hash of a GET (no body).
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Run performs every planned request once.
func (o *Oracle) Run(ctx context.Context) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, requests, got atomic.Int64
	errs := make([]error, len(o.bufs))
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.bufs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := o.bufs[w]
			for {
				i := next.Add(1) - 1
				if i >= int64(len(o.reqs)) || ctx.Err() != nil {
					return
				}
				n, err := o.get(ctx, &o.reqs[i], buf)
				if err != nil {
					errs[w] = err
					cancel()
					return
				}
				requests.Add(1)
				got.Add(n)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if got.Load() != o.bytes {
		return nil, fmt.Errorf("read %d bytes, want %d", got.Load(), o.bytes)
	}
	return &Result{Seconds: elapsed.Seconds(), Bytes: got.Load(), Requests: requests.Load(),
		Concurrency: len(o.bufs), Items: len(o.items)}, nil
}

// get performs one request, reading its body into buf.
func (o *Oracle) get(ctx context.Context, r *request, buf []byte) (int64, error) {
	u := *r.url // the signer writes the URL's query: each request gets its own
	req := &http.Request{
		Method: http.MethodGet, URL: &u, Host: u.Host, Header: make(http.Header, 4),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	req = req.WithContext(ctx)
	want := http.StatusOK
	if r.ranged {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(r.start, 10)+"-"+strconv.FormatInt(r.start+r.length-1, 10))
		want = http.StatusPartialContent
	}
	if !o.cfg.Anon {
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if err := o.signer.SignHTTP(ctx, o.creds, req, emptySHA256, "s3", o.cfg.Region, time.Now().UTC()); err != nil {
			return 0, err
		}
	}
	resp, err := o.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, fmt.Errorf("GET %s (%s): %s, want %d: %s", r.url.RawPath, req.Header.Get("Range"), resp.Status, want, msg)
	}
	if resp.ContentLength != r.length {
		return 0, fmt.Errorf("GET %s: Content-Length %d, want %d", r.url.RawPath, resp.ContentLength, r.length)
	}
	// Read exactly length bytes, then insist on EOF (buf has one spare byte).
	n, err := io.ReadFull(resp.Body, buf[:r.length+1])
	if err != io.ErrUnexpectedEOF && !(err == io.EOF && r.length == 0) {
		if err == nil {
			return 0, fmt.Errorf("GET %s: body longer than %d bytes", r.url.RawPath, r.length)
		}
		return 0, fmt.Errorf("GET %s: %w", r.url.RawPath, err)
	}
	if int64(n) != r.length {
		return 0, fmt.Errorf("GET %s: read %d bytes, want %d", r.url.RawPath, n, r.length)
	}
	if o.sink != nil {
		o.sink(r, buf[:n])
	}
	return int64(n), nil
}

// Ready is the first line Serve writes: the plan is made and the buffers
// are allocated.
type Ready struct {
	Ready    bool  `json:"ready"`
	Requests int   `json:"requests"`
	Bytes    int64 `json:"bytes"`
}

// Serve writes a Ready line, then does one run per line read from in,
// writing one JSON result line to out for each, until in reaches EOF.
func (o *Oracle) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	if err := enc.Encode(Ready{Ready: true, Requests: len(o.reqs), Bytes: o.bytes}); err != nil {
		return err
	}
	for sc.Scan() {
		res, err := o.Run(ctx)
		if err != nil {
			return err
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	return sc.Err()
}
