package objects

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// DeleteAPI is the subset of the S3 client Delete needs.
type DeleteAPI interface {
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, opts ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// deleteChunk is one request: distinct keys of one bucket and, for each
// key, the input items that named it. A single chunk holds one key that
// an XML body cannot carry (see xmlSafe) and is sent as DeleteObject, with
// the key in the URL.
type deleteChunk struct {
	bucket string
	keys   []string
	items  [][]int
	single bool
}

// xmlSafe reports whether an XML 1.0 document can carry key as text.
// DeleteObjects names its keys in an XML body, and Go's encoder writes
// U+FFFD for a character XML cannot hold (U+0001–U+0008, U+000B, U+000C,
// U+000E–U+001F, U+FFFE, U+FFFF, invalid UTF-8): the request would name
// another key, which S3 reports deleted whether it exists or not, and the
// object asked for would stay while the caller was told it had gone.
func xmlSafe(key string) bool {
	if !utf8.ValidString(key) {
		return false
	}
	for _, r := range key {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r < 0x20, r == 0xFFFE, r == 0xFFFF:
			return false
		}
	}
	return true
}

// planDelete groups items by bucket (in order of first appearance), merges
// duplicate keys and cuts each bucket's keys into chunks of at most max.
// Items with an empty key get an error in errs and no request.
func planDelete(paths []objpath.Path, max int, errs []error) []deleteChunk {
	type slot struct{ chunk, key int }
	var chunks []deleteChunk
	open := map[string]int{} // bucket → index of its last (non-full) chunk
	seen := map[objpath.Path]slot{}
	for i, p := range paths {
		if p.Bucket == "" || p.Key == "" {
			errs[i] = fmt.Errorf("%q: not an object path (bucket and key are required): %w", s3url(p.Bucket, p.Key), s3err.ErrInvalid)
			continue
		}
		if s, ok := seen[p]; ok {
			chunks[s.chunk].items[s.key] = append(chunks[s.chunk].items[s.key], i)
			continue
		}
		if !xmlSafe(p.Key) {
			chunks = append(chunks, deleteChunk{bucket: p.Bucket, keys: []string{p.Key}, items: [][]int{{i}}, single: true})
			seen[p] = slot{len(chunks) - 1, 0}
			continue
		}
		c, ok := open[p.Bucket]
		if !ok || len(chunks[c].keys) >= max {
			chunks = append(chunks, deleteChunk{bucket: p.Bucket})
			c = len(chunks) - 1
			open[p.Bucket] = c
		}
		ch := &chunks[c]
		seen[p] = slot{c, len(ch.keys)}
		ch.keys = append(ch.keys, p.Key)
		ch.items = append(ch.items, []int{i})
	}
	return chunks
}

// Delete removes many objects with DeleteObjects requests (Quiet mode) of at
// most MaxDeleteKeys distinct keys of one bucket each, sent concurrently; a
// key no XML body can carry is deleted alone with DeleteObject.
// Duplicate paths are deleted once and each gets the result. Deleting a key
// that does not exist succeeds, as in S3. A key the server refused gets its
// error mapped from the S3 error code; a failed request fails every key it
// carried. It returns one error per path and the number of requests sent.
func Delete(ctx context.Context, api DeleteAPI, paths []objpath.Path, opt Options) ([]error, int64) {
	opt = opt.normalized()
	errs := make([]error, len(paths))
	chunks := planDelete(paths, MaxDeleteKeys, errs)
	for _, e := range errs {
		if e != nil {
			opt.Items.Add(1)
		}
	}
	reqs := &counter{shared: opt.Requests}
	cerrs := forEach(ctx, len(chunks), opt.Concurrency,
		func(c int) string {
			if chunks[c].single {
				return "DeleteObject " + s3url(chunks[c].bucket, chunks[c].keys[0])
			}
			return "DeleteObjects on " + s3url(chunks[c].bucket, "")
		},
		func(c int) error {
			ch := &chunks[c]
			for k, err := range deleteChunkKeys(ctx, api, ch, reqs) {
				for _, i := range ch.items[k] {
					errs[i] = err
				}
			}
			return nil
		},
		func(c int) {
			n := 0
			for _, it := range chunks[c].items {
				n += len(it)
			}
			opt.Items.Add(int64(n))
		})
	// A chunk that never ran (cancelled) or panicked fails all its keys.
	for c, cerr := range cerrs {
		if cerr == nil {
			continue
		}
		ch := &chunks[c]
		for k, key := range ch.keys {
			for _, i := range ch.items[k] {
				if errs[i] == nil {
					errs[i] = fmt.Errorf("%s: %w", s3url(ch.bucket, key), cerr)
				}
			}
		}
	}
	return errs, reqs.n.Load()
}

// deleteChunkKeys sends one DeleteObjects request (DeleteObject for a
// single chunk) and returns each key's error (nil when deleted).
func deleteChunkKeys(ctx context.Context, api DeleteAPI, ch *deleteChunk, reqs *counter) []error {
	errs := make([]error, len(ch.keys))
	if ch.single {
		reqs.add()
		_, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(ch.bucket), Key: aws.String(ch.keys[0])})
		if err != nil {
			errs[0] = fmt.Errorf("%s: %w", s3url(ch.bucket, ch.keys[0]), err)
		}
		return errs
	}
	objs := make([]types.ObjectIdentifier, len(ch.keys))
	for k, key := range ch.keys {
		objs[k] = types.ObjectIdentifier{Key: aws.String(key)}
	}
	reqs.add()
	out, err := api.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(ch.bucket),
		Delete: &types.Delete{Objects: objs, Quiet: aws.Bool(true)},
	})
	if err != nil {
		for k, key := range ch.keys {
			errs[k] = fmt.Errorf("%s: %w", s3url(ch.bucket, key), err)
		}
		return errs
	}
	index := make(map[string]int, len(ch.keys))
	for k, key := range ch.keys {
		index[key] = k
	}
	var stranger *types.Error // an error naming a key this request did not send
	for _, e := range out.Errors {
		k, ok := index[aws.ToString(e.Key)]
		if !ok {
			if stranger == nil && aws.ToString(e.Code) != "NoSuchKey" {
				stranger = &e
			}
			continue
		}
		code := aws.ToString(e.Code)
		if code == "NoSuchKey" {
			continue // already gone: success, as S3 itself reports it
		}
		errs[k] = fmt.Errorf("%s: delete refused: %w",
			s3url(ch.bucket, ch.keys[k]), &smithy.GenericAPIError{Code: code, Message: aws.ToString(e.Message)})
	}
	if stranger != nil {
		// Quiet mode lists failures only, so a failure the server named
		// by another spelling of one of these keys is some key's, and
		// nobody can tell whose: none is reported deleted. Deleting again
		// is harmless (a missing key is deleted), believing a kept object
		// gone is not.
		for k := range errs {
			if errs[k] == nil {
				errs[k] = fmt.Errorf("%s: delete not confirmed: the server refused a key this request did not send (%q): %w",
					s3url(ch.bucket, ch.keys[k]), aws.ToString(stranger.Key),
					&smithy.GenericAPIError{Code: aws.ToString(stranger.Code), Message: aws.ToString(stranger.Message)})
			}
		}
	}
	return errs
}
