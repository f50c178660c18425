package main

/*
#include "s3t.h"
*/
import "C"

import (
	"context"
	"fmt"
	"time"

	"github.com/s3turbo/s3turbo/go/listing"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// List flags (bit set).
const (
	listRecursive = 1 << iota
	listParallel
	listSorted
)

// addEntries appends a page's entries to a list table: strings [key, etag], ints
// [size, mtime_ns, is_dir].
func addEntries(t *tableBuilder, bucket string, entries []listing.Entry) {
	for i := range entries {
		e := &entries[i]
		t.strs[0] = append(append(append(t.strs[0], bucket...), '/'), e.Key...)
		t.endString(0)
		t.strs[1] = append(t.strs[1], e.ETag...)
		t.endString(1)
		isDir := int64(0)
		if e.IsDir {
			isDir = 1
		}
		t.ints[0] = append(t.ints[0], e.Size)
		t.ints[1] = append(t.ints[1], e.Mtime)
		t.ints[2] = append(t.ints[2], isDir)
	}
	t.nrows += len(entries)
}

// s3t_list_start lists keys under a path (bucket/prefix, taken verbatim as
// a key prefix). Pages are streamed: take them with s3t_list_next (a
// bounded queue keeps memory constant; a slow reader slows the listing).
// Progress: items = keys, requests.
//
//export s3t_list_start
func s3t_list_start(client C.uint64_t, path *C.char, n C.int64_t, flags C.int32_t, workers C.int32_t,
	out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	p, err := objpath.Parse(goString(path, n))
	if err != nil {
		return fail(errOut, err)
	}
	f := int(flags)
	opt := listing.Options{Workers: int(workers), Sorted: f&listSorted != 0}
	if opt.Workers <= 0 {
		opt.Workers = c.Concurrency
	}
	pages := make(chan *tableBuilder, 8)
	// Queued pages are merged into one table only when the stream is in key
	// order; unsorted parallel pages stay separate so each table is sorted.
	ordered := f&listParallel == 0 || f&listSorted != 0
	*out = C.uint64_t(startOpWith(func(o *op) { o.pages, o.mergePages = pages, ordered }, "s3://"+p.String(), func(ctx context.Context, o *op) error {
		defer close(pages)
		emit := func(pg listing.Page) error {
			t := newTable(2, 3, len(pg.Entries))
			addEntries(t, p.Bucket, pg.Entries)
			select {
			case pages <- t:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var st listing.Stats
		var err error
		switch {
		case f&listRecursive == 0:
			st, err = listing.WalkCounted(ctx, c.S3, p.Bucket, p.Key, "/", &o.list, emit)
		case f&listParallel != 0:
			st, err = listing.ParallelCounted(ctx, c.S3, p.Bucket, p.Key, opt, &o.list, emit)
		default:
			st, err = listing.WalkCounted(ctx, c.S3, p.Bucket, p.Key, "", &o.list, emit)
		}
		o.count.Store(int64(st.Requests))
		return err
	}))
	return 0
}

// s3t_list_next waits up to timeout seconds for streamed pages and hands
// over everything queued as one table. Returns 1 (table), 0 (nothing yet),
// 2 (the listing has ended: check s3t_op_error), negative on a bad handle.
//
//export s3t_list_next
func s3t_list_next(h C.uint64_t, timeout C.double, out **C.s3t_table) (status C.int32_t) {
	defer guard(&status, nil)
	o := getOp(uint64(h))
	if o == nil || o.pages == nil {
		return -C.int32_t(s3err.Invalid)
	}
	*out = nil
	var first *tableBuilder
	var ok bool
	select {
	case first, ok = <-o.pages:
	default:
		t := time.NewTimer(time.Duration(float64(timeout) * float64(time.Second)))
		defer t.Stop()
		select {
		case first, ok = <-o.pages:
		case <-t.C:
			return 0
		}
	}
	if !ok {
		<-o.done
		return 2
	}
	for more := o.mergePages; more; {
		select {
		case t, ok2 := <-o.pages:
			if !ok2 {
				more = false
				break
			}
			first.merge(t)
		default:
			more = false
		}
	}
	*out = first.toC()
	return 1
}

// s3t_du_start computes total size and count under a path, and per group
// of depth components when depth > 0. Result table: strings [group],
// ints [size, count]; row 0 is the total (group = the path). count =
// requests.
//
//export s3t_du_start
func s3t_du_start(client C.uint64_t, path *C.char, n C.int64_t, depth C.int32_t, parallel C.int32_t, workers C.int32_t,
	out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	p, err := objpath.Parse(goString(path, n))
	if err != nil {
		return fail(errOut, err)
	}
	if depth < 0 {
		return fail(errOut, fmt.Errorf("depth must be >= 0, got %d: %w", depth, s3err.ErrInvalid))
	}
	opt := listing.Options{Workers: int(workers)}
	if opt.Workers <= 0 {
		opt.Workers = c.Concurrency
	}
	*out = C.uint64_t(startOp("s3://"+p.String(), func(ctx context.Context, o *op) error {
		res, st, err := listing.Du(ctx, c.S3, p.Bucket, p.Key, int(depth), parallel != 0, opt, &o.list)
		o.count.Store(int64(st.Requests))
		if err != nil {
			return err
		}
		groups := res.SortedGroups()
		t := newTable(1, 2, len(groups)+1)
		t.add([]string{p.String()}, []int64{res.Total.Size, res.Total.Count})
		for _, g := range groups {
			u := res.Groups[g]
			name := p.Bucket
			if g != "" {
				name += "/" + g
			}
			t.add([]string{name}, []int64{u.Size, u.Count})
		}
		o.result = t
		return nil
	}))
	return 0
}

// s3t_buckets_start lists the buckets visible to the client's credentials.
// Result table: strings [name], ints [creation_ns]; count = requests.
//
//export s3t_buckets_start
func s3t_buckets_start(client C.uint64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	*out = C.uint64_t(startOp("s3://", func(ctx context.Context, o *op) error {
		bs, requests, err := listing.Buckets(ctx, c.S3)
		o.count.Store(int64(requests))
		if err != nil {
			return err
		}
		t := newTable(1, 1, len(bs))
		for _, b := range bs {
			t.add([]string{b.Name}, []int64{b.Created})
		}
		o.result = t
		return nil
	}))
	return 0
}
