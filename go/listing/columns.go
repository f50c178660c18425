package listing

import "strings"

// Column alphabets. Positions read names as digits (see position); reading
// every byte in one alphabet of all the bytes seen wastes most of the
// number line on names no key has. A folder of ISO timestamps
// (events/2024-01-01T00:00:00.000Z-9e421e.json) uses ~27 bytes, but its
// minutes' tens only 0-5 and its 'T' only 'T': one page's extent read as a
// sliver of the hour, ranges spanning days were estimated at millions of
// pages, and cuts fell between real names (T00:98, T0a), so empty pieces
// were listed and split again. So each column (a byte's offset inside its
// path segment, at the segment's depth) keeps the bytes seen there, and
// position reads a column in its own bytes once they are known.
//
// A column's bytes are known once something before it varied (see learn);
// until then it is read in the whole alphabet.

const (
	colDepths = 8  // path segments with column alphabets
	colWidth  = 64 // bytes per segment with column alphabets
	colSlots  = colDepths * colWidth
)

// columns learns column alphabets from listed names. Caller holds the
// lister's mu.
type columns struct {
	seen  [colSlots][4]uint64 // bytes seen at each column
	known [colSlots]bool      // the column ran through its values
	ends  [colSlots]bool      // some name ended just before the column
	list  [colSlots]colAlpha  // known columns' alphabets
	// ref is the first segment seen at each depth in directory refDir
	// (the last directory a name at that depth was seen in).
	ref    [colDepths]string
	refDir [colDepths]string
}

// colAlpha is a column's alphabet: the bytes seen there, sorted (nil: not
// known), and whether a name may end there. Names of one width never end
// inside it: there the digit meaning "end of name" would leave a sliver
// of the number line empty at every column, and together these slivers
// read a day of timestamps as several.
type colAlpha struct {
	bytes []byte
	end   bool
}

// learn adds key's columns, prev being the name listed before it on the
// same page ("" for none); it reports whether an alphabet changed.
//
// A column is known once something before it in its path segment varied:
// when key differs there from prev (the column then ran through the
// values it takes under prev's text), or from the first name seen in the
// same directory (a folder of timestamps shows a new day long before one
// page crosses midnight). Keys arrive in order, so a leading column shows
// only its smallest values until then: the first pages of hashes show
// their first digit as 0, and it is read in the whole alphabet. (Their
// second digit, known as soon as another range lists names under 7, has
// shown only 0-2 by then: directories of hashes keep one alphabet, see
// alphaFor.) The segments below the one that varied stay as they were:
// day=01/part-00099 then day=02/part-00000 saw only the counter's last
// digits run, not its first.
func (c *columns) learn(prev, key string) bool {
	changed := false
	from, to := len(key), len(key) // prev's rule: bytes [from, to) are known
	if prev != "" && prev < key {
		from = len(commonPrefix(prev, key)) + 1
		if e := strings.IndexByte(key[from-1:], '/'); e >= 0 {
			to = from + e // up to the segment's '/'
		}
	}
	refFrom := len(key) // the directory's rule: known from here in this segment
	depth, col := 0, 0
	for i := 0; i < len(key) && depth < colDepths; i++ {
		if col == 0 {
			refFrom = c.varied(depth, key[:i], key[i:])
		}
		if col < colWidth {
			k := depth*colWidth + col
			b := key[i]
			bit := uint64(1) << (b & 63)
			fresh := c.seen[k][b>>6]&bit == 0
			c.seen[k][b>>6] |= bit
			if (i >= from && i < to || col >= refFrom) && !c.known[k] {
				c.known[k], fresh = true, true
			}
			if fresh && c.known[k] {
				c.list[k] = colAlpha{bytes: c.bytes(k), end: c.ends[k]}
				changed = true
			}
		}
		col++
		if key[i] == '/' {
			depth, col = depth+1, 0
		}
	}
	if depth < colDepths && col < colWidth && col > 0 {
		// The name ends here, before this column.
		k := depth*colWidth + col
		if !c.ends[k] {
			c.ends[k] = true
			if c.known[k] {
				c.list[k].end = true
				changed = true
			}
		}
	}
	return changed
}

// varied compares the segment that rest begins with, in directory dir at
// depth, with the first one seen there, and returns the column from which
// on that segment's columns are known (past its end when none is).
func (c *columns) varied(depth int, dir, rest string) int {
	seg := rest
	if e := strings.IndexByte(rest, '/'); e >= 0 {
		seg = rest[:e+1]
	}
	if c.ref[depth] == "" || c.refDir[depth] != dir {
		c.refDir[depth] = strings.Clone(dir)
		c.ref[depth] = strings.Clone(seg[:min(len(seg), colWidth)])
		return len(rest)
	}
	if m := len(commonPrefix(seg, c.ref[depth])); m < len(c.ref[depth]) && m < len(seg) {
		return m + 1
	}
	return len(rest)
}

// bytes lists the bytes seen at slot k, sorted.
func (c *columns) bytes(k int) []byte {
	var a []byte
	for b := 0; b < 256; b++ {
		if c.seen[k][b>>6]&(1<<(b&63)) != 0 {
			a = append(a, byte(b))
		}
	}
	return a
}

// scale is the digits position reads bytes in: a known column's own
// bytes, else fallback (every byte seen, or a directory's), where a name
// may end anywhere.
type scale struct {
	fallback []byte
	cols     *[colSlots]colAlpha // nil: fallback everywhere
	// hashes is set for names that are hashes (see hashNames): of one
	// width, they end nowhere inside the bytes position reads, so fallback
	// has no digit for "end of name" there. With one, every column's
	// first digit was a sliver no name lies in: under a root of hex names
	// those slivers of the second column (1/289 of the number line every
	// 1/17) fell inside one of four even cuts, whose pieces then held
	// 0.80-1.06 of a 64th of the keys. The largest took a page more than
	// the oracle's ranges, a round trip more for the whole listing.
	hashes bool
}

// hashScale is the scale names that are hashes (see hashNames) are read
// in: alpha in every column, with no digit for "end of name".
func hashScale(alpha []byte) scale { return scale{fallback: alpha, hashes: true} }

// at is the alphabet of column col at segment depth, and 1 when it has a
// digit for "end of name" (0 when not).
func (s scale) at(depth, col int) ([]byte, int) {
	if s.cols != nil && depth < colDepths && col < colWidth {
		if a := s.cols[depth*colWidth+col]; a.bytes != nil {
			if a.end {
				return a.bytes, 1
			}
			return a.bytes, 0
		}
	}
	if s.hashes {
		return s.fallback, 0
	}
	return s.fallback, 1
}

// top is the largest byte seen ('~' before any): what a guess of the
// largest key is padded with.
func (s scale) top() byte {
	if n := len(s.fallback); n > 0 {
		return s.fallback[n-1]
	}
	return '~'
}

// cursorAt is where a string under base continues: its segment depth and
// its column there.
func cursorAt(base string) (depth, col int) {
	return strings.Count(base, "/"), len(base) - strings.LastIndexByte(base, '/') - 1
}
