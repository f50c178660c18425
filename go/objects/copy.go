package objects

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/multipart"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// CopyAPI is the subset of the S3 client Copy needs.
type CopyAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, opts ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, opts ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListParts(ctx context.Context, in *s3.ListPartsInput, opts ...func(*s3.Options)) (*s3.ListPartsOutput, error)
}

// CopyItem is one server-side copy. If SizeKnown, Size is the source's size
// (from a listing, say) and decides between CopyObject and a multipart copy
// without a HEAD.
type CopyItem struct {
	Src, Dst  objpath.Path
	Size      int64
	SizeKnown bool
}

// CopySource renders the x-amz-copy-source value for bucket/key: every byte
// outside RFC 3986's unreserved set and "/" is percent-encoded, so keys with
// spaces, '+', '?', '#', '%' or non-ASCII characters survive.
func CopySource(bucket, key string) string {
	return escapePath(bucket) + "/" + escapePath(key)
}

func escapePath(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// CopyPartSize returns the part size for a multipart copy of size bytes:
// want, raised to MinPartSize, grown (in whole MiB) so that there are at
// most MaxParts parts, and capped at MaxPartSize.
func CopyPartSize(size, want int64) int64 {
	ps := max(want, MinPartSize)
	if need := (size + MaxParts - 1) / MaxParts; ps < need {
		ps = (need + 1<<20 - 1) &^ (1<<20 - 1)
	}
	return min(ps, MaxPartSize)
}

// Copy copies many objects server-side, concurrently. A source whose size is
// at most Options.CopyThreshold is copied with one CopyObject; a larger one
// with a multipart upload whose parts are UploadPartCopy requests sent in
// parallel, each pinned (x-amz-copy-source-if-match) to the source's ETag;
// the upload is aborted on any failure or cancellation.
//
// When the size is unknown and the threshold is S3's own limit, CopyObject
// is tried first (one request for the common case) and only a refusal leads
// to a HEAD and a multipart copy; with a lower threshold the source is
// HEADed first. CopyObject keeps the source's metadata and tags; a
// multipart copy carries over the content type, user metadata and the
// Cache-Control, Content-Disposition, Content-Encoding and Content-Language
// headers, but not tags.
//
// It returns the new objects' ETags, one error per item and the number of
// requests sent. A missing source is ErrNotFound naming the source.
func Copy(ctx context.Context, api CopyAPI, items []CopyItem, opt Options) ([]string, []error, int64) {
	opt = opt.normalized()
	c := &copier{api: api, opt: opt, sem: make(chan struct{}, opt.Concurrency), reqs: &counter{shared: opt.Requests}}
	etags := make([]string, len(items))
	twins := copyTwins(items)
	chained := copyChains(items, twins)
	errs := forEach(ctx, len(items), opt.Concurrency,
		func(i int) string { return "copy " + s3url(items[i].Src.Bucket, items[i].Src.Key) },
		func(i int) error {
			if j := twins[i]; j >= 0 {
				return fmt.Errorf("copy %s to %s: also the destination of item %d (%s): one batch cannot store two sources in one object: %w",
					s3url(items[i].Src.Bucket, items[i].Src.Key), s3url(items[i].Dst.Bucket, items[i].Dst.Key),
					j, s3url(items[j].Src.Bucket, items[j].Src.Key), s3err.ErrInvalid)
			}
			if j := chained[i]; j >= 0 {
				return fmt.Errorf("copy %s to %s: the source is also the destination of item %d (copied from %s), so what this copy reads would depend on which runs first; copy in two batches: %w",
					s3url(items[i].Src.Bucket, items[i].Src.Key), s3url(items[i].Dst.Bucket, items[i].Dst.Key),
					j, s3url(items[j].Src.Bucket, items[j].Src.Key), s3err.ErrInvalid)
			}
			var err error
			etags[i], err = c.copy(ctx, &items[i])
			return err
		},
		func(int) { opt.Items.Add(1) })
	return etags, errs, c.reqs.n.Load()
}

// copyTwins gives, for each item, the earlier item copying another source
// to the same destination, or -1. Both were copied at once, each reported
// success, and which one the object kept was a race; such an item is
// refused before any request. A repeat of the same copy is left alone.
func copyTwins(items []CopyItem) []int {
	twins := make([]int, len(items))
	first := make(map[objpath.Path]int, len(items))
	for i, it := range items {
		twins[i] = -1
		j, dup := first[it.Dst]
		if !dup {
			first[it.Dst] = i
		} else if items[j].Src != it.Src {
			twins[i] = j
		}
	}
	return twins
}

// copyChains gives, for each item, an item of the batch that stores
// another object's content where this item reads (its source is that
// item's destination), or -1. The batch runs its items concurrently, so
// such a copy took the old content or the new at random (a rotation,
// b->c and a->b, left c holding a or b); it is refused instead. Copying
// an object onto itself (to change its metadata) writes nothing new, and
// a refused twin writes nothing at all.
func copyChains(items []CopyItem, twins []int) []int {
	writer := make(map[objpath.Path]int, len(items))
	for j, it := range items {
		if it.Src == it.Dst || twins[j] >= 0 {
			continue
		}
		if _, ok := writer[it.Dst]; !ok {
			writer[it.Dst] = j
		}
	}
	chained := make([]int, len(items))
	for i, it := range items {
		chained[i] = -1
		if j, ok := writer[it.Src]; ok && j != i && twins[i] < 0 {
			chained[i] = j
		}
	}
	return chained
}

type copier struct {
	api  CopyAPI
	opt  Options
	sem  chan struct{} // bounds requests in flight across items and parts
	reqs *counter
}

// request runs one S3 call under the concurrency bound.
func (c *copier) request(ctx context.Context, call func() error) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	c.reqs.add()
	return call()
}

func (c *copier) copy(ctx context.Context, it *CopyItem) (string, error) {
	src, dst := s3url(it.Src.Bucket, it.Src.Key), s3url(it.Dst.Bucket, it.Dst.Key)
	if it.Src.Bucket == "" || it.Src.Key == "" || it.Dst.Bucket == "" || it.Dst.Key == "" {
		return "", fmt.Errorf("copy %q to %q: source and destination must both name objects: %w", src, dst, s3err.ErrInvalid)
	}
	var tried error
	switch {
	case it.SizeKnown && it.Size <= c.opt.CopyThreshold:
		return c.single(ctx, it, "")
	case !it.SizeKnown && c.opt.CopyThreshold >= MaxSingleCopy:
		etag, err := c.single(ctx, it, "")
		if err == nil || !refusedAsTooLarge(err) {
			return etag, err
		}
		tried = err
	}
	var head *s3.HeadObjectOutput
	err := c.request(ctx, func() (err error) {
		head, err = c.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(it.Src.Bucket), Key: aws.String(it.Src.Key)})
		return err
	})
	if err != nil {
		return "", c.sourceErr(it, err)
	}
	size := aws.ToInt64(head.ContentLength)
	if size <= c.opt.CopyThreshold || (tried != nil && size <= MaxSingleCopy) {
		if tried != nil {
			return "", tried // refused for another reason than its size
		}
		return c.single(ctx, it, aws.ToString(head.ETag))
	}
	return c.multipart(ctx, it, head)
}

// refusedAsTooLarge reports whether CopyObject may have been refused for
// the source's size (S3 answers InvalidRequest above 5 GiB).
func refusedAsTooLarge(err error) bool {
	switch s3err.APICode(err) {
	case "InvalidRequest", "EntityTooLarge":
		return true
	}
	return false
}

// sourceErr names the source in a missing-source or changed-source error
// and the pair otherwise.
func (c *copier) sourceErr(it *CopyItem, err error) error {
	src, dst := s3url(it.Src.Bucket, it.Src.Key), s3url(it.Dst.Bucket, it.Dst.Key)
	switch s3err.Classify(err) {
	case s3err.NotFound:
		if s3err.APICode(err) == "NoSuchBucket" {
			return fmt.Errorf("copy %s to %s: no such bucket: %w", src, dst, err)
		}
		return fmt.Errorf("%s: no such copy source (copying to %s): %w", src, dst, s3err.ErrNotFound)
	case s3err.Changed:
		return fmt.Errorf("%s: source changed while copying to %s: %w", src, dst, s3err.ErrChanged)
	}
	return fmt.Errorf("copy %s to %s: %w", src, dst, err)
}

func (c *copier) single(ctx context.Context, it *CopyItem, ifMatch string) (string, error) {
	in := &s3.CopyObjectInput{
		Bucket:     aws.String(it.Dst.Bucket),
		Key:        aws.String(it.Dst.Key),
		CopySource: aws.String(CopySource(it.Src.Bucket, it.Src.Key)),
	}
	if ifMatch != "" {
		in.CopySourceIfMatch = aws.String(ifMatch)
	}
	var out *s3.CopyObjectOutput
	err := c.request(ctx, func() (err error) {
		out, err = c.api.CopyObject(ctx, in)
		return err
	})
	if err != nil {
		return "", c.sourceErr(it, err)
	}
	if out.CopyObjectResult != nil {
		return aws.ToString(out.CopyObjectResult.ETag), nil
	}
	return "", nil
}

func (c *copier) multipart(ctx context.Context, it *CopyItem, head *s3.HeadObjectOutput) (string, error) {
	src, dst := s3url(it.Src.Bucket, it.Src.Key), s3url(it.Dst.Bucket, it.Dst.Key)
	size, etag := aws.ToInt64(head.ContentLength), aws.ToString(head.ETag)
	ps := CopyPartSize(size, c.opt.PartSize)
	nparts := int((size + ps - 1) / ps)
	if nparts > MaxParts {
		return "", fmt.Errorf("%s: %d bytes is too large to copy to %s: %w", src, size, dst, s3err.ErrInvalid)
	}
	var created *s3.CreateMultipartUploadOutput
	err := c.request(ctx, func() (err error) {
		created, err = multipart.Create(ctx, c.api, &s3.CreateMultipartUploadInput{
			Bucket:             aws.String(it.Dst.Bucket),
			Key:                aws.String(it.Dst.Key),
			ContentType:        head.ContentType,
			Metadata:           head.Metadata,
			CacheControl:       head.CacheControl,
			ContentDisposition: head.ContentDisposition,
			ContentEncoding:    head.ContentEncoding,
			ContentLanguage:    head.ContentLanguage,
		})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("copy %s to %s: starting multipart upload: %w", src, dst, err)
	}
	uploadID := created.UploadId
	parts := make([]types.CompletedPart, nparts)
	pctx, cancel := context.WithCancelCause(ctx)
	var (
		mu       sync.Mutex
		firstErr error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	workers := min(nparts, c.opt.Concurrency)
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for {
				p := int(next.Add(1) - 1)
				if p >= nparts || pctx.Err() != nil {
					return
				}
				err := guarded(fmt.Sprintf("copy %s to %s, part %d", src, dst, p+1), func() error {
					return c.part(pctx, it, uploadID, etag, p, ps, size, &parts[p])
				})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel(err)
				}
			}
		}()
	}
	wg.Wait()
	cancel(nil)
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("copy %s to %s: %w", src, dst, context.Cause(ctx))
	}
	if firstErr != nil {
		// Parts were stopped in flight: the server may still store one.
		return "", c.abort(ctx, it, uploadID, true, firstErr)
	}
	var done *s3.CompleteMultipartUploadOutput
	err = c.request(ctx, func() (err error) {
		done, err = multipart.Complete(ctx, c.api, &s3.CompleteMultipartUploadInput{
			Bucket:          aws.String(it.Dst.Bucket),
			Key:             aws.String(it.Dst.Key),
			UploadId:        uploadID,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		return err
	})
	if err != nil {
		return "", c.abort(ctx, it, uploadID, false, fmt.Errorf("copy %s to %s: completing multipart upload: %w", src, dst, err))
	}
	return aws.ToString(done.ETag), nil
}

func (c *copier) part(ctx context.Context, it *CopyItem, uploadID *string, etag string, p int, ps, size int64, out *types.CompletedPart) error {
	off := int64(p) * ps
	end := min(off+ps, size) - 1
	in := &s3.UploadPartCopyInput{
		Bucket:          aws.String(it.Dst.Bucket),
		Key:             aws.String(it.Dst.Key),
		UploadId:        uploadID,
		PartNumber:      aws.Int32(int32(p + 1)),
		CopySource:      aws.String(CopySource(it.Src.Bucket, it.Src.Key)),
		CopySourceRange: aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end, 10)),
	}
	if etag != "" {
		in.CopySourceIfMatch = aws.String(etag)
	}
	var res *s3.UploadPartCopyOutput
	err := c.request(ctx, func() (err error) {
		res, err = c.api.UploadPartCopy(ctx, in)
		return err
	})
	if err != nil {
		if s3err.Classify(err) == s3err.Cancelled {
			return fmt.Errorf("copy %s to %s: %w", s3url(it.Src.Bucket, it.Src.Key), s3url(it.Dst.Bucket, it.Dst.Key), err)
		}
		return fmt.Errorf("part %d: %w", p+1, c.sourceErr(it, err))
	}
	if res.CopyPartResult == nil || res.CopyPartResult.ETag == nil {
		return fmt.Errorf("copy %s to %s: part %d: response without an ETag: %w",
			s3url(it.Src.Bucket, it.Src.Key), s3url(it.Dst.Bucket, it.Dst.Key), p+1, s3err.ErrCorrupt)
	}
	*out = types.CompletedPart{ETag: res.CopyPartResult.ETag, PartNumber: aws.Int32(int32(p + 1))}
	return nil
}

// abort aborts a multipart upload (even after ctx was cancelled) and
// returns cause, noting a failed abort. With inflight (parts were stopped
// while their requests ran) it makes sure the upload stays gone: see
// multipart.Abort.
func (c *copier) abort(ctx context.Context, it *CopyItem, uploadID *string, inflight bool, cause error) error {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	err := multipart.Abort(actx, bounded{c}, it.Dst.Bucket, it.Dst.Key, aws.ToString(uploadID), inflight, nil)
	if err != nil {
		return fmt.Errorf("%w (aborting multipart upload %s of %s also failed: %v)",
			cause, aws.ToString(uploadID), s3url(it.Dst.Bucket, it.Dst.Key), err)
	}
	return cause
}

// bounded is the copier's API for multipart.Abort: each of its requests
// runs under the concurrency bound and is counted, like every other copy
// request, and no slot is held while Abort waits between checks.
type bounded struct{ c *copier }

func (b bounded) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (out *s3.AbortMultipartUploadOutput, err error) {
	err = b.c.request(ctx, func() (err error) {
		out, err = b.c.api.AbortMultipartUpload(ctx, in, opts...)
		return err
	})
	return out, err
}

func (b bounded) ListParts(ctx context.Context, in *s3.ListPartsInput, opts ...func(*s3.Options)) (out *s3.ListPartsOutput, err error) {
	err = b.c.request(ctx, func() (err error) {
		out, err = b.c.api.ListParts(ctx, in, opts...)
		return err
	})
	return out, err
}
