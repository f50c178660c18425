package s3client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyendpoints "github.com/aws/smithy-go/endpoints"
	"github.com/aws/smithy-go/middleware"
)

// A bucket lives in one region, and S3 refuses a request for it that was
// sent to or signed for another: 301 PermanentRedirect from a regional
// endpoint, 400 AuthorizationHeaderMalformed from the global one, 400 with
// no body to a HEAD. Like boto3, s3turbo then learns the bucket's region
// (from the x-amz-bucket-region header, the error's <Region>, or else a
// HEAD of the bucket), remembers it for the bucket, and sends the request
// again there once. Without this a client whose region is the chain's
// default (us-east-1) could not read a bucket anywhere else.

// regionHeader names a bucket's region in S3's answers.
const regionHeader = "X-Amz-Bucket-Region"

// bucketRegions remembers the region each redirected bucket lives in.
type bucketRegions struct {
	mu sync.Mutex
	m  map[string]string
}

func (r *bucketRegions) get(bucket string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reg, ok := r.m[bucket]
	return reg, ok
}

func (r *bucketRegions) set(bucket, region string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil || len(r.m) > 10000 { // unbounded bucket names must not grow memory forever
		r.m = map[string]string{}
	}
	r.m[bucket] = region
}

// regionResolver resolves a bucket whose region was learnt (endpoint and
// signing region) in that region, and every other as next does.
type regionResolver struct {
	next    s3.EndpointResolverV2
	regions *bucketRegions
}

// ResolveEndpoint implements s3.EndpointResolverV2.
func (r regionResolver) ResolveEndpoint(ctx context.Context, p s3.EndpointParameters) (smithyendpoints.Endpoint, error) {
	if p.Bucket != nil {
		if reg, ok := r.regions.get(*p.Bucket); ok {
			p.Region = aws.String(reg)
		}
	}
	return r.next.ResolveEndpoint(ctx, p)
}

// regionError reports whether err is S3 refusing a request as meant for
// another region (botocore's S3RegionRedirector tests the same answers).
func regionError(err error) (*awshttp.ResponseError, bool) {
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.Response == nil {
		return nil, false
	}
	code := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	switch {
	case code == "AuthorizationHeaderMalformed", code == "PermanentRedirect",
		code == "IllegalLocationConstraintException":
		return re, true
	case re.HTTPStatusCode() == http.StatusMovedPermanently:
		return re, true
	case re.HTTPStatusCode() == http.StatusBadRequest && re.Response.Header.Get(regionHeader) != "":
		return re, true // a HEAD's answer: no body, the region in the header
	}
	return nil, false
}

// signedRegion is the region req was signed for ("" when unsigned).
func signedRegion(req *http.Request) string {
	if req == nil {
		return ""
	}
	auth := req.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	cred, _, _ = strings.Cut(cred, ",")
	// access-key/date/region/service/aws4_request
	parts := strings.Split(cred, "/")
	if len(parts) < 5 {
		return ""
	}
	return parts[len(parts)-3]
}

// redirectRegion returns the region to send a request for bucket again in
// after it failed with err, and remembers it for bucket; "" when err is not
// a region error or nothing new was learnt (so a request is redirected at
// most once). used is the region the request was meant for when it was not
// signed; head finds a bucket's region when the answer does not name it.
func (r *bucketRegions) redirectRegion(ctx context.Context, bucket, used string, err error,
	head func(context.Context, string) string) string {
	re, ok := regionError(err)
	if !ok || bucket == "" || strings.HasPrefix(bucket, "arn:") {
		return ""
	}
	if s := signedRegion(re.Response.Request); s != "" {
		used = s
	}
	region := re.Response.Header.Get(regionHeader)
	if region == "" {
		// Another request for bucket may have learnt it already.
		if known, ok := r.get(bucket); ok && known != used {
			return known
		}
		region = head(context.WithValue(ctx, noRedirect{}, true), bucket)
	}
	if region == "" || region == used || !validRegion(region) {
		return ""
	}
	r.set(bucket, region)
	return region
}

// validRegion accepts what a region name may hold (it becomes part of a
// host name and of the signature's scope).
func validRegion(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// noRedirect marks a context whose requests are not redirected (the HEAD
// that looks a bucket's region up).
type noRedirect struct{}

// headRegion asks S3 where bucket lives: a HEAD of the bucket names its
// region in x-amz-bucket-region whether it succeeds or not.
func headRegion(ctx context.Context, api *s3.Client, bucket string) string {
	out, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return aws.ToString(out.BucketRegion)
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get(regionHeader)
	}
	return ""
}

// regionRedirect is the SDK operations' side: a middleware that sends an
// operation refused for the wrong region again, once, in the bucket's own
// region (regionResolver then resolves it there).
type regionRedirect struct {
	regions *bucketRegions
	region  string            // the client's region
	api     func() *s3.Client // the client itself, for the HEAD
}

// ID implements middleware.InitializeMiddleware.
func (*regionRedirect) ID() string { return "s3turbo.RegionRedirect" }

// HandleInitialize implements middleware.InitializeMiddleware.
func (m *regionRedirect) HandleInitialize(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (
	middleware.InitializeOutput, middleware.Metadata, error) {
	if ctx.Value(noRedirect{}) != nil {
		return next.HandleInitialize(ctx, in) // the HEAD asking where a bucket is
	}
	bucket, body := inputFields(in.Parameters)
	var pos int64 = -1
	if s, ok := body.(io.Seeker); ok {
		if p, err := s.Seek(0, io.SeekCurrent); err == nil {
			pos = p
		}
	}
	out, md, err := next.HandleInitialize(ctx, in)
	if err == nil || bucket == "" || ctx.Err() != nil {
		return out, md, err
	}
	used := m.region
	if known, ok := m.regions.get(bucket); ok {
		used = known
	}
	head := func(ctx context.Context, b string) string { return headRegion(ctx, m.api(), b) }
	if m.regions.redirectRegion(ctx, bucket, used, err, head) == "" {
		return out, md, err
	}
	if body != nil {
		if pos < 0 {
			return out, md, err // a body that cannot be sent again: the next call goes to the right region
		}
		if _, serr := body.(io.Seeker).Seek(pos, io.SeekStart); serr != nil {
			return out, md, err
		}
	}
	return next.HandleInitialize(ctx, in)
}

// inputFields returns an operation input's Bucket and Body fields (zero
// when it has none).
func inputFields(params any) (bucket string, body io.Reader) {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return "", nil
	}
	v = v.Elem()
	if f := v.FieldByName("Bucket"); f.IsValid() && f.Type() == reflect.TypeOf((*string)(nil)) && !f.IsNil() {
		bucket = f.Elem().String()
	}
	if f := v.FieldByName("Body"); f.IsValid() && f.Type() == reflect.TypeOf((*io.Reader)(nil)).Elem() && !f.IsNil() {
		body = f.Interface().(io.Reader)
	}
	return bucket, body
}

// addRegionRedirect installs the redirect on a client's operations.
func (m *regionRedirect) add(stack *middleware.Stack) error {
	return stack.Initialize.Add(m, middleware.After)
}
