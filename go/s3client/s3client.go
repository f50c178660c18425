// Package s3client turns s3turbo's client options into a configured
// aws-sdk-go-v2 S3 client: credential chain, endpoint, addressing style,
// retries and an HTTP transport sized for the requested concurrency.
package s3client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Defaults used when an option is left at its zero value.
const (
	DefaultConcurrency = 64
	DefaultPartSize    = 8 << 20
	DefaultRetries     = 5
	// DefaultRegion is used when neither the options nor the AWS chain name one.
	DefaultRegion = "us-east-1"
)

// ErrInvalidOptions is wrapped by errors caused by contradictory or out-of-range options.
var ErrInvalidOptions = fmt.Errorf("invalid client options: %w", s3err.ErrInvalid)

// Options configures a Client. Unset fields fall back to the standard AWS
// configuration chain (environment, AWS_PROFILE, shared config and
// credentials files, AWS_ENDPOINT_URL).
type Options struct {
	EndpointURL    string  `json:"endpoint_url"`
	Key            string  `json:"key"`
	Secret         string  `json:"secret"`
	Token          string  `json:"token"`
	Region         string  `json:"region"`
	Anon           bool    `json:"anon"`
	Profile        string  `json:"profile"`
	MaxConcurrency int     `json:"max_concurrency"`
	PartSize       int64   `json:"part_size"`
	Retries        int     `json:"retries"`
	RetryMode      string  `json:"retry_mode"`
	Verify         *bool   `json:"verify"`
	ConnectTimeout float64 `json:"connect_timeout"`
	ReadTimeout    float64 `json:"read_timeout"`
	PathStyle      *bool   `json:"path_style"`
	// RequesterPays sends x-amz-request-payer: requester on every request,
	// accepting the charges of requester-pays buckets.
	RequesterPays bool `json:"requester_pays"`
	// CoalesceGap: byte ranges of one object at most this far apart are
	// fetched by one request (nil: DefaultCoalesceGap; 0: never).
	CoalesceGap *int64 `json:"coalesce_gap"`
	// CABundle is a PEM file of certificate authorities to trust instead
	// of the system's (as AWS_CA_BUNDLE).
	CABundle string `json:"ca_bundle"`
	// Env, when not nil, is the environment the AWS configuration chain
	// reads: the caller's AWS_ variables (nil values: unset) and others it
	// names, such as HOME (see syncEnv). Python sends os.environ's.
	Env map[string]*string `json:"env"`
}

// DefaultCoalesceGap is the gap below which nearby byte ranges of an object
// share a request: on S3 a request's latency is worth several MiB of one
// connection's throughput, and 1 MiB is also arrow/obstore's default.
const DefaultCoalesceGap = 1 << 20

// Client bundles the SDK client with the tuning knobs the engines need.
type Client struct {
	S3 *s3.Client
	// Get serves GetObject for the data paths (batch GETs, ranges,
	// downloads, tar reads) without the SDK's per-request overhead; it
	// behaves like S3.GetObject.
	Get *Getter
	// List serves the listing engine: the SDK client, plus lean
	// ListObjectsV2 requests (see Lister).
	List        *Lister
	Concurrency int
	PartSize    int64
	CoalesceGap int64 // see Options.CoalesceGap
	// Retries is the attempts per request (Options.Retries); a body whose
	// read fails is also read at most this many times.
	Retries   int
	transport *closingTransport
}

// Close drops the client's idle HTTP connections, and those of calls still
// running when they end. The client stays usable (new requests open new
// connections, closed when they end).
func (c *Client) Close() {
	if c.transport != nil {
		c.transport.close()
	}
}

// Normalize fills defaults and validates ranges.
func (o *Options) Normalize() error {
	if o.MaxConcurrency == 0 {
		o.MaxConcurrency = DefaultConcurrency
	}
	if o.MaxConcurrency < 1 || o.MaxConcurrency > 4096 {
		return fmt.Errorf("max_concurrency must be in 1..4096, got %d: %w", o.MaxConcurrency, ErrInvalidOptions)
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < 64<<10 || o.PartSize > 5<<30 {
		return fmt.Errorf("part_size must be between 64 KiB and 5 GiB, got %d: %w", o.PartSize, ErrInvalidOptions)
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.CoalesceGap != nil && *o.CoalesceGap < 0 {
		return fmt.Errorf("coalesce_gap must be >= 0, got %d: %w", *o.CoalesceGap, ErrInvalidOptions)
	}
	if o.Retries < 1 {
		return fmt.Errorf("retries must be >= 1, got %d: %w", o.Retries, ErrInvalidOptions)
	}
	if o.Anon && (o.Key != "" || o.Secret != "" || o.Token != "") {
		return fmt.Errorf("anon=True cannot be combined with key/secret/token: %w", ErrInvalidOptions)
	}
	if (o.Key == "") != (o.Secret == "") {
		return fmt.Errorf("key and secret must be given together: %w", ErrInvalidOptions)
	}
	switch o.RetryMode {
	case "", "standard", "adaptive":
	default:
		return fmt.Errorf("retry_mode must be 'standard' or 'adaptive', got %q: %w", o.RetryMode, ErrInvalidOptions)
	}
	if o.EndpointURL != "" {
		return checkEndpoint("endpoint_url", o.EndpointURL)
	}
	return nil
}

// checkEndpoint refuses an endpoint that is not an http(s) URL with a host,
// naming it without any password it holds.
func checkEndpoint(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an http:// or https:// URL with a host, got %q: %w", what, redactURL(raw), ErrInvalidOptions)
	}
	return nil
}

// redactURL is raw with the password of its user information replaced by
// "xxxxx", also when raw does not parse as a URL with user information
// ("user:pass@host" parses as a scheme and an opaque part): then
// everything before the authority's last '@' goes.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		scheme, rest = "", raw
	} else {
		scheme += "://"
	}
	authority, path := rest, ""
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = "xxxxx" + authority[i:]
	}
	return scheme + authority + path
}

func seconds(f float64, def time.Duration) time.Duration {
	if f <= 0 {
		return def
	}
	return time.Duration(f * float64(time.Second))
}

// readBufferSize is the transport's read buffer (see httpClient).
const readBufferSize = 4 << 10

// httpClient builds a transport with enough idle connections per host for
// the concurrency, no transparent decompression and TLS verification on
// unless explicitly disabled.
func httpClient(o *Options) *awshttp.BuildableClient {
	verify := o.Verify == nil || *o.Verify
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = o.MaxConcurrency * 2
		tr.MaxIdleConnsPerHost = o.MaxConcurrency * 2
		tr.MaxConnsPerHost = 0
		tr.IdleConnTimeout = 90 * time.Second
		tr.DisableCompression = true
		// Go's default 4 KiB, not a large buffer: a response body is
		// read with a Read as long as what is left of it, and bufio
		// passes a Read at least its buffer's size straight to the
		// socket. A 256 KiB buffer was filled from the socket and
		// copied out again: 8% of a 1 M-key listing's client CPU
		// (pprof), and GETs of 64-200 KiB objects took 9-20% longer
		// (paired, session 31). GETs of 2-16 KiB objects measured the
		// same either way.
		tr.ReadBufferSize = readBufferSize
		tr.WriteBufferSize = 64 << 10
		readTimeout := seconds(o.ReadTimeout, 60*time.Second)
		tr.ResponseHeaderTimeout = readTimeout
		dial := (&net.Dialer{
			Timeout:   seconds(o.ConnectTimeout, 10*time.Second),
			KeepAlive: 30 * time.Second,
		}).DialContext
		// ResponseHeaderTimeout ends at the headers: a server that sent
		// them and part of a body, then went silent, held a GET or a LIST
		// page (and the whole batch) forever. A connection now fails once
		// nothing moved through it for the read timeout (see idleConn), as
		// boto3's socket timeout does; the retryer then tries again.
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			conn, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: conn, timeout: readTimeout}, nil
		}
		if !verify {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // explicit user opt-out (verify=False)
		}
	})
}

// idleConn is a connection that fails once nothing has moved through it,
// either way, for timeout (see httpClient). Writes count: the transport
// waits for a response (a blocked Read) while it is still sending the
// request's body, and a part upload slower than timeout must not fail
// for it. The deadline is moved on only after a quarter of it has passed,
// not at every call, so a stall fails after 3/4 of timeout at the
// earliest.
type idleConn struct {
	net.Conn
	timeout time.Duration
	set     atomic.Int64 // when the deadline was last moved (unix ns); Read and Write run concurrently
}

// alive moves the deadline on when a quarter of it has passed.
func (c *idleConn) alive() error {
	now := time.Now()
	if now.UnixNano()-c.set.Load() <= int64(c.timeout/4) {
		return nil
	}
	c.set.Store(now.UnixNano())
	if err := c.Conn.SetDeadline(now.Add(c.timeout)); err != nil {
		return fmt.Errorf("setting the connection's deadline: %w", err)
	}
	return nil
}

// Read reads under the idle deadline.
func (c *idleConn) Read(p []byte) (int, error) {
	if err := c.alive(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

// Write writes under the idle deadline (and keeps a pending Read alive).
func (c *idleConn) Write(p []byte) (int, error) {
	if err := c.alive(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// addRequestPayer adds the requester-pays header to every request (the SDK
// only has a per-operation RequestPayer field).
func addRequestPayer(stack *middleware.Stack) error {
	return stack.Build.Add(middleware.BuildMiddlewareFunc("s3turbo.RequestPayer",
		func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
			if req, ok := in.Request.(*smithyhttp.Request); ok {
				req.Header.Set("x-amz-request-payer", "requester")
			}
			return next.HandleBuild(ctx, in)
		}), middleware.After)
}

// checksumSettings reports whether the environment or the shared
// configuration set the request checksum calculation and the response
// checksum validation.
func checksumSettings(sources []any) (request, response bool) {
	for _, src := range sources {
		switch c := src.(type) {
		case config.EnvConfig:
			request = request || c.RequestChecksumCalculation != aws.RequestChecksumCalculationUnset
			response = response || c.ResponseChecksumValidation != aws.ResponseChecksumValidationUnset
		case config.SharedConfig:
			request = request || c.RequestChecksumCalculation != aws.RequestChecksumCalculationUnset
			response = response || c.ResponseChecksumValidation != aws.ResponseChecksumValidationUnset
		}
	}
	return request, response
}

// New builds a Client from options, consulting the default AWS chain for
// anything not given explicitly.
func New(ctx context.Context, o Options) (*Client, error) {
	if err := o.Normalize(); err != nil {
		return nil, err
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient(&o)),
		config.WithRetryMaxAttempts(o.Retries),
	}
	if o.RetryMode != "" {
		loaders = append(loaders, config.WithRetryMode(aws.RetryMode(o.RetryMode)))
	}
	if o.Region != "" {
		loaders = append(loaders, config.WithRegion(o.Region))
	}
	if o.Profile != "" {
		loaders = append(loaders, config.WithSharedConfigProfile(o.Profile))
	}
	switch {
	case o.Anon:
		loaders = append(loaders, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	case o.Key != "":
		loaders = append(loaders, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(o.Key, o.Secret, o.Token)))
	}
	// The SDK's own log lines (an IMDSv1 fallback warning) would land on
	// the Python process's stderr; its errors reach the caller anyway.
	loaders = append(loaders, config.WithLogger(logging.Nop{}))
	if o.CABundle != "" {
		pem, err := os.ReadFile(o.CABundle)
		if err != nil {
			return nil, fmt.Errorf("ca_bundle: %v: %w", err, ErrInvalidOptions)
		}
		loaders = append(loaders, config.WithCustomCABundle(bytes.NewReader(pem)))
	}
	envMu.Lock()
	syncEnv(o.Env)
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	envMu.Unlock()
	if err != nil {
		return nil, s3err.Mark(fmt.Errorf("loading AWS configuration: %w", err), s3err.ErrConfig)
	}
	if cfg.Credentials != nil && !o.Anon {
		cfg.Credentials = aws.NewCredentialsCache(redactedCredentials{cfg.Credentials})
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	// Checksums only where the API requires them unless the environment or
	// profile asks otherwise (AWS_REQUEST_CHECKSUM_CALCULATION and
	// AWS_RESPONSE_CHECKSUM_VALIDATION, read as boto3 reads them): aws-chunked
	// uploads with trailing CRCs break many S3-compatible servers, but a
	// user who asks for them gets them. The loader fills in when_supported
	// when nothing asked, so look at what its sources said.
	askedRequest, askedResponse := checksumSettings(cfg.ConfigSources)
	if !askedRequest {
		cfg.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	}
	if !askedResponse {
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	// Own the final transport (the config loader may have added a CA bundle
	// to it) so that Close can drop idle connections. Like the SDK's client,
	// never follow redirects: S3 answers with errors, not redirects.
	var transport *closingTransport
	if bc, ok := cfg.HTTPClient.(*awshttp.BuildableClient); ok {
		transport = &closingTransport{Transport: bc.GetTransport()}
		cfg.HTTPClient = &http.Client{
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	regions := &bucketRegions{}
	var client *s3.Client
	redirect := &regionRedirect{regions: regions, region: cfg.Region, api: func() *s3.Client { return client }}
	var endpointErr error
	client = s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.EndpointURL != "" {
			so.BaseEndpoint = aws.String(o.EndpointURL)
		} else if so.BaseEndpoint != nil && *so.BaseEndpoint != "" {
			// From the environment or a profile: checked as endpoint_url is,
			// before the SDK's rules quote it whole in their errors.
			endpointErr = checkEndpoint("the configured endpoint (AWS_ENDPOINT_URL or a profile's endpoint_url)", *so.BaseEndpoint)
		}
		if so.BaseEndpoint != nil {
			// "http://host:9000//" addressed "//bucket/key", which servers
			// refuse; boto3 drops the trailing slashes.
			so.BaseEndpoint = aws.String(strings.TrimRight(*so.BaseEndpoint, "/"))
		}
		// so.BaseEndpoint already holds any endpoint the chain resolved
		// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, a profile's endpoint_url or
		// its [services] section): custom endpoints get path-style addressing.
		so.UsePathStyle = so.BaseEndpoint != nil && *so.BaseEndpoint != ""
		if o.PathStyle != nil {
			so.UsePathStyle = *o.PathStyle
		}
		if o.RequesterPays {
			so.APIOptions = append(so.APIOptions, addRequestPayer)
		}
		if so.EndpointResolverV2 != nil {
			so.EndpointResolverV2 = regionResolver{next: so.EndpointResolverV2, regions: regions}
		}
		so.APIOptions = append(so.APIOptions, redirect.add)
		if r, ok := so.Retryer.(aws.RetryerV2); ok {
			so.Retryer = truncatedRetryer{r}
		}
	})
	if endpointErr != nil {
		return nil, endpointErr
	}
	gap := int64(DefaultCoalesceGap)
	if o.CoalesceGap != nil {
		gap = *o.CoalesceGap
	}
	hc, _ := cfg.HTTPClient.(*http.Client) // another client type: Getter falls back to the SDK
	get := newGetter(client, hc, o.RequesterPays)
	get.regions = regions
	return &Client{S3: client, Get: get, List: &Lister{Client: client, g: get}, Concurrency: o.MaxConcurrency,
		PartSize: o.PartSize, CoalesceGap: gap, Retries: o.Retries, transport: transport}, nil
}

// truncatedRetryer also retries a response cut off while the SDK decoded
// its body (a reset or a proxy closing the connection mid-answer): the SDK
// calls that a deserialization error, which its retryer does not retry, so
// one short answer to CopyObject, DeleteObjects, CreateMultipartUpload,
// UploadPartCopy or CompleteMultipartUpload failed the item where boto3
// (and s3turbo's own GET and LIST paths) try again.
type truncatedRetryer struct{ aws.RetryerV2 }

// IsErrorRetryable reports whether err is worth another attempt.
func (r truncatedRetryer) IsErrorRetryable(err error) bool {
	if untrustedServer(err) {
		return false
	}
	return truncatedResponse(err) || r.RetryerV2.IsErrorRetryable(err)
}

// untrustedServer reports whether err is a TLS handshake that failed on
// the server's certificate (or a server that does not speak TLS), which
// another attempt cannot change. The SDK counts every failure to send as
// a connection error and retried these with backoff: 26 s before a stat
// against a server with a self-signed certificate said so.
func untrustedServer(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var record tls.RecordHeaderError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host) ||
		errors.As(err, &invalid) || errors.As(err, &record)
}

// truncatedResponse reports whether err is a response body that ended
// before its Content-Length while the SDK read it: while decoding it (a
// deserialization error), or while checking a 200 answer for an error
// inside (DeleteObjects, CopyObject, CompleteMultipartUpload: a response
// error with status 200). Go's transport reports the cut as an unexpected
// EOF, or, when it tears the connection down under the read, as a read on
// a closed connection (net.ErrClosed): a CI run's third attempt at a cut
// DeleteObjects answer failed so, and had it been the first, the item
// would have failed without a retry.
func truncatedResponse(err error) bool {
	if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, net.ErrClosed) {
		return false
	}
	var de *smithy.DeserializationError
	var re *awshttp.ResponseError
	return errors.As(err, &de) || errors.As(err, &re)
}
