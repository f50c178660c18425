// Package destfile opens the local files that downloads and tar indexes
// write: a device or named pipe in place (a pipe's open(2) for writing
// waits for a reader beyond a context's reach, so it is retried
// non-blocking until one comes or the context ends), anything else through
// a temporary file beside it, renamed over it when complete.
package destfile

import (
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"syscall"
	"time"
	"unicode/utf8"
)

// IsSpecial reports whether mode is a device or a named pipe: a
// destination that is written in place (never replaced by a renamed
// temporary file).
func IsSpecial(mode os.FileMode) bool {
	return mode&(os.ModeNamedPipe|os.ModeDevice|os.ModeCharDevice) != 0
}

// OpenSpecial opens a device or pipe for writing through open (which is
// given the flags), polling while a pipe has no reader (ENXIO), until ctx
// ends.
func OpenSpecial(ctx context.Context, open func(flag int) (*os.File, error)) (*os.File, error) {
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

// CreateTemp creates ".<name>.s3turbo-<random>" through open (an
// os.OpenFile of the destination's directory), with mode 0666 less the
// umask as open() and os.Create give, name cut so the result stays a valid
// file name. It returns the file and the name given to open.
func CreateTemp(open func(name string, flag int, perm os.FileMode) (*os.File, error), name string) (*os.File, string, error) {
	const keep = 100
	if len(name) > keep {
		cut := keep
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut]
	}
	var rnd [8]byte
	for attempt := 0; ; attempt++ {
		for k := range rnd {
			rnd[k] = byte(rand.Uint32())
		}
		p := "." + name + ".s3turbo-" + hex.EncodeToString(rnd[:])
		fh, err := open(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if err == nil {
			return fh, p, nil
		}
		if !errors.Is(err, fs.ErrExist) || attempt >= 10 {
			return nil, "", err
		}
	}
}
