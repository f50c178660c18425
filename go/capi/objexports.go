package main

/*
#include "s3t.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/s3turbo/s3turbo/go/objects"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// Bucket actions of s3t_bucket_start.
const (
	bucketCreate = 1
	bucketRemove = 2
)

// parsePaths splits n concatenated paths and parses each ("bucket/key",
// scheme optional; the key may be empty).
func parsePaths(data *C.char, offs *C.int64_t, n C.int64_t) ([]objpath.Path, error) {
	names, err := splitStrings(data, offs, n)
	if err != nil {
		return nil, err
	}
	ps := make([]objpath.Path, len(names))
	for i, name := range names {
		if ps[i], err = objpath.Parse(name); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
	}
	return ps, nil
}

// parseObjects parses each name as an object path (bucket/key, scheme
// optional, key required) with parse (objpath.ParseObject, or
// objpath.ParseWritable for objects to be written), naming the item on
// failure.
func parseObjects(names []string, parse func(string) (objpath.Path, error)) ([]objpath.Path, error) {
	ps := make([]objpath.Path, len(names))
	for i, name := range names {
		p, err := parse(name)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		ps[i] = p
	}
	return ps, nil
}

// callerBuffer views item i's destination from a caller's pointer and
// length arrays, rejecting a negative length or a NULL pointer with bytes.
func callerBuffer(bv []*C.char, lv []int64, i int, name string) ([]byte, error) {
	if lv[i] < 0 || (lv[i] > 0 && bv[i] == nil) {
		return nil, fmt.Errorf("item %d (%s): bad buffer: %w", i, name, s3err.ErrInvalid)
	}
	return goBytes(bv[i], C.int64_t(lv[i])), nil
}

// batchLabel names a one-item batch by its path; larger batches have none.
func batchLabel(ps []objpath.Path) string {
	if len(ps) == 1 {
		return "s3://" + ps[0].String()
	}
	return ""
}

// objectOptions ties a batch's progress to the op's counters, which
// s3t_op_progress reports as (items done, 0, requests).
func objectOptions(c *s3client.Client, o *op) objects.Options {
	return objects.Options{
		Concurrency: c.Concurrency,
		PartSize:    c.PartSize,
		Items:       &o.list.Keys,
		Requests:    &o.list.Requests,
	}
}

// errStatus returns an item's (message, status) table cells.
func errStatus(err error) (string, int64) {
	if err == nil {
		return "", 0
	}
	return err.Error(), int64(s3err.Status(err))
}

// s3t_stat_start describes n paths (bucket or bucket/key, concatenated with
// n+1 offsets): a HEAD per object, a one-key LIST probe for names that are
// not objects (a prefix or a "dir/" marker makes a directory), HeadBucket
// for a bare bucket. Result table, one row per path in input order: strings
// [error, etag, type ("file" | "directory" | "" on error), content_type,
// version_id, name (no scheme, one trailing "/" less), metadata (user
// metadata as a JSON object, "" for none)], ints [status, size, mtime_ns];
// count = requests made.
// Progress: items done, 0, requests.
//
//export s3t_stat_start
func s3t_stat_start(client C.uint64_t, paths *C.char, offs *C.int64_t, n C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	ps, err := parsePaths(paths, offs, n)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(startOp(batchLabel(ps), func(ctx context.Context, o *op) error {
		infos, errs, reqs := objects.Stat(ctx, c.S3, ps, objectOptions(c, o))
		o.count.Store(reqs)
		if err := ctx.Err(); err != nil {
			return err
		}
		t := newTable(7, 3, len(ps))
		for i, in := range infos {
			msg, code := errStatus(errs[i])
			// The name as results name it: no scheme, one trailing "/"
			// less (a folder "a/" is "bucket/a"; the prefix "a//" is
			// "bucket/a/", another folder).
			name := objpath.Path{Bucket: ps[i].Bucket, Key: strings.TrimSuffix(ps[i].Key, "/")}.String()
			typ := "file"
			switch {
			case errs[i] != nil:
				typ = ""
			case in.IsDir:
				typ = "directory"
			}
			meta := ""
			if len(in.Metadata) > 0 {
				b, _ := json.Marshal(in.Metadata) // a map of strings always marshals
				meta = string(b)
			}
			t.add([]string{msg, in.ETag, typ, in.ContentType, in.VersionID, name, meta}, []int64{code, in.Size, in.Mtime})
		}
		o.result = t
		return nil
	}))
	return 0
}

// s3t_delete_start deletes n objects (bucket/key paths, concatenated with
// n+1 offsets) with DeleteObjects requests of up to 1000 distinct keys per
// bucket, sent concurrently. A key that does not exist counts as deleted.
// Result table, one row per path: strings [error], ints [status];
// count = requests made. Progress: items done, 0, requests.
//
//export s3t_delete_start
func s3t_delete_start(client C.uint64_t, paths *C.char, offs *C.int64_t, n C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	ps, err := parsePaths(paths, offs, n)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(startOp(batchLabel(ps), func(ctx context.Context, o *op) error {
		errs, reqs := objects.Delete(ctx, c.S3, ps, objectOptions(c, o))
		o.count.Store(reqs)
		if err := ctx.Err(); err != nil {
			return err
		}
		t := newTable(1, 1, len(ps))
		for _, e := range errs {
			msg, code := errStatus(e)
			t.add([]string{msg}, []int64{code})
		}
		o.result = t
		return nil
	}))
	return 0
}

// s3t_copy_start copies n objects server-side: srcs[i] → dsts[i] (both
// bucket/key paths, concatenated with n+1 offsets each). Sources up to
// 5 GiB take one CopyObject; larger ones a multipart copy in parts of the
// client's part_size (raised to at least 5 MiB and grown to stay within
// 10 000 parts). Result table, one row per pair: strings [error, etag],
// ints [status]; count = requests made. Progress: items done, 0, requests.
//
//export s3t_copy_start
func s3t_copy_start(client C.uint64_t, srcs *C.char, soffs *C.int64_t, dsts *C.char, doffs *C.int64_t, n C.int64_t,
	out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	from, err := parsePaths(srcs, soffs, n)
	if err != nil {
		return fail(errOut, fmt.Errorf("sources: %w", err))
	}
	to, err := parsePaths(dsts, doffs, n)
	if err != nil {
		return fail(errOut, fmt.Errorf("destinations: %w", err))
	}
	for i, p := range to {
		if err := p.Writable(); err != nil {
			return fail(errOut, fmt.Errorf("destinations: item %d: %w", i, err))
		}
	}
	items := make([]objects.CopyItem, len(from))
	for i := range items {
		items[i] = objects.CopyItem{Src: from[i], Dst: to[i]}
	}
	*out = C.uint64_t(startOp(batchLabel(to), func(ctx context.Context, o *op) error {
		etags, errs, reqs := objects.Copy(ctx, c.S3, items, objectOptions(c, o))
		o.count.Store(reqs)
		if err := ctx.Err(); err != nil {
			return err
		}
		t := newTable(2, 1, len(items))
		for i, e := range errs {
			msg, code := errStatus(e)
			t.add([]string{msg, etags[i]}, []int64{code})
		}
		o.result = t
		return nil
	}))
	return 0
}

// s3t_presign writes into *url a malloc'd URL (free with s3t_free) that
// lets its holder GET or PUT (method, mlen bytes) the object at path for
// expires_seconds (1 .. 604800). It sends no request.
//
//export s3t_presign
func s3t_presign(client C.uint64_t, path *C.char, n C.int64_t, method *C.char, mlen C.int64_t, expiresSeconds C.int64_t,
	urlOut **C.char, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	p, err := objpath.ParseObject(goString(path, n))
	if err != nil {
		return fail(errOut, err)
	}
	if expiresSeconds <= 0 || int64(expiresSeconds) > int64(objects.MaxPresignExpiry/time.Second) {
		return fail(errOut, fmt.Errorf("presign s3://%s: expires must be 1..%d seconds, got %d: %w",
			p, int64(objects.MaxPresignExpiry/time.Second), int64(expiresSeconds), s3err.ErrInvalid))
	}
	// Signing may need to resolve credentials (SSO, IMDS): bound it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	u, err := objects.Presign(ctx, c.S3, p.Bucket, p.Key, goString(method, mlen), time.Duration(expiresSeconds)*time.Second)
	if err != nil {
		return fail(errOut, err)
	}
	if urlOut != nil {
		*urlOut = C.CString(u)
	}
	return 0
}

// s3t_bucket_start creates (action 1, in region: rlen bytes, empty = the
// client's region) or removes (action 2, must be empty) the bucket named
// by name ("bucket", "s3://bucket" or "bucket/"). The operation fails with
// the mapped error (Exists, NotFound; a non-empty bucket is IO with a
// message saying so); there is no result table; count = requests (1).
//
//export s3t_bucket_start
func s3t_bucket_start(client C.uint64_t, name *C.char, n C.int64_t, action C.int32_t, region *C.char, rlen C.int64_t,
	out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	p, err := objpath.Parse(goString(name, n))
	if err != nil {
		return fail(errOut, err)
	}
	if p.Key != "" {
		return fail(errOut, fmt.Errorf("s3://%s names an object, not a bucket: %w", p, s3err.ErrInvalid))
	}
	if action != bucketCreate && action != bucketRemove {
		return fail(errOut, fmt.Errorf("s3://%s: bucket action must be 1 (create) or 2 (remove), got %d: %w", p.Bucket, action, s3err.ErrInvalid))
	}
	reg := goString(region, rlen)
	*out = C.uint64_t(startOp("s3://"+p.Bucket, func(ctx context.Context, o *op) error {
		o.count.Store(1)
		if action == bucketCreate {
			return objects.MakeBucket(ctx, c.S3, p.Bucket, reg)
		}
		return objects.RemoveBucket(ctx, c.S3, p.Bucket)
	}))
	return 0
}
