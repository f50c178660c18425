package s3err

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// sdkError builds an error shaped like the ones the AWS SDK returns for a
// failed S3 operation: OperationError → awshttp.ResponseError (HTTP status)
// → the modeled or generic API error.
func sdkError(status int, apiErr error) error {
	return &smithy.OperationError{
		ServiceID:     "S3",
		OperationName: "GetObject",
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      apiErr,
			},
			RequestID: "req-1",
		},
	}
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: "msg"} }

// timeoutErr is a net.Error that reports a timeout.
type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, OK},

		// Context.
		{"canceled", context.Canceled, Cancelled},
		{"canceled-wrapped", fmt.Errorf("op: %w", context.Canceled), Cancelled},
		{"canceled-in-sdk-error", &smithy.CanceledError{Err: context.Canceled}, Cancelled},
		{"deadline", context.DeadlineExceeded, Timeout},
		{"deadline-wrapped", fmt.Errorf("op: %w", context.DeadlineExceeded), Timeout},
		{"canceled-beats-notfound", errors.Join(context.Canceled, ErrNotFound), Cancelled},
		{"canceled-inside-net-error", &net.OpError{Op: "dial", Err: context.Canceled}, Cancelled},

		// Sentinels, bare and wrapped.
		{"not-found", ErrNotFound, NotFound},
		{"not-found-wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", ErrNotFound)), NotFound},
		{"permission", ErrPermission, Permission},
		{"exists", ErrExists, Exists},
		{"invalid", fmt.Errorf("x: %w", ErrInvalid), Invalid},
		{"corrupt", fmt.Errorf("x: %w", ErrCorrupt), Corrupt},
		{"changed", fmt.Errorf("x: %w", ErrChanged), Changed},
		{"internal", fmt.Errorf("x: %w", ErrInternal), Internal},
		{"joined-sentinel", errors.Join(errors.New("other"), ErrCorrupt), Corrupt},
		{"no-credentials", Mark(&net.OpError{Op: "dial", Err: errors.New("refused")}, ErrNoCredentials), Permission},
		{"no-credentials-cancelled", Mark(fmt.Errorf("imds: %w", context.Canceled), ErrNoCredentials), Cancelled},
		{"config", Mark(errors.New("failed to get shared config profile, x"), ErrConfig), Invalid},
		{"sentinel-beats-api-code", errors.Join(ErrCorrupt, apiErr("NoSuchKey")), Corrupt},

		// os / fs errors.
		{"os-not-exist", os.ErrNotExist, NotFound},
		{"path-error-enoent", &fs.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, NotFound},
		{"path-error-eisdir", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EISDIR}, IsDir},
		{"eisdir-wrapped", fmt.Errorf("dest: %w", syscall.EISDIR), IsDir},
		// A request that could not be sent (the server closed the
		// connection before answering: EOF; an untrusted certificate).
		{"send-failed-eof", &smithyhttp.RequestSendError{Err: io.EOF}, Connection},
		{"certificate", fmt.Errorf("get: %w", &tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")}), Connection},
		{"os-permission", os.ErrPermission, Permission},
		{"path-error-eacces", &fs.PathError{Op: "open", Path: "/x", Err: syscall.EACCES}, Permission},
		{"os-exist", os.ErrExist, Exists},
		{"path-error-eexist", &fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.EEXIST}, Exists},

		// S3 API error codes.
		{"api-NoSuchKey", apiErr("NoSuchKey"), NotFound},
		{"api-NoSuchKey-wrapped", fmt.Errorf("get: %w", apiErr("NoSuchKey")), NotFound},
		{"api-NoSuchBucket", apiErr("NoSuchBucket"), NotFound},
		{"api-NotFound", apiErr("NotFound"), NotFound},
		{"api-NoSuchUpload", apiErr("NoSuchUpload"), NotFound},
		{"api-AccessDenied", apiErr("AccessDenied"), Permission},
		{"api-Forbidden", apiErr("Forbidden"), Permission},
		{"api-InvalidAccessKeyId", apiErr("InvalidAccessKeyId"), Permission},
		{"api-SignatureDoesNotMatch", apiErr("SignatureDoesNotMatch"), Permission},
		{"api-ExpiredToken", apiErr("ExpiredToken"), Permission},
		{"api-BucketAlreadyExists", apiErr("BucketAlreadyExists"), Exists},
		{"api-BucketAlreadyOwnedByYou", apiErr("BucketAlreadyOwnedByYou"), Exists},
		{"api-InvalidBucketName", apiErr("InvalidBucketName"), Invalid},
		{"api-InvalidArgument", apiErr("InvalidArgument"), Invalid},
		{"api-KeyTooLongError", apiErr("KeyTooLongError"), Invalid},
		{"api-InvalidRange", apiErr("InvalidRange"), Invalid},
		{"api-PreconditionFailed", apiErr("PreconditionFailed"), Changed},
		{"api-RequestTimeout", apiErr("RequestTimeout"), Timeout},
		{"api-unknown-code", apiErr("SlowDown"), IO},
		{"api-code-case-sensitive", apiErr("nosuchkey"), IO},
		{"modeled-NoSuchKey", &types.NoSuchKey{}, NotFound},
		{"modeled-NoSuchBucket", &types.NoSuchBucket{}, NotFound},
		{"modeled-NotFound", &types.NotFound{}, NotFound},

		// Full SDK-shaped errors: API code first, then HTTP status.
		{"sdk-NoSuchKey-404", sdkError(404, &types.NoSuchKey{}), NotFound},
		{"sdk-AccessDenied-403", sdkError(403, apiErr("AccessDenied")), Permission},
		{"sdk-code-beats-status", sdkError(403, apiErr("NoSuchBucket")), NotFound},
		{"sdk-unknown-code-404", sdkError(404, apiErr("Weird")), NotFound},
		{"sdk-head-404-no-body", sdkError(404, errors.New("not found, StatusCode: 404")), NotFound},
		{"sdk-403-no-body", sdkError(403, errors.New("forbidden")), Permission},
		{"sdk-401", sdkError(401, errors.New("unauthorized")), Permission},
		{"sdk-412", sdkError(412, errors.New("precondition")), Changed},
		{"sdk-416", sdkError(416, errors.New("range")), Invalid},
		{"sdk-400", sdkError(400, errors.New("bad request")), Invalid},
		{"sdk-500", sdkError(500, apiErr("InternalError")), IO},
		{"sdk-503-slowdown", sdkError(503, apiErr("SlowDown")), IO},

		// Network.
		{"net-op-error-refused", dialRefused, Connection},
		{"net-op-error-in-url-error", &url.Error{Op: "Get", URL: "http://x", Err: dialRefused}, Connection},
		{"net-op-error-plain", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("boom")}, Connection},
		{"net-op-error-timeout", &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}, Timeout},
		{"net-deadline", fmt.Errorf("read: %w", os.ErrDeadlineExceeded), Timeout},
		{"url-error-timeout", &url.Error{Op: "Get", URL: "http://x", Err: timeoutErr{}}, Timeout},
		{"dns-error", &net.DNSError{Err: "no such host", Name: "nope.invalid", IsNotFound: true}, Connection},
		{"dns-timeout", &net.DNSError{Err: "timeout", Name: "slow", IsTimeout: true}, Timeout},
		{"econnrefused", syscall.ECONNREFUSED, Connection},
		{"econnreset-wrapped", fmt.Errorf("read: %w", syscall.ECONNRESET), Connection},

		// I/O and fallback.
		{"unexpected-eof", io.ErrUnexpectedEOF, IO},
		{"unexpected-eof-wrapped", fmt.Errorf("body: %w", io.ErrUnexpectedEOF), IO},
		{"eof", io.EOF, IO},
		{"plain", errors.New("something"), IO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.want {
				t.Errorf("Classify(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

// TestCodeValues pins the numeric codes: they are part of the C ABI.
func TestCodeValues(t *testing.T) {
	tests := []struct {
		name string
		code Code
		want int32
	}{
		{"OK", OK, 0}, {"NotFound", NotFound, 1}, {"Permission", Permission, 2},
		{"Exists", Exists, 3}, {"Invalid", Invalid, 4}, {"Timeout", Timeout, 5},
		{"Connection", Connection, 6}, {"Cancelled", Cancelled, 7}, {"IO", IO, 8},
		{"Internal", Internal, 9}, {"Corrupt", Corrupt, 10}, {"Changed", Changed, 11},
		{"IsDir", IsDir, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if int32(tc.code) != tc.want {
				t.Errorf("%s = %d, want %d", tc.name, tc.code, tc.want)
			}
		})
	}
}

func TestAPICode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"plain", errors.New("x"), ""},
		{"sentinel", ErrNotFound, ""},
		{"net", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ""},
		{"generic", apiErr("NoSuchKey"), "NoSuchKey"},
		{"generic-wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", apiErr("AccessDenied"))), "AccessDenied"},
		{"modeled", &types.NoSuchBucket{}, "NoSuchBucket"},
		{"sdk-shaped", sdkError(404, &types.NoSuchKey{}), "NoSuchKey"},
		{"sdk-status-only", sdkError(404, errors.New("no body")), ""},
		{"unknown-code-kept", apiErr("SlowDown"), "SlowDown"},
		{"joined", errors.Join(ErrCorrupt, apiErr("InvalidRange")), "InvalidRange"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := APICode(tc.err); got != tc.want {
				t.Errorf("APICode(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// TestMarkKeepsMessage: a marked error reads as the original.
func TestMarkKeepsMessage(t *testing.T) {
	orig := errors.New("failed to get shared config profile, x")
	if got := Mark(orig, ErrConfig); got.Error() != orig.Error() || !errors.Is(got, orig) {
		t.Errorf("Mark: %q", got)
	}
	if Mark(nil, ErrConfig) != nil {
		t.Error("Mark(nil) is not nil")
	}
}

// TestStatus checks the status handed over the C ABI: the class in the low
// 8 bits and the errno a local or socket error carries above them.
func TestStatus(t *testing.T) {
	full := &os.PathError{Op: "write", Path: "/x/.f.tmp", Err: syscall.ENOSPC}
	tests := []struct {
		name string
		err  error
		want int32
	}{
		{"nil", nil, 0},
		{"plain", errors.New("something"), int32(IO)},
		{"disk full", fmt.Errorf("s3://b/k: writing: %w", full), int32(IO) | int32(syscall.ENOSPC)<<8},
		{"not a directory", &os.PathError{Op: "mkdir", Path: "/f", Err: syscall.ENOTDIR}, int32(IO) | int32(syscall.ENOTDIR)<<8},
		{"missing file", &os.PathError{Op: "open", Path: "/nope", Err: syscall.ENOENT}, int32(NotFound) | int32(syscall.ENOENT)<<8},
		{"denied file", &os.PathError{Op: "open", Path: "/ro", Err: syscall.EACCES}, int32(Permission) | int32(syscall.EACCES)<<8},
		{"refused", &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			int32(Connection) | int32(syscall.ECONNREFUSED)<<8},
		{"sentinel only", fmt.Errorf("k: %w", ErrNotFound), int32(NotFound)},
		{"cancelled", context.Canceled, int32(Cancelled)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Status(tc.err); got != tc.want {
				t.Errorf("Status(%v) = %#x, want %#x", tc.err, got, tc.want)
			}
			if tc.err != nil && Code(Status(tc.err)&0xff) != Classify(tc.err) {
				t.Errorf("Status(%v)'s low bits %d are not Classify's %d", tc.err, Status(tc.err)&0xff, Classify(tc.err))
			}
		})
	}
}

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unexpected-eof", fmt.Errorf("body: %w", io.ErrUnexpectedEOF), true},
		{"reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, true},
		{"read-timeout", &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, true},
		{"cancelled", fmt.Errorf("read: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("read: %w", context.DeadlineExceeded), false},
		{"changed", fmt.Errorf("x: %w", ErrChanged), false},
		{"corrupt", fmt.Errorf("x: %w", ErrCorrupt), false},
		{"not-found", sdkError(http.StatusNotFound, &types.NoSuchKey{}), false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
