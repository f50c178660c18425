package s3client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/aws/smithy-go"
)

// TestTruncatedResponse: a body cut short while the SDK decodes it is
// retried whether Go's transport reports an unexpected EOF or a read on
// the connection it closed; other decoding failures and bare connection
// errors are left to the SDK's own retryer.
func TestTruncatedResponse(t *testing.T) {
	closed := &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unexpected EOF while decoding", &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", io.ErrUnexpectedEOF)}, true},
		{"closed connection while decoding", &smithy.DeserializationError{Err: fmt.Errorf("failed to decode response body, %w", closed)}, true},
		{"bad XML while decoding", &smithy.DeserializationError{Err: errors.New("XML syntax error")}, false},
		{"closed connection, not while decoding", closed, false},
		{"unexpected EOF, not while decoding", io.ErrUnexpectedEOF, false},
	} {
		if got := truncatedResponse(tc.err); got != tc.want {
			t.Errorf("%s: truncatedResponse = %v, want %v", tc.name, got, tc.want)
		}
	}
}
