package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/multipart"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// Options tunes a batch upload. Zero values select the defaults.
type Options struct {
	// PartSize is the multipart part size (default DefaultPartSize, raised
	// to MinPartSize, and grown per object so it needs at most MaxParts).
	PartSize int64
	// Concurrency bounds the requests in flight across the whole batch.
	Concurrency int
	// MultipartThreshold: objects larger than this use multipart (default
	// PartSize, at most MaxSinglePut).
	MultipartThreshold int64
	// CreateOnly makes an item fail with s3err.ErrExists ("s3://b/k already
	// exists") instead of overwriting an existing object.
	CreateOnly bool
	// Attrs are the headers every object is stored with (nil: none).
	Attrs *Attrs
}

func (o Options) normalize() Options {
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	o.PartSize = min(max(o.PartSize, MinPartSize), MaxPartSize)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MultipartThreshold <= 0 {
		o.MultipartThreshold = o.PartSize
	}
	o.MultipartThreshold = min(o.MultipartThreshold, MaxSinglePut)
	return o
}

// Buffer is one object to upload from memory. Data is only read, and never
// after the batch returns.
type Buffer struct {
	Bucket string
	Key    string
	Data   []byte
}

// File is one local file to upload to Bucket/Key.
type File struct {
	Path   string
	Bucket string
	Key    string
}

// Result is one item's outcome: the new object's ETag and size, or Err.
type Result struct {
	ETag string
	Size int64
	Err  error
}

// abortTimeout bounds the AbortMultipartUpload sent after a failure or a
// cancellation (with a context that is no longer cancelled).
const abortTimeout = 30 * time.Second

type item struct {
	bucket, key string
	path        string // local file, "" for buffers
	data        []byte // buffers
	f           *os.File

	size     int64
	partSize int64
	nparts   int
	uploadID string
	ctx      context.Context // the multipart upload's requests
	cancel   context.CancelFunc
	etags    []string // per part, each written by the worker that sent it

	remaining int   // parts not yet finished; guarded by batch.mu
	err       error // first failure; guarded by batch.mu
	finished  bool  // result recorded; guarded by batch.mu
	res       Result
}

func (it *item) name() string { return objName(it.bucket, it.key) }

type partJob struct{ item, part int }

type batch struct {
	ctx  context.Context
	api  API
	opt  Options
	prog *Progress

	items    []item
	mu       sync.Mutex
	cond     *sync.Cond
	queue    []partJob // FIFO of parts of started multipart uploads
	nextItem int       // next item to start
	starting int       // start jobs running (they may queue parts)
}

// PutBuffers uploads each buffer to its key and returns one Result per
// item, in order. A failing item does not stop the others; cancelling ctx
// stops the batch (unfinished items then fail with the cancellation) and
// aborts its multipart uploads. prog, if not nil, is updated while the
// batch runs. When PutBuffers returns no goroutine touches any Data.
func PutBuffers(ctx context.Context, api API, items []Buffer, opt Options, prog *Progress) []Result {
	b := newBatch(ctx, api, opt, prog, len(items))
	jobs := 0
	for i, in := range items {
		b.items[i] = item{bucket: in.Bucket, key: in.Key, data: in.Data, size: int64(len(in.Data))}
		if jobs < b.opt.Concurrency {
			jobs += max(1, int((int64(len(in.Data))+b.opt.PartSize-1)/b.opt.PartSize))
		}
	}
	return b.run(min(jobs, b.opt.Concurrency))
}

// PutFiles uploads each local file to its key and returns one Result per
// item, in order. Each request body (a whole small file, or one part) is
// read from the file with ReadAt as the request is sent, never buffered
// whole: memory does not grow with file or part sizes (parts grow past
// PartSize for files over MaxParts × PartSize, up to MaxPartSize), staying
// near Concurrency × the transport's buffers (tens of KiB). A missing file
// fails its item with s3err.ErrNotFound and a directory with
// s3err.ErrInvalid, both naming the local path. Cancellation and progress
// behave as in PutBuffers.
func PutFiles(ctx context.Context, api API, items []File, opt Options, prog *Progress) []Result {
	b := newBatch(ctx, api, opt, prog, len(items))
	for i, in := range items {
		b.items[i] = item{bucket: in.Bucket, key: in.Key, path: in.Path}
	}
	// Sizes are learnt when each file is opened: any item may need every
	// worker (idle workers exit when the queue drains).
	return b.run(b.opt.Concurrency)
}

func newBatch(ctx context.Context, api API, opt Options, prog *Progress, n int) *batch {
	if prog == nil {
		prog = &Progress{}
	}
	b := &batch{ctx: ctx, api: api, opt: opt.normalize(), prog: prog, items: make([]item, n)}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *batch) run(workers int) []Result {
	if len(b.items) == 0 {
		return nil
	}
	b.refuseTwins()
	stopWatch := context.AfterFunc(b.ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	var wg sync.WaitGroup
	wg.Add(workers)
	for range workers {
		go func() {
			defer wg.Done()
			// runJob recovers per job; a panic elsewhere ends this worker
			// and the sweep fails what it left unfinished.
			defer func() { _ = recover() }()
			for {
				j, start, ok := b.take()
				if !ok {
					return
				}
				b.runJob(j, start)
			}
		}()
	}
	wg.Wait()
	stopWatch()
	b.sweep()
	out := make([]Result, len(b.items))
	for i := range b.items {
		out[i] = b.items[i].res
	}
	return out
}

// refuseTwins fails, before anything is sent, an item storing another
// source in an object an earlier item of the batch stores: both were
// uploaded at once, each reported success, and which one the object kept
// was a race (put_objects of 20 values to one key kept any of them). A
// repeat of the same source (a file's path, or equal bytes) stores what its
// twin does and is left alone.
func (b *batch) refuseTwins() {
	first := make(map[[2]string]int, len(b.items))
	for i := range b.items {
		it := &b.items[i]
		k := [2]string{it.bucket, it.key}
		j, dup := first[k]
		if !dup {
			first[k] = i
			continue
		}
		tw := &b.items[j]
		if it.path != "" && filepath.Clean(it.path) == filepath.Clean(tw.path) ||
			it.path == "" && tw.path == "" && bytes.Equal(it.data, tw.data) {
			continue
		}
		src := fmt.Sprintf("item %d", j)
		if tw.path != "" {
			src = fmt.Sprintf("item %d, %s", j, tw.path)
		}
		b.finish(i, "", fmt.Errorf("%s: also the destination of %s: one batch cannot store two sources in one object: %w",
			it.name(), src, s3err.ErrInvalid))
	}
}

// take hands out the next job: queued parts first (to finish objects
// already started and keep their files' count bounded), then the next
// object. start reports that j.item is to be started.
func (b *batch) take() (j partJob, start bool, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for {
		if b.ctx.Err() != nil {
			return partJob{}, false, false
		}
		if len(b.queue) > 0 {
			j = b.queue[0]
			b.queue = b.queue[1:]
			return j, false, true
		}
		for b.nextItem < len(b.items) && b.items[b.nextItem].finished {
			b.nextItem++ // refused before the batch started
		}
		if b.nextItem < len(b.items) {
			j = partJob{item: b.nextItem}
			b.nextItem++
			b.starting++
			return j, true, true
		}
		if b.starting == 0 {
			return partJob{}, false, false
		}
		b.cond.Wait()
	}
}

func (b *batch) runJob(j partJob, start bool) {
	it := &b.items[j.item]
	defer func() {
		if r := recover(); r != nil {
			err := panicError(it.name(), r)
			if start {
				b.finish(j.item, "", err)
			} else {
				b.failItem(j.item, err)
				b.partDone(j.item)
			}
		}
		if start {
			b.mu.Lock()
			b.starting--
			b.cond.Broadcast()
			b.mu.Unlock()
		}
	}()
	if start {
		b.start(j.item)
		return
	}
	b.mu.Lock()
	failed := it.err != nil
	b.mu.Unlock()
	if !failed {
		if err := b.uploadPart(it, j.part); err != nil {
			b.failItem(j.item, err)
		}
	}
	b.partDone(j.item)
}

// open learns a file item's size and opens it.
func (b *batch) open(it *item) error {
	if it.path == "" {
		return nil
	}
	// Checked before opening too: opening a named pipe blocks until a
	// writer opens it, which held the whole batch (and Ctrl-C) until then.
	if st, err := os.Stat(it.path); err != nil {
		return err // *os.PathError names the path; Classify maps ErrNotExist/ErrPermission
	} else if err := regular(it.path, st); err != nil {
		return err
	}
	f, err := os.Open(it.path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if err := regular(it.path, st); err != nil {
		f.Close()
		return err
	}
	it.f, it.size = f, st.Size()
	return nil
}

// regular reports why path (described by st) cannot be uploaded, if it is
// not a regular file.
func regular(path string, st os.FileInfo) error {
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file: %w", path, s3err.ErrInvalid)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%v): %w", path, st.Mode().Type(), s3err.ErrInvalid)
	}
	return nil
}

// body returns a request body for bytes [off, off+n) of the item: a view
// of its buffer, or a section of its file read as the request is sent.
// fence it when the request returns; for a file its error, if any, is why
// the request failed (the file shrank, or could not be read).
func (b *batch) body(it *item, off, n int64) *fencedReader {
	if it.f == nil {
		return newFencedReader(it.data[off : off+n])
	}
	return &fencedReader{r: &fileSection{f: it.f, path: it.path, off: off, n: n}}
}

func (b *batch) start(i int) {
	it := &b.items[i]
	if err := b.open(it); err != nil {
		b.finish(i, "", err)
		return
	}
	if it.size <= b.opt.MultipartThreshold {
		etag, err := b.putSingle(it)
		b.finish(i, etag, err)
		return
	}
	if err := b.startMultipart(it); err != nil {
		b.finish(i, "", err)
		return
	}
	b.mu.Lock()
	it.remaining = it.nparts
	for p := range it.nparts {
		b.queue = append(b.queue, partJob{item: i, part: p})
	}
	b.cond.Broadcast()
	b.mu.Unlock()
}

func (b *batch) putSingle(it *item) (string, error) {
	body := b.body(it, 0, it.size)
	in := &s3.PutObjectInput{
		Bucket: aws.String(it.bucket), Key: aws.String(it.key),
		Body: body, ContentLength: aws.Int64(it.size),
	}
	b.opt.Attrs.applyPut(in)
	if b.opt.CreateOnly {
		in.IfNoneMatch = aws.String("*")
	}
	b.prog.Requests.Add(1)
	out, err := b.api.PutObject(b.ctx, in)
	if ferr := body.fence(); ferr != nil && err != nil {
		return "", ferr
	}
	if err != nil {
		return "", b.wrap(it, err)
	}
	b.prog.Bytes.Add(it.size)
	return aws.ToString(out.ETag), nil
}

// wrap names the item in err and turns a refused conditional write into
// an "already exists" error.
func (b *batch) wrap(it *item, err error) error {
	if b.opt.CreateOnly && conditionFailed(err) {
		return &existsError{name: it.name()}
	}
	return fmt.Errorf("%s: %w", it.name(), err)
}

// exists is the create-only early exit before a multipart upload: true
// only when HEAD positively finds the key (any other answer lets the
// conditional completion decide).
func exists(ctx context.Context, api API, prog *Progress, bucket, key string) bool {
	prog.Requests.Add(1)
	_, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	return err == nil
}

func (b *batch) startMultipart(it *item) error {
	ps, err := partSizeFor(it.size, b.opt.PartSize)
	if err != nil {
		return fmt.Errorf("%s: %w", it.name(), err)
	}
	it.partSize = ps
	it.nparts = int((it.size + ps - 1) / ps)
	if b.opt.CreateOnly && exists(b.ctx, b.api, b.prog, it.bucket, it.key) {
		return &existsError{name: it.name()}
	}
	b.prog.Requests.Add(1)
	create := &s3.CreateMultipartUploadInput{Bucket: aws.String(it.bucket), Key: aws.String(it.key)}
	b.opt.Attrs.applyCreate(create)
	out, err := multipart.Create(b.ctx, b.api, create)
	if err != nil {
		return fmt.Errorf("%s: starting multipart upload: %w", it.name(), err)
	}
	it.ctx, it.cancel = context.WithCancel(b.ctx)
	it.etags = make([]string, it.nparts)
	b.mu.Lock() // publish uploadID to the sweep
	it.uploadID = aws.ToString(out.UploadId)
	b.mu.Unlock()
	return nil
}

func (b *batch) uploadPart(it *item, p int) error {
	off := int64(p) * it.partSize
	n := min(it.partSize, it.size-off)
	body := b.body(it, off, n)
	b.prog.Requests.Add(1)
	out, err := b.api.UploadPart(it.ctx, &s3.UploadPartInput{
		Bucket: aws.String(it.bucket), Key: aws.String(it.key), UploadId: aws.String(it.uploadID),
		PartNumber: aws.Int32(int32(p + 1)), Body: body, ContentLength: aws.Int64(n),
	})
	if ferr := body.fence(); ferr != nil && err != nil {
		return ferr
	}
	if err != nil {
		return fmt.Errorf("%s: part %d of %d: %w", it.name(), p+1, it.nparts, err)
	}
	b.prog.Bytes.Add(n)
	it.etags[p] = aws.ToString(out.ETag)
	return nil
}

// failItem records an item's first failure and stops its other parts.
func (b *batch) failItem(i int, err error) {
	it := &b.items[i]
	b.mu.Lock()
	if it.err == nil {
		it.err = err
	}
	b.mu.Unlock()
	if it.cancel != nil {
		it.cancel()
	}
}

// partDone counts a finished part; the last one completes or aborts.
func (b *batch) partDone(i int) {
	it := &b.items[i]
	b.mu.Lock()
	it.remaining--
	last := it.remaining == 0
	err := it.err
	b.mu.Unlock()
	if !last {
		return
	}
	if err == nil {
		etag, cerr := b.complete(it)
		if cerr == nil {
			b.finish(i, etag, nil)
			return
		}
		err = cerr
	}
	if b.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // the sweep aborts and reports the cancellation
	}
	b.finish(i, "", b.abort(it, err))
}

func (b *batch) complete(it *item) (string, error) {
	parts := make([]types.CompletedPart, it.nparts)
	for p := range parts {
		parts[p] = types.CompletedPart{ETag: aws.String(it.etags[p]), PartNumber: aws.Int32(int32(p + 1))}
	}
	in := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(it.bucket), Key: aws.String(it.key), UploadId: aws.String(it.uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if b.opt.CreateOnly {
		in.IfNoneMatch = aws.String("*")
	}
	b.prog.Requests.Add(1)
	out, err := multipart.Complete(it.ctx, b.api, in)
	if err != nil {
		return "", b.wrap(it, err)
	}
	return aws.ToString(out.ETag), nil
}

// abort sends AbortMultipartUpload for a started upload with a context that
// outlives a cancelled batch, and returns err, the failure that stopped the
// upload, saying so if the abort failed too (see abortFailed).
func (b *batch) abort(it *item, err error) error {
	if it.uploadID == "" {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(b.ctx), abortTimeout)
	defer cancel()
	// Parts of the item may have been cancelled in flight (by a cancelled
	// batch, or by a failed part stopping the others): check.
	aerr := abortUpload(ctx, b.api, b.prog, it.bucket, it.key, it.uploadID, true)
	return abortFailed(err, it.name(), it.uploadID, aerr)
}

// abortUpload aborts a multipart upload and, with inflight, makes sure it
// stays gone (see multipart.Abort), counting its requests in prog.
func abortUpload(ctx context.Context, api API, prog *Progress, bucket, key, id string, inflight bool) error {
	return multipart.Abort(ctx, api, bucket, key, id, inflight, func() { prog.Requests.Add(1) })
}

// finish records an item's result (once) and releases its resources.
func (b *batch) finish(i int, etag string, err error) {
	it := &b.items[i]
	b.mu.Lock()
	if it.finished {
		b.mu.Unlock()
		return
	}
	it.finished = true
	b.mu.Unlock()
	if err != nil {
		it.res = Result{Err: err}
	} else {
		it.res = Result{ETag: etag, Size: it.size}
	}
	if it.f != nil {
		it.f.Close()
		it.f = nil
	}
	if it.cancel != nil {
		it.cancel()
	}
	b.prog.Items.Add(1)
}

// sweep runs after every worker exited: items a cancellation left
// unfinished fail with it, and their multipart uploads are aborted.
func (b *batch) sweep() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, b.opt.Concurrency)
	for i := range b.items {
		it := &b.items[i]
		if it.finished {
			continue
		}
		cause := context.Cause(b.ctx)
		if cause == nil {
			cause = fmt.Errorf("upload stopped unexpectedly: %w", s3err.ErrInternal)
		}
		err := fmt.Errorf("%s: not uploaded: %w", it.name(), cause)
		if it.uploadID == "" {
			b.finish(i, "", err)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer func() {
				if r := recover(); r != nil {
					b.finish(i, "", panicError(it.name(), r))
				}
			}()
			b.finish(i, "", b.abort(it, err))
		}()
	}
	wg.Wait()
}
