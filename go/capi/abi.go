// Command capi is s3turbo's C ABI, built with -buildmode=c-shared and loaded
// by the Python package through cffi. It is the only cgo package: it turns C
// arguments into Go values, keeps clients and running operations behind
// integer handles, and turns results into C-allocated memory that Python
// frees with s3t_free / s3t_table_free. No business logic lives here.
//
// Conventions: every export returns a status (an s3err.Code, 0 on success)
// and, on failure, stores a malloc'd message in *err when err is not NULL.
// Every export recovers from panics.
package main

/*
#include "s3t.h"
*/
import "C"

import (
	"fmt"
	"runtime/debug"
	"unsafe"

	"github.com/s3turbo/s3turbo/go/s3err"
)

func main() {}

// setErr stores a malloc'd copy of msg in *out (if out is not NULL).
func setErr(out **C.char, msg string) {
	if out != nil {
		*out = C.CString(msg)
	}
}

// fail reports err through out and returns its code.
func fail(out **C.char, err error) C.int32_t {
	setErr(out, err.Error())
	return C.int32_t(s3err.Status(err))
}

// guard converts a panic in an export into an Internal status.
func guard(status *C.int32_t, out **C.char) {
	if r := recover(); r != nil {
		*status = C.int32_t(s3err.Internal)
		setErr(out, fmt.Sprintf("internal error (please report): %v\n%s", r, debug.Stack()))
	}
}

// goBytes views C memory as a Go slice without copying.
func goBytes(p *C.char, n C.int64_t) []byte {
	if p == nil || n <= 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// goString copies n bytes of C memory into a Go string.
func goString(p *C.char, n C.int64_t) string {
	return string(goBytes(p, n))
}

// splitStrings copies a concatenated buffer once and slices it by offsets
// (n+1 of them).
func splitStrings(data *C.char, offs *C.int64_t, n C.int64_t) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative count %d: %w", n, s3err.ErrInvalid)
	}
	if n == 0 {
		return nil, nil
	}
	o := unsafe.Slice((*int64)(unsafe.Pointer(offs)), int(n)+1)
	all := goString(data, C.int64_t(o[n]))
	out := make([]string, n)
	for i := range out {
		a, b := o[i], o[i+1]
		if a < 0 || b < a || b > int64(len(all)) {
			return nil, fmt.Errorf("bad offsets for item %d: %w", i, s3err.ErrInvalid)
		}
		out[i] = all[a:b]
	}
	return out, nil
}

//export s3t_free
func s3t_free(p unsafe.Pointer) {
	defer func() { _ = recover() }()
	C.free(p)
}

//export s3t_abi_version
func s3t_abi_version() C.int32_t { return 4 }
