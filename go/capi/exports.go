package main

/*
#include "s3t.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unsafe"

	"github.com/s3turbo/s3turbo/go/fetch"
	"github.com/s3turbo/s3turbo/go/listing"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
	"github.com/s3turbo/s3turbo/go/tarindex"
	"github.com/s3turbo/s3turbo/go/tarjob"
)

func panicErr(r any) error {
	return fmt.Errorf("internal error (please report): %v: %w", r, s3err.ErrInternal)
}

var errBadHandle = fmt.Errorf("unknown or freed handle: %w", s3err.ErrInvalid)

// ---- clients ----

//export s3t_client_new
func s3t_client_new(opts *C.char, n C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	var o s3client.Options
	raw := goBytes(opts, n)
	if err := json.Unmarshal(raw, &o); err != nil {
		return fail(errOut, fmt.Errorf("client options: %v: %w", err, s3err.ErrInvalid))
	}
	if err := explicitZeros(raw); err != nil {
		return fail(errOut, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := s3client.New(ctx, o)
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(table.put(c))
	return 0
}

// explicitZeros refuses options Python sent as 0 or below that the Go
// options read as "the default" when zero: retries=0 silently meant five
// attempts, read_timeout=0 sixty seconds.
func explicitZeros(raw []byte) error {
	var given struct {
		MaxConcurrency *int     `json:"max_concurrency"`
		PartSize       *int64   `json:"part_size"`
		Retries        *int     `json:"retries"`
		ConnectTimeout *float64 `json:"connect_timeout"`
		ReadTimeout    *float64 `json:"read_timeout"`
	}
	if err := json.Unmarshal(raw, &given); err != nil {
		return fmt.Errorf("client options: %v: %w", err, s3err.ErrInvalid)
	}
	switch {
	case given.Retries != nil && *given.Retries == 0:
		return fmt.Errorf("retries must be >= 1 (attempts per request), got 0: %w", s3client.ErrInvalidOptions)
	case given.MaxConcurrency != nil && *given.MaxConcurrency == 0:
		return fmt.Errorf("max_concurrency must be in 1..4096, got 0: %w", s3client.ErrInvalidOptions)
	case given.PartSize != nil && *given.PartSize == 0:
		return fmt.Errorf("part_size must be between 64 KiB and 5 GiB, got 0: %w", s3client.ErrInvalidOptions)
	case given.ConnectTimeout != nil && !(*given.ConnectTimeout > 0):
		return fmt.Errorf("connect_timeout must be > 0 seconds, got %v: %w", *given.ConnectTimeout, s3client.ErrInvalidOptions)
	case given.ReadTimeout != nil && !(*given.ReadTimeout > 0):
		return fmt.Errorf("read_timeout must be > 0 seconds, got %v: %w", *given.ReadTimeout, s3client.ErrInvalidOptions)
	}
	return nil
}

// readRetries is how often a failed body read is retried: the client's
// attempts per request, less the one already made (retries=1 had read a
// stalled body 4 more times, for 4 more read timeouts).
func readRetries(c *s3client.Client) int { return max(c.Retries-1, 0) }

//export s3t_client_free
func s3t_client_free(h C.uint64_t) (status C.int32_t) {
	defer guard(&status, nil)
	c, ok := table.get(uint64(h)).(*s3client.Client)
	if !ok {
		return C.int32_t(s3err.Invalid)
	}
	closed.add(uint64(h), c) // resolvable throughout, for calls racing the free
	table.del(uint64(h))
	c.Close()
	return 0
}

// ---- generic operation control ----

// s3t_op_wait returns 0 (pending), 1 (ready: objects wait for buffers),
// 2 (done) or a negative status for a bad handle. timeout < 0 waits forever.
//
//export s3t_op_wait
func s3t_op_wait(h C.uint64_t, timeout C.double) (status C.int32_t) {
	defer guard(&status, nil)
	o := getOp(uint64(h))
	if o == nil {
		return -C.int32_t(s3err.Invalid)
	}
	d := time.Duration(-1)
	if timeout >= 0 {
		d = time.Duration(float64(timeout) * float64(time.Second))
	}
	return C.int32_t(o.wait(d))
}

//export s3t_op_cancel
func s3t_op_cancel(h C.uint64_t) (status C.int32_t) {
	defer guard(&status, nil)
	o := getOp(uint64(h))
	if o == nil {
		return C.int32_t(s3err.Invalid)
	}
	o.stop()
	return 0
}

// s3t_op_free cancels the operation if it still runs, waits until none of
// its goroutines can touch caller memory any more, and forgets the handle.
//
//export s3t_op_free
func s3t_op_free(h C.uint64_t) (status C.int32_t) {
	defer guard(&status, nil)
	o := getOp(uint64(h))
	if o == nil {
		return C.int32_t(s3err.Invalid)
	}
	o.stop()
	<-o.finished()
	table.del(uint64(h))
	return 0
}

// finishedOp returns the operation behind h once it has finished, or the
// reason it cannot be read: bad handle, still running, or its own failure.
func finishedOp(h C.uint64_t) (*op, error) {
	o := getOp(uint64(h))
	if o == nil {
		return nil, errBadHandle
	}
	select {
	case <-o.finished():
	default:
		return nil, fmt.Errorf("operation still running: %w", s3err.ErrInvalid)
	}
	return o, o.error()
}

// s3t_op_error returns the status of a finished operation and its message.
//
//export s3t_op_error
func s3t_op_error(h C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	if _, err := finishedOp(h); err != nil {
		return fail(errOut, err)
	}
	return 0
}

// s3t_op_progress writes three counters: items done, bytes, requests.
//
//export s3t_op_progress
func s3t_op_progress(h C.uint64_t, out *C.int64_t) (status C.int32_t) {
	defer guard(&status, nil)
	o := getOp(uint64(h))
	if o == nil {
		return C.int32_t(s3err.Invalid)
	}
	v := unsafe.Slice((*int64)(unsafe.Pointer(out)), 3)
	switch {
	case o.batch != nil:
		v[0], v[1], v[2] = o.batch.Progress()
	case o.progress != nil:
		v[0], v[1], v[2] = o.progress()
	case o.list.Requests.Load() > 0:
		v[0], v[1], v[2] = o.list.Keys.Load(), 0, o.list.Requests.Load()
	default:
		v[0], v[1], v[2] = o.count.Load(), 0, 0
	}
	return 0
}

// s3t_op_table hands over a finished operation's tabular result (once).
//
//export s3t_op_table
func s3t_op_table(h C.uint64_t, out **C.s3t_table, count *C.int64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	o, err := finishedOp(h)
	if err != nil {
		return fail(errOut, err)
	}
	*count = C.int64_t(o.count.Load())
	*out = nil
	if o.result != nil {
		*out = o.result.toC()
		o.result = nil
	}
	return 0
}

// s3t_op_label returns the canonical name of what the operation works on
// (e.g. "s3://bucket/key" or a local path), as used in its results.
//
//export s3t_op_label
func s3t_op_label(h C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	o := getOp(uint64(h))
	if o == nil {
		return fail(errOut, errBadHandle)
	}
	setErr(errOut, o.label)
	return 0
}

// ---- ls ----

// s3t_ls_start lists one level below a path. Result table: strings
// [name, etag], ints [size, mtime_ns, is_dir]; count = requests made.
//
//export s3t_ls_start
func s3t_ls_start(client C.uint64_t, path *C.char, n C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	p, err := objpath.Parse(goString(path, n))
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(startOp("s3://"+p.String(), func(ctx context.Context, o *op) error {
		entries, st, err := listing.Dir(ctx, c.List, p.Bucket, p.Key, listing.Options{Workers: c.Concurrency})
		o.count.Store(int64(st.Requests))
		if err != nil {
			return err
		}
		t := newTable(2, 3, len(entries))
		for _, e := range entries {
			isDir := int64(0)
			if e.IsDir {
				isDir = 1
			}
			t.add([]string{p.Bucket + "/" + e.Key, e.ETag}, []int64{e.Size, e.Mtime, isDir})
		}
		o.result = t
		return nil
	}))
	return 0
}

// ---- batch GET ----

// s3t_get_start fetches n objects named by concatenated paths + n+1
// offsets. If bufs is not NULL, bufs[i] (lens[i] bytes) is object i's
// destination and must match its size. If bufs is NULL, sizes are
// discovered: poll s3t_op_wait, take ready objects with s3t_get_ready and
// hand buffers over with s3t_get_provide.
//
//export s3t_get_start
func s3t_get_start(client C.uint64_t, paths *C.char, offs *C.int64_t, n C.int64_t,
	bufs **C.char, lens *C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	names, err := splitStrings(paths, offs, n)
	if err != nil {
		return fail(errOut, err)
	}
	items := make([]fetch.Item, len(names))
	var bv []*C.char
	var lv []int64
	if bufs != nil && n > 0 {
		bv = unsafe.Slice(bufs, int(n))
		lv = unsafe.Slice((*int64)(unsafe.Pointer(lens)), int(n))
	}
	ps, err := parseObjects(names, objpath.ParseObject)
	if err != nil {
		return fail(errOut, err)
	}
	for i, p := range ps {
		items[i] = fetch.Item{Bucket: p.Bucket, Key: p.Key}
		if bv != nil {
			if items[i].Buf, err = callerBuffer(bv, lv, i, names[i]); err != nil {
				return fail(errOut, err)
			}
			items[i].Known = true
		}
	}
	b := fetch.Start(context.Background(), c.Get, items, fetch.Options{
		PartSize: c.PartSize, Concurrency: c.Concurrency, ReadRetries: readRetries(c),
	})
	*out = C.uint64_t(table.put(&op{batch: b}))
	return 0
}

// s3t_get_ready writes up to cap (index, size) pairs of objects waiting for
// buffers and returns how many it wrote (negative status on error).
//
//export s3t_get_ready
func s3t_get_ready(h C.uint64_t, idx *C.int64_t, sizes *C.int64_t, capacity C.int64_t) (n C.int64_t) {
	defer func() {
		if r := recover(); r != nil {
			n = -C.int64_t(s3err.Internal)
		}
	}()
	o := getOp(uint64(h))
	if o == nil || o.batch == nil || capacity <= 0 {
		return -C.int64_t(s3err.Invalid)
	}
	ready := o.batch.TakeReady(int(capacity))
	iv := unsafe.Slice((*int64)(unsafe.Pointer(idx)), len(ready))
	sv := unsafe.Slice((*int64)(unsafe.Pointer(sizes)), len(ready))
	for k, r := range ready {
		iv[k], sv[k] = int64(r.Index), r.Size
	}
	return C.int64_t(len(ready))
}

// s3t_get_provide hands destination buffers for ready objects.
//
//export s3t_get_provide
func s3t_get_provide(h C.uint64_t, idx *C.int64_t, bufs **C.char, lens *C.int64_t, n C.int64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	o := getOp(uint64(h))
	if o == nil || o.batch == nil {
		return fail(errOut, errBadHandle)
	}
	if n <= 0 {
		return 0
	}
	iv := unsafe.Slice((*int64)(unsafe.Pointer(idx)), int(n))
	bv := unsafe.Slice(bufs, int(n))
	lv := unsafe.Slice((*int64)(unsafe.Pointer(lens)), int(n))
	for k := range iv {
		if err := o.batch.Provide(int(iv[k]), goBytes(bv[k], C.int64_t(lv[k]))); err != nil {
			return fail(errOut, err)
		}
	}
	return 0
}

// s3t_get_codes writes each item's status code (0 for success) into codes.
//
//export s3t_get_codes
func s3t_get_codes(h C.uint64_t, codes *C.int32_t, n C.int64_t) (status C.int32_t) {
	defer guard(&status, nil)
	o := getOp(uint64(h))
	if o == nil || o.batch == nil {
		return C.int32_t(s3err.Invalid)
	}
	cv := unsafe.Slice((*int32)(unsafe.Pointer(codes)), int(n))
	for i := range cv {
		cv[i] = s3err.Status(o.batch.ItemErr(i))
	}
	return 0
}

// s3t_get_item_error returns item i's status and message.
//
//export s3t_get_item_error
func s3t_get_item_error(h C.uint64_t, i C.int64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	o := getOp(uint64(h))
	if o == nil || o.batch == nil {
		return fail(errOut, errBadHandle)
	}
	if err := o.batch.ItemErr(int(i)); err != nil {
		return fail(errOut, err)
	}
	return 0
}

// ---- tar index ----

// s3t_tar_start indexes a tar archive (local path or bucket/key). With an
// output (dlen > 0) rows are written as JSON Lines there and the result
// table is empty; otherwise the table holds strings [name, type, linkname]
// and ints [size, mode, mtime, header_offset, data_offset]. count = rows;
// s3t_op_label gives the archive's canonical name.
//
//export s3t_tar_start
func s3t_tar_start(client C.uint64_t, src *C.char, slen C.int64_t, dst *C.char, dlen C.int64_t,
	out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	from, err := tarjob.ResolveSource(goString(src, slen))
	if err != nil {
		return fail(errOut, err)
	}
	var to tarjob.Location
	if dlen > 0 {
		if to, err = tarjob.ResolveOutput(goString(dst, dlen)); err != nil {
			return fail(errOut, err)
		}
	}
	opt := tarjob.Options{Get: c.Get, ReadRetries: readRetries(c)}
	*out = C.uint64_t(startOp(from.String(), func(ctx context.Context, o *op) error {
		if dlen > 0 {
			st, err := tarjob.WriteIndex(ctx, c.S3, from, to, opt)
			o.count.Store(st.Rows)
			return err
		}
		t := newTable(3, 5, 1024)
		st, err := tarjob.Run(ctx, c.S3, from, opt, func(r tarindex.Row) error {
			t.add([]string{r.Name, r.Type, r.Linkname}, []int64{r.Size, r.Mode, r.Mtime, r.HeaderOffset, r.DataOffset})
			return nil
		})
		o.count.Store(st.Rows)
		if err != nil {
			return err
		}
		o.result = t
		return nil
	}))
	return 0
}
