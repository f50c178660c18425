package listing

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The SDK decodes ListObjectsV2 responses with a reflection-driven XML
// decoder that costs several microseconds per key, far more than the
// request itself on a fast network. fastParse replaces that work: a
// deserialize middleware reads a successful response's body, scans it with
// the small parser below and hands the page over through the result
// metadata, giving the SDK an empty document to decode instead. Errors,
// retries and signing stay the SDK's; anything the scanner does not
// understand falls back to the SDK's decoder with the original body.

type fastPageKey struct{}

var fastHits, fastMisses atomic.Int64

// FastParseStats reports how many list responses the fast parser decoded
// and how many it left to the SDK's decoder (diagnostics and tests).
func FastParseStats() (hits, misses int64) { return fastHits.Load(), fastMisses.Load() }

// fastPage is a ListObjectsV2 page as the fast parser saw it.
type fastPage struct {
	Contents     []Entry
	Prefixes     []string
	IsTruncated  bool
	NextToken    string
	EncodingType string
	// KeysDecoded: Contents[:KeysDecoded] have their keys URL-decoded
	// already (EncodingType came before them).
	KeysDecoded int
}

var emptyListResult = []byte(`<ListBucketResult></ListBucketResult>`)

// bodyPool recycles response buffers (a page is ~100-300 KB).
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// fastParser parses ListObjectsV2 pages with parseListXML, skipping the
// entry fields in omit.
type fastParser struct{ omit Fields }

func (fastParser) ID() string { return "S3TurboFastListParse" }

func (f fastParser) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error) {
	out, md, err := next.HandleDeserialize(ctx, in)
	if err != nil {
		return out, md, err
	}
	resp, ok := out.RawResponse.(*smithyhttp.Response)
	if !ok || resp.StatusCode != 200 || resp.Body == nil {
		return out, md, nil
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if n := resp.ContentLength; n > 0 && n < 64<<20 {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, rerr := buf.ReadFrom(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		bodyPool.Put(buf)
		return out, md, fmt.Errorf("reading ListObjectsV2 response: %w", rerr)
	}
	raw := buf.Bytes()
	if p := fastParse(raw, f.omit); p != nil {
		md.Set(fastPageKey{}, p)
		resp.Body = io.NopCloser(bytes.NewReader(emptyListResult))
		bodyPool.Put(buf) // the page holds copies, not views, of the body
	} else {
		resp.Body = io.NopCloser(bytes.NewReader(raw))
	}
	return out, md, nil
}

// fastParse parses a ListObjectsV2 body with the fast parser, counting hits
// and misses (FastParseStats); nil when it does not understand the body
// (the SDK's parser is then used).
func fastParse(raw []byte, omit Fields) *fastPage {
	p, err := parseListOmit(raw, true, omit)
	if err != nil {
		fastMisses.Add(1)
		return nil
	}
	fastHits.Add(1)
	return p
}

// withFastParse returns a per-call option installing fastParser.
func withFastParse(omit Fields) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Deserialize.Insert(fastParser{omit: omit}, "OperationDeserializer", middleware.After)
		})
	}
}

var errScan = errors.New("unexpected XML")

// xmlScanner walks elements of a document; it understands exactly what S3
// list responses contain (elements, text, entities, declarations).
type xmlScanner struct {
	b   []byte
	pos int
}

// next returns the next tag: name, whether it closes, whether it is
// self-closing. ok is false at the end of input.
func (s *xmlScanner) next() (name []byte, closing, selfClosing, ok bool, err error) {
	for {
		// Elements mostly follow each other directly: look before searching.
		if s.pos >= len(s.b) || s.b[s.pos] != '<' {
			i := bytes.IndexByte(s.b[s.pos:], '<')
			if i < 0 {
				return nil, false, false, false, nil
			}
			s.pos += i
		}
		s.pos++
		if s.pos >= len(s.b) {
			return nil, false, false, false, errScan
		}
		switch s.b[s.pos] {
		case '?', '!':
			j := bytes.IndexByte(s.b[s.pos:], '>')
			if j < 0 {
				return nil, false, false, false, errScan
			}
			if s.b[s.pos] == '!' && bytes.HasPrefix(s.b[s.pos:], []byte("![CDATA[")) {
				return nil, false, false, false, errScan // never sent by S3; let the SDK handle it
			}
			s.pos += j + 1
			continue
		case '/':
			closing = true
			s.pos++
		}
		// Tags are short: a plain loop beats IndexByte's set-up. The name
		// ends at the first blank (attributes follow) or at '>'.
		start, end := s.pos, -1
		j := s.pos
		for ; j < len(s.b) && s.b[j] != '>'; j++ {
			if end < 0 {
				if c := s.b[j]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
					end = j
				}
			}
		}
		if j >= len(s.b) {
			return nil, false, false, false, errScan
		}
		s.pos = j + 1
		if j > start && s.b[j-1] == '/' {
			selfClosing = true
			j--
		}
		if end < 0 || end > j {
			end = j
		}
		return s.b[start:end], closing, selfClosing, true, nil
	}
}

// text returns the character data up to the next '<' (entities decoded)
// and leaves the scanner on that '<'.
func (s *xmlScanner) text() (string, error) {
	i := bytes.IndexByte(s.b[s.pos:], '<')
	if i < 0 {
		return "", errScan
	}
	raw := s.b[s.pos : s.pos+i]
	s.pos += i
	if bytes.IndexByte(raw, '&') < 0 {
		return string(raw), nil
	}
	b, err := appendUnescapedXML(nil, raw)
	return string(b), err
}

// appendUnescapedXML appends character data to out with its entities decoded.
func appendUnescapedXML(out, raw []byte) ([]byte, error) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '&' {
			out = append(out, c)
			continue
		}
		j := bytes.IndexByte(raw[i:], ';')
		if j < 0 {
			return nil, errScan
		}
		ent := raw[i+1 : i+j]
		i += j
		switch string(ent) {
		case "amp":
			out = append(out, '&')
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			if len(ent) < 2 || ent[0] != '#' {
				return nil, errScan
			}
			var n uint64
			var err error
			if ent[1] == 'x' || ent[1] == 'X' {
				n, err = strconv.ParseUint(string(ent[2:]), 16, 32)
			} else {
				n, err = strconv.ParseUint(string(ent[1:]), 10, 32)
			}
			if err != nil {
				return nil, errScan
			}
			out = appendRune(out, rune(n))
		}
	}
	return out, nil
}

func appendRune(b []byte, r rune) []byte {
	return append(b, string(r)...)
}

// skip consumes the rest of an element whose start tag was just read.
func (s *xmlScanner) skip() error {
	depth := 1
	for depth > 0 {
		_, closing, self, ok, err := s.next()
		if err != nil {
			return err
		}
		if !ok {
			return errScan
		}
		switch {
		case self:
		case closing:
			depth--
		default:
			depth++
		}
	}
	return nil
}

// leaf reads a simple element's text and its closing tag.
func (s *xmlScanner) leaf(self bool) (string, error) {
	if self {
		return "", nil
	}
	t, err := s.text()
	if err != nil {
		return "", err
	}
	_, closing, _, ok, err := s.next()
	if err != nil || !ok || !closing {
		return "", errScan
	}
	return t, nil
}

// timeCache is the last timestamp a page's parse read: its bytes (n of
// them, 0 for none) and value. Held in an array, not a string, so that
// filling it allocates nothing.
type timeCache struct {
	b [32]byte
	n int
	v int64
}

// parse parses S3's ISO-8601 timestamps into unix nanoseconds. Pages
// repeat timestamps: one equal to the last is answered by a comparison.
// S3's own form (2006-01-02T15:04:05.000Z) is read directly; anything
// else goes through time.Parse.
func (c *timeCache) parse(b []byte) (int64, error) {
	if c.n > 0 && string(b) == string(c.b[:c.n]) {
		return c.v, nil
	}
	v, ok := parseUTCStamp(b)
	if !ok {
		t, err := time.Parse(time.RFC3339Nano, string(b))
		if err != nil {
			return 0, errScan
		}
		v = t.UnixNano()
	}
	if len(b) <= len(c.b) { // longer ones are read every time
		c.n, c.v = copy(c.b[:], b), v
	}
	return v, nil
}

// parseUTCStamp reads a timestamp in the form S3 writes,
// 2006-01-02T15:04:05.000Z or 2006-01-02T15:04:05Z, as unix nanoseconds,
// with the values time.Parse would give; ok is false for any other form
// or an out-of-range field (the caller then asks time.Parse). On a real
// bucket, where every object's time differs, time.Parse and the string it
// needed were as much CPU as the rest of an entry's parse.
func parseUTCStamp(b []byte) (ns int64, ok bool) {
	if (len(b) != 24 || b[19] != '.' || b[23] != 'Z') && (len(b) != 20 || b[19] != 'Z') ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return 0, false
	}
	num := func(i, n int) int64 {
		v := int64(0)
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return -1
			}
			v = v*10 + int64(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec, milli := num(11, 2), num(14, 2), num(17, 2), int64(0)
	if len(b) == 24 {
		milli = num(20, 3)
	}
	if year < 1 || month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 || milli < 0 {
		return 0, false
	}
	secs := daysSinceEpoch(year, month, day)*86400 + hour*3600 + minute*60 + sec
	return secs*1e9 + milli*1e6, true
}

// daysIn is the number of days in month of year (proleptic Gregorian).
func daysIn(month, year int64) int64 {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysSinceEpoch is the number of days from 1970-01-01 to year-month-day
// (negative before it), by the civil-from-days inverse: years start in
// March, so the leap day is the last day of a year.
func daysSinceEpoch(year, month, day int64) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400 // year >= 0 here: the division need not floor
	yoe := year - era*400
	mp := (month + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// parseListXML parses a ListBucketResult document (ListObjectsV2).
//
// Keys and ETags of a page share one string (an arena): one allocation per
// page instead of two per entry, and no copy (the arena becomes the string).
// Entries hold substrings of it, so a kept entry keeps its page's names
// (~75 KB) alive, not the response body.
func parseListXML(b []byte) (*fastPage, error) { return parseList(b, true) }

// parseList is parseListXML; fast=false parses every <Contents> element
// with the generic walk (to test the fast path against).
func parseList(b []byte, fast bool) (*fastPage, error) { return parseListOmit(b, fast, 0) }

// parseListOmit is parseList leaving the fields in omit empty in entries
// the fast path parses (it still checks their elements are well formed).
func parseListOmit(b []byte, fast bool, omit Fields) (*fastPage, error) {
	s := &xmlScanner{b: b}
	name, closing, self, ok, err := s.next()
	if err != nil || !ok || closing || self || string(name) != "ListBucketResult" {
		return nil, errScan
	}
	p := &fastPage{}
	pp := parserPool.Get().(*pageParser)
	pp.s, pp.arena, pp.spans, pp.tc, pp.urlKeys = s, make([]byte, 0, pp.arenaCap(len(b))), pp.spans[:0], timeCache{}, false
	pp.omit = omit
	defer parserPool.Put(pp)
	for {
		name, closing, self, ok, err := s.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, errScan // no closing ListBucketResult: truncated
		}
		if closing {
			if string(name) != "ListBucketResult" {
				return nil, errScan
			}
			pp.finish(p)
			return p, nil
		}
		switch string(name) {
		case "Contents":
			if self || !fast || !pp.contentsFast() {
				if err := pp.contents(self); err != nil {
					return nil, err
				}
			}
		case "CommonPrefixes":
			pre, err := parsePrefixes(s, self)
			if err != nil {
				return nil, err
			}
			p.Prefixes = append(p.Prefixes, pre)
		case "IsTruncated":
			t, err := s.leaf(self)
			if err != nil {
				return nil, err
			}
			p.IsTruncated = t == "true"
		case "NextContinuationToken":
			if p.NextToken, err = s.leaf(self); err != nil {
				return nil, err
			}
		case "EncodingType":
			if p.EncodingType, err = s.leaf(self); err != nil {
				return nil, err
			}
			if p.EncodingType == "url" && len(pp.spans) == 0 {
				pp.urlKeys = true
			}
		default:
			if !self {
				if err := s.skip(); err != nil {
					return nil, err
				}
			}
		}
	}
}

// pageParser collects a page's entries with their key and ETag as spans
// of one arena, turned into strings once the page is complete.
type pageParser struct {
	s     *xmlScanner
	arena []byte // allocated per page: finish turns it into the entries' string
	// lastArena is the arena's size on the page this parser parsed last:
	// pages of one listing are alike, so the next arena is sized from it.
	lastArena int
	spans     []entrySpans
	tc        timeCache
	// urlKeys: keys are URL-encoded (EncodingType=url came first) and are
	// decoded into the arena.
	urlKeys bool
	// omit: fields contentsOne leaves empty (their text is not copied or
	// parsed).
	omit Fields
}

// parserPool recycles pageParsers: their spans are copied out by finish,
// so only the page's arena and entries are allocated per page.
var parserPool = sync.Pool{New: func() any { return new(pageParser) }}

type entrySpans struct {
	e                 Entry
	key0, key1, etag1 int // arena[key0:key1] is the key, arena[key1:etag1] the ETag
}

// arenaCap is the capacity to give the arena of a page of n bytes: a
// little over the last page's (growing it costs a copy, slack is memory
// kept as long as the entries), at most n (decoded text never grows).
func (pp *pageParser) arenaCap(n int) int {
	if pp.lastArena == 0 {
		return n / 3
	}
	return min(n, pp.lastArena+pp.lastArena/8+256)
}

// finish sets the page's entries, their strings cut from the arena.
func (pp *pageParser) finish(p *fastPage) {
	// The arena is never written again: it can be the string itself.
	arena := unsafe.String(unsafe.SliceData(pp.arena), len(pp.arena))
	pp.lastArena, pp.arena = len(pp.arena), nil
	if pp.urlKeys {
		p.KeysDecoded = len(pp.spans)
	}
	p.Contents = make([]Entry, len(pp.spans))
	for i := range pp.spans {
		sp := &pp.spans[i]
		e := sp.e
		e.Key, e.ETag = arena[sp.key0:sp.key1], arena[sp.key1:sp.etag1]
		p.Contents[i] = e
	}
}

// leafRaw reads a simple element's character data as a view of the
// document (entities not decoded) and its closing tag, which must close
// name.
func (s *xmlScanner) leafRaw(name []byte, self bool) (raw []byte, err error) {
	if self {
		return nil, nil
	}
	i := bytes.IndexByte(s.b[s.pos:], '<')
	if i < 0 {
		return nil, errScan
	}
	raw = s.b[s.pos : s.pos+i]
	s.pos += i
	// The closing tag almost always follows at once: "</name>".
	if rest := s.b[s.pos:]; len(rest) >= len(name)+3 && rest[1] == '/' && rest[len(name)+2] == '>' &&
		bytes.Equal(rest[2:len(name)+2], name) {
		s.pos += len(name) + 3
	} else if end, closing, _, ok, err := s.next(); err != nil || !ok || !closing || !bytes.Equal(end, name) {
		return nil, errScan
	}
	return raw, nil
}

// appendText appends XML character data to the arena, entities decoded
// (an ETag's &quot;...&quot; becomes "...").
func (pp *pageParser) appendText(raw []byte) error {
	if bytes.IndexByte(raw, '&') < 0 {
		pp.arena = append(pp.arena, raw...)
		return nil
	}
	const q = "&quot;"
	if len(raw) >= 2*len(q) && bytes.HasPrefix(raw, []byte(q)) && bytes.HasSuffix(raw, []byte(q)) &&
		bytes.IndexByte(raw[len(q):len(raw)-len(q)], '&') < 0 {
		pp.arena = append(pp.arena, '"')
		pp.arena = append(pp.arena, raw[len(q):len(raw)-len(q)]...)
		pp.arena = append(pp.arena, '"')
		return nil
	}
	out, err := appendUnescapedXML(pp.arena, raw)
	if err != nil {
		return err
	}
	pp.arena = out
	return nil
}

// appendKey appends a key's character data to the arena, URL-decoded when
// the page's keys are (failing on a malformed escape, so that the page goes
// to the SDK's decoder and the error names the key).
func (pp *pageParser) appendKey(raw []byte) error {
	if !pp.urlKeys || bytes.IndexByte(raw, '%') < 0 && bytes.IndexByte(raw, '+') < 0 {
		return pp.appendText(raw)
	}
	mark := len(pp.arena)
	if err := pp.appendText(raw); err != nil {
		return err
	}
	// Decode in place: the decoded form is never longer.
	src, w := pp.arena[mark:], mark
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(src) || unhex(src[i+1]) < 0 || unhex(src[i+2]) < 0 {
				pp.arena = pp.arena[:mark]
				return errScan
			}
			c = byte(unhex(src[i+1])<<4 | unhex(src[i+2]))
			i += 2
		}
		pp.arena[w] = c
		w++
	}
	pp.arena = pp.arena[:w]
	return nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

// parseDecimal parses a non-negative decimal integer (an object size).
func parseDecimal(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 18 {
		v, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, errScan
		}
		return v, nil
	}
	var v int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, errScan
		}
		v = v*10 + int64(c-'0')
	}
	return v, nil
}

// keyStop marks the bytes the key loop of contentsFast stops at: the end
// of the text, an entity, and the two bytes URL-decoding changes.
var keyStop = [256]bool{'<': true, '&': true, '%': true, '+': true}

// contentsFast parses the <Contents> element whose start tag was just
// read, and the ones directly after it, the way S3 sends them -- leaf
// elements one after another, no blanks between them -- checking each
// start tag against the few S3 uses instead of scanning it. A key is
// copied into the arena and URL-decoded in one pass. It returns true with
// the scanner after the last element it parsed; false when an element
// looks any other way (a key missing, an Owner, whitespace, an entity in
// a URL-encoded key), with the scanner just after that element's start
// tag, for contents to parse or reject it.
func (pp *pageParser) contentsFast() bool {
	b := pp.s.b
	for {
		pos, ok := pp.contentsOne(b, pp.s.pos)
		if !ok {
			return false
		}
		pp.s.pos = pos
		if len(b)-pos < 10 || string(b[pos:pos+10]) != "<Contents>" {
			return true
		}
		pp.s.pos = pos + 10
	}
}

// contentsOne parses one <Contents> element from b[pos:] (just after its
// start tag) and returns the position after its end tag; ok is false, with
// the arena and spans as they were, when the element is not in the form
// contentsFast handles.
func (pp *pageParser) contentsOne(b []byte, pos int) (next int, ok bool) {
	var e Entry
	mark := len(pp.arena)
	sp := entrySpans{key0: -1}
	haveETag := false
	for {
		if len(b)-pos < 3 || b[pos] != '<' {
			break
		}
		// Each case checks its own tags and leaves t1 at the text's end.
		var t1 int
		switch b[pos+1] {
		case '/':
			if !tagAt(b, pos, "</Contents>") || sp.key0 < 0 {
				break
			}
			if !haveETag {
				sp.etag1 = len(pp.arena)
			}
			sp.e = e
			pp.spans = append(pp.spans, sp)
			return pos + len("</Contents>"), true
		case 'K':
			if !tagAt(b, pos, "<Key>") || sp.key0 >= 0 || haveETag {
				break // a second key, or the ETag first (the arena holds the key first)
			}
			sp.key0 = len(pp.arena)
			if t1, ok = pp.copyKey(b, pos+len("<Key>")); !ok || !tagAt(b, t1, "</Key>") {
				break
			}
			sp.key1 = len(pp.arena)
			pos = t1 + len("</Key>")
			continue
		case 'E':
			if !tagAt(b, pos, "<ETag>") || sp.key0 < 0 || haveETag {
				break
			}
			t0 := pos + len("<ETag>")
			// Usually &quot;<32 hex>&quot;.
			if t1 = textEndNear(b, t0, 44); t1 < 0 || (pp.omit&ETag == 0 && pp.appendText(b[t0:t1]) != nil) {
				break
			}
			sp.etag1, haveETag = len(pp.arena), true
			if !tagAt(b, t1, "</ETag>") {
				break
			}
			pos = t1 + len("</ETag>")
			continue
		case 'S':
			if tagAt(b, pos, "<Size>") {
				var v int64
				t0 := pos + len("<Size>")
				for t1 = t0; t1 < len(b) && b[t1] >= '0' && b[t1] <= '9' && t1-t0 < 18; t1++ {
					v = v*10 + int64(b[t1]-'0')
				}
				if t1 == t0 || !tagAt(b, t1, "</Size>") {
					break // empty, not a number, or too long for this loop
				}
				e.Size = v
				pos = t1 + len("</Size>")
				continue
			}
			// Nearly always STANDARD: one comparison, not a tag, a search
			// for the text's end and a tag (15% of a deep page's parse).
			if tagAt(b, pos, standardClass) {
				pos += len(standardClass)
				continue
			}
			if next, ok := skipLeaf(b, pos, "<StorageClass>", "</StorageClass>"); ok {
				pos = next
				continue
			}
		case 'L':
			if !tagAt(b, pos, "<LastModified>") {
				break
			}
			t0 := pos + len("<LastModified>")
			// Usually 2006-01-02T15:04:05.000Z.
			if t1 = textEndNear(b, t0, 24); t1 < 0 || !tagAt(b, t1, "</LastModified>") {
				break
			}
			if pp.omit&Mtime == 0 {
				v, err := pp.tc.parse(b[t0:t1])
				if err != nil {
					break
				}
				e.Mtime = v
			}
			pos = t1 + len("</LastModified>")
			continue
		case 'C':
			if next, ok := skipLeaf(b, pos, "<ChecksumAlgorithm>", "</ChecksumAlgorithm>"); ok {
				pos = next
				continue
			}
			if next, ok := skipLeaf(b, pos, "<ChecksumType>", "</ChecksumType>"); ok {
				pos = next
				continue
			}
		}
		break
	}
	pp.arena = pp.arena[:mark]
	return 0, false
}

// standardClass is the StorageClass element of nearly every entry.
const standardClass = "<StorageClass>STANDARD</StorageClass>"

// skipLeaf skips the element open + text + close at b[pos:], whose text
// is not kept, returning the position after it; ok is false when b[pos:]
// is not such an element.
func skipLeaf(b []byte, pos int, open, close string) (next int, ok bool) {
	if !tagAt(b, pos, open) {
		return 0, false
	}
	t1 := textEnd(b, pos+len(open))
	if t1 < 0 || !tagAt(b, t1, close) {
		return 0, false
	}
	return t1 + len(close), true
}

// tagAt reports whether b[pos:] starts with tag.
func tagAt(b []byte, pos int, tag string) bool {
	return len(b)-pos >= len(tag) && string(b[pos:pos+len(tag)]) == tag
}

// textEnd is the index of the first '<' at or after b[t0:], -1 if none.
func textEnd(b []byte, t0 int) int {
	i := bytes.IndexByte(b[t0:], '<')
	if i < 0 {
		return -1
	}
	return t0 + i
}

// textEndNear is textEnd for text usually width bytes long: it looks
// there before searching.
func textEndNear(b []byte, t0, width int) int {
	if t1 := t0 + width; t1 < len(b) && b[t1] == '<' {
		return t1
	}
	return textEnd(b, t0)
}

// stopAt returns the index of the first byte at or after b[i:] that
// keyStop marks, or len(b), eight bytes at a time (keys run to 100 bytes
// and more, and this loop is most of a page's parse). The eight-byte test
// flags '<' and every byte below '-', which holds '%', '&' and '+' (two
// tests, not one per byte: the four of them were 8% of a deep listing's
// client CPU), so it may also stop at a byte keyStop does not mark (a
// blank, '!', '(' ...): copyKey copies those on.
func stopAt(b []byte, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		y := x ^ (ones * '<')
		// High bit set at bytes below '-' and at bytes equal to '<';
		// each test is exact at its lowest flagged byte, so their union is.
		if m := (x-ones*'-')&^x&highs | (y-ones)&^y&highs; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && !keyStop[b[i]] {
		i++
	}
	return i
}

// copyKey appends the key text at b[t0:] to the arena, URL-decoded when
// the page's keys are, and returns where the text ends (the '<' after it).
// ok is false for an entity (XML-decoding comes before URL-decoding, which
// appendKey does in two passes) or a malformed escape.
func (pp *pageParser) copyKey(b []byte, t0 int) (t1 int, ok bool) {
	i := t0
	for {
		j := stopAt(b, i)
		pp.arena = append(pp.arena, b[i:j]...)
		if j >= len(b) {
			return 0, false
		}
		switch c := b[j]; {
		case c == '<':
			return j, true
		case c == '&':
			return 0, false
		case pp.urlKeys && c == '+':
			pp.arena = append(pp.arena, ' ')
			i = j + 1
		case pp.urlKeys && c == '%':
			if j+2 >= len(b) {
				return 0, false
			}
			h, l := unhex(b[j+1]), unhex(b[j+2])
			if h < 0 || l < 0 {
				return 0, false
			}
			pp.arena = append(pp.arena, byte(h<<4|l))
			i = j + 3
		default: // taken as it is
			pp.arena = append(pp.arena, c)
			i = j + 1
		}
	}
}

// add records an entry whose key and ETag are raw character data, leaving
// the arena as it was when they cannot be decoded.
func (pp *pageParser) add(e Entry, key, etag []byte) error {
	mark := len(pp.arena)
	sp := entrySpans{e: e, key0: mark}
	err := pp.appendKey(key)
	sp.key1 = len(pp.arena)
	if err == nil {
		err = pp.appendText(etag)
	}
	if err != nil {
		pp.arena = pp.arena[:mark]
		return err
	}
	sp.etag1 = len(pp.arena)
	pp.spans = append(pp.spans, sp)
	return nil
}

// contents parses one <Contents> element (its start tag just read).
func (pp *pageParser) contents(self bool) error {
	if self {
		return errScan
	}
	s := pp.s
	var e Entry
	haveKey := false
	var keyRaw, etagRaw []byte
	for {
		name, closing, self, ok, err := s.next()
		if err != nil || !ok {
			return errScan
		}
		if closing {
			if !haveKey {
				return errScan
			}
			break
		}
		switch string(name) {
		case "Key":
			if keyRaw, err = s.leafRaw(name, self); err != nil {
				return err
			}
			haveKey = true
		case "Size":
			t, err := s.leafRaw(name, self)
			if err != nil {
				return err
			}
			if e.Size, err = parseDecimal(t); err != nil {
				return err
			}
		case "ETag":
			if etagRaw, err = s.leafRaw(name, self); err != nil {
				return err
			}
		case "LastModified":
			t, err := s.leafRaw(name, self)
			if err != nil {
				return err
			}
			if e.Mtime, err = pp.tc.parse(t); err != nil {
				return err
			}
		default:
			if !self {
				if err := s.skip(); err != nil {
					return err
				}
			}
		}
	}
	return pp.add(e, keyRaw, etagRaw)
}

func parsePrefixes(s *xmlScanner, self bool) (string, error) {
	if self {
		return "", errScan
	}
	var pre string
	have := false
	for {
		name, closing, self, ok, err := s.next()
		if err != nil || !ok {
			return "", errScan
		}
		if closing {
			if !have {
				return "", errScan
			}
			return pre, nil
		}
		if string(name) == "Prefix" {
			if pre, err = s.leaf(self); err != nil {
				return "", err
			}
			have = true
		} else if !self {
			if err := s.skip(); err != nil {
				return "", err
			}
		}
	}
}
