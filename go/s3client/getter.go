package s3client

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyauth "github.com/aws/smithy-go/auth"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// emptySHA256 is the SHA-256 of an empty payload (a GET has no body).
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Getter performs GetObject requests (and, for the listing engine,
// ListObjectsV2: see Lister) without the SDK's per-request middleware
// stack: the bucket's endpoint is resolved once with the SDK's own
// resolver, each request is signed with the SDK's SigV4 signer and sent
// on the client's HTTP transport, and failures are retried by the SDK's
// retryer and returned as the same error types the SDK returns (so
// s3err.Classify and callers cannot tell the difference). Profiling showed
// the middleware stack costing ~80 µs of CPU per GET, more than the
// request itself on a fast network, which matters for batches of small
// objects and ranges.
//
// Requests it does not handle (options, input fields other than Bucket,
// Key, Range and IfMatch, ARNs, S3 Express buckets, endpoints with extra
// headers or another signing scheme) go through the SDK unchanged.
type Getter struct {
	sdk           *s3.Client
	opts          s3.Options
	hc            *http.Client
	signer        *v4.Signer
	anon          bool
	requesterPays bool
	leanList      bool // ListObjectsV2 may take the lean path too

	mu  sync.Mutex
	eps map[string]*bucketEndpoint
	// regions holds the buckets found in another region than the
	// client's (see region.go), shared with the SDK client's resolver.
	regions *bucketRegions
}

// bucketEndpoint is where a bucket's objects live and how to sign for them.
type bucketEndpoint struct {
	base        url.URL // scheme, host and path prefix ("/bucket" in path style)
	signName    string
	signRegion  string
	useSDK      bool // a case the lean path does not handle
	resolvedErr error
}

func newGetter(sdk *s3.Client, hc *http.Client, requesterPays bool) *Getter {
	if os.Getenv("S3TURBO_SDK_GET") == "1" {
		hc = nil // escape hatch and A/B switch: every GET and LIST through the SDK
	}
	o := sdk.Options()
	g := &Getter{
		sdk: sdk, opts: o, hc: hc, requesterPays: requesterPays,
		leanList: hc != nil && os.Getenv("S3TURBO_SDK_LIST") != "1", // the same, for LISTs alone
		anon:     o.Credentials == nil || aws.IsCredentialsProvider(o.Credentials, aws.AnonymousCredentials{}),
		signer: v4.NewSigner(func(so *v4.SignerOptions) {
			so.DisableURIPathEscaping = true // S3 signs the path as sent, escaped once
		}),
		eps:     map[string]*bucketEndpoint{},
		regions: &bucketRegions{},
	}
	return g
}

// leanInput reports whether in sets only the fields the lean path sends.
func leanInput(in *s3.GetObjectInput) bool {
	c := *in
	c.Bucket, c.Key, c.Range, c.IfMatch = nil, nil, nil, nil
	return c == s3.GetObjectInput{}
}

// GetObject is s3.Client.GetObject, lean where possible (see Getter).
func (g *Getter) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if g.hc == nil || len(opts) > 0 || !leanInput(in) || in.Bucket == nil || in.Key == nil {
		return g.sdk.GetObject(ctx, in, opts...)
	}
	ep := g.endpoint(ctx, *in.Bucket)
	if ep.useSDK {
		return g.sdk.GetObject(ctx, in)
	}
	if ep.resolvedErr != nil {
		return nil, opError("GetObject", ep.resolvedErr)
	}
	out, err := g.get(ctx, ep, in)
	if err != nil && g.redirect(ctx, *in.Bucket, ep, err) {
		if ep = g.endpoint(ctx, *in.Bucket); ep.useSDK || ep.resolvedErr != nil {
			return g.sdk.GetObject(ctx, in)
		}
		return g.get(ctx, ep, in)
	}
	return out, err
}

// redirect reports whether a request for bucket that failed with err
// should be sent again: S3 named (or a HEAD found) the bucket's own
// region, which is now remembered and resolved anew (see region.go).
func (g *Getter) redirect(ctx context.Context, bucket string, ep *bucketEndpoint, err error) bool {
	head := func(ctx context.Context, b string) string { return headRegion(ctx, g.sdk, b) }
	if g.regions.redirectRegion(ctx, bucket, ep.signRegion, err, head) == "" {
		return false
	}
	g.mu.Lock()
	if g.eps[bucket] == ep {
		delete(g.eps, bucket)
	}
	g.mu.Unlock()
	return true
}

// endpoint resolves (once) where bucket's objects are served.
func (g *Getter) endpoint(ctx context.Context, bucket string) *bucketEndpoint {
	g.mu.Lock()
	ep, ok := g.eps[bucket]
	g.mu.Unlock()
	if ok {
		return ep
	}
	ep = g.resolve(ctx, bucket)
	g.mu.Lock()
	if len(g.eps) > 10000 { // unbounded bucket names must not grow memory forever
		clear(g.eps)
	}
	g.eps[bucket] = ep
	g.mu.Unlock()
	return ep
}

func (g *Getter) resolve(ctx context.Context, bucket string) *bucketEndpoint {
	o := &g.opts
	if o.EndpointResolverV2 == nil || strings.HasPrefix(bucket, "arn:") || strings.HasSuffix(bucket, "--x-s3") ||
		o.UseARNRegion || o.UseAccelerate || o.DisableMultiRegionAccessPoints {
		return &bucketEndpoint{useSDK: true}
	}
	params := s3.EndpointParameters{
		Bucket:         aws.String(bucket),
		Region:         aws.String(o.Region),
		UseFIPS:        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:   aws.Bool(o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled),
		Endpoint:       o.BaseEndpoint,
		ForcePathStyle: aws.Bool(o.UsePathStyle),
		Accelerate:     aws.Bool(false),
	}
	res, err := o.EndpointResolverV2.ResolveEndpoint(ctx, params)
	if err != nil {
		// The SDK would fail the same way; let it, with its own message.
		return &bucketEndpoint{useSDK: true}
	}
	if len(res.Headers) > 0 || res.URI.RawQuery != "" || res.URI.Fragment != "" {
		return &bucketEndpoint{useSDK: true}
	}
	ep := &bucketEndpoint{base: res.URI, signName: "s3", signRegion: o.Region}
	if schemes, ok := smithyauth.GetAuthOptions(&res.Properties); ok && len(schemes) > 0 {
		s := schemes[0]
		// The rules engine names schemes "sigv4"; smithy's constant is "aws.auth#sigv4".
		if s.SchemeID != "sigv4" && s.SchemeID != smithyauth.SchemeIDSigV4 {
			return &bucketEndpoint{useSDK: true} // sigv4a (multi-region access points), S3 Express ...
		}
		if n, ok := smithyhttp.GetSigV4SigningName(&s.SignerProperties); ok && n != "" {
			ep.signName = n
		}
		if r, ok := smithyhttp.GetSigV4SigningRegion(&s.SignerProperties); ok && r != "" {
			ep.signRegion = r
		}
	}
	ep.base.Path = strings.TrimSuffix(ep.base.Path, "/")
	ep.base.RawPath = strings.TrimSuffix(ep.base.EscapedPath(), "/")
	return ep
}

// objectURL is where key's bytes are requested: the endpoint's path
// prefix, then the key escaped once.
func (ep *bucketEndpoint) objectURL(key string) url.URL {
	u := ep.base
	u.RawPath = ep.base.RawPath + "/" + escapePath(key)
	u.Path = ep.base.Path + "/" + key
	return u
}

// escapePath percent-encodes a key for a request path: everything but
// unreserved characters and "/" (as the SDK does for S3 keys).
func escapePath(s string) string { return escape(s, true) }

// escapeQuery percent-encodes a query value: everything but unreserved
// characters (as SigV4 canonicalizes it).
func escapeQuery(s string) string { return escape(s, false) }

func escape(s string, keepSlash bool) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && keepSlash {
			sb.WriteByte(c)
			continue
		}
		sb.WriteByte('%')
		sb.WriteByte(hex[c>>4])
		sb.WriteByte(hex[c&15])
	}
	return sb.String()
}

func (g *Getter) get(ctx context.Context, ep *bucketEndpoint, in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
	u := ep.objectURL(*in.Key)
	return withRetries(ctx, g, "GetObject", func() (*s3.GetObjectOutput, error) { return g.once(ctx, ep, u, in) })
}

// withRetries calls try until it succeeds, the SDK's retryer gives up on
// its error, or ctx ends; failures are wrapped as operation op's.
func withRetries[T any](ctx context.Context, g *Getter, op string, try func() (T, error)) (T, error) {
	retryer := g.opts.Retryer
	attempts := 1
	if retryer != nil {
		attempts = max(1, retryer.MaxAttempts())
	}
	var zero T
	for attempt := 1; ; attempt++ {
		out, err := try()
		if err == nil {
			return out, nil
		}
		if attempt >= attempts || ctx.Err() != nil || !retryer.IsErrorRetryable(err) {
			return zero, opError(op, err)
		}
		delay, derr := retryer.RetryDelay(attempt, err)
		if derr != nil {
			return zero, opError(op, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, opError(op, fmt.Errorf("%w (retrying after: %w)", ctx.Err(), err))
		}
	}
}

// once sends one signed GET.
func (g *Getter) once(ctx context.Context, ep *bucketEndpoint, u url.URL, in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
	resp, err := g.send(ctx, ep, u, func(h http.Header) {
		if in.Range != nil {
			h.Set("Range", *in.Range)
		}
		if in.IfMatch != nil {
			h.Set("If-Match", *in.IfMatch)
		}
	})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		return nil, responseError(resp)
	}
	out := &s3.GetObjectOutput{Body: resp.Body}
	if resp.ContentLength >= 0 {
		out.ContentLength = aws.Int64(resp.ContentLength)
	}
	if v := resp.Header.Get("Content-Range"); v != "" {
		out.ContentRange = aws.String(v)
	}
	if v := resp.Header.Get("ETag"); v != "" {
		out.ETag = aws.String(v)
	}
	return out, nil
}

// send sends one signed GET of u with the headers set sets (nil: none)
// and the client's own (user agent, requester-pays).
func (g *Getter) send(ctx context.Context, ep *bucketEndpoint, u url.URL, set func(http.Header)) (*http.Response, error) {
	req := &http.Request{
		Method: http.MethodGet, URL: &u, Host: u.Host, Header: make(http.Header, 8),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
	}
	req = req.WithContext(ctx)
	if set != nil {
		set(req.Header)
	}
	if g.requesterPays {
		req.Header.Set("X-Amz-Request-Payer", "requester")
	}
	req.Header.Set("User-Agent", "s3turbo")
	if !g.anon {
		creds, err := g.opts.Credentials.Retrieve(ctx)
		if err != nil {
			return nil, fmt.Errorf("failed to retrieve credentials: %w", err)
		}
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
		if err := g.signer.SignHTTP(ctx, creds, req, emptySHA256, ep.signName, ep.signRegion, time.Now().UTC()); err != nil {
			return nil, fmt.Errorf("signing the request: %w", err)
		}
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return nil, &smithyhttp.RequestSendError{Err: err}
	}
	return resp, nil
}

// responseError turns an error response into the SDK's error types: an
// *awshttp.ResponseError carrying the status and wrapping a smithy API
// error with S3's code (NoSuchKey, AccessDenied, ...).
func responseError(resp *http.Response) error {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var e struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
		Region  string `xml:"Region"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		_ = xml.Unmarshal(body, &e)
	}
	if e.Region != "" && resp.Header.Get(regionHeader) == "" {
		// AuthorizationHeaderMalformed names the bucket's region in its
		// body: keep it where the redirect looks (region.go).
		resp.Header.Set(regionHeader, e.Region)
	}
	if e.Code == "" {
		// No body (HEAD-like answers, proxies): the SDK's codes for bare statuses.
		switch resp.StatusCode {
		case http.StatusNotFound:
			e.Code = "NotFound"
		case http.StatusNotModified:
			e.Code = "NotModified"
		default:
			e.Code = strconv.Itoa(resp.StatusCode)
		}
		e.Message = http.StatusText(resp.StatusCode)
	}
	apiErr := &smithy.GenericAPIError{Code: e.Code, Message: e.Message}
	if resp.StatusCode >= 500 {
		apiErr.Fault = smithy.FaultServer
	} else {
		apiErr.Fault = smithy.FaultClient
	}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: resp}, Err: apiErr},
		RequestID:     resp.Header.Get("X-Amz-Request-Id"),
	}
}

// opError wraps err the way the SDK wraps operation op's failure.
func opError(op string, err error) error {
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		return err
	}
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: err}
}
