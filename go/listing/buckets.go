package listing

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BucketsAPI is the subset of the S3 client Buckets needs.
type BucketsAPI interface {
	ListBuckets(ctx context.Context, in *s3.ListBucketsInput, opts ...func(*s3.Options)) (*s3.ListBucketsOutput, error)
}

// Bucket is one bucket the caller can see.
type Bucket struct {
	Name    string
	Created int64 // creation time, ns since the epoch (0 if unknown)
}

// Buckets lists every bucket visible to the credentials, following
// continuation tokens, in the server's order (by name on S3).
func Buckets(ctx context.Context, api BucketsAPI) ([]Bucket, int, error) {
	var out []Bucket
	var token *string
	requests := 0
	for {
		requests++
		res, err := api.ListBuckets(ctx, &s3.ListBucketsInput{ContinuationToken: token})
		if err != nil {
			return nil, requests, fmt.Errorf("listing buckets: %w", err)
		}
		for _, b := range res.Buckets {
			var ns int64
			if b.CreationDate != nil {
				ns = b.CreationDate.UnixNano()
			}
			out = append(out, Bucket{Name: aws.ToString(b.Name), Created: ns})
		}
		if aws.ToString(res.ContinuationToken) == "" {
			return out, requests, nil
		}
		token = res.ContinuationToken
	}
}
