package tarindex

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"
)

const (
	blockSize = 512
	// readBufSize is the size of Scan's input buffer. archive/tar issues many
	// small reads (512-byte headers); they are served from this buffer.
	readBufSize = 1 << 20
	// seekThreshold is the smallest skip for which Scan seeks a seekable
	// source instead of reading through the data.
	seekThreshold = 4 << 20
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// countingReader is a buffered reader that tracks the number of bytes handed
// out (the position in the uncompressed stream). It implements a relative
// io.Seeker so that archive/tar skips member data through it without copying,
// and it records where archive/tar starts reading the first header block of
// each entry (see arm).
type countingReader struct {
	src    io.Reader
	seeker io.Seeker // non-nil when src can seek (relative seeks only)
	done   <-chan struct{}
	ctx    context.Context

	buf  []byte
	r, w int
	pos  int64 // stream offset of buf[r]
	err  error // sticky error from src (io.EOF, I/O error, ctx error)

	srcErr error // first I/O error returned by src (not io.EOF, not ErrCorrupt)

	armed    bool  // waiting for the first header read of the next entry
	mark     int64 // stream offset of that header block, -1 if not seen
	markZero bool  // the block at mark was all zeros

	lastBlock int64 // offset of the most recent 512-byte read

	head  [8]byte // first bytes of the stream, for error hints
	headN int

	// entry: the bytes read from the current entry's first header block on
	// (at most maxEntryBytes) when it is a PAX global header, for the
	// records archive/tar drops (see globalRecords).
	entry     []byte
	capturing bool
}

// maxEntryBytes bounds what countingReader keeps of an entry's headers.
const maxEntryBytes = 64 << 10

// arm starts watching for the first header block of the next entry. Within
// tar.Reader.Next, the remaining data and padding of the previous entry are
// skipped (via Seek and reads shorter than a block) before the first header
// block is read with a single 512-byte read.
func (c *countingReader) arm() {
	c.armed = true
	c.mark = -1
	c.markZero = false
	c.entry = c.entry[:0]
	c.capturing = false
}

func (c *countingReader) fill() {
	if c.err != nil {
		return
	}
	if c.done != nil {
		select {
		case <-c.done:
			c.err = c.ctx.Err()
			return
		default:
		}
	}
	if c.r > 0 {
		copy(c.buf, c.buf[c.r:c.w])
		c.w -= c.r
		c.r = 0
	}
	for i := 0; i < 100; i++ {
		n, err := c.src.Read(c.buf[c.w:])
		if n < 0 || n > len(c.buf)-c.w {
			c.err = fmt.Errorf("tarindex: source returned invalid count %d", n)
			c.srcErr = c.err
			return
		}
		if c.pos == 0 && c.headN < len(c.head) {
			c.headN += copy(c.head[c.headN:], c.buf[c.w:c.w+n])
		}
		c.w += n
		if err != nil {
			if err != io.EOF && c.srcErr == nil && !errors.Is(err, ErrCorrupt) {
				c.srcErr = err
			}
			c.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	c.err = io.ErrNoProgress
	c.srcErr = c.err
}

// Read implements io.Reader.
func (c *countingReader) Read(p []byte) (int, error) {
	if len(p) == blockSize {
		// Header blocks: make sure a whole block is served by one call.
		for c.w-c.r < blockSize && c.err == nil {
			c.fill()
		}
		c.lastBlock = c.pos
		if c.armed {
			c.armed = false
			c.mark = c.pos
			c.markZero = c.w-c.r >= blockSize && isZero(c.buf[c.r:c.r+blockSize])
			// Kept only for PAX global headers (typeflag 'g').
			c.capturing = c.w-c.r >= blockSize && c.buf[c.r+156] == tar.TypeXGlobalHeader
		}
	}
	if c.r == c.w {
		if c.err != nil {
			return 0, c.err
		}
		c.fill()
		if c.r == c.w {
			return 0, c.err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	if c.capturing {
		if len(c.entry)+n <= maxEntryBytes {
			c.entry = append(c.entry, p[:n]...)
		} else {
			c.capturing = false
		}
	}
	c.r += n
	c.pos += int64(n)
	return n, nil
}

var errBadSeek = errors.New("tarindex: unsupported seek")

// Seek implements relative forward seeks (whence io.SeekCurrent, offset ≥ 0),
// which is all archive/tar needs to skip member data. Skipping past the end
// of the stream returns io.ErrUnexpectedEOF.
func (c *countingReader) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return c.pos, errBadSeek
	}
	if err := c.skip(offset); err != nil {
		return c.pos, err
	}
	return c.pos, nil
}

func (c *countingReader) skip(n int64) error {
	for n > 0 {
		if avail := int64(c.w - c.r); avail > 0 {
			k := min(avail, n)
			c.r += int(k)
			c.pos += k
			n -= k
			continue
		}
		if c.err != nil {
			if c.err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return c.err
		}
		if c.seeker != nil && n >= seekThreshold {
			if c.done != nil {
				select {
				case <-c.done:
					c.err = c.ctx.Err()
					return c.err
				default:
				}
			}
			// Seeking past the end is not an error for most seekers;
			// archive/tar reads the last byte of the data itself, which
			// detects truncation. If the seek fails (e.g. EINVAL for an
			// absurd size), fall back to reading, which ends at EOF.
			if n <= math.MaxInt64-c.pos {
				if _, err := c.seeker.Seek(n, io.SeekCurrent); err == nil {
					c.pos += n
					return nil
				}
			}
			c.seeker = nil
		}
		c.r, c.w = 0, 0
		c.fill()
	}
	return nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if b[0]|b[1]|b[2]|b[3]|b[4]|b[5]|b[6]|b[7] != 0 {
			return false
		}
		b = b[8:]
	}
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// typeNames maps every typeflag to its Row.Type string without allocating.
var typeNames = func() (t [256]string) {
	for i := range t {
		t[i] = string([]byte{byte(i)})
	}
	t[tar.TypeReg] = "file"
	t[tar.TypeRegA] = "file"
	t[tar.TypeCont] = "file"
	t[tar.TypeDir] = "dir"
	t[tar.TypeSymlink] = "symlink"
	t[tar.TypeLink] = "hardlink"
	t[tar.TypeChar] = "char"
	t[tar.TypeBlock] = "block"
	t[tar.TypeFifo] = "fifo"
	return t
}()

func isHeaderOnly(flag byte) bool {
	switch flag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return true
	}
	return false
}

// isSparse reports whether archive/tar decoded hdr as a sparse file, in which
// case hdr.Size is the logical size, not the size of the stored data.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// parsePAXSeconds parses a PAX time value ("1700000000.25", "-3.5") the way
// tarfile does (as a float) and returns it rounded down to whole seconds.
func parsePAXSeconds(v string) (int64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f >= math.MaxInt64 || f < math.MinInt64 {
		return 0, false
	}
	return int64(math.Floor(f)), true
}

// compressionHint names a (unsupported) compression format recognized from
// the first bytes of a stream, for error messages.
func compressionHint(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "xz-compressed data"
	case bytes.HasPrefix(head, []byte("BZh")):
		return "bzip2-compressed data"
	case bytes.HasPrefix(head, []byte{0x04, 0x22, 0x4d, 0x18}):
		return "lz4-compressed data"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "zstd-compressed data"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "gzip-compressed data"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "a zip archive"
	case bytes.HasPrefix(head, []byte("7z\xbc\xaf\x27\x1c")):
		return "a 7z archive"
	}
	return ""
}

// Scan reads an uncompressed tar stream and calls fn for each member, in
// archive order. PAX global headers are not reported as members. archive is
// only used in error messages.
//
// Errors caused by a malformed or truncated archive wrap ErrCorrupt and name
// the archive and the uncompressed byte offset where the problem was found.
// An empty input is reported as corrupt; an archive that ends without the
// end-of-archive zero blocks exactly at a member boundary is accepted, and,
// like tarfile, Scan stops at the first all-zero header block. When ctx is
// cancelled, Scan returns an error wrapping ctx.Err(). An error returned by
// fn stops the scan and is returned wrapped.
//
// If r implements io.Seeker (and seeking works), large member data is skipped
// by seeking r relative to its current position instead of reading it.
func Scan(ctx context.Context, r io.Reader, archive string, fn func(Row) error) error {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	c := &countingReader{src: r, buf: *bp, ctx: ctx, done: ctx.Done(), mark: -1}
	if s, ok := r.(io.Seeker); ok {
		if _, err := s.Seek(0, io.SeekCurrent); err == nil {
			c.seeker = s
		}
	}
	tr := tar.NewReader(c)

	var (
		globals    map[string]string // accumulated PAX global records
		nextHeader int64             // where the next entry starts, computed from the previous one
		prevName   string
		prevOff    int64 = -1
		members    int
	)
	for {
		if c.done != nil {
			select {
			case <-c.done:
				return fmt.Errorf("%s: scan cancelled at uncompressed byte offset %d: %w", archive, c.pos, ctx.Err())
			default:
			}
		}
		c.arm()
		hdr, err := tr.Next()
		if err == tar.ErrInsecurePath && hdr != nil {
			err = nil // only reported with GODEBUG=tarinsecurepath=0; names are data here
		}
		if err == io.EOF {
			if c.pos == 0 {
				return fmt.Errorf("%s: empty archive at uncompressed byte offset 0: %w", archive, ErrCorrupt)
			}
			if c.pos%blockSize != 0 {
				// archive/tar treats a stream ending inside the padding
				// after member data as a clean end; it is truncated.
				return corruptError(archive, c, io.ErrUnexpectedEOF, prevName, prevOff, members)
			}
			if c.mark >= 0 && !c.markZero && c.pos > c.mark {
				// archive/tar read an extended header (PAX x, GNU L/K) and
				// then met the end, or the end-of-archive zero blocks,
				// where its member's header belongs: it reports a clean
				// end, and the member (with all after it) would be
				// silently missing. tarfile raises here too.
				return fmt.Errorf("%s: truncated archive: the extended header at byte offset %d is not followed by its member's header (uncompressed byte offset %d): %w",
					archive, c.mark, c.pos, ErrCorrupt)
			}
			return finish(ctx, r, c, archive)
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return fmt.Errorf("%s: scan cancelled at uncompressed byte offset %d: %w", archive, c.pos, ctxErr)
			}
			if c.srcErr != nil && errors.Is(err, c.srcErr) {
				return fmt.Errorf("%s: read error at uncompressed byte offset %d: %w", archive, c.pos, err)
			}
			if c.mark >= 0 && c.markZero && !errors.Is(err, ErrCorrupt) {
				// A zero block ends the archive for tarfile, whatever follows.
				return finish(ctx, r, c, archive)
			}
			return corruptError(archive, c, err, prevName, prevOff, members)
		}

		dataOff := c.pos
		hdrOff := c.mark
		if hdrOff < nextHeader || hdrOff%blockSize != 0 || hdrOff > dataOff-blockSize {
			hdrOff = nextHeader // sanity fallback; not expected to happen
		}
		var phys int64
		if !isHeaderOnly(hdr.Typeflag) && !isSparse(hdr) && hdr.Typeflag != tar.TypeXGlobalHeader {
			phys = hdr.Size
		}
		if phys > math.MaxInt64-blockSize-dataOff {
			nextHeader = math.MaxInt64 &^ (blockSize - 1)
		} else {
			nextHeader = (dataOff + phys + blockSize - 1) &^ (blockSize - 1)
		}

		if hdr.Typeflag == tar.TypeXGlobalHeader {
			if globals == nil {
				globals = make(map[string]string)
			}
			records := hdr.PAXRecords
			if len(records) == 0 {
				records = globalRecords(c.entry)
			}
			for k, v := range records {
				globals[k] = v
			}
			continue
		}

		row := Row{
			Name:         hdr.Name,
			Size:         hdr.Size,
			Type:         typeNames[hdr.Typeflag],
			Mode:         hdr.Mode,
			Mtime:        hdr.ModTime.Unix(),
			Linkname:     hdr.Linkname,
			HeaderOffset: hdrOff,
			DataOffset:   dataOff,
		}
		if v, ok := hdr.PAXRecords["mtime"]; ok {
			// tarfile parses PAX times as floats; match its rounding.
			if secs, ok := parsePAXSeconds(v); ok {
				row.Mtime = secs
			}
		}
		_, paxPath := hdr.PAXRecords["path"]
		if globals != nil && applyGlobals(&row, hdr, globals, paxPath, dataOff-hdrOff > blockSize) {
			paxPath = true
		}
		if paxPath || hdr.Typeflag == tar.TypeDir {
			row.Name = strings.TrimRight(row.Name, "/")
		}

		members++
		prevName, prevOff = row.Name, hdrOff
		if err := fn(row); err != nil {
			return fmt.Errorf("%s: member %q at uncompressed byte offset %d: %w", archive, row.Name, hdrOff, err)
		}
	}
}

// finish is called at the end of the archive. If r is a decompressing reader
// returned by Decompress, the rest of the compressed stream is read so that
// its checksums are verified and truncation is detected; trailing garbage
// after a complete gzip member is ignored, as gzip(1) does.
func finish(ctx context.Context, r io.Reader, c *countingReader, archive string) error {
	if _, ok := r.(*decodedReader); !ok {
		return nil
	}
	for c.err == nil {
		c.pos += int64(c.w - c.r)
		c.r, c.w = 0, 0
		c.fill()
	}
	c.pos += int64(c.w - c.r)
	c.r = c.w
	err := c.err
	switch {
	case err == io.EOF || errors.Is(err, gzip.ErrHeader):
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%s: scan cancelled at uncompressed byte offset %d: %w", archive, c.pos, ctx.Err())
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("%s: after the end of the tar archive, at uncompressed byte offset %d: %w", archive, c.pos, err)
	default:
		return fmt.Errorf("%s: read error at uncompressed byte offset %d: %w", archive, c.pos, err)
	}
}

// globalRecords parses the records of the PAX global header whose bytes
// (its header block, then its data) entry holds. archive/tar returns such
// a header without its records when one of them does not parse as its
// field (mtime=garbage): every record was lost, where tarfile keeps them
// and reads the bad number as 0 (see applyGlobals). Nil when entry does
// not hold the whole header.
func globalRecords(entry []byte) map[string]string {
	if len(entry) < blockSize {
		return nil
	}
	size, ok := octalField(entry[124:136])
	if !ok || size <= 0 || size > int64(len(entry)-blockSize) {
		return nil
	}
	data := string(entry[blockSize : blockSize+size])
	records := map[string]string{}
	for len(data) > 0 {
		sp := strings.IndexByte(data, ' ')
		if sp <= 0 {
			break
		}
		n, err := strconv.Atoi(data[:sp])
		if err != nil || n <= sp+1 || n > len(data) || data[n-1] != '\n' {
			break
		}
		k, v, ok := strings.Cut(data[sp+1:n-1], "=")
		if ok && k != "" {
			records[k] = v
		}
		data = data[n:]
	}
	return records
}

// octalField parses a ustar numeric field: octal digits, padded with
// spaces or NULs.
func octalField(b []byte) (int64, bool) {
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 8, 64)
	return v, err == nil
}

// applyGlobals applies PAX global header records to row the way tarfile does:
// they hold for every following member unless overridden by the member's own
// extended header (or, for names, by GNU long name/link headers). It reports
// whether the name was taken from a global "path" record.
func applyGlobals(row *Row, hdr *tar.Header, globals map[string]string, xPath, extraHeaders bool) (pathApplied bool) {
	// Extra header blocks without PAX records are GNU long name/link headers.
	gnuLong := extraHeaders && len(hdr.PAXRecords) == 0 && hdr.Typeflag != tar.TypeGNUSparse
	if v, ok := globals["path"]; ok && !xPath && !gnuLong {
		row.Name = v
		pathApplied = true
	}
	if v, ok := globals["linkpath"]; ok && !gnuLong {
		if _, x := hdr.PAXRecords["linkpath"]; !x {
			row.Linkname = v
		}
	}
	if v, ok := globals["mtime"]; ok {
		if _, x := hdr.PAXRecords["mtime"]; !x {
			if secs, ok := parsePAXSeconds(v); ok {
				row.Mtime = secs
			} else {
				row.Mtime = 0 // tarfile falls back to 0 for unparsable numbers
			}
		}
	}
	return pathApplied
}

func corruptError(archive string, c *countingReader, err error, prevName string, prevOff int64, members int) error {
	if errors.Is(err, ErrCorrupt) {
		// Decompression error, already tagged.
		return fmt.Errorf("%s: at uncompressed byte offset %d: %w", archive, c.pos, err)
	}
	var what string
	off := c.pos
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		if c.mark < 0 && prevOff >= 0 {
			what = fmt.Sprintf("truncated archive: member %q (header at byte offset %d) is cut short", prevName, prevOff)
		} else if c.mark < 0 {
			what = "truncated archive"
		} else {
			what = fmt.Sprintf("truncated archive: header of entry at byte offset %d ends early", c.mark)
		}
	case errors.Is(err, tar.ErrHeader):
		off = c.lastBlock
		what = "invalid tar header"
		if c.mark >= 0 && c.pos > c.mark+blockSize {
			// Past the header block at mark: the extended header data it
			// announced (a PAX record archive/tar cannot parse), not a
			// header; the input is a tar archive all the same.
			what = fmt.Sprintf("invalid extended header of the entry at byte offset %d", c.mark)
			off = c.pos
		} else if members == 0 && c.mark == 0 {
			what = "not a tar archive: invalid tar header"
			if h := compressionHint(c.head[:c.headN]); h != "" {
				what = "not a tar archive (input looks like " + h + "): invalid tar header"
			}
		}
	default:
		what = "invalid tar data"
		if c.mark >= 0 {
			what = fmt.Sprintf("invalid tar data in entry at byte offset %d", c.mark)
		}
	}
	return fmt.Errorf("%s: %s at uncompressed byte offset %d: %w: %w", archive, what, off, ErrCorrupt, err)
}
