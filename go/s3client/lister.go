package s3client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Lister is the client as the listing engine sees it: the SDK client (for
// HeadObject, and for ListObjectsV2 calls the lean path does not handle)
// plus ListObjectsV2Raw, which fetches a page's XML without the SDK's
// middleware stack, as Getter does for GETs. Profiling a 1 M-key listing
// (1 000 pages) showed the stack costing ~200 µs of CPU per LIST, a
// quarter of the listing's CPU and as much as parsing the page.
type Lister struct {
	*s3.Client
	g *Getter
}

// maxListBody bounds a LIST response read into memory: a page of 1 000
// keys of at most 1 KiB each is ~1.5 MB, so anything far larger is not a
// listing page (a variable so that tests can lower it).
var maxListBody int64 = 64 << 20

// leanListInput reports whether in sets only the fields the lean path
// sends (compared by reflection, so that a field a newer SDK adds is
// noticed too: ~1 µs).
func leanListInput(in *s3.ListObjectsV2Input) bool {
	c := *in
	c.Bucket, c.Prefix, c.Delimiter, c.StartAfter, c.ContinuationToken, c.MaxKeys, c.EncodingType =
		nil, nil, nil, nil, nil, nil, ""
	if len(c.OptionalObjectAttributes) == 0 {
		c.OptionalObjectAttributes = nil
	}
	return reflect.DeepEqual(c, s3.ListObjectsV2Input{})
}

// leanEndpoint returns where the lean path sends in, or nil when in goes
// through the SDK.
func (l *Lister) leanEndpoint(ctx context.Context, in *s3.ListObjectsV2Input) *bucketEndpoint {
	if !l.g.leanList || in.Bucket == nil || !leanListInput(in) {
		return nil
	}
	if ep := l.g.endpoint(ctx, *in.Bucket); !ep.useSDK {
		return ep
	}
	return nil
}

// ListObjectsV2Raw sends in as a ListObjectsV2 request on the lean path and
// writes the response's XML body into body (reset first). handled is false
// when the lean path does not apply (see Getter: ARNs, S3 Express, other
// input fields, or S3TURBO_SDK_LIST=1); the caller then uses the SDK's
// ListObjectsV2. Errors are the SDK's types (s3err.Classify sees no
// difference), after the SDK's retryer has retried what it would: server
// errors, throttling, and connections that fail before or while the body
// is read.
func (l *Lister) ListObjectsV2Raw(ctx context.Context, in *s3.ListObjectsV2Input, body *bytes.Buffer) (handled bool, err error) {
	g := l.g
	ep := l.leanEndpoint(ctx, in)
	if ep == nil {
		return false, nil
	}
	if ep.resolvedErr != nil {
		return true, opError("ListObjectsV2", ep.resolvedErr)
	}
	err = l.listRaw(ctx, ep, in, body)
	if err != nil && g.redirect(ctx, *in.Bucket, ep, err) {
		if ep = l.leanEndpoint(ctx, in); ep == nil {
			return false, nil // now resolved where only the SDK goes
		}
		if ep.resolvedErr != nil {
			return true, opError("ListObjectsV2", ep.resolvedErr)
		}
		err = l.listRaw(ctx, ep, in, body)
	}
	return true, err
}

// listRaw sends in to ep on the lean path (see ListObjectsV2Raw).
func (l *Lister) listRaw(ctx context.Context, ep *bucketEndpoint, in *s3.ListObjectsV2Input, body *bytes.Buffer) error {
	g := l.g
	u := ep.listURL(in)
	_, err := withRetries(ctx, g, "ListObjectsV2", func() (struct{}, error) {
		body.Reset()
		resp, err := g.send(ctx, ep, u, nil)
		if err != nil {
			return struct{}{}, err
		}
		if resp.StatusCode != http.StatusOK {
			return struct{}{}, responseError(resp)
		}
		defer resp.Body.Close()
		if n := resp.ContentLength; n > 0 && n <= maxListBody {
			body.Grow(int(n) + bytes.MinRead)
		}
		if _, err := body.ReadFrom(io.LimitReader(resp.Body, maxListBody+1)); err != nil {
			return struct{}{}, &bodyReadError{fmt.Errorf("reading the ListObjectsV2 response: %w", err)}
		}
		if int64(body.Len()) > maxListBody {
			return struct{}{}, fmt.Errorf("ListObjectsV2 response from %s is over %d bytes, not a listing page: %w",
				u.Host, maxListBody, s3err.ErrCorrupt)
		}
		return struct{}{}, nil
	})
	return err
}

// listURL is where a ListObjectsV2 request for in goes: the bucket's
// endpoint ("/" when the bucket is in the host name) and the query.
func (ep *bucketEndpoint) listURL(in *s3.ListObjectsV2Input) url.URL {
	u := ep.base
	if u.Path == "" {
		u.Path, u.RawPath = "/", "/"
	}
	u.RawQuery = listQuery(in)
	return u
}

// listQuery is in's query string, as the SDK sends it (list-type=2 and the
// set fields), each value escaped as SigV4 canonicalizes it.
func listQuery(in *s3.ListObjectsV2Input) string {
	var sb strings.Builder
	add := func(k, v string) {
		sb.WriteByte('&')
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(escapeQuery(v))
	}
	sb.WriteString("list-type=2")
	if in.ContinuationToken != nil {
		add("continuation-token", *in.ContinuationToken)
	}
	if in.Delimiter != nil {
		add("delimiter", *in.Delimiter)
	}
	if in.EncodingType != "" {
		add("encoding-type", string(in.EncodingType))
	}
	if in.MaxKeys != nil {
		add("max-keys", strconv.Itoa(int(aws.ToInt32(in.MaxKeys))))
	}
	if in.Prefix != nil {
		add("prefix", *in.Prefix)
	}
	if in.StartAfter != nil {
		add("start-after", *in.StartAfter)
	}
	return sb.String()
}

// bodyReadError is a response cut off while its body was read: a
// connection error, which the SDK's retryer retries.
type bodyReadError struct{ err error }

func (e *bodyReadError) Error() string         { return e.err.Error() }
func (e *bodyReadError) Unwrap() error         { return e.err }
func (e *bodyReadError) ConnectionError() bool { return true }
