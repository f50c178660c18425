package main

/*
#include "s3t.h"
*/
import "C"

import "unsafe"

// tableBuilder accumulates columns in Go memory before one copy into C, in
// s3t_table's layout (every string followed by a '\n' separator).
type tableBuilder struct {
	nrows int
	strs  [][]byte
	offs  [][]int64
	ints  [][]int64
}

func newTable(nstr, nint, capRows int) *tableBuilder {
	t := &tableBuilder{strs: make([][]byte, nstr), offs: make([][]int64, nstr), ints: make([][]int64, nint)}
	for i := range t.offs {
		t.offs[i] = make([]int64, 1, capRows+1)
	}
	for i := range t.ints {
		t.ints[i] = make([]int64, 0, capRows)
	}
	return t
}

// add appends one row; len(s) and len(n) must match the column counts.
func (t *tableBuilder) add(s []string, n []int64) {
	for i, v := range s {
		t.strs[i] = append(t.strs[i], v...)
		t.endString(i)
	}
	for i, v := range n {
		t.ints[i] = append(t.ints[i], v)
	}
	t.nrows++
}

// endString ends the string just appended to column i: its separator,
// then the offset where the next one starts.
func (t *tableBuilder) endString(i int) {
	t.strs[i] = append(t.strs[i], '\n')
	t.offs[i] = append(t.offs[i], int64(len(t.strs[i])))
}

func cArray[T any](n int) (unsafe.Pointer, []T) {
	var zero T
	size := uintptr(n) * unsafe.Sizeof(zero)
	if size == 0 {
		size = 1
	}
	p := C.malloc(C.size_t(size))
	return p, unsafe.Slice((*T)(p), n)
}

// toC copies the table into malloc'd memory owned by the caller.
func (t *tableBuilder) toC() *C.s3t_table {
	tp, tabs := cArray[C.s3t_table](1)
	tab := &tabs[0]
	tab.nrows = C.int64_t(t.nrows)
	tab.nstr = C.int32_t(len(t.strs))
	tab.nint = C.int32_t(len(t.ints))
	sp, sv := cArray[*C.char](len(t.strs))
	op, ov := cArray[*C.int64_t](len(t.strs))
	for i := range t.strs {
		dp, dv := cArray[byte](len(t.strs[i]))
		copy(dv, t.strs[i])
		sv[i] = (*C.char)(dp)
		p, v := cArray[int64](len(t.offs[i]))
		copy(v, t.offs[i])
		ov[i] = (*C.int64_t)(p)
	}
	ip, iv := cArray[*C.int64_t](len(t.ints))
	for i := range t.ints {
		p, v := cArray[int64](len(t.ints[i]))
		copy(v, t.ints[i])
		iv[i] = (*C.int64_t)(p)
	}
	tab.str = (**C.char)(sp)
	tab.str_off = (**C.int64_t)(op)
	tab.ints = (**C.int64_t)(ip)
	_ = tp
	return tab
}

//export s3t_table_free
func s3t_table_free(t *C.s3t_table) {
	defer func() { _ = recover() }()
	if t == nil {
		return
	}
	strs := unsafe.Slice(t.str, int(t.nstr))
	offs := unsafe.Slice(t.str_off, int(t.nstr))
	for i := range strs {
		C.free(unsafe.Pointer(strs[i]))
		C.free(unsafe.Pointer(offs[i]))
	}
	ints := unsafe.Slice(t.ints, int(t.nint))
	for i := range ints {
		C.free(unsafe.Pointer(ints[i]))
	}
	C.free(unsafe.Pointer(t.str))
	C.free(unsafe.Pointer(t.str_off))
	C.free(unsafe.Pointer(t.ints))
	C.free(unsafe.Pointer(t))
}
