package testserver

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/s3turbo/s3turbo/go/s3client"
)

// Quirks are ways a server (or a gateway in front of it) may answer
// differently from S3 itself.
type Quirks struct {
	// Chunked sends GET bodies without a Content-Length (Transfer-Encoding:
	// chunked), as some gateways and proxies do.
	Chunked bool
	// ExtraByte sends one byte more than each GET's body (with Chunked:
	// past what Content-Range says).
	ExtraByte bool
	// Suffix416 answers a suffix range (bytes=-k) longer than the object
	// with 416, as gofakes3 does; S3 sends the whole object.
	Suffix416 bool
	// EmptyRange, when set, answers a ranged GET of an empty object (one
	// the server answers with 416, or with no bytes) with 206 and this
	// Content-Range, where S3 sends 416: MinIO sends "bytes 0--1/0" to a
	// suffix range, s3rver "bytes 0-0/0" with a Content-Length of 1 and
	// no body (sent as such here). Only for tests whose ranges start
	// inside their objects: a 416 past a longer object's end would be
	// mistaken for an empty one.
	EmptyRange string
	// Region, when set, is the only region requests may be signed for:
	// others are refused as S3 refuses them (a HEAD with 400, no body and
	// x-amz-bucket-region; other requests as RegionAnswer says).
	Region string
	// RegionAnswer is how a request signed for another region is refused:
	// "" or "body": 400 AuthorizationHeaderMalformed naming the region in
	// <Region> (S3's global endpoint); "header": 301 PermanentRedirect with
	// x-amz-bucket-region (a regional endpoint); "none": 400
	// AuthorizationHeaderMalformed naming no region (only a HEAD tells).
	RegionAnswer string
	// Refused, when not nil, counts the requests refused for their region.
	Refused *atomic.Int64
	// Answer, when not nil, is asked about every request (before it is
	// forwarded) and may make the proxy answer it badly (see Answer). It is
	// called concurrently; a test wanting one bad answer counts for itself.
	Answer func(r *http.Request) Answer
	// Fault, when not nil, spoils GET bodies as it says.
	Fault *Fault
	// OnGet, when not nil, is called with the number of each GET (1 for
	// the first) before the proxy forwards it: a test can replace the
	// object between two requests.
	OnGet func(n int64)
	// Gets and GetBytes, when not nil, count the GET requests and the
	// body bytes the proxy sent for them.
	Gets, GetBytes *atomic.Int64
}

// Answer is how the proxy answers a request (Quirks.Answer): forwarded, or
// badly, as a network or an overloaded server may.
type Answer int

// Answers a Quirks.Answer may choose.
const (
	// Forward forwards the request as usual.
	Forward Answer = iota
	// Answer500 answers 500 InternalError without forwarding the request.
	Answer500
	// AnswerReset forwards the request, sends the answer's headers and
	// half its body, then resets the connection (TCP RST).
	AnswerReset
	// AnswerTruncated forwards the request, sends the answer's headers
	// (with their full Content-Length) and half its body, then closes the
	// connection cleanly: the body ends short.
	AnswerTruncated
)

// internalError answers r with S3's 500 InternalError.
func internalError(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusInternalServerError)
	_, _ = io.WriteString(w, "<Error><Code>InternalError</Code><Message>We encountered an internal error. "+
		"Please try again.</Message></Error>")
}

// breakBody sends resp's headers and half its body to w, then ends the
// connection as a says (AnswerReset or AnswerTruncated).
func breakBody(w http.ResponseWriter, resp *http.Response, a Answer) {
	body, _ := io.ReadAll(resp.Body)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body[:len(body)/2])
	w.(http.Flusher).Flush()
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection anyway
	}
	if tc, ok := conn.(*net.TCPConn); ok && a == AnswerReset {
		_ = tc.SetLinger(0) // Close sends RST
	}
	_ = conn.Close()
}

// FaultKind is how a GET body goes wrong.
type FaultKind string

// Fault kinds.
const (
	// FaultReset closes the connection with a TCP reset.
	FaultReset FaultKind = "reset"
	// FaultTruncate closes the connection cleanly: the body ends short
	// of its Content-Length.
	FaultTruncate FaultKind = "truncate"
	// FaultStall sends nothing more until the client gives up (at most
	// a minute).
	FaultStall FaultKind = "stall"
)

// Fault spoils GET bodies: once After bytes of a body were sent, while
// Left is above zero (it counts down), the body fails as Kind says.
// Bodies of at most After bytes are never spoiled.
type Fault struct {
	Kind  FaultKind
	After int64
	Left  atomic.Int64
}

// take reports whether one more body is to be spoiled.
func (f *Fault) take() bool {
	for {
		n := f.Left.Load()
		if n <= 0 {
			return false
		}
		if f.Left.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// spoil fails the response on w (After bytes sent) as f.Kind says.
func (f *Fault) spoil(w http.ResponseWriter, r *http.Request) {
	w.(http.Flusher).Flush()
	if f.Kind == FaultStall {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		return // short of the Content-Length: the server closes the connection
	}
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && f.Kind == FaultReset {
		_ = tc.SetLinger(0) // close sends RST
	}
	_ = conn.Close()
}

// countingWriter counts what it passes on.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// refuseRegion answers r as S3 answers a request signed for another
// region than q.Region, and reports whether it did.
func (q Quirks) refuseRegion(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	if q.Region == "" || !ok {
		return false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) >= 5 && parts[len(parts)-3] == q.Region {
		return false
	}
	if q.Refused != nil {
		q.Refused.Add(1)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	if r.Method == http.MethodHead {
		w.Header().Set("X-Amz-Bucket-Region", q.Region)
		w.WriteHeader(http.StatusBadRequest)
		return true
	}
	w.Header().Set("Content-Type", "application/xml")
	switch q.RegionAnswer {
	case "header":
		w.Header().Set("X-Amz-Bucket-Region", q.Region)
		w.WriteHeader(http.StatusMovedPermanently)
		_, _ = io.WriteString(w, "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access "+
			"must be addressed using the specified endpoint.</Message></Error>")
	case "none":
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header "+
			"is malformed.</Message></Error>")
	default:
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "<Error><Code>AuthorizationHeaderMalformed</Code><Message>The authorization header "+
			"is malformed; the region is wrong; expecting '"+q.Region+"'</Message><Region>"+q.Region+"</Region></Error>")
	}
	return true
}

// Proxy serves s through a proxy on a loopback port with the given quirks
// (stopped at the end of the test) and returns client options for it.
func (s *Server) Proxy(t testing.TB, q Quirks) s3client.Options {
	t.Helper()
	target, err := url.Parse(s.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var gets atomic.Int64
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q.refuseRegion(w, r) {
			return
		}
		answer := Forward
		if q.Answer != nil {
			answer = q.Answer(r)
		}
		if answer == Answer500 {
			internalError(w, r)
			return
		}
		if r.Method == http.MethodGet {
			n := gets.Add(1)
			if q.Gets != nil {
				q.Gets.Add(1)
			}
			if q.OnGet != nil {
				q.OnGet(n)
			}
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
		// r.Host (the proxy's address) stays the Host header: the request
		// was signed for it.
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		if answer == AnswerReset || answer == AnswerTruncated {
			breakBody(w, resp, answer)
			return
		}
		if q.EmptyRange != "" && r.Method == http.MethodGet && r.Header.Get("Range") != "" &&
			(resp.StatusCode == http.StatusRequestedRangeNotSatisfiable || resp.StatusCode/100 == 2 && resp.ContentLength == 0) {
			w.Header().Set("Content-Range", q.EmptyRange)
			if etag := resp.Header.Get("ETag"); etag != "" {
				w.Header().Set("ETag", etag)
			}
			if strings.HasPrefix(q.EmptyRange, "bytes 0-0/") {
				w.Header().Set("Content-Length", "1") // and no body: the handler's connection is dropped
			} else {
				w.Header().Set("Content-Length", "0")
			}
			w.WriteHeader(http.StatusPartialContent)
			return
		}
		if rng := r.Header.Get("Range"); q.Suffix416 && resp.StatusCode == http.StatusPartialContent && strings.HasPrefix(rng, "bytes=-") {
			k, _ := strconv.ParseInt(strings.TrimPrefix(rng, "bytes=-"), 10, 64)
			cr := resp.Header.Get("Content-Range")
			total, _ := strconv.ParseInt(cr[strings.LastIndexByte(cr, '/')+1:], 10, 64)
			if k > total {
				w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
				return
			}
		}
		chunked := q.Chunked && r.Method == http.MethodGet
		for k, v := range resp.Header {
			if chunked && k == "Content-Length" {
				continue
			}
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		if chunked {
			w.(http.Flusher).Flush() // no length can be set after this: chunked
		}
		var body io.Writer = w
		if q.GetBytes != nil && r.Method == http.MethodGet {
			body = countingWriter{w, q.GetBytes}
		}
		var src io.Reader = resp.Body
		if f := q.Fault; f != nil && r.Method == http.MethodGet && resp.StatusCode/100 == 2 {
			if _, err := io.CopyN(body, resp.Body, f.After); err != nil {
				return
			}
			br := bufio.NewReader(resp.Body)
			if _, err := br.Peek(1); err == nil && f.take() { // more to come: spoil it
				f.spoil(w, r)
				return
			}
			src = br
		}
		_, _ = io.Copy(body, src)
		if q.ExtraByte && r.Method == http.MethodGet && resp.StatusCode/100 == 2 {
			_, _ = w.Write([]byte{'!'})
		}
	}))
	t.Cleanup(ps.Close)
	opt := s.Options()
	opt.EndpointURL = ps.URL
	return opt
}
