// Package multipart holds what more than one engine package needs of S3's
// multipart uploads: aborting one so that it stays gone.
package multipart

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

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
