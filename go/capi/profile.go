package main

/*
#include "s3t.h"
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync"

	"github.com/s3turbo/s3turbo/go/s3err"
)

var profMu sync.Mutex
var profFile *os.File

// s3t_cpuprofile starts a Go CPU profile written to path (n > 0), or stops
// the running one and closes its file (n == 0). A developer tool: it is how
// the benchmarks' Go side is profiled with pprof from inside Python.
//
//export s3t_cpuprofile
func s3t_cpuprofile(path *C.char, n C.int64_t, errOut **C.char) (status C.int32_t) {
	defer guard(&status, errOut)
	profMu.Lock()
	defer profMu.Unlock()
	if n == 0 {
		if profFile == nil {
			return fail(errOut, fmt.Errorf("no CPU profile is running: %w", s3err.ErrInvalid))
		}
		pprof.StopCPUProfile()
		err := profFile.Close()
		profFile = nil
		if err != nil {
			return fail(errOut, fmt.Errorf("closing the CPU profile: %w", err))
		}
		return 0
	}
	if profFile != nil {
		return fail(errOut, fmt.Errorf("a CPU profile is already running: %w", s3err.ErrInvalid))
	}
	p := goString(path, n)
	f, err := os.Create(p)
	if err != nil {
		return fail(errOut, fmt.Errorf("CPU profile %s: %w", p, err))
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fail(errOut, fmt.Errorf("CPU profile %s: %w", p, err))
	}
	profFile = f
	return 0
}
