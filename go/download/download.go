// Package download copies S3 objects to local files, the engine behind
// fsspec's get/get_file.
//
// It drives the fetch engine with a file sink: each object's first ranged
// GET reveals its size (no HEAD), the remaining parts are fetched
// concurrently, pinned with If-Match to the first response's ETag, and
// written with WriteAt. Parts of all files share one bounded worker pool.
//
// A file is written to a temporary name in its destination directory
// (".<name>.s3turbo-<random>") and renamed over the destination once every
// byte landed, so a destination is either left as it was or replaced whole;
// on any failure the temporary file is removed. A destination that exists as
// a device or a named pipe (/dev/null, a FIFO) is written into in order
// instead, as boto3 does. With Options.Root set, no
// file is written outside Root: paths that leave it lexically, or through a
// symbolic link inside it that points elsewhere, are rejected.
package download

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/s3turbo/s3turbo/go/fetch"
	"github.com/s3turbo/s3turbo/go/internal/destfile"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// Item is one object to download to a local file.
type Item struct {
	Bucket string
	Key    string
	Path   string // destination file; relative paths are taken from the working directory
}

// Options tunes a download.
type Options struct {
	// Root, when not empty, confines every destination to that directory
	// tree (after filepath.Abs/Clean and resolving symbolic links of
	// existing directories).
	Root        string
	PartSize    int64 // bytes per ranged GET (fetch's default when 0)
	Concurrency int   // requests in flight at once, across all files
	ReadRetries int   // retries of a failed body read (fetch.Options.ReadRetries)
	// Progress, when not nil, is updated while Files runs.
	Progress *Progress
}

// Progress exposes a running download's counters to pollers.
type Progress struct {
	batch atomic.Pointer[fetch.Batch]
}

// Load returns files completed (renamed into place), bytes written and
// requests sent so far.
func (p *Progress) Load() (files, bytes, requests int64) {
	if b := p.batch.Load(); b != nil {
		return b.Progress()
	}
	return 0, 0, 0
}

// Result is one item's outcome.
type Result struct {
	Size int64 // bytes written (the object's size) on success, -1 on failure
	Err  error // nil on success; wraps an s3err sentinel
}

// Files downloads every item. One failing item does not stop the others:
// its error is in its Result. The returned error reports only problems of
// the whole operation (cancellation).
func Files(ctx context.Context, api fetch.API, items []Item, opt Options) ([]Result, error) {
	res := make([]Result, len(items))
	for i := range res {
		res[i].Size = -1
	}
	var root *rootDir
	if opt.Root != "" {
		r, err := newRoot(opt.Root)
		if err != nil {
			return res, err
		}
		root = r
	}
	s := &sink{ctx: ctx, root: root}
	var fitems []fetch.Item
	var index []int           // batch item → items index
	dests := map[string]int{} // destination, its directory resolved → the first item writing it
	dirs := resolvedDirs{}
	for i, it := range items {
		f, err := s.plan(it)
		if err != nil {
			res[i].Err = err
			continue
		}
		// Keys that differ may clean to one path ("a/x/../y" and "a/y"),
		// or paths that differ name one file through a symbolic link to a
		// directory: both would be written there concurrently and one
		// lost, unsaid.
		same := dirs.file(f.dest)
		if j, dup := dests[same]; dup && (items[j].Bucket != it.Bucket || items[j].Key != it.Key) {
			res[i].Err = fmt.Errorf("%s: destination %s is also that of s3://%s/%s: %w",
				f.name, f.dest, items[j].Bucket, items[j].Key, s3err.ErrInvalid)
			continue
		}
		dests[same] = i
		s.files = append(s.files, f)
		fitems = append(fitems, fetch.Item{Bucket: it.Bucket, Key: it.Key})
		index = append(index, i)
	}
	b := fetch.Start(ctx, api, fitems, fetch.Options{
		PartSize: opt.PartSize, Concurrency: opt.Concurrency, ReadRetries: opt.ReadRetries,
		ContinueOnError: true, Sink: s,
	})
	if opt.Progress != nil {
		opt.Progress.batch.Store(b)
	}
	<-b.Done()
	batchErr := b.Err()
	for k, i := range index {
		switch err := b.ItemErr(k); {
		case err != nil:
			res[i].Err = err
		case b.Complete(k):
			res[i].Size = b.Size(k)
		default:
			cause := batchErr
			if cause == nil {
				cause = s3err.ErrInternal
			}
			res[i].Err = fmt.Errorf("%s: not downloaded: %w", s.files[k].name, cause)
		}
	}
	return res, batchErr
}

// rootDir is the directory tree destinations must stay in.
type rootDir struct {
	abs  string // as given, absolute and clean
	real string // with symbolic links resolved
}

func newRoot(root string) (*rootDir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("download root %s: %v: %w", root, err, s3err.ErrInvalid)
	}
	real, err := realPath(abs)
	if err != nil {
		return nil, fmt.Errorf("download root %s: %w", root, err)
	}
	return &rootDir{abs: abs, real: real}, nil
}

// realPath resolves the symbolic links of the longest existing prefix of
// an absolute, clean path and appends the rest.
func realPath(p string) (string, error) {
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(r, rest), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest), nil
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// within reports whether p is dir or below it (both absolute and clean).
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// checkParents rejects a destination when one of the existing directories
// between the root and it is a symbolic link leading out of the root.
func (r *rootDir) checkParents(dir, name string) error {
	rel, err := filepath.Rel(r.abs, dir)
	if err != nil || rel == "." {
		return nil
	}
	cur := r.abs
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // the rest is created by us
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		target, err := filepath.EvalSymlinks(cur)
		if err != nil || !within(r.real, target) {
			return fmt.Errorf("%s: directory %s is a symbolic link leading outside the download root %s: %w", name, cur, r.abs, s3err.ErrInvalid)
		}
	}
	return nil
}

// file is one destination.
type file struct {
	name string // "s3://bucket/key -> /local/path" for messages
	dest string // absolute destination path
	dir  string
	d    *os.Root // the destination directory, pinned while the file is written
	f    *os.File
	tmp  string // temporary file's name in d
	// special: the destination is a device or named pipe, written in
	// place (no temporary file).
	special bool
}

// sink implements fetch.Sink with temporary files renamed into place.
type sink struct {
	ctx   context.Context
	root  *rootDir
	files []*file // by batch item
}

// plan validates an item's destination before any request is sent.
func (s *sink) plan(it Item) (*file, error) {
	name := "s3://" + it.Bucket + "/" + it.Key + " -> " + it.Path
	if it.Path == "" {
		return nil, fmt.Errorf("s3://%s/%s: empty destination path: %w", it.Bucket, it.Key, s3err.ErrInvalid)
	}
	dest, err := filepath.Abs(it.Path)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", name, err, s3err.ErrInvalid)
	}
	dir := filepath.Dir(dest)
	if dir == dest {
		return nil, fmt.Errorf("%s: not a file path: %w", name, s3err.ErrInvalid)
	}
	if s.root != nil {
		if dest == s.root.abs {
			return nil, fmt.Errorf("%s: destination %s is the download root itself, not a file under it: %w", name, dest, s3err.ErrInvalid)
		}
		if !within(s.root.abs, dest) {
			return nil, fmt.Errorf("%s: destination %s is outside the download root %s: %w", name, dest, s.root.abs, s3err.ErrInvalid)
		}
		if err := s.root.checkParents(dir, name); err != nil {
			return nil, err
		}
	}
	return &file{name: name, dest: dest, dir: dir}, nil
}

// Open creates the destination's directories and its temporary file.
func (s *sink) Open(i int, _ int64) (io.WriterAt, error) {
	f := s.files[i]
	if s.root != nil {
		// Again, right before creating anything: the tree may have changed.
		if err := s.root.checkParents(f.dir, f.name); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(f.dir, 0o777); err != nil { // less the umask, as os.makedirs
		return nil, fmt.Errorf("%s: creating directory: %w", f.name, err)
	}
	// Pin the directory, then (with a root) check that what was pinned is
	// inside the root: the temporary file and the rename then happen in
	// that very directory whatever happens to the path meanwhile.
	d, err := os.OpenRoot(f.dir)
	if err != nil {
		return nil, fmt.Errorf("%s: opening directory: %w", f.name, err)
	}
	if s.root != nil {
		if err := s.root.checkPinned(d, f.dir); err != nil {
			d.Close()
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
	}
	base := filepath.Base(f.dest)
	if st, err := d.Lstat(base); err == nil {
		switch m := st.Mode(); {
		case m.IsDir():
			d.Close()
			return nil, fmt.Errorf("%s: the destination is a directory: %w", f.name, syscall.EISDIR)
		case destfile.IsSpecial(m):
			// A device or a named pipe (/dev/null, a FIFO a reader waits
			// on) is written into, as boto3 does: a temporary file renamed
			// over it replaced /dev/null with a regular file.
			fh, err := destfile.OpenSpecial(s.ctx, func(flag int) (*os.File, error) { return d.OpenFile(base, flag, 0) })
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("%s: opening: %w", f.name, err)
			}
			f.d, f.f, f.special = d, fh, true
			return &inOrder{w: fh, pending: map[int64][]byte{}}, nil
		case m&fs.ModeSocket != 0:
			d.Close()
			return nil, fmt.Errorf("%s: the destination is a socket: %w", f.name, s3err.ErrInvalid)
		}
	}
	fh, tmp, err := destfile.CreateTemp(d.OpenFile, base)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("%s: creating temporary file in %s: %w", f.name, f.dir, err)
	}
	f.d, f.f, f.tmp = d, fh, tmp
	return fh, nil
}

// inOrder writes the parts a batch delivers at any offset to a stream
// that cannot seek, in order: a part that arrives ahead of its turn is
// copied and held until the bytes before it are written.
type inOrder struct {
	mu      sync.Mutex
	w       io.Writer
	next    int64
	pending map[int64][]byte
}

func (o *inOrder) WriteAt(p []byte, off int64) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if off != o.next {
		if off < o.next {
			return 0, fmt.Errorf("write at %d, already written up to %d: %w", off, o.next, s3err.ErrInternal)
		}
		o.pending[off] = append([]byte(nil), p...)
		return len(p), nil
	}
	if _, err := o.w.Write(p); err != nil {
		return 0, err
	}
	o.next += int64(len(p))
	for {
		b, ok := o.pending[o.next]
		if !ok {
			return len(p), nil
		}
		delete(o.pending, o.next)
		if _, err := o.w.Write(b); err != nil {
			return 0, err
		}
		o.next += int64(len(b))
	}
}

// checkPinned verifies that the opened directory d is the directory at
// path, and that path leads to a place inside the root.
func (r *rootDir) checkPinned(d *os.Root, path string) error {
	real, err := filepath.EvalSymlinks(path)
	if err != nil || !within(r.real, real) {
		return fmt.Errorf("directory %s leads outside the download root %s: %w", path, r.abs, s3err.ErrInvalid)
	}
	pinned, err1 := d.Stat(".")
	there, err2 := os.Stat(real)
	if err1 != nil || err2 != nil || !os.SameFile(pinned, there) {
		return fmt.Errorf("directory %s changed while it was opened: %w", path, s3err.ErrChanged)
	}
	return nil
}

// Finish renames a complete file into place, or removes a failed one.
func (s *sink) Finish(i int, failure error) error {
	f := s.files[i]
	defer f.d.Close()
	cerr := f.f.Close()
	if f.special {
		if failure == nil && cerr != nil {
			return fmt.Errorf("%s: writing: %w", f.name, cerr)
		}
		return nil
	}
	if failure != nil {
		_ = f.d.Remove(f.tmp)
		return nil
	}
	if cerr != nil {
		_ = f.d.Remove(f.tmp)
		return fmt.Errorf("%s: writing: %w", f.name, cerr)
	}
	if err := f.d.Rename(f.tmp, filepath.Base(f.dest)); err != nil {
		_ = f.d.Remove(f.tmp)
		return fmt.Errorf("%s: moving the temporary file into place: %w", f.name, err)
	}
	return nil
}

// resolvedDirs resolves the directories of destination paths through
// symbolic links, once each.
type resolvedDirs map[string]string

// file is path with the symbolic links of its directory's longest
// existing ancestor resolved (not the file's own name: a download
// replaces a link there rather than writing through it), so that two
// paths naming one file compare equal.
func (r resolvedDirs) file(path string) string {
	dir := filepath.Dir(path)
	if d, ok := r[dir]; ok {
		return filepath.Join(d, filepath.Base(path))
	}
	d, rest := dir, ""
	for {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			d = filepath.Join(real, rest)
			break
		}
		parent := filepath.Dir(d)
		if parent == d {
			d = dir
			break
		}
		rest = filepath.Join(filepath.Base(d), rest)
		d = parent
	}
	r[dir] = d
	return filepath.Join(d, filepath.Base(path))
}
