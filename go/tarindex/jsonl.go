package tarindex

import (
	"bufio"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"
)

// JSONLWriter writes rows as JSON Lines, one object per member, with keys in
// this order:
//
//	{"archive":..., "filename":..., "size":..., "type":..., "mode":..., "mtime":...,
//	 "linkname":..., "header_offset":..., "data_offset":...}
//
// Strings are escaped like encoding/json does (invalid UTF-8 becomes U+FFFD),
// except that '<', '>' and '&' are not HTML-escaped. A JSONLWriter is not safe
// for concurrent use.
type JSONLWriter struct {
	bw     *bufio.Writer
	zw     *zstd.Encoder // nil unless compressing
	prefix []byte        // `{"archive":"...","filename":"`
	buf    []byte
	err    error
	closed bool
}

var errWriterClosed = errors.New("tarindex: JSONLWriter is closed")

// NewJSONLWriter returns a writer of JSON Lines rows to w, each naming archive.
// If compress is true, the output is a single zstd stream. Output is buffered;
// call Close to flush it (Close does not close w).
func NewJSONLWriter(w io.Writer, archive string, compress bool) *JSONLWriter {
	j := &JSONLWriter{buf: make([]byte, 0, 512)}
	if compress {
		// NewWriter only fails on invalid options.
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			j.err = err
		} else {
			j.zw = zw
			w = zw
		}
	}
	j.bw = bufio.NewWriterSize(w, 256<<10)
	p := append(make([]byte, 0, len(archive)+32), `{"archive":"`...)
	p = appendJSONString(p, archive)
	j.prefix = append(p, `","filename":"`...)
	return j
}

// Write writes r as one JSON line.
func (j *JSONLWriter) Write(r Row) error {
	if j.err != nil {
		return j.err
	}
	if j.closed {
		return errWriterClosed
	}
	b := append(j.buf[:0], j.prefix...)
	b = appendJSONString(b, r.Name)
	b = append(b, `","size":`...)
	b = strconv.AppendInt(b, r.Size, 10)
	b = append(b, `,"type":"`...)
	b = appendJSONString(b, r.Type)
	b = append(b, `","mode":`...)
	b = strconv.AppendInt(b, r.Mode, 10)
	b = append(b, `,"mtime":`...)
	b = strconv.AppendInt(b, r.Mtime, 10)
	b = append(b, `,"linkname":"`...)
	b = appendJSONString(b, r.Linkname)
	b = append(b, `","header_offset":`...)
	b = strconv.AppendInt(b, r.HeaderOffset, 10)
	b = append(b, `,"data_offset":`...)
	b = strconv.AppendInt(b, r.DataOffset, 10)
	b = append(b, "}\n"...)
	j.buf = b
	if _, err := j.bw.Write(b); err != nil {
		j.err = err
		return err
	}
	return nil
}

// Close flushes buffered output and, when compressing, finishes the zstd
// stream. It does not close the underlying writer. Calling Close again
// returns nil.
func (j *JSONLWriter) Close() error {
	if j.closed {
		return nil
	}
	j.closed = true
	err := j.err
	if err == nil {
		err = j.bw.Flush()
	}
	if j.zw != nil {
		if cerr := j.zw.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil && j.err == nil {
		j.err = err
	}
	return err
}

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for ASCII bytes that need no escaping in a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// appendJSONString appends s, escaped as the contents of a JSON string (no
// surrounding quotes), the way encoding/json does without HTML escaping:
// control characters are escaped, invalid UTF-8 becomes \ufffd and U+2028 /
// U+2029 are escaped.
func appendJSONString(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}
