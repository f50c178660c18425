package s3client_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// listResult is what one ListObjectsV2 call produced, comparable between
// the lean path and the SDK.
type listResult struct {
	objects   string // key size etag, one per line, as sent (encoded when asked)
	prefixes  string
	truncated bool
	hasNext   bool
	next      string // the continuation token (compared only when paging)
	failure
}

func listLean(t *testing.T, ctx context.Context, c *s3client.Client, in *s3.ListObjectsV2Input) listResult {
	t.Helper()
	var body bytes.Buffer
	handled, err := c.List.ListObjectsV2Raw(ctx, in, &body)
	if !handled {
		t.Fatalf("the lean path did not handle %+v", in)
	}
	if err != nil {
		return listResult{failure: failureOf(err)}
	}
	var x struct {
		IsTruncated           bool
		NextContinuationToken string
		Contents              []struct {
			Key  string
			Size int64
			ETag string
		}
		CommonPrefixes []struct{ Prefix string }
	}
	if err := xml.Unmarshal(body.Bytes(), &x); err != nil {
		t.Fatalf("lean body %q: %v", body.String(), err)
	}
	var r listResult
	for _, o := range x.Contents {
		r.objects += fmt.Sprintf("%s %d %s\n", o.Key, o.Size, o.ETag)
	}
	for _, p := range x.CommonPrefixes {
		r.prefixes += p.Prefix + "\n"
	}
	r.truncated, r.hasNext, r.next = x.IsTruncated, x.NextContinuationToken != "", x.NextContinuationToken
	return r
}

func listSDK(ctx context.Context, c *s3client.Client, in *s3.ListObjectsV2Input) listResult {
	out, err := c.S3.ListObjectsV2(ctx, in)
	if err != nil {
		return listResult{failure: failureOf(err)}
	}
	var r listResult
	for _, o := range out.Contents {
		r.objects += fmt.Sprintf("%s %d %s\n", aws.ToString(o.Key), aws.ToInt64(o.Size), aws.ToString(o.ETag))
	}
	for _, p := range out.CommonPrefixes {
		r.prefixes += aws.ToString(p.Prefix) + "\n"
	}
	next := aws.ToString(out.NextContinuationToken)
	r.truncated, r.hasNext, r.next = aws.ToBool(out.IsTruncated), next != "", next
	return r
}

// TestListerMatchesSDK: every kind of LIST the engine sends, answered
// through the lean path and through the SDK, gives the same entries,
// truncation and errors; paging through continuation tokens gives the same
// keys.
func TestListerMatchesSDK(t *testing.T) {
	ctx := context.Background()
	c, err := srv.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"lst/a", "lst/b b", "lst/d/x", "lst/d/y", "lst/e/1", "lst/uni-ü€", "lst/sym+=&;,:@$!'()*",
		"lst/q?x=1", "lst/pct%20x", "lst/t~_-.x", "lst/h#1"}
	for i, k := range keys {
		if _, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k),
			Body: strings.NewReader(strings.Repeat("x", i))}); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	in := func(prefix string, f func(*s3.ListObjectsV2Input)) *s3.ListObjectsV2Input {
		i := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), MaxKeys: aws.Int32(1000)}
		f(i)
		return i
	}
	none := func(*s3.ListObjectsV2Input) {}
	tests := []struct {
		name    string
		in      *s3.ListObjectsV2Input
		want    s3err.Code
		objects int // at least this many objects
	}{
		{"prefix", in("lst/", none), s3err.OK, len(keys)},
		{"delimiter", in("lst/", func(i *s3.ListObjectsV2Input) { i.Delimiter = aws.String("/") }), s3err.OK, len(keys) - 3},
		{"start-after", in("lst/", func(i *s3.ListObjectsV2Input) { i.StartAfter = aws.String("lst/b b") }), s3err.OK, len(keys) - 3},
		{"start-after awkward", in("lst/", func(i *s3.ListObjectsV2Input) { i.StartAfter = aws.String("lst/q?x") }), s3err.OK, 1},
		{"max-keys", in("lst/", func(i *s3.ListObjectsV2Input) { i.MaxKeys = aws.Int32(3) }), s3err.OK, 3},
		{"encoding url", in("lst/", func(i *s3.ListObjectsV2Input) { i.EncodingType = types.EncodingTypeUrl }), s3err.OK, len(keys)},
		{"awkward prefix", in("lst/sym+=&", none), s3err.OK, 1},
		{"unicode prefix", in("lst/uni-ü", none), s3err.OK, 1},
		{"no prefix", &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}, s3err.OK, len(keys)},
		{"nothing there", in("nope/", none), s3err.OK, 0},
		{"missing bucket", &s3.ListObjectsV2Input{Bucket: aws.String(bucket + "-none")}, s3err.NotFound, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lean := listLean(t, ctx, c, tt.in)
			sdk := listSDK(ctx, c, tt.in)
			lean.next, sdk.next = "", ""
			if lean != sdk {
				t.Errorf("lean %+v\n sdk %+v", lean, sdk)
			}
			if lean.code != tt.want || strings.Count(lean.objects, "\n") < tt.objects {
				t.Errorf("code %v, want %v; %d objects, want at least %d", lean.code, tt.want,
					strings.Count(lean.objects, "\n"), tt.objects)
			}
		})
	}
	t.Run("paging", func(t *testing.T) {
		page := func(list func(*s3.ListObjectsV2Input) listResult) (all string, pages int) {
			i := in("lst/", func(i *s3.ListObjectsV2Input) { i.MaxKeys = aws.Int32(2) })
			for {
				r := list(i)
				if r.code != s3err.OK {
					t.Fatalf("page %d: %+v", pages, r)
				}
				all += r.objects
				pages++
				if !r.truncated {
					return all, pages
				}
				i.ContinuationToken = aws.String(r.next)
			}
		}
		lean, lp := page(func(i *s3.ListObjectsV2Input) listResult { return listLean(t, ctx, c, i) })
		sdk, sp := page(func(i *s3.ListObjectsV2Input) listResult { return listSDK(ctx, c, i) })
		if lean != sdk || lp != sp || lp < len(keys)/2 {
			t.Errorf("lean %d pages:\n%s\nsdk %d pages:\n%s", lp, lean, sp, sdk)
		}
	})
}

// TestListerErrorsAgainstServer: refused credentials are PermissionErrors
// on the lean path, with no secret in the message.
func TestListerErrorsAgainstServer(t *testing.T) {
	ctx := context.Background()
	o := srv.Options()
	o.Retries = 1
	o.Secret = "definitely-wrong-secret"
	c, err := s3client.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	handled, err := c.List.ListObjectsV2Raw(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}, &body)
	if !handled || s3err.Classify(err) != s3err.Permission {
		t.Fatalf("handled %v, err %v (class %v), want a permission error", handled, err, s3err.Classify(err))
	}
	if strings.Contains(err.Error(), "definitely-wrong-secret") || !strings.Contains(err.Error(), "ListObjectsV2") {
		t.Fatalf("message %q: holds the secret or does not name the operation", err)
	}
}

// TestListerRequests: a lean LIST asks for what the SDK would (same path
// and query), signed, with requester-pays; server errors, throttling and
// bodies cut short are retried as the SDK's retryer decides, client errors
// are not.
func TestListerRequests(t *testing.T) {
	tests := []struct {
		name       string
		failures   int    // answers that fail before the page
		status     int    // failure status; 0: a 200 whose body is cut short
		code       string // failure S3 code
		wantTries  int32
		wantErr    s3err.Code
		wantAPI    string
		wantStatus int
	}{
		{"ok", 0, 0, "", 1, s3err.OK, "", 0},
		{"503 then ok", 2, 503, "SlowDown", 3, s3err.OK, "", 0},
		{"body cut short then ok", 1, 0, "", 2, s3err.OK, "", 0},
		{"500 exhausts retries", 9, 500, "InternalError", 3, s3err.IO, "InternalError", 500},
		{"403 not retried", 9, 403, "AccessDenied", 1, s3err.Permission, "AccessDenied", 403},
		{"404 not retried", 9, 404, "NoSuchBucket", 1, s3err.NotFound, "NoSuchBucket", 404},
		{"oversized body not retried", 9, 200, "", 1, s3err.Corrupt, "", 0},
	}
	const page = `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>` +
		`<IsTruncated>false</IsTruncated><Contents><Key>d/a%20b/k</Key><Size>3</Size></Contents></ListBucketResult>`
	in := &s3.ListObjectsV2Input{Bucket: aws.String("b"), Prefix: aws.String("d/a b+=&/"),
		StartAfter: aws.String("d/a b+=&/ü?x"), ContinuationToken: aws.String("tok/+=="), Delimiter: aws.String("/"),
		EncodingType: types.EncodingTypeUrl, MaxKeys: aws.Int32(1000)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			var mu sync.Mutex
			var seen []string // path ? decoded query | payer, per request
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := tries.Add(1)
				mu.Lock()
				seen = append(seen, r.URL.EscapedPath()+"?"+r.URL.Query().Encode()+"|"+r.Header.Get("X-Amz-Request-Payer"))
				mu.Unlock()
				if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=k/") {
					w.WriteHeader(400)
					return
				}
				if int(n) <= tt.failures {
					if tt.status == 200 { // a body over the (lowered) limit
						io.WriteString(w, page+strings.Repeat(" ", 1000))
						return
					}
					if tt.status == 0 {
						w.Header().Set("Content-Length", fmt.Sprint(len(page)))
						io.WriteString(w, page[:len(page)/2])
						return // the server closes the connection: the client sees the body end early
					}
					w.WriteHeader(tt.status)
					io.WriteString(w, "<Error><Code>"+tt.code+"</Code><Message>m</Message></Error>")
					return
				}
				io.WriteString(w, page)
			}))
			defer ts.Close()
			c, err := s3client.New(context.Background(), s3client.Options{
				EndpointURL: ts.URL, Key: "k", Secret: "s", Retries: 3, RequesterPays: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s3client.SetMaxListBody(int64(len(page) + 100))()
			var body bytes.Buffer
			handled, err := c.List.ListObjectsV2Raw(context.Background(), in, &body)
			if !handled {
				t.Fatal("not handled by the lean path")
			}
			if got := tries.Load(); got != tt.wantTries {
				t.Errorf("%d requests, want %d", got, tt.wantTries)
			}
			if !checkOpError(t, err, "ListObjectsV2", tt.wantErr, tt.wantAPI, tt.wantStatus) && body.String() != page {
				t.Errorf("body %q, want the page", body.String())
			}
			// The SDK's request for the same input, to the same server.
			tries.Store(1 << 20) // answer it at once
			if _, err := c.S3.ListObjectsV2(context.Background(), in); err != nil {
				t.Fatalf("sdk: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			lean, sdk := seen[0], seen[len(seen)-1]
			if lean != sdk || !strings.HasSuffix(lean, "|requester") {
				t.Errorf("lean request %q\n sdk request %q", lean, sdk)
			}
		})
	}
}

// TestListerEndpoints: where lean LISTs go on AWS (resolved by the SDK's
// own rules, no network), and which stay on the SDK.
func TestListerEndpoints(t *testing.T) {
	list := func(bucket string, f func(*s3.ListObjectsV2Input)) *s3.ListObjectsV2Input {
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("a b/"), MaxKeys: aws.Int32(1000)}
		if f != nil {
			f(in)
		}
		return in
	}
	tests := []struct {
		name string
		opt  s3client.Options
		env  string // S3TURBO_SDK_LIST
		in   *s3.ListObjectsV2Input
		want string // "" → the SDK path
	}{
		{"virtual host", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "", list("my-bucket", nil),
			"https://my-bucket.s3.us-west-2.amazonaws.com/?list-type=2&max-keys=1000&prefix=a%20b%2F s3/us-west-2"},
		{"path style", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s", PathStyle: aws.Bool(true)}, "",
			list("my-bucket", nil), "https://s3.us-west-2.amazonaws.com/my-bucket?list-type=2&max-keys=1000&prefix=a%20b%2F s3/us-west-2"},
		{"custom endpoint", s3client.Options{EndpointURL: "http://127.0.0.1:9/base/", Key: "k", Secret: "s"}, "",
			list("b", nil), "http://127.0.0.1:9/base/b?list-type=2&max-keys=1000&prefix=a%20b%2F s3/us-east-1"},
		{"fetch-owner", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "",
			list("my-bucket", func(in *s3.ListObjectsV2Input) { in.FetchOwner = aws.Bool(true) }), ""},
		{"access point ARN", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "",
			list("arn:aws:s3:us-west-2:123456789012:accesspoint/ap", nil), ""},
		{"express bucket", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "", list("b--usw2-az1--x-s3", nil), ""},
		{"S3TURBO_SDK_LIST=1", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "1", list("my-bucket", nil), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("S3TURBO_SDK_LIST", tt.env)
			c, err := s3client.New(context.Background(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.List.ListURLFor(context.Background(), tt.in); got != tt.want {
				t.Errorf("endpoint %q, want %q", got, tt.want)
			}
			if tt.want == "" {
				var body bytes.Buffer
				if handled, _ := c.List.ListObjectsV2Raw(context.Background(), tt.in, &body); handled {
					t.Error("handled by the lean path")
				}
			}
		})
	}
}
