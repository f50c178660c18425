package listing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// brokenServer answers ListObjectsV2 over keys, 1 000 a page, breaking the
// protocol as mode says: "ignore-start-after" (pages from the start
// whatever StartAfter asks), "same-token" (the first continuation token
// again and again), "token-back" (every token points at the start).
func brokenServer(keys []string, mode string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		prefix := q.Get("prefix")
		var ks []string
		for _, k := range keys {
			if strings.HasPrefix(k, prefix) {
				ks = append(ks, k)
			}
		}
		start := 0
		if t := q.Get("continuation-token"); t != "" {
			start, _ = strconv.Atoi(t)
		}
		if sa := q.Get("start-after"); sa != "" && mode != "ignore-start-after" {
			start = max(start, sort.SearchStrings(ks, sa+"\x00"))
		}
		end := min(start+MaxKeys, len(ks))
		next := strconv.Itoa(end)
		switch mode {
		case "same-token":
			next = strconv.Itoa(MaxKeys)
		case "token-back":
			next = "0"
		}
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>`)
		fmt.Fprintf(&b, "<KeyCount>%d</KeyCount><IsTruncated>%v</IsTruncated>", end-start, end < len(ks))
		if end < len(ks) {
			fmt.Fprintf(&b, "<NextContinuationToken>%s</NextContinuationToken>", next)
		}
		for _, k := range ks[start:end] {
			fmt.Fprintf(&b, `<Contents><Key>%s</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>"e"</ETag><Size>1</Size></Contents>`, k)
		}
		b.WriteString("</ListBucketResult>")
		w.Header().Set("Content-Type", "application/xml")
		w.Write([]byte(b.String()))
	}))
}

// TestServerWithoutProgress: a server that does not move forward (ignores
// StartAfter, repeats or rewinds its continuation token) fails the listing
// with ErrCorrupt, naming what it did, where the parallel lister emitted
// the same keys again and again and neither listing ended.
func TestServerWithoutProgress(t *testing.T) {
	keys := make([]string, 5000)
	for i := range keys {
		keys[i] = fmt.Sprintf("d%d/k%05d", i%10, i)
	}
	sort.Strings(keys)
	tests := []struct {
		mode     string
		parallel bool
		want     string // in the error; "" for a correct listing
	}{
		{"honest", false, ""},
		{"honest", true, ""},
		{"ignore-start-after", false, ""}, // serial listings use tokens only
		{"ignore-start-after", true, "ignored StartAfter"},
		{"same-token", false, "same continuation token twice"},
		{"token-back", false, "went back"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/parallel=%v", tt.mode, tt.parallel), func(t *testing.T) {
			ts := brokenServer(keys, tt.mode)
			defer ts.Close()
			c, err := s3client.New(context.Background(), s3client.Options{EndpointURL: ts.URL, Key: "k", Secret: "s", Retries: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			seen := map[string]int{}
			emit := func(p Page) error {
				for _, e := range p.Entries {
					seen[e.Key]++
				}
				return nil
			}
			if tt.parallel {
				_, err = Parallel(ctx, c.List, "b", "", Options{Workers: 8}, emit)
			} else {
				_, err = Walk(ctx, c.List, "b", "", "", emit)
			}
			if ctx.Err() != nil {
				t.Fatalf("still listing after 30 s: %v", err)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(seen) != len(keys) {
					t.Fatalf("%d keys, want %d", len(seen), len(keys))
				}
				for k, n := range seen {
					if n != 1 {
						t.Fatalf("%q listed %d times", k, n)
					}
				}
				return
			}
			if err == nil || !errors.Is(err, s3err.ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want ErrCorrupt saying %q", err, tt.want)
			}
		})
	}
}
