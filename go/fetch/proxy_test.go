package fetch

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// ignoreIfMatch is a server that ignores If-Match (gofakes3): the header
// is not sent (a proxy dropping it would break the request's signature).
type ignoreIfMatch struct{ API }

func (a ignoreIfMatch) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	cp := *in
	cp.IfMatch = nil
	return a.API.GetObject(ctx, &cp, opts...)
}

// shiftedRanges is a server that answers a range not starting at 0 with
// the window one byte later, of the same length, and a Content-Range that
// says so.
type shiftedRanges struct{ API }

func (a shiftedRanges) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	var first, last int64
	if n, _ := fmt.Sscanf(aws.ToString(in.Range), "bytes=%d-%d", &first, &last); n == 2 && first > 0 {
		cp := *in
		cp.Range = aws.String(fmt.Sprintf("bytes=%d-%d", first+1, last+1))
		in = &cp
	}
	return a.API.GetObject(ctx, in, opts...)
}

// quirkyProxy returns a client for the test server behind a proxy with
// the given quirks.
func quirkyProxy(t *testing.T, q testserver.Quirks) *s3client.Client {
	t.Helper()
	c, err := s3client.New(context.Background(), server.Proxy(t, q))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runVia is run through another API.
func runVia(t *testing.T, api API, items []Item, opt Options) (*Batch, [][]byte) {
	t.Helper()
	apiOverride = api
	defer func() { apiOverride = nil }()
	return run(t, items, opt)
}

// TestFetchQuirkyServers: answers S3 itself never sends are read right
// or refused, never turned into other bytes. A chunked answer (no
// Content-Length) failed every GET as "response of 0 bytes"; a 416 for a
// suffix longer than the object came back as an empty result; a server
// ignoring If-Match returned another version of the object.
func TestFetchQuirkyServers(t *testing.T) {
	data := randBytes(3*part+17, 77)
	small := []byte("0123456789")
	put(t, "quirks/big", data)
	put(t, "quirks/small", small)
	put(t, "quirks/empty", nil)
	objects := map[string][]byte{"quirks/big": data, "quirks/small": small, "quirks/empty": nil}
	cases := []rangeCase{
		{"quirks/big", 0, EOF}, {"quirks/big", 5, 2*part + 3}, {"quirks/big", -part - 9, EOF},
		{"quirks/small", 0, EOF}, {"quirks/small", -101, EOF}, {"quirks/small", -200, -1}, {"quirks/small", 3, 5},
		{"quirks/empty", 0, EOF}, {"quirks/empty", -5, EOF},
	}
	for _, tc := range []struct {
		name string
		q    testserver.Quirks
	}{
		{"chunked", testserver.Quirks{Chunked: true}},
		{"suffix416", testserver.Quirks{Suffix416: true}},
		{"chunked-suffix416", testserver.Quirks{Chunked: true, Suffix416: true}},
	} {
		c := quirkyProxy(t, tc.q)
		for _, mode := range []string{"unknown", "known", "sink"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				items, want := rangeItems(bucket, cases, objects)
				apiOverride = c.Get
				b, got := runMode(t, mode, items, want, Options{PartSize: part, Concurrency: 4})
				apiOverride = nil
				if err := b.Err(); err != nil {
					t.Fatal(err)
				}
				for i := range cases {
					if !bytes.Equal(got[i], want[i]) {
						t.Errorf("%v: got %d bytes, want %d", cases[i], len(got[i]), len(want[i]))
					}
				}
			})
		}
	}

	// An empty object's ranges answered 206 with a Content-Range whose
	// range part is nonsense (MinIO, s3rver): read as empty, as after a
	// 416. They failed as corrupt data.
	for _, cr := range []string{"bytes 0--1/0", "bytes 0-0/0"} {
		t.Run("empty-range/"+cr, func(t *testing.T) {
			c := quirkyProxy(t, testserver.Quirks{EmptyRange: cr})
			cases := []rangeCase{{"quirks/empty", 0, EOF}, {"quirks/empty", -8, EOF}, {"quirks/empty", 3, 5},
				{"quirks/small", 0, EOF}, {"quirks/small", -4, EOF}}
			for _, mode := range []string{"unknown", "known", "sink"} {
				items, want := rangeItems(bucket, cases, objects)
				apiOverride = c.Get
				b, got := runMode(t, mode, items, want, Options{PartSize: part, Concurrency: 4})
				apiOverride = nil
				if err := b.Err(); err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				for i := range cases {
					if !bytes.Equal(got[i], want[i]) {
						t.Errorf("%s: %v: got %d bytes, want %d", mode, cases[i], len(got[i]), len(want[i]))
					}
				}
			}
		})
	}

	t.Run("chunked-overlong", func(t *testing.T) {
		c := quirkyProxy(t, testserver.Quirks{Chunked: true, ExtraByte: true})
		for _, it := range []Item{
			{Bucket: bucket, Key: "quirks/small"},
			{Bucket: bucket, Key: "quirks/big"},
			{Bucket: bucket, Key: "quirks/big", Ranged: true, Start: 1, End: 2*part + 1},
		} {
			b, _ := runVia(t, c.Get, []Item{it}, Options{PartSize: part, Concurrency: 4})
			if err := b.Err(); s3err.Classify(err) != s3err.Corrupt || !strings.Contains(err.Error(), it.Key) {
				t.Errorf("%+v: error %v, want a corrupt-data error naming the key", it, err)
			}
		}
	})

	t.Run("shifted-window", func(t *testing.T) {
		// Later parts answered with another window of the right length:
		// refused as corrupt, not written at the offset asked for. (The
		// ranges end before the object does, so that no shifted window
		// comes back short.)
		for _, it := range []Item{
			{Bucket: bucket, Key: "quirks/big", Ranged: true, Start: 0, End: 2*part + 1},
			{Bucket: bucket, Key: "quirks/big", Ranged: true, Start: 0, End: 3 * part},
		} {
			b, _ := runVia(t, shiftedRanges{client.Get}, []Item{it}, Options{PartSize: part, Concurrency: 4})
			if err := b.Err(); s3err.Classify(err) != s3err.Corrupt || !strings.Contains(err.Error(), "Content-Range") {
				t.Errorf("%+v: error %v, want a corrupt-data error naming the Content-Range", it, err)
			}
		}
	})

	t.Run("ignores-if-match", func(t *testing.T) {
		api := ignoreIfMatch{client.Get}
		put(t, "quirks/replaced", small)
		old := etagOf(t, "quirks/replaced")
		put(t, "quirks/replaced", data)
		for _, it := range []Item{
			{Bucket: bucket, Key: "quirks/replaced", IfMatch: old},
			{Bucket: bucket, Key: "quirks/replaced", IfMatch: strings.Trim(old, `"`), Ranged: true, Start: 2, End: 4},
		} {
			b, _ := runVia(t, api, []Item{it}, Options{PartSize: part, Concurrency: 4})
			if err := b.Err(); s3err.Classify(err) != s3err.Changed {
				t.Errorf("%+v: error %v, want ErrChanged", it, err)
			}
		}
		cur := etagOf(t, "quirks/replaced")
		b, got := runVia(t, api, []Item{{Bucket: bucket, Key: "quirks/replaced", IfMatch: strings.Trim(cur, `"`)}}, Options{PartSize: part, Concurrency: 4})
		if err := b.Err(); err != nil || !bytes.Equal(got[0], data) {
			t.Errorf("current ETag without quotes: %v, %d bytes", err, len(got[0]))
		}
	})
}
