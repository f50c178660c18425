// Package special opens devices and named pipes for writing without
// blocking where a context cannot reach: a pipe's open(2) for writing waits
// for a reader, so it is retried non-blocking until one comes or ctx ends.
package special

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

// Is reports whether mode is a device or a named pipe: a destination that
// is written in place (never replaced by a renamed temporary file).
func Is(mode os.FileMode) bool {
	return mode&(os.ModeNamedPipe|os.ModeDevice|os.ModeCharDevice) != 0
}

// OpenWrite opens for writing through open (which is given the flags),
// polling while a pipe has no reader (ENXIO), until ctx ends.
func OpenWrite(ctx context.Context, open func(flag int) (*os.File, error)) (*os.File, error) {
	for {
		fh, err := open(os.O_WRONLY | syscall.O_NONBLOCK)
		if err == nil {
			if err := syscall.SetNonblock(int(fh.Fd()), false); err != nil {
				fh.Close()
				return nil, err
			}
			return fh, nil
		}
		if !errors.Is(err, syscall.ENXIO) { // ENXIO: a pipe with no reader yet
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
