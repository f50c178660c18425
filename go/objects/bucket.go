package objects

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// BucketAPI is the subset of the S3 client MakeBucket and RemoveBucket need.
type BucketAPI interface {
	CreateBucket(ctx context.Context, in *s3.CreateBucketInput, opts ...func(*s3.Options)) (*s3.CreateBucketOutput, error)
	DeleteBucket(ctx context.Context, in *s3.DeleteBucketInput, opts ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

// MakeBucket creates bucket in region. An empty region means the client's
// own region when api is an *s3.Client (S3 rejects a bucket created through
// a regional endpoint without a matching location constraint), else none.
// us-east-1 is sent without a location constraint, as S3 requires.
// An existing bucket is ErrExists (note that AWS in us-east-1 answers 200
// when you re-create a bucket you already own).
func MakeBucket(ctx context.Context, api BucketAPI, bucket, region string) error {
	name := s3url(bucket, "")
	if bucket == "" {
		return fmt.Errorf("make bucket: empty bucket name: %w", s3err.ErrInvalid)
	}
	if region == "" {
		if c, ok := api.(interface{ Options() s3.Options }); ok {
			region = c.Options().Region
		}
	}
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if region != "" && region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(region),
		}
	}
	_, err := api.CreateBucket(ctx, in)
	return bucketErr(name, "create", err)
}

// RemoveBucket deletes an empty bucket. A missing bucket is ErrNotFound; a
// bucket that still holds objects fails with a message saying it is not
// empty (code s3err.IO, which Python raises as OSError, like rmdir of a
// non-empty directory).
func RemoveBucket(ctx context.Context, api BucketAPI, bucket string) error {
	name := s3url(bucket, "")
	if bucket == "" {
		return fmt.Errorf("remove bucket: empty bucket name: %w", s3err.ErrInvalid)
	}
	_, err := api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	return bucketErr(name, "remove", err)
}

func bucketErr(name, verb string, err error) error {
	if err == nil {
		return nil
	}
	switch s3err.APICode(err) {
	case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
		return fmt.Errorf("%s: bucket %w (%w)", name, s3err.ErrExists, err)
	case "NoSuchBucket":
		return fmt.Errorf("%s: no such bucket (%w)", name, err)
	case "BucketNotEmpty":
		return fmt.Errorf("%s: bucket is not empty: %w", name, err)
	}
	return fmt.Errorf("%s: %s bucket: %w", name, verb, err)
}
