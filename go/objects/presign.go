package objects

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// MaxPresignExpiry is the longest validity SigV4 allows for a presigned URL.
const MaxPresignExpiry = 7 * 24 * time.Hour

// Presign returns a URL that lets anyone holding it GET or PUT (method,
// case-insensitive) bucket/key for expires, signed with client's
// credentials. It makes no request. A PUT URL takes the body as is (no
// checksum or content-type is signed).
func Presign(ctx context.Context, client *s3.Client, bucket, key, method string, expires time.Duration) (string, error) {
	name := s3url(bucket, key)
	if bucket == "" || key == "" {
		return "", fmt.Errorf("presign %q: the path must name an object: %w", name, s3err.ErrInvalid)
	}
	if expires <= 0 || expires > MaxPresignExpiry {
		return "", fmt.Errorf("presign %s: expiry %v is outside (0, 7 days]: %w", name, expires, s3err.ErrInvalid)
	}
	pc := s3.NewPresignClient(client, s3.WithPresignExpires(expires))
	var url string
	switch strings.ToUpper(method) {
	case "GET":
		req, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return "", fmt.Errorf("presign GET %s: %w", name, err)
		}
		url = req.URL
	case "PUT":
		req, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return "", fmt.Errorf("presign PUT %s: %w", name, err)
		}
		url = req.URL
	default:
		return "", fmt.Errorf("presign %s: method %q is not GET or PUT: %w", name, method, s3err.ErrInvalid)
	}
	return url, nil
}
