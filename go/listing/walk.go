package listing

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// MaxKeys is the page size requested from S3 (its maximum).
const MaxKeys = 1000

// Page is a batch of listed entries, sorted by key. A page is never reused
// once emitted: a callback may keep it (the C API queues pages as they are).
type Page struct {
	Entries []Entry
}

// Fields is a set of an entry's optional fields (Key and Size are always
// set). A listing told to omit some may leave them empty: the caller
// promises not to use them, and the parser saves their work (the ETag's
// copy, the timestamp's parse: ~10% of a page's parse).
type Fields uint8

// The optional fields of an Entry.
const (
	ETag Fields = 1 << iota
	Mtime
)

// RawLister is an API that can also fetch a ListObjectsV2 page's XML
// itself, without the SDK's per-request middleware (s3client.Lister).
// handled is false when it does not apply to in: the SDK call is used.
type RawLister interface {
	ListObjectsV2Raw(ctx context.Context, in *s3.ListObjectsV2Input, body *bytes.Buffer) (handled bool, err error)
}

// page fetches one ListObjectsV2 page and decodes it into entries
// (objects, then common prefixes with IsDir set): through RawLister and the
// fast parser when the API has it, else through the SDK with the fast
// parser installed (the real SDK client), else from the SDK's output. A
// raw body the fast parser does not understand goes through the SDK again
// (one more request), which parses what S3 may send. Fields in omit may be
// left empty. Of the output only IsTruncated, NextContinuationToken and
// EncodingType are set on the fast paths.
func page(ctx context.Context, api API, in *s3.ListObjectsV2Input, omit Fields) ([]Entry, *s3.ListObjectsV2Output, error) {
	if rl, ok := api.(RawLister); ok {
		buf := bodyPool.Get().(*bytes.Buffer)
		handled, err := rl.ListObjectsV2Raw(ctx, in, buf)
		var p *fastPage
		if err == nil && handled {
			p = fastParse(buf.Bytes(), omit)
		}
		bodyPool.Put(buf) // the page holds copies, not views, of the body
		if err != nil {
			return nil, nil, err
		}
		if p != nil {
			return fastEntries(p)
		}
	}
	out, err := api.ListObjectsV2(ctx, in, withFastParse(omit))
	if err != nil {
		return nil, nil, err
	}
	if fp, ok := out.ResultMetadata.Get(fastPageKey{}).(*fastPage); ok {
		return fastEntries(fp)
	}
	encoded := out.EncodingType == types.EncodingTypeUrl
	entries := make([]Entry, 0, len(out.Contents)+len(out.CommonPrefixes))
	for i := range out.Contents {
		o := &out.Contents[i]
		key, err := decodeKey(o.Key, encoded)
		if err != nil {
			return nil, nil, err
		}
		e := Entry{Key: key, Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag)}
		if o.LastModified != nil {
			e.Mtime = o.LastModified.UnixNano()
		}
		entries = append(entries, e)
	}
	for _, cp := range out.CommonPrefixes {
		key, err := decodeKey(cp.Prefix, encoded)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, Entry{Key: key, IsDir: true})
	}
	return entries, out, nil
}

// fastEntries turns a fast-parsed page into entries (keys URL-decoded
// when the page's are encoded) and the output fields callers read.
func fastEntries(fp *fastPage) ([]Entry, *s3.ListObjectsV2Output, error) {
	encoded := fp.EncodingType == string(types.EncodingTypeUrl)
	entries := fp.Contents
	var err error
	for i := fp.KeysDecoded; i < len(entries); i++ {
		if encoded {
			if entries[i].Key, err = decodeKey(&entries[i].Key, true); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, pre := range fp.Prefixes {
		if encoded {
			if pre, err = decodeKey(&pre, true); err != nil {
				return nil, nil, err
			}
		}
		entries = append(entries, Entry{Key: pre, IsDir: true})
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(fp.IsTruncated), NextContinuationToken: aws.String(fp.NextToken),
		EncodingType: types.EncodingType(fp.EncodingType)}
	return entries, out, nil
}

// Walk lists every key under prefix serially, one page at a time, calling
// emit for each page as it arrives: memory stays constant however many keys
// there are. With delimiter "/" it lists one level (common prefixes are
// entries with IsDir set, keeping their trailing delimiter).
func Walk(ctx context.Context, api API, bucket, prefix, delimiter string, emit func(Page) error) (Stats, error) {
	return WalkCounted(ctx, api, bucket, prefix, delimiter, 0, nil, emit)
}

// WalkCounted is Walk that also updates c (if not nil) as it goes, and may
// leave the fields in omit empty.
func WalkCounted(ctx context.Context, api API, bucket, prefix, delimiter string, omit Fields, c *Counter, emit func(Page) error) (Stats, error) {
	var st Stats
	st.Ranges = 1
	in := &s3.ListObjectsV2Input{
		Bucket:       aws.String(bucket),
		Prefix:       aws.String(prefix),
		EncodingType: types.EncodingTypeUrl,
		MaxKeys:      aws.Int32(MaxKeys),
	}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	last := "" // the last key listed: every page must start after it
	for {
		entries, out, err := page(ctx, api, in, omit)
		st.Requests++
		if c != nil {
			c.Requests.Add(1)
			c.Keys.Add(int64(len(entries)))
		}
		if err != nil {
			return st, fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		st.Keys += int64(len(entries))
		if delimiter != "" {
			// Objects and common prefixes come as two sorted lists: merge.
			sort.SliceStable(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
		}
		if len(entries) > 0 {
			// A server that pages back (a continuation token it does not
			// honour) would have us list the same keys forever. (Only flat
			// listings are checked: some servers order a delimiter page's
			// objects and common prefixes as two lists.)
			if delimiter == "" && last != "" && entries[0].Key <= last {
				return st, fmt.Errorf("listing s3://%s/%s: the server went back: a page after %q began at %q: %w",
					bucket, prefix, last, entries[0].Key, s3err.ErrCorrupt)
			}
			last = entries[len(entries)-1].Key
			if err := emit(Page{Entries: entries}); err != nil {
				return st, err
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return st, nil
		}
		next := aws.ToString(out.NextContinuationToken)
		if next == "" {
			return st, fmt.Errorf("listing s3://%s/%s: truncated page without continuation token: %w",
				bucket, prefix, s3err.ErrCorrupt)
		}
		if next == aws.ToString(in.ContinuationToken) {
			return st, fmt.Errorf("listing s3://%s/%s: the server returned the same continuation token twice: %w",
				bucket, prefix, s3err.ErrCorrupt)
		}
		in.ContinuationToken = out.NextContinuationToken
	}
}
