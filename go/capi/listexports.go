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
	listColumns // slim tables: strings [name], ints [size, mtime_ns]
)

// pageStream is a listing's queue of pages waiting for s3t_list_next. Pages
// are queued as the engine parsed them (no copy) and copied once, straight
// into C memory, when the reader takes them.
type pageStream struct {
	pages  chan listing.Page
	bucket string
	merge  bool // queued pages may be handed over as one table (ordered streams)
	slim   bool // names, sizes and mtimes only (listColumns)
}

// table copies pages' entries into one malloc'd s3t_table, each column
// allocated at its exact size: strings [bucket/key, etag] and ints [size,
// mtime_ns, is_dir], or strings [bucket/key] and ints [size, mtime_ns] when
// the stream is slim.
func (s *pageStream) table(pages []listing.Page) *C.s3t_table {
	rows, nameBytes, etagBytes := 0, 0, 0
	for _, pg := range pages {
		rows += len(pg.Entries)
		for i := range pg.Entries {
			nameBytes += len(s.bucket) + len(pg.Entries[i].Key) + 2 // '/' and '\n'
			etagBytes += len(pg.Entries[i].ETag) + 1
		}
	}
	nstr, nint := 2, 3
	if s.slim {
		nstr, nint = 1, 2
	}
	tp, tabs := cArray[C.s3t_table](1)
	sp, sv := cArray[*C.char](nstr)
	ofp, ov := cArray[*C.int64_t](nstr)
	ip, iv := cArray[*C.int64_t](nint)
	tabs[0] = C.s3t_table{nrows: C.int64_t(rows), nstr: C.int32_t(nstr), nint: C.int32_t(nint),
		str: (**C.char)(sp), str_off: (**C.int64_t)(ofp), ints: (**C.int64_t)(ip)}
	strCol := func(i, size int) ([]byte, []int64) {
		dp, data := cArray[byte](size)
		offp, offs := cArray[int64](rows + 1)
		sv[i], ov[i] = (*C.char)(dp), (*C.int64_t)(offp)
		offs[0] = 0
		return data, offs
	}
	intCol := func(i int) []int64 {
		p, v := cArray[int64](rows)
		iv[i] = (*C.int64_t)(p)
		return v
	}
	names, nameOffs := strCol(0, nameBytes)
	sizes, mtimes := intCol(0), intCol(1)
	var etags []byte
	var etagOffs, dirs []int64
	if !s.slim {
		etags, etagOffs = strCol(1, etagBytes)
		dirs = intCol(2)
	}
	row, at, etagAt := 0, 0, 0
	for _, pg := range pages {
		for i := range pg.Entries {
			e := &pg.Entries[i]
			at += copy(names[at:], s.bucket)
			names[at] = '/'
			at++
			at += copy(names[at:], e.Key)
			names[at] = '\n'
			at++
			nameOffs[row+1] = int64(at)
			sizes[row], mtimes[row] = e.Size, e.Mtime
			if !s.slim {
				etagAt += copy(etags[etagAt:], e.ETag)
				etags[etagAt] = '\n'
				etagAt++
				etagOffs[row+1] = int64(etagAt)
				dirs[row] = 0
				if e.IsDir {
					dirs[row] = 1
				}
			}
			row++
		}
	}
	return (*C.s3t_table)(tp)
}

// s3t_list_start lists keys under a path (bucket/prefix, taken verbatim as
// a key prefix). Pages are streamed: take them with s3t_list_next (a
// bounded queue keeps memory constant; a slow reader slows the listing).
// Flags: recursive, parallel, sorted, and columns (tables of names, sizes
// and mtimes only, for readers that want nothing else). points (npoints
// keys, concatenated with npoints+1 offsets) are split points for a
// parallel listing (listing.Options.SplitAfter). Progress: items = keys,
// requests.
//
//export s3t_list_start
func s3t_list_start(client C.uint64_t, path *C.char, n C.int64_t, flags C.int32_t, workers C.int32_t,
	points *C.char, poffs *C.int64_t, npoints C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
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
	if f&listColumns != 0 {
		opt.Omit = listing.ETag // slim tables carry no ETags
	}
	if opt.SplitAfter, err = splitPoints(p.Bucket, points, poffs, npoints); err != nil {
		return fail(errOut, err)
	}
	if opt.Workers <= 0 {
		opt.Workers = c.Concurrency
	}
	// Queued pages are merged into one table only when the stream is in key
	// order; unsorted parallel pages stay separate so each table is sorted.
	stream := &pageStream{pages: make(chan listing.Page, 8), bucket: p.Bucket,
		merge: f&listParallel == 0 || f&listSorted != 0, slim: f&listColumns != 0}
	pages := stream.pages
	*out = C.uint64_t(startOpWith(func(o *op) { o.stream = stream }, "s3://"+p.String(), func(ctx context.Context, o *op) error {
		defer close(pages)
		emit := func(pg listing.Page) error {
			select {
			case pages <- pg:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		var st listing.Stats
		var err error
		switch {
		case f&listRecursive == 0:
			st, err = listing.WalkCounted(ctx, c.List, p.Bucket, p.Key, "/", opt.Omit, &o.list, emit)
		case f&listParallel != 0:
			st, err = listing.ParallelCounted(ctx, c.List, p.Bucket, p.Key, opt, &o.list, emit)
		default:
			st, err = listing.WalkCounted(ctx, c.List, p.Bucket, p.Key, "", opt.Omit, &o.list, emit)
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
	if o == nil || o.stream == nil {
		return -C.int32_t(s3err.Invalid)
	}
	s := o.stream
	*out = nil
	var first listing.Page
	var ok bool
	select {
	case first, ok = <-s.pages:
	default:
		t := time.NewTimer(time.Duration(float64(timeout) * float64(time.Second)))
		defer t.Stop()
		select {
		case first, ok = <-s.pages:
		case <-t.C:
			return 0
		}
	}
	if !ok {
		<-o.done
		return 2
	}
	taken := []listing.Page{first}
	for more := s.merge; more; {
		select {
		case pg, ok2 := <-s.pages:
			if !ok2 {
				more = false
				break
			}
			taken = append(taken, pg)
		default:
			more = false
		}
	}
	*out = s.table(taken)
	return 1
}

// splitPoints turns split points given as paths (bucket/key, like the
// names a listing returns) into keys, all of which must be in bucket.
func splitPoints(bucket string, points *C.char, poffs *C.int64_t, npoints C.int64_t) ([]string, error) {
	paths, err := splitStrings(points, poffs, npoints)
	if err != nil {
		return nil, fmt.Errorf("split points: %w", err)
	}
	keys := make([]string, len(paths))
	for i, s := range paths {
		q, err := objpath.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("split point %d: %w", i, err)
		}
		if q.Bucket != bucket {
			return nil, fmt.Errorf("split point %q is in bucket %q, not in the listed bucket %q: %w",
				s, q.Bucket, bucket, s3err.ErrInvalid)
		}
		keys[i] = q.Key
	}
	return keys, nil
}

// s3t_du_start computes total size and count under a path, and per group
// of depth components when depth > 0. Result table: strings [group],
// ints [size, count]; row 0 is the total (group = the path). count =
// requests. points/poffs/npoints are split points, as for s3t_list_start.
//
//export s3t_du_start
func s3t_du_start(client C.uint64_t, path *C.char, n C.int64_t, depth C.int32_t, parallel C.int32_t, workers C.int32_t,
	points *C.char, poffs *C.int64_t, npoints C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
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
	if opt.SplitAfter, err = splitPoints(p.Bucket, points, poffs, npoints); err != nil {
		return fail(errOut, err)
	}
	if opt.Workers <= 0 {
		opt.Workers = c.Concurrency
	}
	*out = C.uint64_t(startOp("s3://"+p.String(), func(ctx context.Context, o *op) error {
		res, st, err := listing.Du(ctx, c.List, p.Bucket, p.Key, int(depth), parallel != 0, opt, &o.list)
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
