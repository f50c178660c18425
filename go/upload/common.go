// Package upload writes objects to S3: batches of caller-owned buffers
// (PutBuffers) or local files (PutFiles), and a streaming Writer for
// Python's open(path, "wb").
//
// Objects up to the multipart threshold cost one PutObject; larger ones are
// multipart uploads whose parts, across every item of a batch, share one
// bounded pool of workers, so one huge object and thousands of small ones
// both keep the pool busy. A multipart upload that fails or is cancelled is
// aborted so no orphaned parts stay billed.
//
// Create-only writes send If-None-Match: * on PutObject and on
// CompleteMultipartUpload, which S3 (since 2024) and versitygw (checked
// against v1.8.0: a second PUT with If-None-Match: * answers 412
// PreconditionFailed and leaves the object unchanged) evaluate atomically.
// A multipart create-only upload also HEADs the key before its first part
// so that an existing object fails fast instead of after the whole upload;
// that HEAD is only an early exit, the conditional completion decides.
package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/objects"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// API is the subset of *s3.Client the upload engine needs.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, opts ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListParts(ctx context.Context, in *s3.ListPartsInput, opts ...func(*s3.Options)) (*s3.ListPartsOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3 limits and engine defaults.
const (
	// MinPartSize is S3's smallest allowed size for a part other than the last.
	MinPartSize = 5 << 20
	// MaxPartSize is S3's largest part (and largest UploadPartCopy range).
	MaxPartSize = 5 << 30
	// MaxParts is S3's largest part number.
	MaxParts = 10000
	// MaxSinglePut is the largest object one PutObject may carry.
	MaxSinglePut = 5 << 30
	// MaxObjectSize is S3's largest object (5 TiB).
	MaxObjectSize = 5 << 40
	// DefaultPartSize is used when Options.PartSize is 0.
	DefaultPartSize = 8 << 20
	// DefaultConcurrency is used when Options.Concurrency is 0.
	DefaultConcurrency = 64
)

// Progress counts what an upload has done so far; every field is updated
// atomically and may be read while the upload runs.
type Progress struct {
	Items    atomic.Int64 // objects finished (successfully or not)
	Bytes    atomic.Int64 // payload bytes the server accepted
	Requests atomic.Int64 // requests sent
}

// Snapshot returns the three counters.
func (p *Progress) Snapshot() (items, bytes, requests int64) {
	return p.Items.Load(), p.Bytes.Load(), p.Requests.Load()
}

// existsError is what a create-only write returns when the key exists. Its
// message is exactly "s3://bucket/key already exists".
type existsError struct{ name string }

func (e *existsError) Error() string { return e.name + " already exists" }
func (e *existsError) Unwrap() error { return s3err.ErrExists }

// conditionFailed reports whether err is S3 refusing a conditional write:
// 412 PreconditionFailed, or 409 ConditionalRequestConflict (a concurrent
// conditional write to the same key won).
func conditionFailed(err error) bool {
	switch s3err.APICode(err) {
	case "PreconditionFailed", "ConditionalRequestConflict":
		return true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case http.StatusPreconditionFailed:
			return true
		case http.StatusConflict:
			return s3err.APICode(err) == "" // a bare 409 to a conditional write
		}
	}
	return false
}

// objName renders s3://bucket/key for messages.
func objName(bucket, key string) string { return "s3://" + bucket + "/" + key }

// copySource renders an x-amz-copy-source value (see objects.CopySource:
// every byte but RFC 3986 unreserved characters and "/" percent-encoded,
// "+" too, which servers would otherwise decode as a space).
func copySource(bucket, key string) string { return objects.CopySource(bucket, key) }

func byteRange(off, n int64) string {
	return "bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+n-1, 10)
}

// partSizeFor returns the part size for an object of size bytes: at least
// base (itself at least MinPartSize), grown in whole MiB so the upload needs
// at most MaxParts parts.
func partSizeFor(size, base int64) (int64, error) {
	ps := max(base, MinPartSize)
	if (size+ps-1)/ps > MaxParts {
		const mib = 1 << 20
		ps = ((size+MaxParts-1)/MaxParts + mib - 1) / mib * mib
	}
	if ps > MaxPartSize {
		return 0, fmt.Errorf("%d bytes exceed S3's largest object (%d parts of %d bytes): %w",
			size, MaxParts, int64(MaxPartSize), s3err.ErrInvalid)
	}
	return ps, nil
}

// errFenced is what a request body reads once its request has returned.
var errFenced = errors.New("request body read after its request returned")

// fencedReader serves a request body the engine does not own for long:
// caller memory, a pooled buffer about to be reused, or a file closed when
// its item finishes. Go's HTTP transport may still read a request body
// after RoundTrip returned; fence, called when the request returns, waits
// for any Read in progress and makes later ones fail, so nothing touches
// the source afterwards.
type fencedReader struct {
	mu     sync.Mutex
	r      io.ReadSeeker
	fenced bool
}

func newFencedReader(b []byte) *fencedReader {
	return &fencedReader{r: bytes.NewReader(b)}
}

// Read implements io.Reader.
func (f *fencedReader) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fenced {
		return 0, errFenced
	}
	return f.r.Read(p)
}

// Seek implements io.Seeker so the SDK can hash and retry the body.
func (f *fencedReader) Seek(off int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fenced {
		return 0, errFenced
	}
	return f.r.Seek(off, whence)
}

// fence ends every access to the underlying source. It returns the error
// a file section's reads failed with, if any (see fileSection.err).
func (f *fencedReader) fence() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fenced = true
	if fs, ok := f.r.(*fileSection); ok {
		return fs.err
	}
	f.r = nil
	return nil
}

// fileSection is bytes [off, off+n) of a local file as a request body, read
// from the file as the request is sent (and again if the SDK hashes or
// retries it): no part of a file is held in memory, whatever the part
// size. A file that ends before off+n fails the read with s3err.ErrChanged
// instead of a silent short body; the first failure is kept in err, so
// that the request's caller reports it rather than the transport's
// wrapping of it.
type fileSection struct {
	f      *os.File
	path   string
	off, n int64
	pos    int64
	err    error
}

// Read implements io.Reader.
func (s *fileSection) Read(p []byte) (int, error) {
	if s.pos >= s.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.n-s.pos)]
	k, err := s.f.ReadAt(p, s.off+s.pos)
	s.pos += int64(k)
	switch {
	case k == len(p):
		return k, nil
	case err == nil || errors.Is(err, io.EOF):
		err = fmt.Errorf("%s shrank while being uploaded (read %d of %d bytes at offset %d): %w",
			s.path, s.pos, s.n, s.off, s3err.ErrChanged)
	default:
		err = fmt.Errorf("reading %s: %w", s.path, err)
	}
	if s.err == nil {
		s.err = err
	}
	return k, err
}

// Seek implements io.Seeker.
func (s *fileSection) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.n
	default:
		return 0, fmt.Errorf("seek: bad whence %d: %w", whence, s3err.ErrInvalid)
	}
	if off < 0 {
		return 0, fmt.Errorf("seek to %d: %w", off, s3err.ErrInvalid)
	}
	s.pos = off
	return off, nil
}

var (
	_ io.ReadSeeker = (*fencedReader)(nil)
	_ io.ReadSeeker = (*fileSection)(nil)
)

// abortFailed returns err, the failure that made a multipart upload be
// aborted, saying that AbortMultipartUpload failed too (aerr not nil): the
// upload id and the object are named so that someone can abort it, as its
// parts stay stored (and billed) until then. err stays what the result
// wraps, so the error's class is unchanged; aerr is only described. An
// abort that finds the upload gone (NotFound) did not fail.
func abortFailed(err error, name, id string, aerr error) error {
	if aerr == nil || s3err.Classify(aerr) == s3err.NotFound {
		return err
	}
	return fmt.Errorf("%w (and aborting multipart upload %s of %s failed, so its parts stay stored until it is aborted: %v)",
		err, id, name, aerr)
}

// panicError turns a recovered panic into an ErrInternal error naming what
// was being uploaded.
func panicError(name string, r any) error {
	return fmt.Errorf("%s: panic during upload (please report): %v: %w", name, r, s3err.ErrInternal)
}
