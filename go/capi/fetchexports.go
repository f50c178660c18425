package main

/*
#include "s3t.h"
*/
import "C"

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/s3turbo/s3turbo/go/download"
	"github.com/s3turbo/s3turbo/go/fetch"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// Flags (bit set) of s3t_range_start.
const (
	rangeContinueOnError = 1 << iota // a failed item does not cancel the others
)

// s3t_range_start fetches n byte ranges: item i is bytes
// [starts[i]:ends[i]] of the object named by paths (bucket/key or
// s3://bucket/key, concatenated with n+1 offsets), with Python slice
// semantics (negative = from the end, ends[i] == INT64_MAX = to the end,
// clamped to the object, so past-the-end ranges are empty, not errors).
// etags (concatenated with n+1 offsets in eoffs; NULL for none) gives each
// item an ETag sent as If-Match with every request ("" = none): a replaced
// object fails with status Changed. If bufs is NULL, each item's length
// (the resolved range's) is discovered: poll s3t_op_wait, take ready items
// with s3t_get_ready and hand buffers over with s3t_get_provide; else
// bufs[i] (lens[i] bytes) must be exactly the resolved length. flags: 1 =
// continue on error (per-item status from s3t_get_codes and
// s3t_get_item_error; s3t_op_error then reports only a cancel). Progress:
// items done, bytes, requests.
//
//export s3t_range_start
func s3t_range_start(client C.uint64_t, paths *C.char, offs *C.int64_t, n C.int64_t,
	starts *C.int64_t, ends *C.int64_t, etags *C.char, eoffs *C.int64_t,
	bufs **C.char, lens *C.int64_t, flags C.int32_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	if flags&^rangeContinueOnError != 0 {
		return fail(errOut, fmt.Errorf("unknown flags %#x: %w", int32(flags), s3err.ErrInvalid))
	}
	names, err := splitStrings(paths, offs, n)
	if err != nil {
		return fail(errOut, err)
	}
	var tags []string
	if etags != nil && n > 0 {
		if eoffs == nil {
			return fail(errOut, fmt.Errorf("etags without offsets: %w", s3err.ErrInvalid))
		}
		if tags, err = splitStrings(etags, eoffs, n); err != nil {
			return fail(errOut, fmt.Errorf("etags: %w", err))
		}
	}
	items := make([]fetch.Item, len(names))
	var sv, ev, lv []int64
	var bv []*C.char
	if n > 0 {
		if starts == nil || ends == nil {
			return fail(errOut, fmt.Errorf("starts and ends are required: %w", s3err.ErrInvalid))
		}
		sv = unsafe.Slice((*int64)(unsafe.Pointer(starts)), int(n))
		ev = unsafe.Slice((*int64)(unsafe.Pointer(ends)), int(n))
		if bufs != nil {
			bv = unsafe.Slice(bufs, int(n))
			lv = unsafe.Slice((*int64)(unsafe.Pointer(lens)), int(n))
		}
	}
	ps, err := parseObjects(names, objpath.ParseObject)
	if err != nil {
		return fail(errOut, err)
	}
	for i, p := range ps {
		items[i] = fetch.Item{Bucket: p.Bucket, Key: p.Key, Ranged: true, Start: sv[i], End: ev[i]}
		if tags != nil {
			items[i].IfMatch = tags[i]
		}
		if bv != nil {
			if items[i].Buf, err = callerBuffer(bv, lv, i, names[i]); err != nil {
				return fail(errOut, err)
			}
			items[i].Known = true
		}
	}
	b := fetch.Start(context.Background(), c.Get, items, fetch.Options{
		PartSize: c.PartSize, Concurrency: c.Concurrency, ReadRetries: readRetries(c),
		ContinueOnError: flags&rangeContinueOnError != 0, CoalesceGap: c.CoalesceGap,
	})
	*out = C.uint64_t(table.put(&op{batch: b}))
	return 0
}

// s3t_download_start downloads n objects (srcs: bucket/key or
// s3://bucket/key, concatenated with soffs) to local files (dsts,
// concatenated with doffs). Each file is written under a temporary name in
// its directory and renamed into place when complete; directories are
// created. root (rlen bytes; rlen 0 for none) confines every destination to
// that directory: a destination outside it, lexically or through a symbolic
// link, fails with status Invalid before any request. One failing item does
// not stop the others. Result table, one row per item in input order:
// strings [error] ("" on success), ints [status, size] (size = bytes
// written, -1 on failure); count = requests made. Progress: files done,
// bytes written, requests. A cancelled download fails as a whole.
//
//export s3t_download_start
func s3t_download_start(client C.uint64_t, srcs *C.char, soffs *C.int64_t, dsts *C.char, doffs *C.int64_t,
	n C.int64_t, root *C.char, rlen C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	src, err := splitStrings(srcs, soffs, n)
	if err != nil {
		return fail(errOut, fmt.Errorf("sources: %w", err))
	}
	dst, err := splitStrings(dsts, doffs, n)
	if err != nil {
		return fail(errOut, fmt.Errorf("destinations: %w", err))
	}
	ps, err := parseObjects(src, objpath.ParseObject)
	if err != nil {
		return fail(errOut, err)
	}
	items := make([]download.Item, len(ps))
	for i, p := range ps {
		items[i] = download.Item{Bucket: p.Bucket, Key: p.Key, Path: dst[i]}
	}
	rootDir := goString(root, rlen)
	prog := &download.Progress{}
	*out = C.uint64_t(startOpWith(func(o *op) { o.progress = prog.Load }, rootDir, func(ctx context.Context, o *op) error {
		res, err := download.Files(ctx, c.Get, items, download.Options{
			Root: rootDir, PartSize: c.PartSize, Concurrency: c.Concurrency, Progress: prog,
			ReadRetries: readRetries(c),
		})
		_, _, reqs := prog.Load()
		o.count.Store(reqs)
		if err != nil {
			return fmt.Errorf("download of %d objects stopped: %w", len(items), err)
		}
		t := newTable(1, 2, len(res))
		for _, r := range res {
			msg, code := errStatus(r.Err)
			t.add([]string{msg}, []int64{code, r.Size})
		}
		o.result = t
		return nil
	}))
	return 0
}
