package main

/*
#include "s3t.h"
*/
import "C"

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
	"github.com/s3turbo/s3turbo/go/upload"
)

// Upload flags (bit set) of s3t_put_start, s3t_upload_start and s3t_writer_new.
const (
	putCreateOnly = 1 << iota // fail with status Exists if the key exists
	putAppend                 // writer only: keep the existing object's bytes first
)

// writerAbortTimeout bounds the AbortMultipartUpload s3t_writer_free sends.
const writerAbortTimeout = 10 * time.Second

func uploadOptions(c *s3client.Client, flags C.int32_t, attrs *upload.Attrs) upload.Options {
	return upload.Options{PartSize: c.PartSize, Concurrency: c.Concurrency, CreateOnly: flags&putCreateOnly != 0,
		Attrs: attrs}
}

// objectAttrs reads the JSON object attributes (see upload.Attrs) that
// put, upload and writer calls take; n == 0: none.
func objectAttrs(p *C.char, n C.int64_t) (*upload.Attrs, error) {
	if n <= 0 || p == nil {
		return nil, nil
	}
	return upload.ParseAttrs([]byte(goString(p, n)))
}

// startUpload runs a batch upload as an operation: progress (items done,
// bytes, requests) is live; the result table has one row per item in input
// order, strings [error, etag], ints [status]; count = requests made. A
// cancelled batch fails as a whole (its multipart uploads are aborted).
func startUpload(label string, n int, run func(ctx context.Context, prog *upload.Progress) []upload.Result) uint64 {
	prog := &upload.Progress{}
	return startOpWith(func(o *op) { o.progress = prog.Snapshot }, label, func(ctx context.Context, o *op) error {
		res := run(ctx, prog)
		o.count.Store(prog.Requests.Load())
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("upload of %d objects stopped: %w", n, err)
		}
		t := newTable(2, 1, len(res))
		for _, r := range res {
			msg, code := errStatus(r.Err)
			t.add([]string{msg, r.ETag}, []int64{code})
		}
		o.result = t
		return nil
	})
}

// s3t_put_start uploads n buffers: object i is named by paths (bucket/key
// or s3://bucket/key, concatenated with n+1 offsets) and its bytes are
// bufs[i] (lens[i] bytes, NULL allowed for 0). The buffers are read in
// place (no copy) until the operation has finished; s3t_op_free waits for
// that. Objects up to the client's part size are one PUT, larger ones
// multipart uploads whose parts share the client's concurrency. flags:
// 1 = create only (status Exists if the key exists). attrs (alen bytes of
// JSON, 0 for none) are the headers every object is stored with (see
// upload.Attrs). Result table, one row per path: strings [error, etag],
// ints [status]; count = requests made. Progress: items done, bytes,
// requests.
//
//export s3t_put_start
func s3t_put_start(client C.uint64_t, paths *C.char, offs *C.int64_t, n C.int64_t,
	bufs **C.char, lens *C.int64_t, flags C.int32_t, attrs *C.char, alen C.int64_t,
	out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	at, err := objectAttrs(attrs, alen)
	if err != nil {
		return fail(errOut, err)
	}
	names, err := splitStrings(paths, offs, n)
	if err != nil {
		return fail(errOut, err)
	}
	items := make([]upload.Buffer, len(names))
	if n > 0 && (bufs == nil || lens == nil) {
		return fail(errOut, fmt.Errorf("no buffers for %d objects: %w", n, s3err.ErrInvalid))
	}
	var bv []*C.char
	var lv []int64
	if n > 0 {
		bv = unsafe.Slice(bufs, int(n))
		lv = unsafe.Slice((*int64)(unsafe.Pointer(lens)), int(n))
	}
	ps, err := parseObjects(names, objpath.ParseWritable)
	if err != nil {
		return fail(errOut, err)
	}
	for i, p := range ps {
		data, err := callerBuffer(bv, lv, i, names[i])
		if err != nil {
			return fail(errOut, err)
		}
		items[i] = upload.Buffer{Bucket: p.Bucket, Key: p.Key, Data: data}
	}
	opt := uploadOptions(c, flags, at)
	*out = C.uint64_t(startUpload(batchLabel(ps), len(items), func(ctx context.Context, prog *upload.Progress) []upload.Result {
		return upload.PutBuffers(ctx, c.S3, items, opt, prog)
	}))
	return 0
}

// s3t_upload_start uploads n local files: srcs (local paths) and dsts
// (bucket/key or s3://bucket/key) are concatenated with n+1 offsets each.
// Files are read as their requests are sent, never buffered whole, so
// memory does not grow with file or part sizes. A missing file or a directory fails its row (NotFound / Invalid,
// naming the local path). flags: 1 = create only. attrs: as for
// s3t_put_start. Result table, one row per file: strings [error, etag],
// ints [status]; count = requests made. Progress: items done, bytes,
// requests.
//
//export s3t_upload_start
func s3t_upload_start(client C.uint64_t, srcs *C.char, soffs *C.int64_t, dsts *C.char, doffs *C.int64_t,
	n C.int64_t, flags C.int32_t, attrs *C.char, alen C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	at, err := objectAttrs(attrs, alen)
	if err != nil {
		return fail(errOut, err)
	}
	from, err := splitStrings(srcs, soffs, n)
	if err != nil {
		return fail(errOut, err)
	}
	to, err := splitStrings(dsts, doffs, n)
	if err != nil {
		return fail(errOut, err)
	}
	items := make([]upload.File, len(from))
	ps := make([]objpath.Path, len(from))
	for i := range from {
		if from[i] == "" {
			return fail(errOut, fmt.Errorf("item %d: empty local path: %w", i, s3err.ErrInvalid))
		}
		if ps[i], err = objpath.ParseWritable(to[i]); err != nil {
			return fail(errOut, fmt.Errorf("item %d: %w", i, err))
		}
		items[i] = upload.File{Path: from[i], Bucket: ps[i].Bucket, Key: ps[i].Key}
	}
	opt := uploadOptions(c, flags, at)
	*out = C.uint64_t(startUpload(batchLabel(ps), len(items), func(ctx context.Context, prog *upload.Progress) []upload.Result {
		return upload.PutFiles(ctx, c.S3, items, opt, prog)
	}))
	return 0
}

func getWriter(id uint64) *upload.Writer {
	w, _ := table.get(id).(*upload.Writer)
	return w
}

// s3t_writer_new opens a streaming writer to path (bucket/key or
// s3://bucket/key). flags: 1 = create only, 2 = append (not both).
// part_size 0 uses the client's part size (at least 5.1875 MiB either way,
// upload.WriterMinPartSize, so that 10 000 parts reach 5 TiB). Up to 8
// parts (bounded by the client's concurrency) upload in the background, so
// a writer holds about 9 × the current part size of memory: part_size for
// the first 1 000 parts, doubling every 1 000 parts after that.
// attrs: as for s3t_put_start (none: an append keeps the object's own).
// Free it with s3t_writer_free.
//
//export s3t_writer_new
func s3t_writer_new(client C.uint64_t, path *C.char, n C.int64_t, flags C.int32_t, partSize C.int64_t,
	attrs *C.char, alen C.int64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	c := getClient(uint64(client))
	if c == nil {
		return fail(errOut, errBadHandle)
	}
	at, err := objectAttrs(attrs, alen)
	if err != nil {
		return fail(errOut, err)
	}
	p, err := objpath.ParseWritable(goString(path, n))
	if err != nil {
		return fail(errOut, err)
	}
	if partSize < 0 {
		return fail(errOut, fmt.Errorf("negative part size %d: %w", partSize, s3err.ErrInvalid))
	}
	ps := int64(partSize)
	if ps == 0 {
		ps = c.PartSize
	}
	w, err := upload.NewWriter(context.Background(), c.S3, p.Bucket, p.Key, upload.WriterOptions{
		PartSize:    ps,
		Concurrency: min(c.Concurrency, upload.DefaultWriterConcurrency),
		CreateOnly:  flags&putCreateOnly != 0,
		Append:      flags&putAppend != 0,
		ReadRetries: readRetries(c),
		Attrs:       at,
	})
	if err != nil {
		return fail(errOut, err)
	}
	*out = C.uint64_t(table.put(w))
	return 0
}

// s3t_writer_write copies n bytes from buf into the writer (buf may be
// reused at once). It blocks while the writer's parts are all in flight
// and fails with the error of an earlier failed part.
//
//export s3t_writer_write
func s3t_writer_write(h C.uint64_t, buf *C.char, n C.int64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	w := getWriter(uint64(h))
	if w == nil {
		return fail(errOut, errBadHandle)
	}
	if n < 0 || (n > 0 && buf == nil) {
		return fail(errOut, fmt.Errorf("%s: bad write buffer: %w", w.Name(), s3err.ErrInvalid))
	}
	if _, err := w.Write(goBytes(buf, n)); err != nil {
		return fail(errOut, err)
	}
	return 0
}

// s3t_writer_ready waits up to timeout seconds until s3t_writer_write can
// take a part's worth of bytes without waiting for a part in flight.
// Returns 1 (ready, or the writer has stopped: write reports why), 0 (not
// yet), negative on a bad handle. Callers that are only interruptible
// between calls (Python's Ctrl-C) wait in slices with it.
//
//export s3t_writer_ready
func s3t_writer_ready(h C.uint64_t, timeout C.double) (status C.int32_t) {
	defer guard(&status, nil)
	w := getWriter(uint64(h))
	if w == nil {
		return -C.int32_t(s3err.Invalid)
	}
	if w.Ready(time.Duration(float64(timeout) * float64(time.Second))) {
		return 1
	}
	return 0
}

// s3t_writer_close_start finishes the object in an operation (PUT of the
// buffered bytes, or last part + CompleteMultipartUpload). On success the
// table has one row: strings [etag], ints [size] (the object's final size);
// count = requests made by the writer. On failure or cancel the upload is
// aborted and the operation reports the error. Progress: 1 once complete,
// bytes sent, requests. Closing again reports the first close's outcome.
//
//export s3t_writer_close_start
func s3t_writer_close_start(h C.uint64_t, out *C.uint64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	w := getWriter(uint64(h))
	if w == nil {
		return fail(errOut, errBadHandle)
	}
	*out = C.uint64_t(startOpWith(func(o *op) { o.progress = w.Progress }, w.Name(), func(ctx context.Context, o *op) error {
		etag, err := w.Close(ctx)
		_, _, reqs := w.Progress()
		o.count.Store(reqs)
		if err != nil {
			return err
		}
		t := newTable(1, 1, 1)
		t.add([]string{etag}, []int64{w.Size()})
		o.result = t
		return nil
	}))
	return 0
}

// s3t_writer_free aborts the writer's upload unless it completed (waiting
// at most 10 s for the abort), then forgets the handle. It returns the
// abort's status (0 also after a successful close), or Invalid for an
// unknown handle.
//
//export s3t_writer_free
func s3t_writer_free(h C.uint64_t) (status C.int32_t) {
	defer guard(&status, nil)
	w := getWriter(uint64(h))
	if w == nil {
		return C.int32_t(s3err.Invalid)
	}
	table.del(uint64(h))
	ctx, cancel := context.WithTimeout(context.Background(), writerAbortTimeout)
	defer cancel()
	return C.int32_t(s3err.Status(w.Abort(ctx)))
}
