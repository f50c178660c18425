// Package multipart holds what more than one engine package needs of S3's
// multipart uploads: starting one that no cancellation loses, completing one
// whose first answer was lost, and aborting one so that it stays gone.
package multipart

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// API is the subset of the S3 client Abort needs.
type API interface {
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	ListParts(ctx context.Context, in *s3.ListPartsInput, opts ...func(*s3.Options)) (*s3.ListPartsOutput, error)
}

// Settle is how long Abort first waits before checking that an upload
// whose part requests were cancelled in flight is gone; each later check
// waits twice as long, and Checks bounds the checks.
const (
	Settle = 100 * time.Millisecond
	Checks = 3
)

// Abort aborts the multipart upload id of bucket/key. count, if not nil,
// is called once before each request Abort sends.
//
// With inflight (part requests of the upload were cancelled while they
// ran, by a failed part stopping the others or by the caller's
// cancellation) it then makes sure the upload is gone: the server may have
// read a cancelled part's whole body, or started a part copy, and store
// the part after the abort, which brings the upload back and leaves
// storage behind that is billed until someone aborts it. S3's
// AbortMultipartUpload documentation warns of this and asks for ListParts
// to come back empty; versitygw recreates the upload's directory. So Abort
// waits, asks ListParts, and aborts again while the upload is still there.
// A check that fails (NoSuchUpload, or no permission to list parts) ends
// it: the abort itself succeeded. Only the first abort's error, or a later
// abort's other than NoSuchUpload, is returned.
func Abort(ctx context.Context, api API, bucket, key, id string, inflight bool, count func()) error {
	if count == nil {
		count = func() {}
	}
	in := &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: aws.String(id)}
	count()
	if _, err := api.AbortMultipartUpload(ctx, in); err != nil || !inflight {
		return err
	}
	for i := range Checks {
		t := time.NewTimer(Settle << i)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil // aborted once, and no time left to check
		case <-t.C:
		}
		count()
		if _, err := api.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String(key),
			UploadId: aws.String(id), MaxParts: aws.Int32(1)}); err != nil {
			return nil
		}
		count()
		if _, err := api.AbortMultipartUpload(ctx, in); err != nil {
			if s3err.Classify(err) == s3err.NotFound {
				return nil
			}
			return err
		}
	}
	return nil
}

// CreateAPI is the subset of the S3 client Create needs.
type CreateAPI interface {
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// OrphanTimeout bounds what Create still does for a caller that has gone:
// finishing the request and aborting the upload it started.
const OrphanTimeout = 2 * time.Minute

// Create starts a multipart upload without losing it to a cancellation.
// Cancelled while CreateMultipartUpload was in flight, the request used to
// stop on the client while the server went on to create the upload, whose
// id nobody then knew to abort (Ctrl-C in put_objects left 21 uploads
// behind over 40 interrupted batches). The request now runs on regardless
// of ctx; Create returns ctx's error as soon as ctx ends, and when the
// request still creates the upload it is aborted, in the background if
// Create has returned by then.
func Create(ctx context.Context, api CreateAPI, in *s3.CreateMultipartUploadInput) (*s3.CreateMultipartUploadOutput, error) {
	type result struct {
		out *s3.CreateMultipartUploadOutput
		err error
	}
	done := make(chan result, 1)
	detached := context.WithoutCancel(ctx)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r.err = fmt.Errorf("starting a multipart upload: panic: %v: %w", p, s3err.ErrInternal)
			}
			done <- r
		}()
		rctx, cancel := context.WithTimeout(detached, OrphanTimeout)
		defer cancel()
		r.out, r.err = api.CreateMultipartUpload(rctx, in)
	}()
	orphan := func(r result) {
		if r.err != nil || r.out == nil || r.out.UploadId == nil {
			return
		}
		actx, cancel := context.WithTimeout(detached, OrphanTimeout)
		defer cancel()
		_, _ = api.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: in.Bucket, Key: in.Key, UploadId: r.out.UploadId})
	}
	select {
	case r := <-done:
		if r.err == nil && ctx.Err() != nil {
			orphan(r)
			return nil, ctx.Err()
		}
		return r.out, r.err
	case <-ctx.Done():
		go func() {
			defer func() { _ = recover() }() // nothing to report to: the caller has gone
			orphan(<-done)
		}()
		return nil, ctx.Err()
	}
}

// CompleteAPI is the subset of the S3 client Complete needs.
type CompleteAPI interface {
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Complete completes a multipart upload, and recognises one that an
// earlier attempt completed: when the answer to CompleteMultipartUpload is
// lost (a reset, a body cut short) the retryer sends it again, and the
// server, for which the upload is gone, answers NoSuchUpload. The object
// then exists with the ETag S3 gives a multipart object, the MD5 of the
// parts' MD5s and "-<parts>": when a HEAD finds exactly that ETag, the
// upload is reported complete instead of failed. Without that check
// nothing can tell an upload completed by this call from one aborted by
// someone else, so any other outcome returns the original error.
func Complete(ctx context.Context, api CompleteAPI, in *s3.CompleteMultipartUploadInput) (*s3.CompleteMultipartUploadOutput, error) {
	out, err := api.CompleteMultipartUpload(ctx, in)
	if err == nil || s3err.Classify(err) != s3err.NotFound || in.MultipartUpload == nil {
		return out, err
	}
	want, ok := MultipartETag(in.MultipartUpload.Parts)
	if !ok {
		return out, err
	}
	head, herr := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: in.Bucket, Key: in.Key, IfMatch: aws.String(want)})
	if herr != nil || strings.Trim(aws.ToString(head.ETag), `"`) != strings.Trim(want, `"`) {
		return out, err
	}
	return &s3.CompleteMultipartUploadOutput{Bucket: in.Bucket, Key: in.Key, ETag: head.ETag,
		VersionId: head.VersionId}, nil
}

// MultipartETag is the ETag S3 gives the object a multipart upload of
// these parts completes into: the MD5 of the parts' binary MD5s, then "-"
// and the part count, quoted. ok is false when a part's ETag is not an MD5
// (parts encrypted with SSE-KMS or SSE-C, for instance).
func MultipartETag(parts []types.CompletedPart) (etag string, ok bool) {
	if len(parts) == 0 {
		return "", false
	}
	h := md5.New()
	for _, p := range parts {
		sum, err := hex.DecodeString(strings.Trim(aws.ToString(p.ETag), `"`))
		if err != nil || len(sum) != md5.Size {
			return "", false
		}
		h.Write(sum)
	}
	return fmt.Sprintf(`"%x-%d"`, h.Sum(nil), len(parts)), true
}
