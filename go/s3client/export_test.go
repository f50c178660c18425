package s3client

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// LeanFor reports whether GETs from bucket take the lean path (tests only).
func (g *Getter) LeanFor(ctx context.Context, bucket string) bool {
	if g.hc == nil {
		return false
	}
	ep := g.endpoint(ctx, bucket)
	return !ep.useSDK && ep.resolvedErr == nil
}

// EndpointFor returns the URL a lean GET of bucket/key is sent to (tests only).
func (g *Getter) EndpointFor(ctx context.Context, bucket, key string) (string, bool) {
	ep := g.endpoint(ctx, bucket)
	if ep.useSDK {
		return "", false
	}
	u := ep.objectURL(key)
	return u.String() + " " + ep.signName + "/" + ep.signRegion, true
}

// ListURLFor returns the URL a lean ListObjectsV2 of in is sent to, "" if
// it would go through the SDK (tests only).
func (l *Lister) ListURLFor(ctx context.Context, in *s3.ListObjectsV2Input) string {
	ep := l.leanEndpoint(ctx, in)
	if ep == nil {
		return ""
	}
	u := ep.listURL(in)
	return u.String() + " " + ep.signName + "/" + ep.signRegion
}

// SetMaxListBody sets the largest LIST response read and returns a
// function restoring the old limit (tests only).
func SetMaxListBody(n int64) (restore func()) {
	old := maxListBody
	maxListBody = n
	return func() { maxListBody = old }
}

// HTTPClient exposes the client's lean transport (tests only).
func (g *Getter) HTTPClient() *http.Client { return g.hc }

// LearnRegion records bucket as living in region, as a redirect would (tests only).
func (c *Client) LearnRegion(bucket, region string) { c.Get.regions.set(bucket, region) }

// Transport is the *http.Transport under the client's connection
// accounting (tests only).
func (c *Client) Transport() *http.Transport { return c.transport.Transport }
