// Package s3err classifies errors from the engines and the S3 SDK into a
// small set of stable codes that the C ABI hands to Python, where they become
// FileNotFoundError, PermissionError, ValueError and friends.
package s3err

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Code is a stable error class shared with the Python side.
type Code int32

// Error codes. The numbers are part of the C ABI: never renumber.
const (
	OK         Code = 0
	NotFound   Code = 1
	Permission Code = 2
	Exists     Code = 3
	Invalid    Code = 4
	Timeout    Code = 5
	Connection Code = 6
	Cancelled  Code = 7
	IO         Code = 8
	Internal   Code = 9
	Corrupt    Code = 10
	Changed    Code = 11
	IsDir      Code = 12 // a file operation on a directory (IsADirectoryError)
)

// Sentinel errors engines wrap so that Classify finds the right code.
var (
	ErrNotFound   = errors.New("not found")
	ErrPermission = errors.New("permission denied")
	ErrExists     = errors.New("already exists")
	ErrInvalid    = errors.New("invalid argument")
	ErrCorrupt    = errors.New("corrupt data")
	ErrChanged    = errors.New("object changed during read")
	ErrInternal   = errors.New("internal error")
	// ErrNoCredentials marks a failure to obtain credentials at all (none
	// configured, an expired SSO session, a credential_process that
	// fails): a Permission error, as boto3's NoCredentialsError is about
	// access, not I/O.
	ErrNoCredentials = fmt.Errorf("no usable AWS credentials: %w", ErrPermission)
	// ErrConfig marks an AWS configuration that cannot be loaded (a
	// profile that does not exist, a malformed config file): Invalid.
	ErrConfig = fmt.Errorf("AWS configuration: %w", ErrInvalid)
)

var apiCodes = map[string]Code{
	"NoSuchKey":               NotFound,
	"NoSuchBucket":            NotFound,
	"NotFound":                NotFound,
	"NoSuchUpload":            NotFound,
	"AccessDenied":            Permission,
	"Forbidden":               Permission,
	"InvalidAccessKeyId":      Permission,
	"XAdminUserNotFound":      Permission, // versitygw's answer to an unknown access key
	"SignatureDoesNotMatch":   Permission,
	"AllAccessDisabled":       Permission,
	"ExpiredToken":            Permission,
	"InvalidToken":            Permission,
	"BucketAlreadyExists":     Exists,
	"BucketAlreadyOwnedByYou": Exists,
	"InvalidBucketName":       Invalid,
	"InvalidArgument":         Invalid,
	"KeyTooLongError":         Invalid,
	"InvalidRange":            Invalid,
	"PreconditionFailed":      Changed,
	"RequestTimeout":          Timeout,
}

// Mark returns err classified as mark (a sentinel above) as well, its
// message unchanged.
func Mark(err, mark error) error {
	if err == nil {
		return nil
	}
	return marked{err, mark}
}

type marked struct{ err, mark error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.err, m.mark} }

// Classify maps an error to its Code. nil → OK.
func Classify(err error) Code {
	if err == nil {
		return OK
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Cancelled
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, ErrNotFound), errors.Is(err, os.ErrNotExist):
		return NotFound
	case errors.Is(err, ErrPermission), errors.Is(err, os.ErrPermission):
		return Permission
	case errors.Is(err, ErrExists), errors.Is(err, os.ErrExist):
		return Exists
	case errors.Is(err, syscall.EISDIR):
		return IsDir
	case errors.Is(err, ErrInvalid):
		return Invalid
	case errors.Is(err, ErrCorrupt):
		return Corrupt
	case errors.Is(err, ErrChanged):
		return Changed
	case errors.Is(err, ErrInternal):
		return Internal
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		if c, ok := apiCodes[apiErr.ErrorCode()]; ok {
			return c
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		switch respErr.HTTPStatusCode() {
		case http.StatusNotFound:
			return NotFound
		case http.StatusForbidden, http.StatusUnauthorized:
			return Permission
		case http.StatusPreconditionFailed:
			return Changed
		case http.StatusRequestedRangeNotSatisfiable, http.StatusBadRequest:
			return Invalid
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return Timeout
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var sendErr *smithyhttp.RequestSendError
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &sendErr) || errors.As(err, &certErr) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		// (A request that could not be sent: refused, reset, closed by the
		// server before answering, or a certificate not trusted.)
		return Connection
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return IO
	}
	return IO
}

// Transient reports an error of a body read or a request that another
// attempt may not meet: a failed or timed-out read, a reset or refused
// connection. The caller's own cancellation or deadline is not transient,
// nor is anything Classify gives another class (a missing object, corrupt
// data, a changed object).
func Transient(err error) bool {
	switch Classify(err) {
	case IO, Connection, Timeout:
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	return false
}

// errnoShift is where Status puts an errno above the Code's bits.
const errnoShift = 8

// maxErrno bounds the errnos Status carries (Linux's are below 4096).
const maxErrno = 1 << 20

// Errno returns the operating system's error number carried by err (a
// local file's ENOSPC, a refused connection's ECONNREFUSED), or 0.
func Errno(err error) int {
	var e syscall.Errno
	if errors.As(err, &e) && e > 0 && e < maxErrno {
		return int(e)
	}
	return 0
}

// Status is the status the C ABI hands over for err: its Code in the low
// 8 bits and, when err carries one, its errno above them (Python raises
// OSError subclasses with that errno, as its own I/O does). nil is OK, and
// an error Classify calls OK (none) is IO.
func Status(err error) int32 {
	if err == nil {
		return int32(OK)
	}
	code := Classify(err)
	if code == OK {
		code = IO
	}
	return int32(code) | int32(Errno(err))<<errnoShift
}

// APICode returns the S3 error code string (e.g. "NoSuchKey") carried by
// err, or "" when err did not come from an S3 response.
func APICode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
