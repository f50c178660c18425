package s3client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// failure is how a request failed, comparable between the lean path and
// the SDK: the error's class, S3 code and HTTP status (zero on success).
type failure struct {
	code   s3err.Code
	api    string
	status int
}

func failureOf(err error) failure {
	f := failure{code: s3err.Classify(err), api: s3err.APICode(err)}
	var se interface{ HTTPStatusCode() int }
	if errors.As(err, &se) {
		f.status = se.HTTPStatusCode()
	}
	return f
}

// getResult is what a GetObject call produced, comparable between the lean
// path and the SDK.
type getResult struct {
	body   string
	clen   int64
	crange string
	etag   string
	failure
}

func getOnce(ctx context.Context, api interface {
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}, in *s3.GetObjectInput) getResult {
	out, err := api.GetObject(ctx, in)
	if err != nil {
		return getResult{failure: failureOf(err)}
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return getResult{body: string(b), clen: aws.ToInt64(out.ContentLength), crange: aws.ToString(out.ContentRange),
		etag: aws.ToString(out.ETag)}
}

// checkOpError checks a lean request's outcome: err's class, and for an
// error its S3 code, HTTP status (none when both are zero) and the
// operation its message names, as the SDK's would be. It reports whether err is an error.
func checkOpError(t *testing.T, err error, op string, class s3err.Code, api string, status int) bool {
	t.Helper()
	if s3err.Classify(err) != class {
		t.Fatalf("err %v (class %v), want class %v", err, s3err.Classify(err), class)
	}
	if err == nil {
		return false
	}
	var se interface{ HTTPStatusCode() int }
	if api == "" && status == 0 { // not an HTTP error response
		if errors.As(err, &se) {
			t.Errorf("err %v: has HTTP status %d", err, se.HTTPStatusCode())
		}
	} else if s3err.APICode(err) != api || !errors.As(err, &se) || se.HTTPStatusCode() != status {
		t.Errorf("err %v: want API code %q, status %d", err, api, status)
	}
	if !strings.Contains(err.Error(), op) {
		t.Errorf("err %q does not name the operation %s", err, op)
	}
	return true
}

// TestGetterMatchesSDK: every GET the engine sends, answered through the
// lean path and through the SDK, gives the same bytes, headers and errors.
func TestGetterMatchesSDK(t *testing.T) {
	ctx := context.Background()
	c, err := srv.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Get.LeanFor(ctx, bucket) {
		t.Fatal("the lean path is not used for a path-style custom endpoint")
	}
	keys := []string{"plain", "dir/a b", "dir/uni-ü€", "dir/sym+=&;,:@$!'()*", "dir/q?x=1", "dir/h#1", "dir/t~_-.x", "dir/pct%20x"}
	etags := map[string]string{}
	for i, k := range keys {
		body := strings.Repeat(string(rune('a'+i)), 10+i)
		out, err := c.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(body)})
		if err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
		etags[k] = aws.ToString(out.ETag)
	}
	type tc struct {
		name string
		in   *s3.GetObjectInput
		want s3err.Code
	}
	var tests []tc
	for _, k := range keys {
		tests = append(tests, tc{"whole " + k, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}, s3err.OK})
	}
	in := func(key string, f func(*s3.GetObjectInput)) *s3.GetObjectInput {
		i := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
		f(i)
		return i
	}
	tests = append(tests,
		tc{"range", in("plain", func(i *s3.GetObjectInput) { i.Range = aws.String("bytes=2-5") }), s3err.OK},
		tc{"suffix range", in("dir/a b", func(i *s3.GetObjectInput) { i.Range = aws.String("bytes=-3") }), s3err.OK},
		tc{"range past end", in("plain", func(i *s3.GetObjectInput) { i.Range = aws.String("bytes=100-200") }), s3err.Invalid},
		tc{"if-match ok", in("plain", func(i *s3.GetObjectInput) { i.IfMatch = aws.String(etags["plain"]) }), s3err.OK},
		tc{"if-match stale", in("plain", func(i *s3.GetObjectInput) { i.IfMatch = aws.String(`"0123"`) }), s3err.Changed},
		tc{"missing key", in("no/such/key", func(*s3.GetObjectInput) {}), s3err.NotFound},
		tc{"missing bucket", &s3.GetObjectInput{Bucket: aws.String(bucket + "-none"), Key: aws.String("k")}, s3err.NotFound},
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lean := getOnce(ctx, c.Get, tt.in)
			sdk := getOnce(ctx, c.S3, tt.in)
			if lean != sdk {
				t.Errorf("lean %+v\n sdk %+v", lean, sdk)
			}
			if lean.code != tt.want {
				t.Errorf("code %v, want %v (%+v)", lean.code, tt.want, lean)
			}
		})
	}
}

// TestGetterErrorsAgainstServer: credentials the server refuses, and an
// anonymous client, are PermissionErrors on both paths, with no secret in
// the message.
func TestGetterErrorsAgainstServer(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opt  func(o *s3client.Options)
	}{
		{"wrong secret", func(o *s3client.Options) { o.Secret = "definitely-wrong-secret" }},
		{"anonymous", func(o *s3client.Options) { o.Anon = true; o.Key, o.Secret = "", "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := srv.Options()
			o.Retries = 1
			tt.opt(&o)
			c, err := s3client.New(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("plain")}
			_, err = c.Get.GetObject(ctx, in)
			if s3err.Classify(err) != s3err.Permission {
				t.Fatalf("lean: %v (class %v), want a permission error", err, s3err.Classify(err))
			}
			if strings.Contains(err.Error(), "definitely-wrong-secret") {
				t.Fatalf("secret in message: %v", err)
			}
			if _, sdkErr := c.S3.GetObject(ctx, in); s3err.Classify(sdkErr) != s3err.Permission {
				t.Fatalf("sdk: %v", sdkErr)
			}
		})
	}
}

// TestGetterRetries: server errors and throttling are retried by the SDK's
// retryer (same attempts), client errors are not.
func TestGetterRetries(t *testing.T) {
	tests := []struct {
		name       string
		failures   int    // answers with status before the object
		status     int    // failure status
		code       string // failure S3 code
		retries    int
		wantTries  int32
		wantErr    s3err.Code
		wantAPI    string
		wantStatus int
	}{
		{"503 then ok", 2, 503, "SlowDown", 3, 3, s3err.OK, "", 0},
		{"500 exhausts retries", 9, 500, "InternalError", 3, 3, s3err.IO, "InternalError", 500},
		{"403 not retried", 9, 403, "AccessDenied", 3, 1, s3err.Permission, "AccessDenied", 403},
		{"404 bare body", 9, 404, "", 3, 1, s3err.NotFound, "NotFound", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tries atomic.Int32
			var payer atomic.Value
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := tries.Add(1)
				payer.Store(r.Header.Get("X-Amz-Request-Payer") + "|" + r.URL.EscapedPath() + "|" + r.Header.Get("Range"))
				if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=k/") {
					w.WriteHeader(400)
					return
				}
				if int(n) <= tt.failures {
					w.WriteHeader(tt.status)
					if tt.code != "" {
						io.WriteString(w, "<Error><Code>"+tt.code+"</Code><Message>m</Message></Error>")
					}
					return
				}
				w.Header().Set("ETag", `"e"`)
				w.Header().Set("Content-Range", "bytes 0-4/10")
				w.WriteHeader(206)
				io.WriteString(w, "hello")
			}))
			defer ts.Close()
			c, err := s3client.New(context.Background(), s3client.Options{
				EndpointURL: ts.URL, Key: "k", Secret: "s", Retries: tt.retries, RequesterPays: true})
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.Get.GetObject(context.Background(), &s3.GetObjectInput{
				Bucket: aws.String("b"), Key: aws.String("d/x y"), Range: aws.String("bytes=0-4")})
			if got := tries.Load(); got != tt.wantTries {
				t.Errorf("%d requests, want %d", got, tt.wantTries)
			}
			if got := payer.Load().(string); got != "requester|/b/d/x%20y|bytes=0-4" {
				t.Errorf("request payer|path|range = %q", got)
			}
			if checkOpError(t, err, "GetObject", tt.wantErr, tt.wantAPI, tt.wantStatus) {
				return
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(b, []byte("hello")) || aws.ToString(out.ContentRange) != "bytes 0-4/10" ||
				aws.ToString(out.ETag) != `"e"` || aws.ToInt64(out.ContentLength) != 5 {
				t.Errorf("got %q %v %v %v", b, aws.ToString(out.ContentRange), aws.ToString(out.ETag), aws.ToInt64(out.ContentLength))
			}
		})
	}
}

// TestGetterEndpoints: where lean GETs go on AWS (resolved by the SDK's own
// rules, no network), and which buckets stay on the SDK.
func TestGetterEndpoints(t *testing.T) {
	tests := []struct {
		name   string
		opt    s3client.Options
		bucket string
		want   string // "" → the SDK path
	}{
		{"virtual host", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "my-bucket",
			"https://my-bucket.s3.us-west-2.amazonaws.com/d/a%20b s3/us-west-2"},
		{"dotted bucket", s3client.Options{Region: "eu-west-1", Key: "k", Secret: "s"}, "my.bucket",
			"https://s3.eu-west-1.amazonaws.com/my.bucket/d/a%20b s3/eu-west-1"},
		{"path style", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s", PathStyle: aws.Bool(true)}, "my-bucket",
			"https://s3.us-west-2.amazonaws.com/my-bucket/d/a%20b s3/us-west-2"},
		{"custom endpoint", s3client.Options{EndpointURL: "http://127.0.0.1:9/base/", Key: "k", Secret: "s"}, "b",
			"http://127.0.0.1:9/base/b/d/a%20b s3/us-east-1"},
		{"access point ARN", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"},
			"arn:aws:s3:us-west-2:123456789012:accesspoint/ap", ""},
		{"express bucket", s3client.Options{Region: "us-west-2", Key: "k", Secret: "s"}, "b--usw2-az1--x-s3", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s3client.New(context.Background(), tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := c.Get.EndpointFor(context.Background(), tt.bucket, "d/a b")
			if got != tt.want {
				t.Errorf("endpoint %q, want %q", got, tt.want)
			}
		})
	}
}
