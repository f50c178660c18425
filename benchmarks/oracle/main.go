// Command oracle is the practical limit for listing a bucket: a lister that
// knows the exact key set in advance (the same layouts the synthlist server
// serves) and so needs no discovery at all.
//
// It splits the sorted keys into -workers equal contiguous ranges (whole
// pages, so it makes the minimum number of requests) and lists every range
// concurrently with raw, unsigned HTTP GETs (no SDK):
// ListObjectsV2 with start-after = the key before the range, pages of up to
// 1000 keys, keys
// pulled out of the XML with a minimal scanner. It asks for
// encoding-type=url, as boto3, the AWS SDKs and s3turbo do (a key may hold
// characters XML 1.0 cannot carry), and decodes the keys: without it the
// server skips encoding, and the oracle decoding, every '=' of a
// date-partitioned key, work no real client is spared (-encoding none
// measures that). Every key received is
// compared with the expected one; it exits non-zero unless every key arrived
// exactly once. Output, one JSON line:
//
//	{"keys": n, "seconds": s, "requests": r, "bytes": total size, "workers": w, "generate_seconds": g, "cpu_seconds": c}
//
// seconds covers the listing only, not generating the key set (that is the
// oracle's prior knowledge).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint, e.g. http://127.0.0.1:9000 (required)")
	bucket := flag.String("bucket", "bench", "bucket")
	layout := flag.String("layout", "hex", fmt.Sprintf("key layout, one of %v", layouts.Names))
	n := flag.Int("n", 1_000_000, "number of keys")
	seed := flag.Int64("seed", 1, "key set seed")
	workers := flag.Int("workers", 64, "concurrent ranges")
	pageSize := flag.Int("page", 1000, "keys per request (max-keys)")
	encoding := flag.String("encoding", "url", `encoding-type to ask for: "url" (what S3 clients ask for) or "none"`)
	splits := flag.Bool("splits", false, `print the oracle's split points as JSON {"split_after": [key, ...]} and exit `+
		"(for running the same split through another lister)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("oracle: ")
	if *splits {
		set, err := layouts.Generate(*layout, *n, *seed)
		if err != nil {
			log.Fatal(err)
		}
		json.NewEncoder(os.Stdout).Encode(map[string][]string{"split_after": splitAfter(set, *workers, *pageSize)})
		return
	}
	if *endpoint == "" {
		log.Fatal("-endpoint is required")
	}

	if *encoding != "url" && *encoding != "none" {
		log.Fatalf("-encoding %q: want url or none", *encoding)
	}
	t0 := time.Now()
	set, err := layouts.Generate(*layout, *n, *seed)
	if err != nil {
		log.Fatal(err)
	}
	gen := time.Since(t0)
	res, err := run(strings.TrimRight(*endpoint, "/"), *bucket, set, *workers, *pageSize, *encoding == "url")
	if err != nil {
		log.Fatal(err)
	}
	res.GenerateSeconds = gen.Seconds()
	json.NewEncoder(os.Stdout).Encode(res)
}

// Result is what one run measured.
type Result struct {
	Keys            int64   `json:"keys"`
	Seconds         float64 `json:"seconds"`
	Requests        int64   `json:"requests"`
	Bytes           int64   `json:"bytes"`
	Workers         int     `json:"workers"`
	GenerateSeconds float64 `json:"generate_seconds"`
	// CPUSeconds is the process's CPU time (user + system) during the
	// listing: on a machine whose cores the server shares, the client's
	// CPU is the server's loss.
	CPUSeconds float64 `json:"cpu_seconds"`
}

// run lists set's keys from endpoint/bucket with w concurrent ranges, with
// URL-encoded keys when urlKeys.
func run(endpoint, bucket string, set *layouts.Set, w, pageSize int, urlKeys bool) (*Result, error) {
	n := set.Len()
	pageSize, w = clamp(n, w, pageSize)
	client := &http.Client{Transport: &http.Transport{
		MaxIdleConns: w, MaxIdleConnsPerHost: w, DisableCompression: true, ForceAttemptHTTP2: false,
	}}
	query := "?list-type=2&max-keys="
	if urlKeys {
		query = "?list-type=2&encoding-type=url&max-keys="
	}
	base := endpoint + "/" + url.PathEscape(bucket) + query
	var keys, requests, size atomic.Int64
	errs := make([]error, w)
	var wg sync.WaitGroup
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < w; i++ {
		lo, hi := bounds(n, w, pageSize, i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = listRange(client, base, set, lo, hi, pageSize, urlKeys, &keys, &requests, &size)
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if int(keys.Load()) != n {
		return nil, fmt.Errorf("listed %d keys, want %d", keys.Load(), n)
	}
	return &Result{Keys: keys.Load(), Seconds: elapsed.Seconds(), Requests: requests.Load(), Bytes: size.Load(), Workers: w, CPUSeconds: cpu.Seconds()}, nil
}

// cpuTime is the CPU time (user + system) the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// clamp bounds the page size to S3's 1000 and the workers to the pages.
func clamp(n, w, pageSize int) (int, int) {
	pageSize = max(1, min(pageSize, 1000))
	pages := (n + pageSize - 1) / pageSize
	return pageSize, max(1, min(w, pages))
}

// bounds is range i of w over n keys, [lo, hi) as key indexes: ranges are
// whole pages, so a run makes exactly ceil(n / pageSize) requests, the
// minimum any lister can make.
func bounds(n, w, pageSize, i int) (lo, hi int) {
	pages := (n + pageSize - 1) / pageSize
	return min(n, i*pages/w*pageSize), min(n, (i+1)*pages/w*pageSize)
}

// splitAfter is the key before each range but the first: the split points
// that give another lister the oracle's ranges.
func splitAfter(set *layouts.Set, w, pageSize int) []string {
	n := set.Len()
	pageSize, w = clamp(n, w, pageSize)
	var out []string
	for i := 1; i < w; i++ {
		if lo, _ := bounds(n, w, pageSize, i); lo > 0 && lo < n {
			out = append(out, set.Key(lo-1))
		}
	}
	return out
}

// listRange lists keys [lo, hi) of set, checking each against the expected key.
func listRange(client *http.Client, base string, set *layouts.Set, lo, hi, pageSize int, urlKeys bool, keys, requests, size *atomic.Int64) error {
	if lo >= hi {
		return nil
	}
	after := ""
	if lo > 0 {
		after = set.Key(lo - 1)
	}
	want := set.Iter(lo)
	var body bytes.Buffer
	for got := lo; got < hi; {
		u := base + strconv.Itoa(min(pageSize, hi-got))
		if after != "" {
			u += "&start-after=" + url.QueryEscape(after)
		}
		resp, err := client.Get(u)
		if err != nil {
			return err
		}
		body.Reset()
		_, err = io.Copy(&body, resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		requests.Add(1)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s: %.300s", u, resp.Status, body.Bytes())
		}
		page := 0
		var last []byte
		err = scan(body.Bytes(), urlKeys, func(key []byte, sz int64) error {
			if got >= hi {
				return fmt.Errorf("range [%d,%d): more keys than asked for (%q)", lo, hi, key)
			}
			if !bytes.Equal(key, want.Key()) {
				return fmt.Errorf("key %d: got %q, want %q", got, key, want.Key())
			}
			want.Next()
			got++
			page++
			size.Add(sz)
			last = key
			return nil
		})
		if err != nil {
			return err
		}
		if page == 0 {
			return fmt.Errorf("range [%d,%d): empty page after %q with %d keys missing", lo, hi, after, hi-got)
		}
		keys.Add(int64(page))
		after = string(last)
	}
	return nil
}

var (
	openContents = []byte("<Contents>")
	openKey      = []byte("<Key>")
	closeKey     = []byte("</Key>")
	openSize     = []byte("<Size>")
	closeSize    = []byte("</Size>")
)

// scan calls fn for every <Contents> entry of a ListBucketResult with its
// key (XML-unescaped, then URL-decoded when urlKeys) and size.
func scan(doc []byte, urlKeys bool, fn func(key []byte, size int64) error) error {
	var dec []byte
	for {
		i := bytes.Index(doc, openContents)
		if i < 0 {
			return nil
		}
		doc = doc[i+len(openContents):]
		end := bytes.Index(doc, []byte("</Contents>"))
		if end < 0 {
			return errors.New("unterminated <Contents>")
		}
		entry := doc[:end]
		doc = doc[end:]
		key, ok := between(entry, openKey, closeKey)
		if !ok {
			return errors.New("<Contents> without <Key>")
		}
		if bytes.IndexByte(key, '&') >= 0 {
			key = []byte(html.UnescapeString(string(key)))
		}
		if urlKeys && (bytes.IndexByte(key, '%') >= 0 || bytes.IndexByte(key, '+') >= 0) {
			var err error
			if dec, err = urlDecode(dec[:0], key); err != nil {
				return err
			}
			key = dec
		}
		var sz int64
		if s, ok := between(entry, openSize, closeSize); ok {
			v, err := strconv.ParseInt(string(s), 10, 64)
			if err != nil {
				return fmt.Errorf("bad <Size> %q", s)
			}
			sz = v
		}
		if err := fn(key, sz); err != nil {
			return err
		}
	}
}

func between(b, open, close []byte) ([]byte, bool) {
	i := bytes.Index(b, open)
	if i < 0 {
		return nil, false
	}
	b = b[i+len(open):]
	j := bytes.Index(b, close)
	if j < 0 {
		return nil, false
	}
	return b[:j], true
}

// urlDecode appends key, URL-decoded as S3's encoding-type=url encodes
// ('+' for a space, %XX for a byte), to dst.
func urlDecode(dst, key []byte) ([]byte, error) {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(key) {
				return nil, fmt.Errorf("bad escape in key %q", key)
			}
			h, l := unhex(key[i+1]), unhex(key[i+2])
			if h < 0 || l < 0 {
				return nil, fmt.Errorf("bad escape in key %q", key)
			}
			dst = append(dst, byte(h<<4|l))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
