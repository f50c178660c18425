package s3client

import (
	"io"
	"net/http"
	"sync"
)

// closingTransport counts the exchanges in flight on a transport, from the
// request to the end of its response body, so that a client closed while
// calls still run drops their connections when the last of them ends.
// Without it, Close drops only the connections idle at that moment: those
// of a batch still running on another thread go back to the idle pool
// afterwards and stay open, client and server side, for IdleConnTimeout;
// a program that closes clients while using them runs the server out of
// file descriptors.
type closingTransport struct {
	*http.Transport

	mu     sync.Mutex
	active int
	closed bool
}

// RoundTrip sends req on the transport, counting it until its response
// body is closed or read to its end.
func (t *closingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.mu.Lock()
	t.active++
	t.mu.Unlock()
	resp, err := t.Transport.RoundTrip(req)
	if err != nil {
		t.end()
		return nil, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		t.end()
		return resp, nil
	}
	resp.Body = &countedBody{ReadCloser: resp.Body, t: t}
	return resp, nil
}

// end ends one exchange; the last to end on a closed client drops the idle
// connections, its own among them. CloseIdleConnections also makes the
// transport close connections that turn idle later (until a new request
// is sent), which covers the one the transport returns to its pool just
// after the body's end.
func (t *closingTransport) end() {
	t.mu.Lock()
	t.active--
	last := t.active == 0 && t.closed
	t.mu.Unlock()
	if last {
		t.Transport.CloseIdleConnections()
	}
}

// close marks the client closed and drops its idle connections.
func (t *closingTransport) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.Transport.CloseIdleConnections()
}

// countedBody ends its exchange once, at EOF, at a read error or at Close.
type countedBody struct {
	io.ReadCloser
	t    *closingTransport
	once sync.Once
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done()
	}
	return n, err
}

func (b *countedBody) Close() error {
	err := b.ReadCloser.Close()
	b.done()
	return err
}

func (b *countedBody) done() { b.once.Do(b.t.end) }
