package objects

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// StatAPI is the subset of the S3 client Stat needs.
type StatAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Info describes a stat'ed path.
type Info struct {
	IsDir       bool   // a bucket, a key prefix or a "dir/" marker
	Size        int64  // bytes; 0 for directories
	ETag        string // as the server sent it (with quotes); "" for directories
	Mtime       int64  // last modified, ns since the Unix epoch; 0 for directories
	ContentType string
	VersionID   string
	Metadata    map[string]string // the object's user metadata (x-amz-meta-*)
}

// Stat describes many paths concurrently. For each path:
//
//   - an empty key is the bucket: HeadBucket, a directory if it exists;
//   - otherwise HeadObject (skipped when the key ends in "/"): a file;
//   - if there is no such object, a ListObjectsV2 probe (one key under
//     key+"/"): a directory if anything is there, else ErrNotFound.
//
// A 403 on HeadObject is ErrPermission (not probed further). It returns one
// Info and one error per path and the number of requests sent.
func Stat(ctx context.Context, api StatAPI, paths []objpath.Path, opt Options) ([]Info, []error, int64) {
	opt = opt.normalized()
	infos := make([]Info, len(paths))
	s := &stater{api: api, reqs: &counter{shared: opt.Requests}}
	errs := forEach(ctx, len(paths), opt.Concurrency,
		func(i int) string { return s3url(paths[i].Bucket, paths[i].Key) },
		func(i int) error {
			var err error
			infos[i], err = s.stat(ctx, paths[i].Bucket, paths[i].Key)
			if err != nil {
				infos[i] = Info{}
			}
			return err
		},
		func(int) { opt.Items.Add(1) })
	return infos, errs, s.reqs.n.Load()
}

type stater struct {
	api  StatAPI
	reqs *counter
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func (s *stater) stat(ctx context.Context, bucket, key string) (Info, error) {
	if bucket == "" {
		return Info{}, fmt.Errorf("%q: empty bucket name: %w", s3url(bucket, key), s3err.ErrInvalid)
	}
	if key == "" {
		s.reqs.add()
		_, err := s.api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
		switch {
		case err == nil:
			return Info{IsDir: true}, nil
		case s3err.Classify(err) == s3err.NotFound:
			return Info{}, fmt.Errorf("%s: no such bucket: %w", s3url(bucket, ""), s3err.ErrNotFound)
		case httpStatus(err) == http.StatusForbidden:
			return Info{}, fmt.Errorf("%s: %w: %w", s3url(bucket, ""), s3err.ErrPermission, err)
		}
		return Info{}, fmt.Errorf("%s: %w", s3url(bucket, ""), err)
	}
	name := s3url(bucket, key)
	if !strings.HasSuffix(key, "/") {
		s.reqs.add()
		out, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err == nil {
			info := Info{
				Size:        aws.ToInt64(out.ContentLength),
				ETag:        aws.ToString(out.ETag),
				ContentType: aws.ToString(out.ContentType),
				VersionID:   aws.ToString(out.VersionId),
				Metadata:    out.Metadata,
			}
			if out.LastModified != nil {
				info.Mtime = out.LastModified.UnixNano()
			}
			return info, nil
		}
		if httpStatus(err) == http.StatusForbidden || s3err.Classify(err) == s3err.Permission {
			return Info{}, fmt.Errorf("%s: %w: %w", name, s3err.ErrPermission, err)
		}
		if s3err.Classify(err) != s3err.NotFound {
			return Info{}, fmt.Errorf("%s: %w", name, err)
		}
	}
	s.reqs.add()
	out, err := s.api.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(bucket),
		Prefix:  aws.String(strings.TrimSuffix(key, "/") + "/"),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		if s3err.APICode(err) == "NoSuchBucket" {
			return Info{}, fmt.Errorf("%s: no such bucket: %w", name, s3err.ErrNotFound)
		}
		return Info{}, fmt.Errorf("%s: %w", name, err)
	}
	if len(out.Contents) > 0 || len(out.CommonPrefixes) > 0 {
		return Info{IsDir: true}, nil
	}
	return Info{}, fmt.Errorf("%s: no such file or directory: %w", name, s3err.ErrNotFound)
}
