// Package tarjob runs a tar index over an archive on local disk or in S3 and
// delivers the rows either in memory or as JSON Lines written to a local
// file or an S3 object (zstd-compressed when the name ends in ".zst").
package tarjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/destfile"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
	"github.com/s3turbo/s3turbo/go/tarindex"
)

// Location is a resolved local path or S3 object.
type Location struct {
	Local string
	S3    objpath.Path
	IsS3  bool
}

// String names the location for messages.
func (l Location) String() string {
	if l.IsS3 {
		return "s3://" + l.S3.String()
	}
	return l.Local
}

func hasScheme(s string) bool { return objpath.StripScheme(s) != s }

// looksLocal reports paths that can only mean the local filesystem.
func looksLocal(s string) bool {
	return filepath.IsAbs(s) || strings.HasPrefix(s, ".")
}

// ResolveSource decides where an input archive lives: an s3:// path is in
// S3; an absolute path, one starting with ".", or an existing local file is
// local; anything else is bucket/key in S3.
func ResolveSource(s string) (Location, error) {
	if !hasScheme(s) {
		if looksLocal(s) {
			return Location{Local: s}, nil
		}
		if fi, err := os.Stat(s); err == nil && !fi.IsDir() {
			return Location{Local: s}, nil
		}
	}
	p, err := objpath.ParseObject(s)
	if err != nil {
		return Location{}, err
	}
	return Location{S3: p, IsS3: true}, nil
}

// ResolveOutput decides where an index is written: an s3:// path is in S3;
// an absolute path, a path starting with ".", or one whose parent directory
// exists locally is local; anything else is bucket/key in S3.
func ResolveOutput(s string) (Location, error) {
	if s == "" {
		return Location{}, fmt.Errorf("empty output path: %w", s3err.ErrInvalid)
	}
	if !hasScheme(s) {
		if looksLocal(s) {
			return Location{Local: s}, nil
		}
		if fi, err := os.Stat(filepath.Dir(s)); err == nil && fi.IsDir() {
			return Location{Local: s}, nil
		}
	}
	p, err := objpath.ParseObject(s)
	if err != nil {
		return Location{}, err
	}
	return Location{S3: p, IsS3: true}, nil
}

// Options says how an archive in S3 is read.
type Options struct {
	// Get sends the archive's GetObject requests; nil: the *s3.Client
	// given to Run.
	Get GetAPI
	// ReadRetries is how many times in a row a failed read of the
	// archive's body (cut short, reset, timed out) is resumed with a
	// ranged GET where it stopped; 0: never.
	ReadRetries int
}

// Stats reports what a job did.
type Stats struct {
	Rows        int64
	Compression tarindex.Compression
	// Requests and BytesRead count the GETs sent for an archive in S3 and
	// the bytes of its bodies read (both 0 for a local archive).
	Requests  int64
	BytesRead int64
}

// open returns a reader over the archive bytes: a local file, or an
// objectReader for S3. Both can seek, which lets tarindex skip the data of
// large members of a plain tar instead of reading it.
func open(ctx context.Context, api *s3.Client, src Location, opt Options) (io.ReadSeekCloser, error) {
	if !src.IsS3 {
		f, err := openLocal(ctx, src.Local)
		if err != nil {
			return nil, fmt.Errorf("opening archive: %w", err)
		}
		return f, nil
	}
	var get GetAPI = api
	if opt.Get != nil {
		get = opt.Get
	}
	return openObject(ctx, get, src.S3.Bucket, src.S3.Key, opt.ReadRetries)
}

// openLocal opens a local archive. A named pipe's open waits for a writer
// inside open(2), where cancelling cannot reach it (Ctrl-C went unheard
// while no writer came): it waits in a goroutine, and on cancel this side
// opens the pipe for writing for a moment, which lets that open return.
func openLocal(ctx context.Context, path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		return os.Open(path)
	}
	type opened struct {
		f   *os.File
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- opened{nil, fmt.Errorf("opening %s: panic: %v: %w", path, r, s3err.ErrInternal)}
			}
		}()
		f, err := os.Open(path)
		ch <- opened{f, err}
	}()
	select {
	case r := <-ch:
		return r.f, r.err
	case <-ctx.Done():
		if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		if r := <-ch; r.f != nil {
			r.f.Close()
		}
		return nil, ctx.Err()
	}
}

// Collect indexes src and returns every row.
func Collect(ctx context.Context, api *s3.Client, src Location, opt Options) ([]tarindex.Row, Stats, error) {
	var rows []tarindex.Row
	st, err := Run(ctx, api, src, opt, func(r tarindex.Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, st, err
}

// Run indexes src, calling fn for every row.
func Run(ctx context.Context, api *s3.Client, src Location, opt Options, fn func(tarindex.Row) error) (st Stats, err error) {
	rc, err := open(ctx, api, src, opt)
	if err != nil {
		return st, err
	}
	defer rc.Close()
	if o, ok := rc.(*objectReader); ok {
		defer func() { st.Requests, st.BytesRead = o.requests, o.received }()
	}
	// The source goes unbuffered (tarindex buffers it): Index skips large
	// members by seeking it, which a bufio.Reader around it hid (a 9 GiB
	// member was read).
	comp, err := tarindex.Index(ctx, rc, src.String(), func(r tarindex.Row) error {
		st.Rows++
		return fn(r)
	})
	st.Compression = comp
	if err != nil {
		return st, remap(err)
	}
	return st, nil
}

// remap makes tar corruption visible to s3err.Classify.
func remap(err error) error {
	if errors.Is(err, tarindex.ErrCorrupt) && !errors.Is(err, s3err.ErrCorrupt) {
		return fmt.Errorf("%w (%w)", err, s3err.ErrCorrupt)
	}
	return err
}

// WriteIndex indexes src and writes JSON Lines to dst. Nothing is left at
// dst if indexing fails: local output goes through a temporary file that is
// renamed into place, S3 output through an upload that is aborted.
func WriteIndex(ctx context.Context, api *s3.Client, src, dst Location, opt Options) (Stats, error) {
	compress := strings.HasSuffix(dst.String(), ".zst")
	if !dst.IsS3 {
		return writeLocal(ctx, api, src, dst.Local, compress, opt)
	}
	pr, pw := io.Pipe()
	type result struct {
		st  Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() {
			if r := recover(); r != nil {
				res.err = fmt.Errorf("panic while indexing %s: %v: %w", src, r, s3err.ErrInternal)
			}
			pw.CloseWithError(res.err)
			done <- res
		}()
		jw := tarindex.NewJSONLWriter(pw, src.String(), compress)
		res.st, res.err = Run(ctx, api, src, opt, jw.Write)
		if res.err == nil {
			res.err = jw.Close()
		}
	}()
	uploader := manager.NewUploader(api)
	_, upErr := uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket: aws.String(dst.S3.Bucket), Key: aws.String(dst.S3.Key), Body: pr,
	})
	pr.CloseWithError(upErr) // unblock the indexer if the upload failed
	res := <-done
	if upErr != nil && (res.err == nil || errors.Is(res.err, upErr)) {
		// The upload failed first (the indexer then failed writing to it):
		// the output is what is wrong, not the archive or its member.
		return res.st, fmt.Errorf("writing index to %s: %w", dst, upErr)
	}
	if res.err != nil {
		return res.st, res.err
	}
	return res.st, nil
}

func writeLocal(ctx context.Context, api *s3.Client, src Location, path string, compress bool, opt Options) (st Stats, err error) {
	if fi, serr := os.Stat(path); serr == nil && destfile.IsSpecial(fi.Mode()) {
		// A named pipe a reader waits on (or a device) is written into,
		// as downloads do: a temporary file renamed over it replaced the
		// pipe, and its reader got nothing.
		f, err := destfile.OpenSpecial(ctx, func(flag int) (*os.File, error) { return os.OpenFile(path, flag, 0) })
		if err != nil {
			return st, fmt.Errorf("opening index output %s: %w", path, err)
		}
		jw := tarindex.NewJSONLWriter(f, src.String(), compress)
		st, err = Run(ctx, api, src, opt, jw.Write)
		if cerr := jw.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing %s: %w", path, cerr)
		}
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing %s: %w", path, cerr)
		}
		return st, err
	}
	dir := filepath.Dir(path)
	tmp, _, err := destfile.CreateTemp(func(name string, flag int, perm os.FileMode) (*os.File, error) {
		return os.OpenFile(filepath.Join(dir, name), flag, perm)
	}, filepath.Base(path))
	if err != nil {
		return st, fmt.Errorf("creating index output: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	jw := tarindex.NewJSONLWriter(tmp, src.String(), compress)
	if st, err = Run(ctx, api, src, opt, jw.Write); err != nil {
		return st, err
	}
	if err = jw.Close(); err != nil {
		return st, fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return st, fmt.Errorf("writing %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return st, fmt.Errorf("writing %s: %w", path, err)
	}
	return st, nil
}
