// Package listing lists S3 keys: one level below a prefix (with the "/"
// delimiter), across every page.
package listing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// API is the subset of the S3 client the listing engine needs.
type API interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Entry is one listed object or common prefix.
type Entry struct {
	Key   string // full key; a common prefix ends with its delimiter (Dir trims it)
	Size  int64
	ETag  string
	Mtime int64 // unix nanoseconds; 0 for prefixes
	IsDir bool
}

// Stats counts what a listing did.
type Stats struct {
	Requests  int   // LIST requests sent (all of them, discovery included)
	Discovery int   // of which delimiter listings made only to find split points
	Keys      int64 // entries emitted
	Ranges    int   // key ranges the listing was split into (1 when serial)
}

// decodeKey undoes EncodingType=url when the response says it applied it
// (S3 form-encodes keys so that any byte, including ones XML cannot carry,
// survives the trip; some servers ignore the request and send raw keys).
func decodeKey(s *string, encoded bool) (string, error) {
	if s == nil {
		return "", nil
	}
	if !encoded {
		return *s, nil
	}
	k, err := url.QueryUnescape(*s)
	if err != nil {
		return "", fmt.Errorf("undecodable key %q in listing: %w", *s, s3err.ErrCorrupt)
	}
	return k, nil
}

// Dir lists one level below prefix in bucket: objects directly under it and
// the common prefixes ("directories") one level down, across all pages, in
// S3's order (objects first, then prefixes, each sorted by key). With
// opts[0].Workers > 1 a large level is listed in concurrent ranges. A key equal
// to prefix itself (a directory marker) is omitted.
//
// If prefix is non-empty and nothing is listed under prefix+"/" (not even a
// directory marker), Dir checks whether prefix names an object and, if so,
// returns that object alone. A path with neither gives an error wrapping
// s3err.ErrNotFound; so does a missing bucket.
func Dir(ctx context.Context, api API, bucket, prefix string, opts ...Options) ([]Entry, Stats, error) {
	dirPrefix := prefix
	if dirPrefix != "" && !strings.HasSuffix(dirPrefix, "/") {
		dirPrefix += "/"
	}
	var files, dirs []Entry
	sawMarker := false
	add := func(p Page) error {
		for _, e := range p.Entries {
			switch {
			case e.IsDir:
				dirs = append(dirs, Entry{Key: strings.TrimSuffix(e.Key, "/"), IsDir: true})
			case e.Key == dirPrefix:
				sawMarker = true
			default:
				files = append(files, e)
			}
		}
		return nil
	}
	var st Stats
	var err error
	if len(opts) > 0 && opts[0].Workers > 1 {
		// A huge level (100k+ names) is split into concurrent ranges; a small
		// one costs the same single request as a serial listing.
		o := opts[0]
		o.Delimiter, o.Sorted = "/", true
		st, err = Parallel(ctx, api, bucket, dirPrefix, o, add)
	} else {
		st, err = Walk(ctx, api, bucket, dirPrefix, "/", add)
	}
	if err != nil {
		return nil, st, err
	}
	entries := append(files, dirs...)
	if len(entries) > 0 || prefix == "" || sawMarker {
		return entries, st, nil
	}
	if strings.HasSuffix(prefix, "/") {
		return nil, st, fmt.Errorf("s3://%s/%s: no such prefix: %w", bucket, prefix, s3err.ErrNotFound)
	}
	// Nothing below prefix/: maybe the path is an object.
	head, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix)})
	st.Requests++
	if err != nil {
		if s3err.Classify(err) == s3err.NotFound {
			return nil, st, fmt.Errorf("s3://%s/%s: no such object or prefix: %w", bucket, prefix, errors.Join(s3err.ErrNotFound, err))
		}
		return nil, st, fmt.Errorf("s3://%s/%s: %w", bucket, prefix, err)
	}
	e := Entry{Key: prefix, Size: aws.ToInt64(head.ContentLength), ETag: aws.ToString(head.ETag)}
	if head.LastModified != nil {
		e.Mtime = head.LastModified.UnixNano()
	}
	return []Entry{e}, st, nil
}
