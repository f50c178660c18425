package tarjob

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/fetch"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// GetAPI is the GetObject an archive in S3 is read with (an *s3.Client, or
// the client's lean s3client.Getter).
type GetAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// skipThreshold is the smallest forward skip for which objectReader drops
// the body it streams and sends a ranged GET at the target instead of
// reading through. A new GET costs a request's latency (tens of ms to S3,
// more with a new TLS connection: dropping a body mid-stream also drops its
// connection); at the 100-200 MB/s one S3 stream carries, 8 MiB takes about
// as long to read as that. tarindex only seeks over at least 4 MiB of
// member data (its own threshold), so a tar of small members is one GET.
// A variable so that tests can lower it.
var skipThreshold int64 = 8 << 20

// objBufSize is objectReader's window: small reads are served from it, and
// seeks back into it need no request (tarindex peeks at the magic bytes,
// then seeks back to the start). 1 MiB, as the bufio.Reader it replaced:
// with 64 KiB, indexing a 13 MB tar.gz from the local server took 10-20%
// longer (the decompressor's small reads refilled the window more often).
const objBufSize = 1 << 20

// objectReader reads an S3 object from its first byte as one stream that
// survives failed body reads: a body that ends early, a reset connection or
// a read timeout (the client's read_timeout) is resumed with a ranged GET at
// the offset reached, pinned to the first response's ETag with If-Match, so
// that an object replaced meanwhile fails with s3err.ErrChanged instead of
// continuing with another version's bytes. Up to retries such resumes are
// made in a row without progress.
//
// It also implements io.Seeker: a forward seek of at least skipThreshold
// bytes past what was read drops the body and continues with a ranged GET
// at the target (tarindex skips large members' data that way); shorter ones
// read through. Seeks back within its window are free, others need a GET.
// A server that sends no ETag gets neither resumes nor skips: nothing would
// tell another version of the object apart.
//
// Errors name the object (s3://bucket/key) and the byte offset.
type objectReader struct {
	ctx     context.Context
	api     GetAPI
	bucket  string
	key     string
	name    string // s3://bucket/key, for messages
	retries int

	etag string // of the first response; "" if the server sent none
	size int64  // object size, -1 while unknown (a chunked answer)

	body    io.ReadCloser // nil between requests
	bodyPos int64         // object offset of the next byte of body (or of the next request)

	buf      []byte // window: buf[:w] are object bytes [bufStart, bufStart+w)
	bufStart int64
	r, w     int

	err      error // a failure met while seeking, for the next read
	failures int   // failed reads since the last progress
	requests int64 // GETs sent
	received int64 // body bytes read
}

// openObject sends the first GET for bucket/key (the whole object) and
// returns a reader over it.
func openObject(ctx context.Context, api GetAPI, bucket, key string, retries int) (*objectReader, error) {
	o := &objectReader{
		ctx: ctx, api: api, bucket: bucket, key: key, name: "s3://" + bucket + "/" + key,
		retries: max(retries, 0), size: -1, buf: make([]byte, objBufSize),
	}
	o.requests++
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.name, err)
	}
	o.body, o.etag = out.Body, aws.ToString(out.ETag)
	if out.ContentLength != nil && *out.ContentLength >= 0 && aws.ToString(out.ContentRange) == "" {
		o.size = *out.ContentLength
	}
	return o, nil
}

// pos is the offset of the next byte Read returns.
func (o *objectReader) pos() int64 { return o.bufStart + int64(o.r) }

// Close releases the body being read.
func (o *objectReader) Close() error {
	o.drop()
	return nil
}

// drop closes the current body (if any); the next read sends a GET.
func (o *objectReader) drop() {
	if o.body != nil {
		o.body.Close()
		o.body = nil
	}
}

// Read implements io.Reader.
func (o *objectReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if o.r == o.w {
		if o.err != nil {
			return 0, o.err
		}
		if len(p) >= len(o.buf) {
			// A large read goes straight into p; the window is then empty.
			n, err := o.readBody(p)
			o.bufStart, o.r, o.w = o.bodyPos, 0, 0
			return n, err
		}
		n, err := o.readBody(o.buf)
		o.bufStart, o.r, o.w = o.bodyPos-int64(n), 0, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, o.buf[o.r:o.w])
	o.r += n
	return n, nil
}

// Seek implements io.Seeker for whence io.SeekStart and io.SeekCurrent
// (and io.SeekEnd once the size is known). Seeking at or past the end is
// allowed; reads there return io.EOF.
func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	target := offset
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		target += o.pos()
	case io.SeekEnd:
		if o.size < 0 {
			return o.pos(), fmt.Errorf("%s: seek from the end of an object of unknown size", o.name)
		}
		target += o.size
	default:
		return o.pos(), fmt.Errorf("%s: seek: invalid whence %d", o.name, whence)
	}
	if target < 0 {
		return o.pos(), fmt.Errorf("%s: seek to negative offset %d", o.name, target)
	}
	end := o.bufStart + int64(o.w) // == o.bodyPos
	if target >= o.bufStart && target <= end {
		o.r = int(target - o.bufStart)
		return target, nil
	}
	if gap := target - end; gap > 0 && (gap < skipThreshold || o.etag == "") && o.body != nil {
		// Reading through costs less than a new request (or, without an
		// ETag to pin the object with, is the only way on).
		for gap > 0 {
			n, err := o.readBody(o.buf[:min(gap, int64(len(o.buf)))])
			gap -= int64(n)
			if err == io.EOF {
				break // past the end: reads there return io.EOF
			}
			if err != nil {
				// Reported by the next read: a failed seek would make
				// tarindex read on from where this one stopped.
				o.err = err
				break
			}
		}
	} else {
		o.drop()
	}
	o.bodyPos = target
	o.bufStart, o.r, o.w = target, 0, 0
	return target, nil
}

// readBody reads object bytes at bodyPos into p from the current body,
// sending a GET first when there is none, and resuming after failed reads.
func (o *objectReader) readBody(p []byte) (int, error) {
	for {
		if o.size >= 0 && o.bodyPos >= o.size {
			o.drop()
			return 0, io.EOF
		}
		if o.body == nil {
			eof, err := o.reopen()
			if err != nil {
				return 0, err
			}
			if eof {
				return 0, io.EOF
			}
		}
		n, err := o.body.Read(p)
		o.bodyPos += int64(n)
		o.received += int64(n)
		if n > 0 {
			o.failures = 0
		}
		switch {
		case err == nil:
			if n > 0 {
				return n, nil
			}
			continue
		case err == io.EOF && o.size < 0:
			o.size = o.bodyPos // a chunked answer's end is the object's
			o.drop()
			return n, io.EOF
		case err == io.EOF && o.bodyPos >= o.size:
			o.drop()
			return n, io.EOF
		case err == io.EOF:
			err = fmt.Errorf("the body ended %d bytes short: %w", o.size-o.bodyPos, io.ErrUnexpectedEOF)
		}
		o.drop()
		if ctxErr := o.ctx.Err(); ctxErr != nil {
			return n, fmt.Errorf("%s: at byte offset %d: %w", o.name, o.bodyPos, ctxErr)
		}
		if s3err.Transient(err) && o.etag == "" && o.retries > 0 {
			return n, fmt.Errorf("%s: reading at byte offset %d (not resumed: the server sent no ETag to pin the object with): %w",
				o.name, o.bodyPos, err)
		}
		if !s3err.Transient(err) || o.failures >= o.retries {
			return n, fmt.Errorf("%s: reading at byte offset %d: %w", o.name, o.bodyPos, err)
		}
		o.failures++
		if n > 0 {
			return n, nil // the next read resumes
		}
	}
}

// reopen sends a GET for the bytes from bodyPos on, pinned with If-Match to
// the ETag of the first response, after a pause when it resumes a failed
// read. It reports eof when the object ends before bodyPos (only possible
// while the size is unknown).
func (o *objectReader) reopen() (eof bool, err error) {
	if o.failures > 0 {
		select {
		case <-time.After(time.Duration(o.failures*o.failures) * 50 * time.Millisecond):
		case <-o.ctx.Done():
			return false, fmt.Errorf("%s: at byte offset %d: %w", o.name, o.bodyPos, o.ctx.Err())
		}
	}
	if o.etag == "" {
		// Without an ETag another version could not be told apart.
		return false, fmt.Errorf("%s: cannot read on at byte offset %d: the server sent no ETag to pin the object with: %w",
			o.name, o.bodyPos, s3err.ErrInvalid)
	}
	in := &s3.GetObjectInput{
		Bucket: aws.String(o.bucket), Key: aws.String(o.key),
		Range:   aws.String("bytes=" + strconv.FormatInt(o.bodyPos, 10) + "-"),
		IfMatch: aws.String(o.etag),
	}
	o.requests++
	out, err := o.api.GetObject(o.ctx, in)
	switch {
	case err == nil:
	case s3err.Classify(err) == s3err.Changed:
		return false, fmt.Errorf("%s: at byte offset %d: %w (If-Match %s no longer matches): %w",
			o.name, o.bodyPos, s3err.ErrChanged, o.etag, err)
	case o.size < 0 && fetch.UnsatisfiableRange(err):
		return true, nil
	default:
		return false, fmt.Errorf("%s: GET from byte offset %d: %w", o.name, o.bodyPos, err)
	}
	if err := fetch.CheckETag(o.etag, aws.ToString(out.ETag)); err != nil {
		// A server that ignores If-Match.
		out.Body.Close()
		return false, fmt.Errorf("%s: at byte offset %d: %w", o.name, o.bodyPos, err)
	}
	first, _, total, ok := fetch.ParseContentRange(aws.ToString(out.ContentRange))
	if !ok || first != o.bodyPos || (o.size >= 0 && total != o.size) {
		out.Body.Close()
		if ok && o.size >= 0 && total != o.size {
			return false, fmt.Errorf("%s: at byte offset %d: the object is now %d bytes, not %d: %w", o.name, o.bodyPos, total, o.size, s3err.ErrChanged)
		}
		return false, fmt.Errorf("%s: a GET of the bytes from offset %d was answered with Content-Range %q: %w",
			o.name, o.bodyPos, aws.ToString(out.ContentRange), s3err.ErrCorrupt)
	}
	o.size = total
	o.body = out.Body
	return false, nil
}
