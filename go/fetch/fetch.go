// Package fetch downloads many S3 objects (or byte ranges of them)
// concurrently straight into caller-owned buffers or files.
//
// Each object costs one GET when it fits in a part (no HEAD): the first
// request asks for a window by range and the Content-Range header reveals
// the total size. Larger objects are completed by concurrent ranged GETs of
// the remaining parts, each pinned to the first response's ETag so a
// concurrent overwrite is detected instead of mixed into the result.
//
// When the caller does not know sizes in advance, a worker that has received
// the first response's headers reports the size through Ready and waits, with
// the body still unread, until the caller hands it a destination through
// Provide. The body is then read directly into that buffer: no copy, and
// memory stays bounded by what the caller allocates. With Options.Sink the
// destination is instead an io.WriterAt (a file) opened as soon as the size
// is known, with no round trip to the caller.
package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// API is the subset of the S3 client the fetch engine needs.
type API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// EOF as Item.End means "up to the end of the object".
const EOF = math.MaxInt64

// Item is one object (or byte range of one) to fetch. If Known is true, Buf
// is the destination and its length must equal the object's size (or the
// resolved range's length); otherwise the size is discovered and the
// destination supplied later with Batch.Provide (or by Options.Sink).
type Item struct {
	Bucket string
	Key    string
	Buf    []byte
	Known  bool

	// Ranged selects the bytes data[Start:End] of the object with Python
	// slice semantics: negative values count from the object's end, End ==
	// EOF means to the end, and the result is clamped to the object (a
	// start past the end, or start >= end, gives an empty result). When
	// Ranged is false the whole object is fetched and Start/End are ignored.
	Ranged bool
	Start  int64
	End    int64

	// IfMatch, when not empty, is sent as If-Match with every request of
	// the item, the first included: an object replaced since the caller
	// learnt this ETag fails with s3err.ErrChanged.
	IfMatch string
}

// Sink receives objects through io.WriterAt destinations (files) instead of
// memory buffers. Its methods are called from the batch's workers, possibly
// concurrently for different items.
type Sink interface {
	// Open is called once per item when its first response revealed the
	// length to write (the object's size or the resolved range's length),
	// before any byte is written. Offsets given to the returned writer are
	// relative to the start of the range.
	Open(i int, length int64) (io.WriterAt, error)
	// Finish is called exactly once for every item whose Open succeeded,
	// when no write to it is in flight any more: with err == nil after its
	// last byte was written (a returned error then fails the item), or with
	// the item's failure (the return value is then ignored), at the latest
	// when the batch stops. When it returns an error for a complete item,
	// it must have cleaned up after itself: it is not called again.
	Finish(i int, err error) error
}

// Options tunes a batch.
type Options struct {
	PartSize    int64 // bytes per ranged GET
	Concurrency int   // requests in flight at once
	// ReadRetries is how many times a failed body read (connection reset,
	// short body) is retried; the SDK already retries failed requests.
	ReadRetries int
	// ContinueOnError keeps the batch going when an item fails: the error
	// is recorded for that item (ItemErr) and Err reports only whole-batch
	// problems such as a cancel. By default the first failure cancels the
	// batch.
	ContinueOnError bool
	// Sink, when set, supplies every item's destination: Buf and Known are
	// ignored and no item goes through Ready/Provide.
	Sink Sink
	// CoalesceGap, when > 0, merges ranged items of the same object (and
	// If-Match) whose ranges are at most this many bytes apart into one
	// request of at most PartSize bytes: the bytes between them are read
	// and discarded. Fewer requests win when a request costs more than
	// reading the gap (see coalesce.go). Only ranges with non-negative
	// bounds qualify, and never with a Sink.
	CoalesceGap int64
}

// ReadyItem reports an object whose size is now known and which waits for
// a destination buffer.
type ReadyItem struct {
	Index int
	Size  int64
}

// State is what Wait observed.
type State int

// States returned by Wait.
const (
	Pending State = iota // nothing new before the timeout
	Ready                // some objects wait for buffers (see TakeReady)
	Done                 // every worker has exited; buffers are no longer touched
)

type job struct {
	item int
	part int // 0 is the first request; p >= 1 is chunks[p-1]
}

// span is a byte interval [off, off+n) in object coordinates.
type span struct{ off, n int64 }

type itemState struct {
	Item
	size      int64 // bytes the destination holds; -1 until known
	off       int64 // object offset of the destination's first byte
	etag      string
	chunks    []span // parts after the first request; written before they are queued
	w         io.WriterAt
	opened    bool // Sink.Open succeeded
	finished  bool // Sink.Finish was called
	bufCh     chan []byte
	remaining atomic.Int32 // parts not yet written, once size is known
	failed    atomic.Bool
	complete  atomic.Bool
	err       error // guarded by Batch.mu
	stopped   bool  // err is the batch's cancellation; guarded by Batch.mu
	group     []int // leader of a coalesced group: every member, itself included, by Start
	follower  bool  // fetched by its group's leader: never scheduled itself
}

// Batch is one running batch download. All methods are safe for concurrent use.
type Batch struct {
	ctx    context.Context
	parent context.Context // the caller's: it ends a moment before ctx does
	cancel context.CancelFunc
	api    API
	opt    Options
	items  []itemState

	mu        sync.Mutex
	cond      *sync.Cond
	parts     []job
	nextFirst int
	firstBusy int
	ready     []ReadyItem
	firstErr  error

	readyCh chan struct{}
	done    chan struct{}

	completed atomic.Int64
	bytes     atomic.Int64
	requests  atomic.Int64
}

// Start validates items and launches the workers. The returned batch runs
// until every object is complete, one fails (the rest are then cancelled,
// unless Options.ContinueOnError), or Cancel is called. The caller must not
// release buffers before Wait returns Done.
func Start(ctx context.Context, api API, items []Item, opt Options) *Batch {
	if opt.PartSize <= 0 {
		opt.PartSize = 8 << 20
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 64
	}
	if opt.ReadRetries < 0 {
		opt.ReadRetries = 0
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	b := &Batch{
		ctx: ctx, parent: parent, cancel: cancel, api: api, opt: opt,
		items:   make([]itemState, len(items)),
		readyCh: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	b.cond = sync.NewCond(&b.mu)
	for i, it := range items {
		st := &b.items[i]
		st.Item = it
		st.size = -1
		switch {
		case opt.Sink != nil:
			st.Buf, st.Known = nil, false
		case it.Known:
			st.size = int64(len(it.Buf))
		default:
			st.bufCh = make(chan []byte, 1)
		}
	}
	if opt.CoalesceGap > 0 && opt.Sink == nil {
		b.coalesce()
	}
	// Not bounded by the number of items: one large object needs many
	// workers for its parts (coalesced followers still count: harmless).
	workers := usefulWorkers(b.items, opt.PartSize, opt.Concurrency)
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			b.work()
		}()
	}
	stopWatch := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	go func() {
		wg.Wait()
		stopWatch()
		b.finishSinks()
		cancel()
		close(b.done)
	}()
	return b
}

// usefulWorkers bounds the worker count by the number of requests the batch
// can have: unknown sizes may need many parts, known ones exactly
// ceil(len/part) (at least one).
func usefulWorkers(items []itemState, part int64, limit int) int {
	var jobs int64
	for i := range items {
		it := &items[i]
		if !it.Known {
			return limit
		}
		jobs += max(1, (int64(len(it.Buf))+part-1)/part)
		if jobs >= int64(limit) {
			return limit
		}
	}
	return int(jobs)
}

// finishSinks tells the sink about every opened item that did not complete
// (all workers have exited, so nothing writes to them any more).
func (b *Batch) finishSinks() {
	if b.opt.Sink == nil {
		return
	}
	for i := range b.items {
		it := &b.items[i]
		if !it.opened || it.finished {
			continue
		}
		it.finished = true
		err := b.ItemErr(i)
		if err == nil {
			cause := context.Cause(b.ctx)
			if cause == nil {
				cause = s3err.ErrInternal
			}
			err = fmt.Errorf("%s: batch stopped before the object was complete: %w", b.name(i), cause)
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					b.record(i, fmt.Errorf("panic while cleaning up %s: %v: %w", b.name(i), r, s3err.ErrInternal))
				}
			}()
			_ = b.opt.Sink.Finish(i, err)
		}()
	}
}

func (b *Batch) work() {
	for {
		j, ok := b.next()
		if !ok {
			return
		}
		b.runGuarded(j)
	}
}

// next hands out the next job: outstanding parts first (to finish objects
// already started), then the first request of the next object.
func (b *Batch) next() (job, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.ctx.Err() != nil {
			return job{}, false
		}
		if n := len(b.parts); n > 0 {
			j := b.parts[n-1]
			b.parts = b.parts[:n-1]
			return j, true
		}
		for b.nextFirst < len(b.items) && b.items[b.nextFirst].follower {
			b.nextFirst++
		}
		if b.nextFirst < len(b.items) {
			j := job{item: b.nextFirst}
			b.nextFirst++
			b.firstBusy++
			return j, true
		}
		if b.firstBusy == 0 {
			return job{}, false
		}
		b.cond.Wait()
	}
}

func (b *Batch) runGuarded(j job) {
	defer func() {
		if r := recover(); r != nil {
			perr := fmt.Errorf("panic while fetching s3://%s/%s: %v: %w",
				b.items[j.item].Bucket, b.items[j.item].Key, r, s3err.ErrInternal)
			if g := b.items[j.item].group; j.part == 0 && g != nil {
				b.failGroup(g, func(int) error { return perr })
			} else {
				b.fail(j.item, perr)
			}
		}
		if j.part == 0 {
			b.mu.Lock()
			b.firstBusy--
			b.cond.Broadcast()
			b.mu.Unlock()
		}
	}()
	var err error
	switch {
	case j.part == 0 && b.items[j.item].group != nil:
		b.firstGroup(j.item) // records its members' failures itself
	case j.part == 0:
		err = b.first(j.item)
	default:
		err = b.part(j.item, j.part)
	}
	if err != nil {
		b.fail(j.item, err)
	}
}

// record stores err as item i's error unless it already has one.
func (b *Batch) record(i int, err error) {
	b.items[i].failed.Store(true)
	// The caller's context counts too: a sink watching it (a download
	// waiting for a pipe's reader) can fail with its error before the
	// cancellation has reached b.ctx, and the item then read as failed on
	// its own, not stopped, so the batch reported no error.
	stopped := (b.ctx.Err() != nil || b.parent.Err() != nil) &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
	b.mu.Lock()
	if b.items[i].err == nil {
		b.items[i].err, b.items[i].stopped = err, stopped
	}
	b.mu.Unlock()
}

// fail records err for item i and, unless ContinueOnError, cancels the batch.
func (b *Batch) fail(i int, err error) {
	b.record(i, err)
	if b.opt.ContinueOnError {
		return
	}
	b.mu.Lock()
	if b.firstErr == nil && !(errors.Is(err, context.Canceled) && b.ctx.Err() != nil) {
		b.firstErr = err
	}
	b.mu.Unlock()
	b.cancel()
}

func (b *Batch) name(i int) string {
	return "s3://" + b.items[i].Bucket + "/" + b.items[i].Key
}

// parseTotal extracts the total size from "bytes a-b/total" (or "bytes */total").
func parseTotal(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if i < 0 || cr[i+1:] == "*" {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// ParseContentRange parses a 206 response's Content-Range, "bytes
// first-last/total", into its inclusive byte positions and the object's
// total size. ok is false for anything else (including an unknown "*"
// total and the "bytes */total" form of a 416 answer).
func ParseContentRange(cr string) (first, last, total int64, ok bool) {
	cr = strings.TrimSpace(cr)
	rest, found := strings.CutPrefix(cr, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, _, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, ok = parseTotal(cr)
	if err1 != nil || err2 != nil || !ok || first < 0 || last < first || last >= total {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// Resolve applies Python slice semantics to an object of size bytes: the
// bytes data[start:end] are the interval [s, e) with 0 <= s <= e <= size.
// Negative start/end count from the end; end == EOF means size.
func Resolve(start, end, size int64) (s, e int64) {
	clamp := func(v int64) int64 {
		if v < 0 {
			v += size
			if v < 0 {
				return 0
			}
		}
		return min(v, size)
	}
	s, e = clamp(start), clamp(end)
	if e < s {
		e = s
	}
	return s, e
}

// neg returns -v for v < 0 without overflowing on math.MinInt64.
func neg(v int64) int64 {
	if v == math.MinInt64 {
		return math.MaxInt64
	}
	return -v
}

func (b *Batch) get(i int, rng, ifMatch string) (*s3.GetObjectOutput, error) {
	it := &b.items[i]
	in := &s3.GetObjectInput{Bucket: aws.String(it.Bucket), Key: aws.String(it.Key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	if ifMatch != "" {
		in.IfMatch = aws.String(ifMatch)
	}
	b.requests.Add(1)
	return b.api.GetObject(b.ctx, in)
}

func rangeHeader(off, n int64) string {
	last := off + n - 1
	if last < off { // overflow: no object is that large anyway
		last = math.MaxInt64
	}
	return "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(last, 10)
}

func suffixHeader(n int64) string { return "bytes=-" + strconv.FormatInt(n, 10) }

// probe is the first request of an item whose result is empty whatever the
// object's size: one byte, just to learn that the object exists (and that
// its ETag matches).
const probe = "bytes=0-0"

// firstRange picks an item's first request: the Range header ("" for the
// whole object) and the most bytes it may return. The request must reveal
// the object's size; it covers as much of the wanted bytes as one part can
// without knowing that size, and never asks for more than one part.
func (b *Batch) firstRange(it *itemState) (string, int64) {
	part := b.opt.PartSize
	if !it.Ranged {
		if it.Known && it.size <= part {
			// The whole object fits in one request: ask for it without a
			// range (which also works for empty objects) and check the length.
			return "", it.size
		}
		return rangeHeader(0, part), part
	}
	start, end := it.Start, it.End
	switch {
	case start >= 0:
		w := part
		if end >= 0 && end != EOF && end-start < w {
			w = end - start
		}
		w = max(w, 1)
		return rangeHeader(start, w), w
	case end == EOF:
		// data[-k:] is exactly the suffix of k bytes.
		k := min(neg(start), part)
		return suffixHeader(k), k
	case end == 0:
		return probe, 1
	case end > 0:
		// The range lies within both the suffix of -start bytes and the
		// prefix of end bytes: take the smaller.
		if neg(start) <= end {
			k := min(neg(start), part)
			return suffixHeader(k), k
		}
		k := min(end, part)
		return rangeHeader(0, k), k
	default: // both negative: the range lies within the suffix of -start bytes
		if neg(start) <= neg(end) {
			return probe, 1 // empty whatever the size
		}
		if neg(end) >= part {
			// A suffix reaching the range would carry at least a part of
			// bytes past its end: learn the size with a byte instead.
			return probe, 1
		}
		k := min(neg(start), part)
		return suffixHeader(k), k
	}
}

// response is what an item's first request returned: object bytes
// [start, start+n) of an object of total bytes; after a 416 (the range
// starts at or past the end of the object, for the ranges sent here that
// includes any range of an empty object) all are 0 and body is empty, so
// the resolved range is empty whatever the exact size.
type response struct {
	body            io.ReadCloser
	total, start, n int64
	etag            string
}

// firstResponse sends a first request (Range rng, "" for the whole object)
// that may return at most reqLen bytes, starting at byte at when at >= 0,
// and checks the answer's length and Content-Range. Its errors do not name
// the object: callers prefix the names of the items it serves.
func (b *Batch) firstResponse(i int, rng string, reqLen, at int64, ifMatch string) (response, error) {
	out, err := b.get(i, rng, ifMatch)
	switch {
	case err == nil:
	case ifMatch != "" && s3err.Classify(err) == s3err.Changed:
		return response{}, fmt.Errorf("changed since it was opened (If-Match %s does not match): %w", ifMatch, s3err.ErrChanged)
	case rng != "" && UnsatisfiableRange(err):
		if k, ok := strings.CutPrefix(rng, "bytes=-"); ok && k != "0" {
			// S3 answers a suffix of k bytes with the whole object when it
			// is shorter than k, and with 416 only when it is empty. Some
			// servers (gofakes3) send 416 for any suffix longer than the
			// object; its first k bytes are then the whole object, and an
			// empty object still answers 416.
			return b.firstResponse(i, rangeHeader(0, reqLen), reqLen, at, ifMatch)
		}
		return response{body: emptyBody{}}, nil
	default:
		return response{}, err
	}
	r := response{body: out.Body, etag: aws.ToString(out.ETag)}
	if err := CheckETag(ifMatch, r.etag); err != nil {
		r.body.Close()
		return response{}, err
	}
	clen := int64(-1) // unknown: a chunked answer
	if out.ContentLength != nil {
		clen = *out.ContentLength
	}
	if cr := aws.ToString(out.ContentRange); cr != "" {
		if t, ok := parseTotal(cr); ok && t == 0 {
			// An empty object, whatever the range part says: MinIO
			// answers a suffix range with "bytes 0--1/0", s3rver any
			// range with "bytes 0-0/0" and a Content-Length of 1 but no
			// body. The resolved range is empty, as after a 416.
			r.body.Close()
			return response{body: emptyBody{}, etag: r.etag}, nil
		}
		first, last, t, ok := ParseContentRange(cr)
		if !ok {
			r.body.Close()
			return response{}, fmt.Errorf("unparseable Content-Range %q: %w", cr, s3err.ErrCorrupt)
		}
		r.total, r.start, r.n = t, first, last-first+1
		if (clen >= 0 && clen != r.n) || r.n > reqLen || (at >= 0 && first != at) {
			r.body.Close()
			return response{}, fmt.Errorf("response of %s (Content-Range %q) to a request for %d: %w", bodyLength(clen), cr, reqLen, s3err.ErrCorrupt)
		}
		if clen < 0 {
			r.body = &exactBody{body: r.body, left: r.n}
		}
		return r, nil
	}
	// No Content-Range: the whole object (the answer to a rangeless
	// request, or a server's answer to a range on an empty object).
	if clen < 0 {
		// Chunked: the whole object is at most reqLen bytes (one part),
		// so read it to learn its size.
		body := r.body
		defer body.Close()
		buf, err := io.ReadAll(io.LimitReader(body, reqLen+1))
		if err != nil {
			return response{}, err
		}
		if int64(len(buf)) > reqLen {
			return response{}, fmt.Errorf("response of more than %d bytes, without Content-Length or Content-Range, to a request for %d: %w", reqLen, reqLen, s3err.ErrCorrupt)
		}
		clen, r.body = int64(len(buf)), io.NopCloser(bytes.NewReader(buf))
	}
	r.total, r.start, r.n = clen, 0, clen
	return r, nil
}

// bodyLength renders a response's Content-Length (-1: none sent).
func bodyLength(clen int64) string {
	if clen < 0 {
		return "unknown length"
	}
	return fmt.Sprintf("%d bytes", clen)
}

// CheckETag refuses a response whose ETag is not the one the request was
// pinned to with If-Match: a server that ignores If-Match (gofakes3 does)
// would otherwise hand back another version of the object without error.
func CheckETag(ifMatch, etag string) error {
	if ifMatch == "" || etag == "" || strings.Trim(ifMatch, `"`) == strings.Trim(etag, `"`) {
		return nil
	}
	return fmt.Errorf("changed since it was opened (ETag %s, not %s): %w", etag, ifMatch, s3err.ErrChanged)
}

// exactBody is a response body of a known length sent without a
// Content-Length (chunked): it ends at that length, and end checks that
// nothing follows, as the transport checks a declared length.
type exactBody struct {
	body io.ReadCloser
	left int64
}

func (e *exactBody) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.body.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF {
		err = nil // the length is the end, not the body's EOF
	}
	return n, err
}

// end checks, once the length was read, that the body ends there.
func (e *exactBody) end() error {
	var one [1]byte
	n, err := io.ReadFull(e.body, one[:])
	switch {
	case n > 0:
		return fmt.Errorf("the body runs past its Content-Range: %w", s3err.ErrCorrupt)
	case err == io.EOF:
		return nil
	default:
		return err
	}
}

func (e *exactBody) Close() error { return e.body.Close() }

// first performs an item's first request, learns the object's size and the
// resolved range, obtains the destination and fills what the first
// response covers, queueing the remaining parts.
func (b *Batch) first(i int) error {
	it := &b.items[i]
	rng, reqLen := b.firstRange(it)
	resp, err := b.firstResponse(i, rng, reqLen, -1, it.IfMatch)
	if err != nil {
		return fmt.Errorf("%s: %w", b.name(i), err)
	}
	// The first response holds object bytes [winStart, winStart+winLen).
	body, total, winStart, winLen := resp.body, resp.total, resp.start, resp.n
	defer body.Close()
	it.etag = resp.etag
	if it.etag == "" {
		it.etag = it.IfMatch
	}
	s, e := int64(0), total
	if it.Ranged {
		s, e = Resolve(it.Start, it.End, total)
	}
	length := e - s
	if it.Known && length != it.size {
		if !it.Ranged {
			return fmt.Errorf("%s: object is %d bytes but its buffer holds %d: %w", b.name(i), total, it.size, ErrSizeMismatch)
		}
		return fmt.Errorf("%s: range [%s:%s] of the object is %d bytes but its buffer holds %d: %w",
			b.name(i), sliceBound(it.Start), sliceBound(it.End), length, it.size, ErrSizeMismatch)
	}
	it.off = s
	switch {
	case b.opt.Sink != nil:
		w, err := b.opt.Sink.Open(i, length)
		if err != nil {
			return err
		}
		b.mu.Lock() // publishes size to Provide's readers
		it.w, it.opened, it.size = w, true, length
		b.mu.Unlock()
	case !it.Known:
		b.mu.Lock()
		it.size = length
		b.ready = append(b.ready, ReadyItem{Index: i, Size: length})
		b.mu.Unlock()
		select {
		case b.readyCh <- struct{}{}:
		default:
		}
		select {
		case buf := <-it.bufCh:
			it.Buf = buf
		case <-b.ctx.Done():
			return fmt.Errorf("%s: %w", b.name(i), b.ctx.Err())
		}
	}

	// What the first response covers of [s, e), and the rest in parts.
	winEnd := winStart + winLen
	ovStart, ovEnd := max(s, winStart), min(e, winEnd)
	if ovEnd < ovStart {
		ovStart, ovEnd = s, s
	}
	var chunks []span
	part := b.opt.PartSize
	addChunks := func(from, to int64) {
		for off := from; off < to; off += part {
			chunks = append(chunks, span{off, min(part, to-off)})
		}
	}
	if ovStart == ovEnd {
		addChunks(s, e)
	} else {
		addChunks(s, ovStart)
		addChunks(ovEnd, e)
	}
	it.chunks = chunks
	it.remaining.Store(int32(1 + len(chunks)))
	if len(chunks) > 0 {
		b.mu.Lock()
		for p := len(chunks); p >= 1; p-- {
			b.parts = append(b.parts, job{item: i, part: p})
		}
		b.cond.Broadcast()
		b.mu.Unlock()
	}
	if n := ovEnd - ovStart; n > 0 {
		err := b.skip(i, body, ovStart-winStart)
		if err == nil {
			err = b.write(i, body, ovStart, n)
		}
		if err != nil {
			if b.opt.ReadRetries == 0 || !retryable(err) {
				return err
			}
			body.Close()
			// The read that failed was the first of the item's tries.
			if err := b.fetchRange(i, ovStart, n, b.opt.ReadRetries); err != nil {
				return err
			}
		} else if rest := winEnd - ovEnd; rest > 0 && rest <= 64<<10 {
			// Drain a short tail so the connection can be reused.
			_, _ = io.Copy(io.Discard, body)
		}
	}
	b.partDone(i)
	return nil
}

// emptyBody stands for the body of a 416 answer (the SDK already closed it).
type emptyBody struct{}

func (emptyBody) Read([]byte) (int, error) { return 0, io.EOF }
func (emptyBody) Close() error             { return nil }

// ErrSizeMismatch is an item whose object (or range) turned out to be of
// another size than its Known buffer: s3err.ErrInvalid for the caller who
// sized the buffer, and the sign of a changed object for one who sized it
// from a HEAD.
var ErrSizeMismatch = fmt.Errorf("size differs from the buffer's: %w", s3err.ErrInvalid)

// UnsatisfiableRange reports a 416 answer (S3 error code InvalidRange).
func UnsatisfiableRange(err error) bool {
	if s3err.APICode(err) == "InvalidRange" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusRequestedRangeNotSatisfiable
}

// sliceBound renders a range bound the way Python would write it.
func sliceBound(v int64) string {
	if v == EOF {
		return ""
	}
	return strconv.FormatInt(v, 10)
}

// part fetches chunk p (p >= 1) of item i into its destination.
func (b *Batch) part(i, p int) error {
	it := &b.items[i]
	if it.failed.Load() {
		return nil // ContinueOnError: the item already failed, do not waste requests
	}
	c := it.chunks[p-1]
	if err := b.fetchRange(i, c.off, c.n, b.opt.ReadRetries+1); err != nil {
		return err
	}
	b.partDone(i)
	return nil
}

// fetchRange GETs object bytes [off, off+n) pinned to the item's ETag,
// making up to tries requests while body reads fail.
func (b *Batch) fetchRange(i int, off, n int64, tries int) error {
	it := &b.items[i]
	var lastErr error
	for attempt := 0; attempt < max(tries, 1); attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 50 * time.Millisecond):
			case <-b.ctx.Done():
				return fmt.Errorf("%s: %w", b.name(i), b.ctx.Err())
			}
		}
		out, err := b.get(i, rangeHeader(off, n), it.etag)
		if err != nil {
			if s3err.Classify(err) == s3err.Changed {
				return fmt.Errorf("%s: %w (ETag %s no longer matches): %w", b.name(i), s3err.ErrChanged, it.etag, err)
			}
			return fmt.Errorf("%s: bytes %d-%d: %w", b.name(i), off, off+n-1, err)
		}
		body, err := partBody(out, off, n)
		if err != nil {
			out.Body.Close()
			return fmt.Errorf("%s: %w", b.name(i), err)
		}
		if etag := aws.ToString(out.ETag); it.etag != "" && etag != "" && etag != it.etag {
			out.Body.Close()
			return fmt.Errorf("%s: ETag changed from %s to %s: %w", b.name(i), it.etag, etag, s3err.ErrChanged)
		}
		err = b.write(i, body, off, n)
		out.Body.Close()
		if err == nil {
			return nil
		}
		lastErr = err
		if !retryable(err) {
			return err
		}
	}
	return lastErr
}

// partBody checks a part's answer (bytes [off, off+n) were asked for) and
// returns its body: its Content-Range, if any, must say [off, off+n); with
// a Content-Length, that length must be n; without one (a chunked answer)
// the Content-Range is required, and the body is read to exactly that
// length.
func partBody(out *s3.GetObjectOutput, off, n int64) (io.Reader, error) {
	cr := aws.ToString(out.ContentRange)
	if out.ContentLength != nil {
		if got := *out.ContentLength; got != n {
			return nil, fmt.Errorf("asked for %d bytes at offset %d, server sent %d: %w", n, off, got, s3err.ErrCorrupt)
		}
		// The right length is not enough: another window of the object
		// of that length would be written at off unnoticed.
		if cr != "" {
			if first, last, _, ok := ParseContentRange(cr); !ok || first != off || last-first+1 != n {
				return nil, fmt.Errorf("asked for %d bytes at offset %d, server sent Content-Range %q: %w", n, off, cr, s3err.ErrCorrupt)
			}
		}
		return out.Body, nil
	}
	first, last, _, ok := ParseContentRange(cr)
	if !ok || first != off || last-first+1 != n {
		return nil, fmt.Errorf("asked for %d bytes at offset %d, server sent a chunked answer with Content-Range %q: %w", n, off, cr, s3err.ErrCorrupt)
	}
	return &exactBody{body: out.Body, left: n}, nil
}

// writeError marks a failure to write the destination (not retryable: it
// is not the network's fault).
type writeError struct{ error }

func (e writeError) Unwrap() error { return e.error }

func retryable(err error) bool {
	var we writeError
	if errors.As(err, &we) {
		return false
	}
	return s3err.Transient(err)
}

// skip discards n bytes of body (the part of a first response before the
// wanted range).
func (b *Batch) skip(i int, body io.Reader, n int64) error {
	if n <= 0 {
		return nil
	}
	if got, err := io.CopyN(io.Discard, body, n); err != nil {
		if b.ctx.Err() != nil {
			return fmt.Errorf("%s: %w", b.name(i), b.ctx.Err())
		}
		return fmt.Errorf("%s: short body (%d of %d leading bytes): %w", b.name(i), got, n, err)
	}
	return nil
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// write copies object bytes [off, off+n) from body into item i's
// destination.
func (b *Batch) write(i int, body io.Reader, off, n int64) error {
	it := &b.items[i]
	rel := off - it.off
	if it.w == nil {
		dst := it.Buf[rel : rel+n]
		got, err := io.ReadFull(body, dst)
		b.bytes.Add(int64(got))
		if err != nil {
			return b.shortBody(i, int64(got), n, err)
		}
		return b.bodyEnd(i, body)
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var done int64
	for done < n {
		m := min(int64(len(buf)), n-done)
		got, rerr := io.ReadFull(body, buf[:m])
		if got > 0 {
			if _, werr := it.w.WriteAt(buf[:got], rel+done); werr != nil {
				return writeError{fmt.Errorf("%s: writing the destination: %w", b.name(i), werr)}
			}
			done += int64(got)
			b.bytes.Add(int64(got))
		}
		if rerr != nil {
			return b.shortBody(i, done, n, rerr)
		}
	}
	return b.bodyEnd(i, body)
}

// bodyEnd checks that a chunked body read to its length ends there.
func (b *Batch) bodyEnd(i int, body io.Reader) error {
	if e, ok := body.(*exactBody); ok && e.left == 0 {
		if err := e.end(); err != nil {
			return fmt.Errorf("%s: %w", b.name(i), err)
		}
	}
	return nil
}

func (b *Batch) shortBody(i int, got, want int64, err error) error {
	if b.ctx.Err() != nil {
		return fmt.Errorf("%s: %w", b.name(i), b.ctx.Err())
	}
	return fmt.Errorf("%s: short body (%d of %d bytes): %w", b.name(i), got, want, err)
}

// partDone counts a written part; the item's last one completes it (for a
// sink, once Finish accepted it).
func (b *Batch) partDone(i int) {
	it := &b.items[i]
	if it.remaining.Add(-1) != 0 {
		return
	}
	if b.opt.Sink != nil {
		it.finished = true
		if err := b.opt.Sink.Finish(i, nil); err != nil {
			b.fail(i, err)
			return
		}
	}
	it.complete.Store(true)
	b.completed.Add(1)
}

// Wait blocks until the batch is done, some objects wait for buffers, or
// the timeout passes (a negative timeout waits without limit).
func (b *Batch) Wait(timeout time.Duration) State {
	select {
	case <-b.done:
		return Done
	default:
	}
	if b.hasReady() {
		return Ready
	}
	var tc <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		tc = t.C
	}
	select {
	case <-b.done:
		return Done
	case <-b.readyCh:
		if b.hasReady() {
			return Ready
		}
		return Pending
	case <-tc:
		return Pending
	}
}

func (b *Batch) hasReady() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.ready) > 0
}

// TakeReady removes and returns up to max objects waiting for buffers.
func (b *Batch) TakeReady(max int) []ReadyItem {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(b.ready)
	if n > max {
		n = max
	}
	out := append([]ReadyItem(nil), b.ready[:n]...)
	b.ready = append(b.ready[:0], b.ready[n:]...)
	if len(b.ready) > 0 {
		select {
		case b.readyCh <- struct{}{}:
		default:
		}
	}
	return out
}

// Provide hands the destination buffer for a ready item. Its length must
// equal the size reported by TakeReady.
func (b *Batch) Provide(i int, buf []byte) error {
	if i < 0 || i >= len(b.items) {
		return fmt.Errorf("item %d out of range: %w", i, s3err.ErrInvalid)
	}
	it := &b.items[i]
	if it.Known || it.bufCh == nil {
		return fmt.Errorf("item %d already has a buffer: %w", i, s3err.ErrInvalid)
	}
	b.mu.Lock() // pairs with the lock under which the worker published the size
	size := it.size
	b.mu.Unlock()
	if int64(len(buf)) != size {
		return fmt.Errorf("%s: buffer of %d bytes for an object of %d: %w", b.name(i), len(buf), size, s3err.ErrInvalid)
	}
	select {
	case it.bufCh <- buf:
		return nil
	default:
		return fmt.Errorf("%s: buffer provided twice: %w", b.name(i), s3err.ErrInvalid)
	}
}

// Cancel stops the batch; Wait then returns Done once every worker exited.
func (b *Batch) Cancel() { b.cancel() }

// Done is closed when every worker has exited.
func (b *Batch) Done() <-chan struct{} { return b.done }

// Err returns the batch's first failure (nil on success). If the batch was
// cancelled from outside, it returns the cancellation. With
// ContinueOnError, item failures are not batch failures: Err is nil when
// every item either completed or failed on its own (see ItemErr). Only
// meaningful after Done.
func (b *Batch) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.firstErr != nil {
		return b.firstErr
	}
	finished := b.completed.Load()
	if b.opt.ContinueOnError {
		for i := range b.items {
			if b.items[i].err != nil && !b.items[i].stopped {
				finished++
			}
		}
	}
	if int(finished) != len(b.items) {
		err := context.Cause(b.ctx)
		if err == nil {
			err = context.Cause(b.parent) // (ends a moment before b.ctx)
		}
		if err != nil {
			return fmt.Errorf("batch stopped with %d of %d objects complete: %w", b.completed.Load(), len(b.items), err)
		}
		return fmt.Errorf("batch stopped with %d of %d objects complete: %w", b.completed.Load(), len(b.items), s3err.ErrInternal)
	}
	return nil
}

// ItemErr returns the error recorded for item i, if any.
func (b *Batch) ItemErr(i int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.items[i].err
}

// Complete reports whether item i was fetched completely (for a sink:
// and Finish accepted it).
func (b *Batch) Complete(i int) bool { return b.items[i].complete.Load() }

// Size returns the number of bytes item i's destination holds (the object's
// size, or its resolved range's length), or -1 if it is not known (yet).
// Only meaningful after Done.
func (b *Batch) Size(i int) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.items[i].size
}

// Progress reports objects completed, bytes written and requests sent.
func (b *Batch) Progress() (objects, bytes, requests int64) {
	return b.completed.Load(), b.bytes.Load(), b.requests.Load()
}
