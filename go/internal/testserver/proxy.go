package testserver

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
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
