package testserver

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

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
	// Fault, when not nil, is asked about every request (before it is
	// forwarded) and may make the proxy answer it badly (see Fault). It is
	// called concurrently; a test wanting one fault counts for itself.
	Fault func(r *http.Request) Fault
}

// Fault is a way the proxy answers a request badly, as a network or an
// overloaded server may.
type Fault int

// Faults a Quirks.Fault may choose.
const (
	// NoFault forwards the request as usual.
	NoFault Fault = iota
	// Status500 answers 500 InternalError without forwarding the request.
	Status500
	// Reset forwards the request, sends the answer's headers and half
	// its body, then resets the connection (TCP RST).
	Reset
	// Truncate forwards the request, sends the answer's headers (with
	// their full Content-Length) and half its body, then closes the
	// connection cleanly: the body ends short.
	Truncate
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
// connection as f says (Reset or Truncate).
func breakBody(w http.ResponseWriter, resp *http.Response, f Fault) {
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
	if tc, ok := conn.(*net.TCPConn); ok && f == Reset {
		_ = tc.SetLinger(0) // Close sends RST
	}
	_ = conn.Close()
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
	ps := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q.refuseRegion(w, r) {
			return
		}
		fault := NoFault
		if q.Fault != nil {
			fault = q.Fault(r)
		}
		if fault == Status500 {
			internalError(w, r)
			return
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
		if fault == Reset || fault == Truncate {
			breakBody(w, resp, fault)
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
		_, _ = io.Copy(w, resp.Body)
		if q.ExtraByte && r.Method == http.MethodGet && resp.StatusCode/100 == 2 {
			_, _ = w.Write([]byte{'!'})
		}
	}))
	t.Cleanup(ps.Close)
	opt := s.Options()
	opt.EndpointURL = ps.URL
	return opt
}
