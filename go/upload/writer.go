package upload

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/fetch"
	"github.com/s3turbo/s3turbo/go/multipart"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// DefaultWriterConcurrency is the parts a Writer keeps in flight when
// WriterOptions.Concurrency is 0.
const DefaultWriterConcurrency = 8

// partsPerTier is how many parts a Writer sends before doubling its part
// size: files of a few GiB keep the configured size, and MaxParts parts
// (10 tiers) hold 1000 × (1 + 2 + … + 512) = 1 023 000 first-tier parts.
const partsPerTier = 1000

// WriterMinPartSize is the smallest first-tier part a Writer uses: the
// smallest multiple of 64 KiB whose schedule reaches MaxObjectSize within
// MaxParts parts (5.1875 MiB: 10 000 parts then hold 5.06 TiB). S3's own
// 5 MiB floor would stop a stream at 4.878 TiB, after 10 000 parts were
// uploaded. Parts of 5 GiB (MaxPartSize) hold 5 TiB in 1 000 parts, so the
// cap on a tier's size never costs capacity.
const WriterMinPartSize = (MaxObjectSize/(partsPerTier*(1<<(MaxParts/partsPerTier)-1)) + 1 + 64<<10 - 1) / (64 << 10) * (64 << 10)

// WriterOptions tunes a Writer.
type WriterOptions struct {
	// PartSize is the size of the first parts (default DefaultPartSize,
	// raised to WriterMinPartSize). It doubles every 1 000 parts so a
	// stream of unknown length can reach S3's largest object within 10 000
	// parts.
	PartSize int64
	// Concurrency bounds the parts in flight (default
	// DefaultWriterConcurrency). Every part in flight and the one being
	// filled is a buffer, so memory is about (Concurrency+1) × the current
	// part size: (Concurrency+1) × PartSize for the first 1 000 parts,
	// twice that for the next 1 000, and so on (with 8 MiB parts and 8 in
	// flight: 72 MiB for the first 7.8 GiB written, 1.1 GiB
	// past 117 GiB, 4.5 GiB past 492 GiB, 9 GiB past 992 GiB). A stream
	// cannot hold less than one part, and 10 000 parts reach 5 TiB only if
	// the last ones are large.
	Concurrency int
	// CreateOnly fails Close (or a Write that starts the multipart upload)
	// with s3err.ErrExists if the key already exists.
	CreateOnly bool
	// Append keeps the existing object's bytes in front of the written ones
	// (and, when Attrs is nil, its content headers and metadata).
	Append bool
	// ReadRetries is how many times a failed read of the bytes an append
	// downloads (a connection reset, a short body) is resumed, as
	// fetch.Options.ReadRetries (0: none); the SDK already retries failed
	// requests.
	ReadRetries int
	// Attrs are the headers the object is stored with (nil: none).
	Attrs *Attrs
}

const (
	writerOpen = iota
	writerDone
)

// Writer streams bytes to one object, for Python's open(path, "wb"). Bytes
// are buffered until a part is full; full parts upload in the background
// (the multipart upload is created with the first one) while Write goes on.
// A stream that never fills a part is one PutObject at Close.
//
// Append mode (S3 cannot append) reads the existing object when the first
// part is flushed or at Close: a missing object means a plain write; an
// object of at least MinPartSize whose final version needs multipart becomes
// part 1 by UploadPartCopy (server side, pinned to its ETag with
// CopySourceIfMatch); a smaller one is downloaded (pinned with IfMatch) in
// front of the pending bytes. Appending nothing leaves the object untouched.
//
// Methods are safe for concurrent use but are meant to be called in
// sequence: Write..., then Close or Abort.
type Writer struct {
	api         API
	bucket, key string
	opt         WriterOptions
	parent      context.Context
	ctx         context.Context // cancelled by Abort, a failure, or Close's context
	cancel      context.CancelFunc

	mu       sync.Mutex
	state    int
	pending  []byte
	uploadID string
	nextPart int32
	appended bool // append resolution done
	noop     bool // append of nothing to an existing object: nothing to write
	noopETag string
	existing int64 // bytes of the existing object kept in front (append)
	written  int64 // bytes given to Write
	etag     string
	err      error // final failure

	sem  chan struct{}
	free chan []byte
	wg   sync.WaitGroup

	pmu   sync.Mutex
	parts []types.CompletedPart
	perr  error

	prog Progress
}

// NewWriter prepares a Writer for bucket/key. Nothing is sent until a part
// fills up or Close is called. ctx bounds the writer's whole life.
func NewWriter(ctx context.Context, api API, bucket, key string, opt WriterOptions) (*Writer, error) {
	name := objName(bucket, key)
	if opt.CreateOnly && opt.Append {
		return nil, fmt.Errorf("%s: create-only and append cannot be combined: %w", name, s3err.ErrInvalid)
	}
	if bucket == "" || key == "" {
		return nil, fmt.Errorf("%s: a writer needs a bucket and a key: %w", name, s3err.ErrInvalid)
	}
	if opt.PartSize <= 0 {
		opt.PartSize = DefaultPartSize
	}
	opt.PartSize = min(max(opt.PartSize, WriterMinPartSize), MaxPartSize)
	if opt.Concurrency <= 0 {
		opt.Concurrency = DefaultWriterConcurrency
	}
	w := &Writer{
		api: api, bucket: bucket, key: key, opt: opt, parent: ctx,
		nextPart: 1,
		sem:      make(chan struct{}, opt.Concurrency),
		free:     make(chan []byte, opt.Concurrency+1),
	}
	w.ctx, w.cancel = context.WithCancel(ctx)
	return w, nil
}

func (w *Writer) name() string { return objName(w.bucket, w.key) }

// Name returns the object the writer writes, as s3://bucket/key.
func (w *Writer) Name() string { return w.name() }

// limit is the size of the part the pending bytes will become.
func (w *Writer) limit() int64 {
	tier := min(int64(w.nextPart-1)/partsPerTier, 20)
	return min(w.opt.PartSize<<tier, MaxPartSize)
}

func (w *Writer) partErr() error {
	w.pmu.Lock()
	defer w.pmu.Unlock()
	return w.perr
}

// setPartErr records the first background failure and stops the others.
func (w *Writer) setPartErr(err error) {
	w.pmu.Lock()
	if w.perr == nil {
		w.perr = err
	}
	w.pmu.Unlock()
	w.cancel()
}

// stopped explains why the writer's context ended: a part's failure if
// there is one, else the cancellation.
func (w *Writer) stopped() error {
	if err := w.partErr(); err != nil {
		return err
	}
	return fmt.Errorf("%s: %w", w.name(), context.Cause(w.ctx))
}

// usable returns the error that forbids further writes, if any.
func (w *Writer) usable() error {
	if w.state == writerDone {
		if w.err != nil {
			return w.err
		}
		return fmt.Errorf("%s: write to a closed writer: %w", w.name(), s3err.ErrInvalid)
	}
	return w.partErr()
}

// Write copies p into the pending buffer (the caller may reuse p at once),
// starting background part uploads as parts fill. It blocks while
// Concurrency parts are in flight, and returns the error of an earlier
// failed part (the multipart upload is then aborted).
func (w *Writer) Write(p []byte) (n int, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = w.failLocked(panicError(w.name(), r))
		}
	}()
	if err := w.usable(); err != nil {
		if w.state != writerDone {
			err = w.failLocked(err)
		}
		return 0, err
	}
	for len(p) > 0 {
		lim := w.limit()
		if int64(len(w.pending)) >= lim {
			if err := w.flush(false); err != nil {
				return n, w.failLocked(err)
			}
			continue
		}
		if w.pending == nil {
			w.pending = w.getBuf(0)
		}
		k := int(min(lim-int64(len(w.pending)), int64(len(p))))
		w.pending = append(w.pending, p[:k]...)
		p = p[k:]
		n += k
		w.written += int64(k)
	}
	return n, nil
}

// Ready waits up to timeout for the writer to take a part without
// blocking: a part slot free (taken and given back at once; a Writer has
// one caller at a time), the writer stopped or failed (Write then reports
// why), or nothing to wait for. It lets a caller that cannot be
// interrupted inside Write (Python, whose Ctrl-C runs between calls) wait
// in slices: Write blocked while every part was in flight, for as long as
// the slowest part took.
func (w *Writer) Ready(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case w.sem <- struct{}{}:
		<-w.sem
		return true
	case <-w.ctx.Done():
		return true
	case <-t.C:
		return false
	}
}

// getBuf returns an empty buffer, recycled when one is free (nil lets
// append grow a new one, so small streams never allocate a whole part).
func (w *Writer) getBuf(capacity int64) []byte {
	select {
	case b := <-w.free:
		if int64(cap(b)) >= capacity {
			return b[:0]
		}
	default:
	}
	if capacity == 0 {
		return nil
	}
	return make([]byte, 0, capacity)
}

func (w *Writer) recycle(b []byte) {
	select {
	case w.free <- b[:0]:
	default:
	}
}

// flush sends full parts (all pending bytes when final), resolving append
// mode and creating the multipart upload first if needed.
func (w *Writer) flush(final bool) error {
	if w.opt.Append && !w.appended {
		if err := w.resolveAppend(final); err != nil {
			return err
		}
		if w.noop {
			return nil
		}
	}
	if w.uploadID == "" {
		if err := w.createUpload(); err != nil {
			return err
		}
	}
	for {
		lim := w.limit()
		have := int64(len(w.pending))
		if have == 0 || (have < lim && !final) {
			return nil
		}
		k := min(lim, have)
		data := w.pending[:k]
		if rest := w.pending[k:]; len(rest) > 0 {
			w.pending = append(w.getBuf(lim), rest...)
		} else {
			w.pending = nil
		}
		if err := w.launch(data, 0, 0, ""); err != nil {
			return err
		}
	}
}

func (w *Writer) createUpload() error {
	if w.opt.CreateOnly && exists(w.ctx, w.api, &w.prog, w.bucket, w.key) {
		return &existsError{name: w.name()}
	}
	w.prog.Requests.Add(1)
	create := &s3.CreateMultipartUploadInput{Bucket: aws.String(w.bucket), Key: aws.String(w.key)}
	w.opt.Attrs.applyCreate(create)
	out, err := multipart.Create(w.ctx, w.api, create)
	if err != nil {
		if w.ctx.Err() != nil {
			return w.stopped()
		}
		return fmt.Errorf("%s: starting multipart upload: %w", w.name(), err)
	}
	w.uploadID = aws.ToString(out.UploadId)
	return nil
}

// resolveAppend looks at the existing object once, before the first part
// or the single PUT, and arranges for its bytes to come first.
func (w *Writer) resolveAppend(final bool) error {
	w.appended = true
	w.prog.Requests.Add(1)
	head, err := w.api.HeadObject(w.ctx, &s3.HeadObjectInput{Bucket: aws.String(w.bucket), Key: aws.String(w.key)})
	if err != nil {
		if s3err.Classify(err) == s3err.NotFound {
			return nil // nothing to append to: a plain write
		}
		return fmt.Errorf("%s: reading the object to append to: %w", w.name(), err)
	}
	size, etag := aws.ToInt64(head.ContentLength), aws.ToString(head.ETag)
	if w.opt.Attrs == nil {
		w.opt.Attrs = attrsOf(head) // the appended object keeps its headers
	}
	if final && len(w.pending) == 0 {
		w.noop, w.noopETag, w.existing = true, etag, size
		return nil
	}
	if size == 0 {
		return nil
	}
	w.existing = size
	if size >= MinPartSize && (!final || size+int64(len(w.pending)) > w.limit()) {
		if err := w.createUpload(); err != nil {
			return err
		}
		// Server-side copy as the first part(s); S3 copies at most
		// MaxPartSize per part.
		k := (size + MaxPartSize - 1) / MaxPartSize
		chunk := (size + k - 1) / k
		for off := int64(0); off < size; off += chunk {
			if err := w.launch(nil, off, min(chunk, size-off), etag); err != nil {
				return err
			}
		}
		return nil
	}
	buf := make([]byte, size, size+max(int64(len(w.pending)), w.limit()))
	if err := w.readExisting(buf, etag); err != nil {
		return err
	}
	old := w.pending
	w.pending = append(buf, old...)
	if old != nil {
		w.recycle(old)
	}
	return nil
}

// readExisting reads the object to append to, len(buf) bytes as HEAD said,
// into buf, pinned to etag with If-Match. It goes through the fetch
// engine, as downloads do: a body read that fails (a connection reset, a
// short body) is resumed by ranged GETs (pinned too) up to ReadRetries
// times, so one network hiccup does not fail the append. An answer of
// another size than HEAD said (a server that ignores If-Match) means the
// object changed: s3err.ErrChanged.
func (w *Writer) readExisting(buf []byte, etag string) error {
	b := fetch.Start(w.ctx, w.api,
		[]fetch.Item{{Bucket: w.bucket, Key: w.key, Buf: buf, Known: true, IfMatch: etag}},
		fetch.Options{PartSize: max(int64(len(buf)), 1), Concurrency: 1, ReadRetries: w.opt.ReadRetries})
	<-b.Done()
	_, _, requests := b.Progress()
	w.prog.Requests.Add(requests)
	err := b.Err()
	if err == nil {
		return nil
	}
	if w.ctx.Err() != nil {
		return w.stopped()
	}
	if s3err.Classify(err) == s3err.Corrupt || errors.Is(err, fetch.ErrSizeMismatch) {
		// fetch's own checks of the answer's length
		return fmt.Errorf("%s: object to append to is no longer the %d bytes it was (%v): %w",
			w.name(), len(buf), err, s3err.ErrChanged)
	}
	return fmt.Errorf("reading the object to append to: %w", err) // err names the object
}

// launch starts one part upload in the background: data, or (data == nil)
// a server-side copy of [off, off+n) of the current object pinned to etag.
// It blocks while Concurrency parts are in flight.
func (w *Writer) launch(data []byte, off, n int64, etag string) error {
	num := w.nextPart
	if num > MaxParts {
		return fmt.Errorf("%s: stream needs more than %d parts: %w", w.name(), MaxParts, s3err.ErrInvalid)
	}
	select {
	case w.sem <- struct{}{}:
	case <-w.ctx.Done():
		return w.stopped()
	}
	if err := w.partErr(); err != nil {
		<-w.sem
		return err
	}
	w.nextPart++
	w.pmu.Lock()
	idx := len(w.parts)
	w.parts = append(w.parts, types.CompletedPart{PartNumber: aws.Int32(num)})
	w.pmu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.sem }()
		defer func() {
			if r := recover(); r != nil {
				w.setPartErr(panicError(w.name(), r))
			}
		}()
		var tag string
		var err error
		if data != nil {
			tag, err = w.sendPart(num, data)
		} else {
			tag, err = w.copyPart(num, off, n, etag)
		}
		if err != nil {
			if w.ctx.Err() != nil && w.partErr() != nil {
				return // another part's failure cancelled this one
			}
			w.setPartErr(fmt.Errorf("%s: part %d: %w", w.name(), num, err))
			return
		}
		w.pmu.Lock()
		w.parts[idx].ETag = aws.String(tag)
		w.pmu.Unlock()
	}()
	return nil
}

func (w *Writer) sendPart(num int32, data []byte) (string, error) {
	body := newFencedReader(data)
	w.prog.Requests.Add(1)
	out, err := w.api.UploadPart(w.ctx, &s3.UploadPartInput{
		Bucket: aws.String(w.bucket), Key: aws.String(w.key), UploadId: aws.String(w.uploadID),
		PartNumber: aws.Int32(num), Body: body, ContentLength: aws.Int64(int64(len(data))),
	})
	body.fence()
	w.recycle(data)
	if err != nil {
		return "", err
	}
	w.prog.Bytes.Add(int64(len(data)))
	return aws.ToString(out.ETag), nil
}

func (w *Writer) copyPart(num int32, off, n int64, etag string) (string, error) {
	w.prog.Requests.Add(1)
	out, err := w.api.UploadPartCopy(w.ctx, &s3.UploadPartCopyInput{
		Bucket: aws.String(w.bucket), Key: aws.String(w.key), UploadId: aws.String(w.uploadID),
		PartNumber: aws.Int32(num), CopySource: aws.String(copySource(w.bucket, w.key)),
		CopySourceRange: aws.String(byteRange(off, n)), CopySourceIfMatch: aws.String(etag),
	})
	if err != nil {
		return "", err
	}
	if out.CopyPartResult == nil || aws.ToString(out.CopyPartResult.ETag) == "" {
		return "", fmt.Errorf("copy of bytes %d-%d answered without an ETag: %w", off, off+n-1, s3err.ErrCorrupt)
	}
	return aws.ToString(out.CopyPartResult.ETag), nil
}

// Close finishes the object and returns its ETag: one PutObject if no part
// was sent (also for 0 bytes), else the last part, then
// CompleteMultipartUpload once every part is in. Any failure, including
// ctx being cancelled, aborts the multipart upload. Calling Close again
// returns the first call's outcome.
func (w *Writer) Close(ctx context.Context) (etag string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.state == writerDone {
		return w.etag, w.err
	}
	stop := context.AfterFunc(ctx, w.cancel)
	defer stop()
	defer func() {
		if r := recover(); r != nil {
			err = w.failLocked(panicError(w.name(), r))
		}
	}()
	etag, err = w.finish()
	if err != nil {
		return "", w.failLocked(err)
	}
	w.state, w.etag = writerDone, etag
	w.prog.Items.Store(1)
	w.cancel()
	return etag, nil
}

func (w *Writer) finish() (string, error) {
	if err := w.partErr(); err != nil {
		return "", err
	}
	if w.opt.Append && !w.appended {
		if err := w.resolveAppend(true); err != nil {
			return "", err
		}
	}
	if w.noop {
		return w.noopETag, nil
	}
	if w.uploadID == "" && int64(len(w.pending)) <= w.limit() {
		return w.putSingle()
	}
	if err := w.flush(true); err != nil {
		return "", err
	}
	w.wg.Wait()
	if err := w.partErr(); err != nil {
		return "", err
	}
	return w.complete()
}

func (w *Writer) putSingle() (string, error) {
	body := newFencedReader(w.pending)
	n := int64(len(w.pending))
	in := &s3.PutObjectInput{
		Bucket: aws.String(w.bucket), Key: aws.String(w.key), Body: body, ContentLength: aws.Int64(n)}
	w.opt.Attrs.applyPut(in)
	if w.opt.CreateOnly {
		in.IfNoneMatch = aws.String("*")
	}
	w.prog.Requests.Add(1)
	out, err := w.api.PutObject(w.ctx, in)
	body.fence()
	if err != nil {
		return "", w.wrap(err)
	}
	w.prog.Bytes.Add(n)
	w.pending = nil
	return aws.ToString(out.ETag), nil
}

func (w *Writer) wrap(err error) error {
	if w.opt.CreateOnly && conditionFailed(err) {
		return &existsError{name: w.name()}
	}
	if w.ctx.Err() != nil {
		return w.stopped()
	}
	return fmt.Errorf("%s: %w", w.name(), err)
}

func (w *Writer) complete() (string, error) {
	w.pmu.Lock()
	parts := append([]types.CompletedPart(nil), w.parts...)
	w.pmu.Unlock()
	for _, p := range parts {
		if aws.ToString(p.ETag) == "" {
			return "", fmt.Errorf("%s: part %d has no ETag: %w", w.name(), aws.ToInt32(p.PartNumber), s3err.ErrInternal)
		}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(w.bucket), Key: aws.String(w.key), UploadId: aws.String(w.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if w.opt.CreateOnly {
		in.IfNoneMatch = aws.String("*")
	}
	w.prog.Requests.Add(1)
	out, err := multipart.Complete(w.ctx, w.api, in)
	if err != nil {
		return "", w.wrap(err)
	}
	w.uploadID = "" // completed: nothing left to abort
	return aws.ToString(out.ETag), nil
}

// failLocked ends the writer after err: stops and waits for the parts in
// flight and aborts the multipart upload (with a fresh bounded context).
// It returns the writer's error from now on: err, saying so if the abort
// failed too (see abortFailed).
func (w *Writer) failLocked(err error) error {
	inflight := len(w.sem) > 0
	w.cancel()
	w.wg.Wait()
	if w.uploadID != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(w.parent), abortTimeout)
		aerr := abortUpload(ctx, w.api, &w.prog, w.bucket, w.key, w.uploadID, inflight)
		cancel()
		err = abortFailed(err, w.name(), w.uploadID, aerr)
		w.uploadID = ""
	}
	w.state, w.err, w.pending = writerDone, err, nil
	return err
}

// Abort discards the upload: parts in flight are stopped and the multipart
// upload, if any, is aborted within ctx. It does nothing after Close or a
// failure (which already aborted). Later Writes fail.
func (w *Writer) Abort(ctx context.Context) (err error) {
	inflight := len(w.sem) > 0 // parts whose cancelled requests the server may still store
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = panicError(w.name(), r)
		}
	}()
	if w.state == writerDone {
		return nil
	}
	w.wg.Wait()
	if w.uploadID != "" {
		err = abortUpload(ctx, w.api, &w.prog, w.bucket, w.key, w.uploadID, inflight)
		if err != nil && s3err.Classify(err) != s3err.NotFound {
			err = fmt.Errorf("%s: aborting multipart upload: %w", w.name(), err)
		} else {
			err = nil
		}
		w.uploadID = ""
	}
	w.state, w.pending = writerDone, nil
	w.err = fmt.Errorf("%s: writer was aborted: %w", w.name(), s3err.ErrInvalid)
	return err
}

// Completed reports whether Close succeeded.
func (w *Writer) Completed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state == writerDone && w.err == nil
}

// Size is the object's size after Close: existing bytes kept by append
// plus the bytes written.
func (w *Writer) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.existing + w.written
}

// Progress reports 1 once the object is complete (else 0), payload bytes
// sent and requests made. It never blocks on a running Write or Close.
func (w *Writer) Progress() (items, bytes, requests int64) {
	return w.prog.Snapshot()
}
