package listing

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Options tunes Parallel.
type Options struct {
	// Workers is the number of LIST requests in flight at once (default 32).
	Workers int
	// Sorted makes emit see pages in key order (out-of-order ranges are
	// buffered). Unsorted, each page is sorted but pages from different
	// ranges interleave.
	Sorted bool
	// Delimiter, if set (e.g. "/"), lists one level: common prefixes are
	// entries with IsDir set (each emitted once even when ranges cut through
	// it), and structure discovery is off (the level itself is flat).
	Delimiter string
	// MinSplitPages: a range is only split when it is estimated to hold at
	// least this many more pages (default 8), into pieces of at least half
	// that. Every extra range costs about half a request (its last page is
	// partial), so this bounds the request overhead over the minimum
	// (keys/1000).
	MinSplitPages int
	// SplitAfter are keys to cut the key space at before the first request
	// (for example every 1000th key of an earlier listing of the same
	// prefix): with good ones every worker has a range of its own from the
	// start, instead of after the splitter has discovered the layout.
	// Discovery and work stealing go on as usual, so stale or skewed points
	// cost speed, never keys. Points outside prefix are ignored; order and
	// duplicates do not matter. Each range costs about half a request over
	// the minimum (its last page is partial), so a point per ~10 pages or
	// more is plenty.
	SplitAfter []string
	// Omit are entry fields the caller does not use: emitted entries may
	// leave them empty (du omits ETag and Mtime).
	Omit Fields
}

// krange is a key range (lo, hi]: keys > lo and, unless open, <= hi.
// Listing it sends StartAfter=cursor and drops keys past hi, so any string
// is a valid split point and every key belongs to exactly one range.
type krange struct {
	start  string // lo at creation
	first  string // first key listed in the range, for density estimates
	cursor string // last key emitted (lo before the first page)
	prev   string // cursor before the last full page ("" if none yet)
	// leafKeys: keys listed so far directly in the cursor's folder, for
	// telling a dense flat folder of sequential names (found late, it would
	// be listed page by page) from one the folder positions can measure.
	leafKeys int64
	// leafHashes: the bytes of the names of the cursor's folder when its
	// last page, all in that folder, looked like hashes (see hashNames).
	leafHashes []byte
	// group, groupHashes, groupFrom: the text the names of the range's
	// last page all began with, past its folder, when they looked like
	// hashes past it read in groupHashes (see hashGroup), and that page's
	// first name ("" when not).
	group, groupFrom string
	groupHashes      []byte
	// groupCols: the group is one value of a numbered field (see
	// numberedField), its rest read in the listing's known columns.
	groupCols bool
	// padGroup: the text the names of the range's last page all began
	// with, past its folder, when they held a zero-padded number past it
	// (see numberNames): a word's counter, whose other words a group
	// probe finds (see padRest); "" when not.
	// padFrom is that page's first name.
	padGroup, padFrom string
	// pathKeys[j]: keys listed so far inside the cursor's folder j+1
	// levels below the prefix (see keysIn).
	pathKeys []int64
	hi       string
	open     bool // no upper bound
	seen     int64
	pages    int
	active   bool // a worker is listing it
	done     bool
	retryAt  int    // pages; no new split attempt before this
	needDir  string // a folder to probe before cutting inside it
	buf      []Page // Sorted mode: pages waiting for earlier ranges
	est      estCache
	// folder: the folder the range begins with when it was cut at the end
	// of the one before (see folderEnd); start is then that end. hiFolder
	// is the next range's folder when hi is such an end: estimates read
	// positions at it (see bound), as if the cut were there.
	folder, hiFolder string
	// seeded: cut by Options.SplitAfter (or the range before the first
	// cut), and not split since: see probeBetweenPages.
	seeded bool
	// wanted: cut by yieldTo for workers that leave ranges of hashes, and
	// not started yet.
	wanted bool
}

type lister struct {
	ctx    context.Context
	cancel context.CancelFunc
	api    API
	bucket string
	prefix string
	opt    Options
	emit   func(Page) error

	mu      sync.Mutex
	cond    *sync.Cond
	ranges  []*krange // ordered by key
	flushed int       // Sorted mode: ranges[:flushed] are fully emitted
	idle    int
	alpha   [256]bool
	// alphaList is alpha as a sorted list (nil: recompute); callers must
	// not modify it.
	alphaList []byte
	// cols holds column alphabets (see columns.go); alphaGen counts
	// changes to them and to alpha, for estimate's cache.
	cols     columns
	alphaGen int
	err      error

	dirs    map[string]*dirInfo // directory → its folders, from a delimiter probe (guarded by mu)
	shapes  map[string]*dirInfo // directory → its shape assumed from a sibling's (guarded by mu; see shape)
	sibling map[string]string   // directory → its first probed folder (guarded by mu)
	// calendar: directory depth → the first directory probed there whose
	// folders are a calendar's (months, days, hours; see calendarRun)
	// (guarded by mu).
	calendar map[int]string
	// groupSets: flat folder → the groups of names a probe with their
	// separator as the delimiter found in it (guarded by mu; see groupSet)
	groupSets map[string]*groupSet
	// loneGroups: texts past their folder that a group probe found to be
	// its folder's only group (guarded by mu; see runGroupProbe)
	loneGroups map[string]bool
	// groupsAsked: group probes of folders out for a text that is the
	// folder's own name, by its loneKey (guarded by mu; see runGroupProbe)
	groupsAsked map[string]int
	levels      map[int]*levelInfo // directory depth → what its probes found (guarded by mu)
	// hashLeaves: flat folder → the bytes of the hashes a full page of
	// names inside it showed (see hashNames), for interpolating in it
	// before (or without) a probe of it (guarded by mu; see alphaFor)
	hashLeaves map[string][]byte
	// stems: the stem the names at each depth below the prefix share, ""
	// where none (nil until the first full page; see learnStems); stemsOff
	// when a probe's answer did not fit them (guarded by mu).
	stems    []string
	stemsOff bool
	// daily: depths whose folders the first full page showed named by a
	// whole date (dt=2024-03-01/): a day each, and so maybe thousands of
	// them (guarded by mu; see learnStems and stemDelim).
	daily    map[int]bool
	unevenAt map[int]bool // directory depth → a stem probe there found uneven folders (guarded by mu)
	sweep    sweepCache   // sweepProbe's last answer (guarded by mu)
	pages    int          // pages listed by every range (guarded by mu)
	planned  int          // most pages a trusted estimate projected in all (guarded by mu; widens the probe budget)
	seen     int64        // keys listed by every range (guarded by mu)
	lat      latency      // guarded by mu
	liveCap  int          // when > 0: no splits beyond this many live ranges (guarded by mu)
	gen      uint64       // bumped when what probes found changes: cached estimates are stale (guarded by mu)
	// changes counts the events that wake idle workers (a page listed, a
	// range cut, a probe answered); fruitless is the state at which an
	// idle worker last looked for work and found none (see take; both
	// guarded by mu).
	changes   uint64
	fruitless idleKey
	// searched and skipped count the idle searches run and spared
	// (guarded by mu; read by tests).
	searched, skipped int
	// yields counts the ranges of hashes parked for other work (see
	// yieldTo; guarded by mu; read by tests).
	yields int

	emitMu    sync.Mutex
	dirsSeen  map[string]bool // Delimiter mode: common prefixes emitted (guarded by emitMu)
	counter   *Counter
	discovery atomic.Int64
}

// Parallel lists every key under prefix (no delimiter) with concurrent
// requests over adaptively split key ranges, calling emit for each page
// (serialized: emit is never called concurrently). Every key is emitted
// exactly once. It knows nothing in advance: delimiter listings reveal
// structure ("folders") to cut at, StartAfter cuts ranges anywhere, first
// pages give densities, and idle workers split the range with the most
// estimated work left. At most opt.Workers requests are in flight,
// probes included.
func Parallel(ctx context.Context, api API, bucket, prefix string, opt Options, emit func(Page) error) (Stats, error) {
	return ParallelCounted(ctx, api, bucket, prefix, opt, nil, emit)
}

// ParallelCounted is Parallel that also updates c (if not nil) as it goes.
func ParallelCounted(ctx context.Context, api API, bucket, prefix string, opt Options, c *Counter, emit func(Page) error) (Stats, error) {
	if c == nil {
		c = &Counter{}
	}
	if opt.Workers <= 0 {
		opt.Workers = 32
	}
	if opt.MinSplitPages <= 0 {
		opt.MinSplitPages = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	return newParallel(ctx, cancel, api, bucket, prefix, opt, c, emit).run()
}

// newParallel sets up the lister ParallelCounted runs (opt with its
// defaults filled in); cancel cancels ctx.
func newParallel(ctx context.Context, cancel context.CancelFunc, api API, bucket, prefix string, opt Options, c *Counter, emit func(Page) error) *lister {
	l := &lister{ctx: ctx, cancel: cancel, api: api, bucket: bucket, prefix: prefix, opt: opt, emit: emit, counter: c}
	l.cond = sync.NewCond(&l.mu)
	l.dirsSeen = map[string]bool{}
	l.dirs = map[string]*dirInfo{}
	l.shapes = map[string]*dirInfo{}
	l.sibling = map[string]string{}
	l.calendar = map[int]string{}
	l.groupSets = map[string]*groupSet{}
	l.loneGroups = map[string]bool{}
	l.groupsAsked = map[string]int{}
	l.levels = map[int]*levelInfo{}
	l.hashLeaves = map[string][]byte{}
	l.unevenAt = map[int]bool{}
	l.ranges = []*krange{{start: prefix, open: true}}
	l.learn(prefix)
	if pts := seedPoints(prefix, opt.SplitAfter); len(pts) > 0 {
		for _, p := range pts {
			l.learn(p)
		}
		l.apply(l.ranges[0], pts)
		for _, r := range l.ranges {
			r.seeded = true
		}
	}
	return l
}

// run lists with opt.Workers workers until every range is done, the
// listing fails or its context ends.
func (l *lister) run() (Stats, error) {
	ctx, opt, bucket, prefix := l.ctx, l.opt, l.bucket, l.prefix
	stop := context.AfterFunc(ctx, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer stop()
	var wg sync.WaitGroup
	wg.Add(opt.Workers)
	for i := 0; i < opt.Workers; i++ {
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					l.fail(fmt.Errorf("panic in parallel listing of s3://%s/%s: %v: %w", bucket, prefix, r, s3err.ErrInternal))
				}
			}()
			l.work()
		}()
	}
	wg.Wait()
	st := Stats{
		Requests:  int(l.counter.Requests.Load()),
		Discovery: int(l.discovery.Load()),
		Keys:      l.counter.Keys.Load(),
		Ranges:    len(l.ranges),
	}
	if l.err != nil {
		return st, l.err
	}
	if err := ctx.Err(); err != nil {
		return st, fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
	}
	return st, nil
}

// seedPoints returns the points of Options.SplitAfter that cut inside
// prefix, sorted and without duplicates.
func seedPoints(prefix string, points []string) []string {
	var pts []string
	for _, p := range points {
		if len(p) > len(prefix) && strings.HasPrefix(p, prefix) {
			pts = append(pts, p)
		}
	}
	sort.Strings(pts)
	return slices.Compact(pts)
}

// fail records err as the listing's error (unless one came first) and
// cancels the listing.
func (l *lister) fail(err error) {
	l.mu.Lock()
	l.failLocked(err)
	l.mu.Unlock()
}

// failLocked is fail for a caller holding mu. The first error is the
// listing's: a request cancelled by it must not hide it.
func (l *lister) failLocked(err error) {
	if l.err == nil {
		l.err = err
	}
	l.cond.Broadcast()
	l.cancel()
}

// learn adds a key's bytes to the alphabets used for interpolation.
// Caller holds mu (or no worker runs yet).
func (l *lister) learn(s string) { l.learnAfter("", s) }

// learnBytes adds s's bytes to the alphabet of every byte seen. Caller
// holds mu.
func (l *lister) learnBytes(s string) {
	for i := 0; i < len(s); i++ {
		if !l.alpha[s[i]] {
			l.alpha[s[i]] = true
			l.alphaList = nil
			l.alphaGen++
		}
	}
}

// learnAfter is learn for a name listed after prev on the same page ("":
// none), which tells which columns are known (see columns.learn).
func (l *lister) learnAfter(prev, s string) {
	l.learnBytes(s)
	if l.cols.learn(prev, s) {
		l.alphaGen++
	}
}

func (l *lister) work() {
	var r *krange
	for {
		if r == nil {
			r = l.take()
		}
		if r == nil {
			return
		}
		next, err := l.listRange(r)
		if err != nil {
			l.fail(err)
			return
		}
		r = next
	}
}

// alphabet returns the scale names are interpolated in: the column
// alphabets learned so far, else the bytes seen in keys (sorted).
func (l *lister) alphabet() scale {
	if l.alphaList == nil {
		l.alphaList = setBytes(&l.alpha)
	}
	return scale{fallback: l.alphaList, cols: &l.cols.list}
}

// upper returns r's upper bound, or for an open range a guess of the
// largest key: the cursor with every digit raised to '9' (every character
// to 'f' when the names below the listing's root look like hashes, see
// hashLike), then the largest byte seen. trusted is false for guesses
// other than the hash one.
func (l *lister) upper(r *krange, alpha scale) (hi string, trusted bool) {
	if !r.open {
		return r.bound(), true
	}
	// The byte itself: string(top) would be the character U+00top, whose
	// UTF-8 (0xC3 0xA9 for 0xE9) sorts before names starting with the
	// lead byte of Chinese, Cyrillic or emoji, so the guess fell behind
	// the cursor and such a listing ran as one range.
	top := string([]byte{alpha.top()})
	root := l.root() // the text every key shares
	if len(r.cursor) <= len(root) {
		return root + strings.Repeat(top, 16), false
	}
	hexOnly := hashLike(alpha.fallback, root)
	g := []byte(r.cursor)
	for i := len(root); i < len(g); i++ {
		switch {
		case hexOnly && (isDigit(g[i]) || g[i] >= 'a' && g[i] <= 'f'):
			g[i] = 'f'
		case isDigit(g[i]):
			g[i] = '9'
		}
	}
	guess := string(g) + top
	if guess <= r.cursor {
		return root + strings.Repeat(top, 16), false
	}
	return guess, hexOnly
}

// positionBytes is how many bytes past its base position reads: as many
// digits of a ~40-byte alphabet as a float64 resolves.
const positionBytes = 12

// position maps s to [0,1) relative to base: the bytes after base read as
// digits, each in its column's alphabet (see scale), where a digit 0 is
// "end of name" in columns where names may end.
func position(s, base string, alpha scale) float64 {
	if !strings.HasPrefix(s, base) {
		if s < base {
			return 0
		}
		return 1
	}
	depth, col := cursorAt(base)
	v, unit := 0.0, 1.0
	for i := len(base); i < len(s) && i < len(base)+positionBytes; i++ {
		a, end := alpha.at(depth, col)
		unit /= float64(len(a) + end)
		if s[i] == maxRune[0] && strings.HasPrefix(s[i:], maxRune) {
			// A folder's end (see folderEnd): s sorts after every name
			// with the text before it, at the position of the text's
			// successor. Read as digits, maxRune's four bytes (past the
			// alphabet of ASCII names) went on past that: hot/ + maxRune
			// read as 1.06 under a folder of hex names, the rest of the
			// range up to it as 85 pages where its last pages' extent
			// left about 18, and its even cuts all fell past its bound:
			// it could not be split, and listed its last pages alone.
			// (Other bytes past a column's alphabet are read on: a
			// column's alphabet is what was seen there, often not yet
			// its larger values, and the bytes after it still tell names
			// apart.)
			return v + float64(len(a)+end)*unit
		}
		d := sort.Search(len(a), func(j int) bool { return a[j] >= s[i] })
		v += float64(d+end) * unit
		col++
		if s[i] == '/' {
			depth, col = depth+1, 0
		}
	}
	return v
}

// unposition is position's inverse: a string under base at position v.
func unposition(v float64, base string, alpha scale) string {
	var sb strings.Builder
	sb.WriteString(base)
	if math.IsNaN(v) || len(alpha.fallback) == 0 {
		return base
	}
	depth, col := cursorAt(base)
	for i := 0; i < positionBytes && v > 0; i++ {
		a, end := alpha.at(depth, col)
		v *= float64(len(a) + end)
		d := int(math.Floor(v))
		v -= float64(d)
		if d -= end; d < 0 {
			break // the end of the name
		}
		d = min(d, len(a)-1)
		sb.WriteByte(a[d])
		col++
		if a[d] == '/' {
			depth, col = depth+1, 0
		}
	}
	return validPrefix(sb.String(), len(base))
}

// validPrefix is s without the bytes at its end, down to its first floor
// bytes, that leave it invalid UTF-8: a cut inside a character (cuts and
// prefixes are sent as text; S3 keys are UTF-8).
func validPrefix(s string, floor int) string {
	for len(s) > floor && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// maxRune (U+10FFFF) sorts after any character a key can continue with.
const maxRune = "\U0010FFFF"

// leafDir is the folder key lies directly in: key up to its last '/'
// ("" for a key outside any folder).
func leafDir(key string) string {
	return key[:strings.LastIndexByte(key, '/')+1]
}

// startAfter leaves StartAfter unset for the beginning of the key space.
func startAfter(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func commonPrefix(a, b string) string {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return a[:i]
}

// apply cuts v at points (sorted) that are still inside its range and
// returns the last new range (nil when no point was); a point at a folder
// whose predecessor a probe named moves to that predecessor's end (see
// folderEnd). Caller holds mu.
func (l *lister) apply(v *krange, points []string) *krange {
	var ok []string
	for _, m := range points {
		if m > v.cursor && (v.open || m < v.hi) && (len(ok) == 0 || m > ok[len(ok)-1]) {
			ok = append(ok, m)
		}
	}
	if len(ok) == 0 {
		v.retryAt = v.pages + 2
		return nil
	}
	idx := 0
	for i, r := range l.ranges {
		if r == v {
			idx = i
			break
		}
	}
	// A point moved to the end of the folder (or group) before it may
	// land on the point before it, the end of a folder of hashes placed
	// there (see splitPoints): the two are one cut. Kept apart, the range
	// between held no key and still cost a request, which listed a page of
	// the next range's names only to drop them.
	cuts := ok[:0]
	folders := make([]string, 0, len(ok))
	for _, m := range ok {
		prev, folder := "", ""
		if len(cuts) > 0 {
			prev = cuts[len(cuts)-1]
		}
		if e := l.folderEnd(m); e != "" && e > v.cursor && e >= prev {
			m, folder = e, m
		} else if e := l.groupEnd(m); e != "" && e > v.cursor && e >= prev {
			m = e
		}
		if m == prev {
			if folder != "" {
				folders[len(folders)-1] = folder
			}
			continue
		}
		cuts, folders = append(cuts, m), append(folders, folder)
	}
	ok = cuts
	newRanges := make([]*krange, 0, len(ok))
	for j, m := range ok {
		nr := &krange{start: m, cursor: m, hi: v.hi, hiFolder: v.hiFolder, open: v.open, folder: folders[j]}
		if j+1 < len(ok) {
			nr.hi, nr.hiFolder, nr.open = ok[j+1], folders[j+1], false
		}
		newRanges = append(newRanges, nr)
	}
	v.hi, v.hiFolder, v.open = ok[0], folders[0], false
	rest := append(newRanges, l.ranges[idx+1:]...)
	l.ranges = append(l.ranges[:idx+1], rest...)
	l.wake()
	return newRanges[len(newRanges)-1]
}

// bound is r's upper bound for estimates: hi, or the folder after it when
// hi is the end of the folder before (see folderEnd), which in folder
// positions is the same place and in key bytes (past maxRune) is not.
func (r *krange) bound() string {
	if r.hiFolder != "" {
		return r.hiFolder
	}
	return r.hi
}

// folderEnd returns the end of the folder before folder m (that folder
// followed by maxRune) when m is a folder whose directory's probe (or
// assumed shape) names the one before it, else "". A cut there instead of
// at m lets the range before it end inside that folder: its last page
// lists with the folder as its prefix and stops at the folder's end,
// where a cut at m would have its last page run on past m, up to a page
// of keys of the next range's that the server lists and the client
// parses only to drop. Caller holds mu.
func (l *lister) folderEnd(m string) string {
	if !strings.HasSuffix(m, "/") {
		return ""
	}
	dir, ok := l.parentDir(m)
	if !ok {
		return ""
	}
	d := l.shape(dir)
	if d == nil || d.probing {
		return ""
	}
	return endBefore(d.folders, m)
}

// endBefore is the end of the entry before m in sorted (that entry
// followed by maxRune) when m is in sorted after another, else "".
func endBefore(sorted []string, m string) string {
	i, found := slices.BinarySearch(sorted, m)
	if !found || i == 0 {
		return ""
	}
	return sorted[i-1] + maxRune
}

// listPrefix is the prefix r's next page is listed under: the text its
// cursor and hi share (every key between them begins with it), so that
// its last page stops where that text does instead of running on for a
// page past hi, whose keys the server lists and the client parses only
// to drop them. With folderEnd's cuts that text is most often the last
// folder itself. The listing's prefix for open ranges and in Delimiter
// mode (a longer prefix would move where common prefixes are cut).
// Caller holds mu.
func (l *lister) listPrefix(r *krange) string {
	if r.open || l.opt.Delimiter != "" {
		return l.prefix
	}
	cp := validPrefix(commonPrefix(r.cursor, r.hi), len(l.prefix))
	if len(cp) <= len(l.prefix) {
		return l.prefix
	}
	return cp
}

// lastPageKeys is how many keys r's next page asks for: MaxKeys, or when
// the rest of r lies in a flat folder of hashes whose density its last
// page measured (see hashRest), that rest with a margin, so that its last
// page does not run on past hi where listPrefix cannot stop it (a cut
// between two hashes). Short, it costs a request; the margin makes that
// rare. Caller holds mu.
func (l *lister) lastPageKeys(r *krange) int {
	if r.open || l.opt.Delimiter != "" {
		return MaxKeys
	}
	leaf := leafDir(r.cursor)
	if !strings.HasPrefix(r.hi, leaf) {
		return MaxKeys
	}
	hashes := r.leafHashes
	if d := l.dirs[leaf]; hashes == nil && d != nil && !d.probing && d.hashes {
		hashes = d.alpha
	}
	if hashes == nil || r.seen < MaxKeys || leafDir(r.first) != leaf {
		return MaxKeys
	}
	// The density over every key the range listed there: its last full
	// page's extent alone read a short page as a full one's worth.
	sc := hashScale(hashes)
	p0, pc, ph := position(r.first, leaf, sc), position(r.cursor, leaf, sc), position(r.hi, leaf, sc)
	if pc <= p0 || ph <= pc {
		return MaxKeys
	}
	est := (ph - pc) * float64(r.seen-1) / (pc - p0)
	n := int(math.Ceil(est + 4*math.Sqrt(est) + 20))
	if n >= MaxKeys*9/10 {
		return MaxKeys
	}
	return n
}

// listRange lists r page by page until it passes r.hi (which a concurrent
// split may lower) or the listing ends, or until its worker yields r for
// other work (see yieldTo): it then returns the range to list next.
func (l *lister) listRange(r *krange) (*krange, error) {
	for {
		l.mu.Lock()
		after := r.cursor
		pre := l.listPrefix(r)
		maxKeys := l.lastPageKeys(r)
		l.mu.Unlock()
		in := &s3.ListObjectsV2Input{
			Bucket:       aws.String(l.bucket),
			Prefix:       aws.String(pre),
			StartAfter:   startAfter(after),
			EncodingType: types.EncodingTypeUrl,
			MaxKeys:      aws.Int32(int32(maxKeys)),
		}
		if l.opt.Delimiter != "" {
			in.Delimiter = aws.String(l.opt.Delimiter)
		}
		t0 := time.Now()
		entries, out, err := page(l.ctx, l.api, in, l.opt.Omit)
		took := time.Since(t0)
		l.counter.Requests.Add(1)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s after %q: %w", l.bucket, l.prefix, after, err)
		}
		if after != "" && l.opt.Delimiter == "" && len(entries) > 0 && entries[0].Key <= after {
			// Ranges are cut with StartAfter: a server that ignores it would
			// have every range list from the start, each key many times,
			// and the listing never end. (With a delimiter, a common prefix
			// holding keys past StartAfter may sort before it.)
			return nil, fmt.Errorf("listing s3://%s/%s: the server ignored StartAfter (asked for keys after %q, got %q first): %w",
				l.bucket, l.prefix, after, entries[0].Key, s3err.ErrCorrupt)
		}
		if l.opt.Delimiter != "" {
			// Objects and common prefixes come as two sorted lists: merge.
			sort.SliceStable(entries, func(i, j int) bool { return entries[i].Key < entries[j].Key })
		}
		// Whether a full page in one folder holds hashes or a group of
		// names (see readPage), from a sample, before taking mu.
		var pr pageRead
		if len(entries) == MaxKeys {
			pr = readPage(entries)
		}
		l.mu.Lock()
		if len(entries) == MaxKeys {
			l.lat.observe(took)
			l.learnStems(entries) // the first full page's (see its guard)
		}
		cut := len(entries)
		if !r.open {
			cut = sort.Search(len(entries), func(i int) bool { return entries[i].Key > r.hi })
		}
		kept := entries[:cut]
		if cut > 0 {
			// The range keeps copies of keys: a key is a view of its
			// page's names (~100 KB), and a range holding one would keep
			// that page alive after it was emitted, every finished range
			// too (a 10 M-key du grew by ~70 MB so).
			if r.seen == 0 {
				r.first = strings.Clone(kept[0].Key)
			}
			if cut == MaxKeys {
				r.prev = r.cursor
			}
			// Keys at the page's end directly in its last key's folder
			// (the whole page when it began there: a key of a subfolder
			// sorting between is rare, and this is an estimate).
			leaf, n := leafDir(kept[cut-1].Key), int64(cut)
			if leafDir(kept[0].Key) != leaf {
				n = 0
				for i := cut - 1; i >= 0 && leafDir(kept[i].Key) == leaf; i-- {
					n++
				}
			}
			if n == int64(cut) && leafDir(r.cursor) == leaf {
				r.leafKeys += n
			} else {
				r.leafKeys = n
			}
			r.leafHashes = nil
			r.group, r.groupFrom, r.groupHashes, r.groupCols = "", "", nil, false
			if pr.group != "" && cut == MaxKeys {
				r.group, r.groupFrom, r.groupHashes = strings.Clone(pr.group), strings.Clone(kept[0].Key), pr.groupHashes
				r.groupCols = pr.groupCols
			}
			r.padGroup, r.padFrom = "", ""
			if pr.padGroup != "" && cut == MaxKeys {
				r.padGroup, r.padFrom = strings.Clone(pr.padGroup), strings.Clone(kept[0].Key)
			}
			if n == MaxKeys {
				if d := l.dirs[leaf]; d == nil || d.probing || !d.interpolable(leaf) {
					r.leafHashes = pr.hashes
				}
				if pr.hashes != nil && l.hashLeaves[leaf] == nil {
					l.hashLeaves[strings.Clone(leaf)] = pr.hashes
					l.alphaGen++ // estimates under leaf change scale
				}
			}
			r.pathKeys = l.countPath(r.pathKeys, r.cursor, kept)
			r.cursor = strings.Clone(kept[cut-1].Key)
			if kept[cut-1].IsDir {
				// Skip the rest of the folder: the next page starts after
				// every key under it.
				r.cursor += maxRune
			}
			// A sample of the page teaches the alphabets as well as every
			// key: every 7th name the bytes, every 63rd (and the last) the
			// columns, which cost ~0.5 us a name.
			prev := ""
			for i := 0; i < len(kept); i += 7 {
				if i%63 == 0 {
					l.learnAfter(prev, kept[i].Key)
					prev = kept[i].Key
				} else {
					l.learnBytes(kept[i].Key)
				}
			}
			l.learnAfter(prev, kept[len(kept)-1].Key)
		}
		r.seen += int64(cut)
		r.pages++
		l.seen += int64(cut)
		l.pages++
		finished := cut < len(entries) || !aws.ToBool(out.IsTruncated) || (!r.open && r.cursor == r.hi)
		if finished {
			r.done, r.active = true, false
		}
		l.changes++
		if finished || l.idle > 0 {
			l.cond.Broadcast() // new estimates: idle workers may find a range to split
		}
		var err2 error
		if l.opt.Sorted {
			err2 = l.emitSorted(r, kept)
		}
		l.mu.Unlock()
		if err2 != nil {
			return nil, err2
		}
		if !l.opt.Sorted && cut > 0 {
			l.emitMu.Lock()
			kept = l.dedupe(kept)
			l.counter.Keys.Add(int64(len(kept)))
			err2 = l.emit(Page{Entries: kept})
			l.emitMu.Unlock()
			if err2 != nil {
				return nil, err2
			}
		}
		if finished {
			return nil, nil
		}
		l.mu.Lock()
		ok := l.probeBetweenPages()
		var next *krange
		if ok {
			next = l.yieldTo(r)
		}
		l.mu.Unlock()
		if !ok {
			return nil, nil // the probe's failure is the listing's (see runProbe)
		}
		if next != nil {
			return next, nil
		}
	}
}

// pageRead is what a full page all in one flat folder showed of its
// names (see readPage).
type pageRead struct {
	// hashes: the bytes of the names past their folder, when they look
	// like hashes (see hashNames); nil when not.
	hashes []byte
	// group: the text every name began with past its folder, when the
	// names past it look like hashes, read in groupHashes (see hashGroup),
	// or like numbers of more than one width (read in digits); "" when
	// not.
	group       string
	groupHashes []byte
	// groupCols: group is one value of a numbered field (see
	// numberedField), whose rest is read in the listing's known columns
	// and in digits elsewhere.
	groupCols bool
	// padGroup: that text, when zero-padded numbers follow it (see
	// numberNames); "" when not.
	padGroup string
}

// readPage reads entries, a full page, from a sample of every 25th name:
// the zero pageRead unless they all lie in one flat folder.
func readPage(entries []Entry) (pr pageRead) {
	if len(entries) < 2 || leafDir(entries[0].Key) != leafDir(entries[len(entries)-1].Key) {
		return pr
	}
	sample := make([]string, 0, len(entries)/25+1)
	for i := 0; i < len(entries); i += 25 {
		sample = append(sample, entries[i].Key)
	}
	leaf := leafDir(entries[0].Key)
	// A group of names first: a word spelt in hexadecimal letters
	// (facade-<hex>, cafe-<hex>) made the page's names read as hashes past
	// the folder, and the range's rest, interpolated over hexadecimal from
	// facade- to naive-, as 50 M pages (a folder of ten such words: 1.7x
	// the minimum requests, its ranges cut into dozens of empty pieces).
	// Hashes past the folder do not share a text ending every name of a
	// page.
	g := hashGroup(entries[0].Key, entries[len(entries)-1].Key, leaf)
	if g == "" {
		pr.hashes = hashNames(sample, leaf)
		return pr
	}
	if a := hashNames(sample, g); a != nil {
		pr.group, pr.groupHashes = g, a
		return pr
	}
	if pr.hashes = hashNames(sample, leaf); pr.hashes != nil {
		return pr
	}
	if numbers, padded := numberNames(sample, g); numbers && !padded {
		// A word's numbered names (label_<n>.jpg): measured as a group
		// of names in digits, and the folder's other words found by a
		// group probe, instead of the word's density read over the empty
		// key space between words.
		pr.group, pr.groupHashes = g, []byte(digits)
	} else if numbers {
		// A word's names numbered with leading zeros (label_00042.jpg):
		// the counter measures the word, a group probe finds the
		// folder's other words.
		pr.padGroup = g
	} else if numberedField(sample, g, leaf) {
		// One value of a numbered field (an hour of timestamps,
		// events/2024-01-01T00:): a group probe lists the folder's
		// values (its hours), each then cut at at once. Read over their
		// bytes, 1 M names 1.5 s apart were galloped through in pieces,
		// 4-5 round trips of one page to 26 before every worker was busy
		// (23-25 round trips, the oracle 16).
		pr.group, pr.groupHashes, pr.groupCols = g, []byte(digits), true
	}
	return pr
}

// numberedField reports whether the page whose names (sorted, in folder
// leaf) all begin with group g is inside one value of a numbered field,
// and every name goes on with a digit: g ends in a separator (see
// groupSep) that follows a digit and either appears nowhere earlier past
// the folder (events/2024-01-01T00:, then 24:58.500Z-3f09a1.json: a probe
// with it as the delimiter lists the folder's hours), or parts numbers
// there (S3's access logs, logs/2024-03-01-05-, then 17-42-<hex>; after
// CloudFront's distribution, cf/E2QWRUHAPOMQZL.2024-03-01-: probes of
// the levels list the years, the year's months and the month's days, see
// numberedLevels). Not so for a word's counter (part-00042-<hex>: a word
// and one number).
func numberedField(names []string, g, leaf string) bool {
	sep, ok := groupSep(g)
	if !ok || len(g) < len(leaf)+2 || !isDigit(g[len(g)-2]) {
		return false
	}
	if strings.IndexByte(g[len(leaf):len(g)-1], sep) >= 0 && numberedLevels(g, leaf, sep) == nil {
		return false
	}
	for _, n := range names {
		if len(n) <= len(g) || !isDigit(n[len(g)]) {
			return false
		}
	}
	return true
}

// isDigit reports whether b is an ASCII decimal digit.
func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// countPath returns pathKeys (see krange) updated for a page, kept (not
// empty), listed after cursor: for each folder on the path of the page's
// last key, the keys of the page inside it (a suffix of the sorted page),
// added to the count so far when the cursor was already inside it.
func (l *lister) countPath(pathKeys []int64, cursor string, kept []Entry) []int64 {
	last := kept[len(kept)-1].Key
	j := 0
	for i := len(l.prefix); i < len(last); i++ {
		if last[i] != '/' {
			continue
		}
		dir := last[:i+1]
		n := int64(len(kept) - sort.Search(len(kept), func(k int) bool { return kept[k].Key >= dir }))
		switch {
		case j == len(pathKeys):
			pathKeys = append(pathKeys, n)
		case strings.HasPrefix(cursor, dir):
			pathKeys[j] += n
		default:
			pathKeys[j] = n
		}
		j++
	}
	return pathKeys[:j]
}

// keysIn is how many keys r has listed inside dir, a folder below the
// prefix holding r's cursor (0 for any other). Caller holds mu.
func (l *lister) keysIn(r *krange, dir string) int64 {
	if !strings.HasPrefix(r.cursor, dir) {
		return 0
	}
	if j := l.level(dir) - 1; j >= 0 && j < len(r.pathKeys) {
		return r.pathKeys[j]
	}
	return 0
}

// dedupe drops common prefixes already emitted: when a range boundary cuts
// through a folder, both ranges report it. Caller holds emitMu or mu (in
// Sorted mode all emission happens under mu).
func (l *lister) dedupe(entries []Entry) []Entry {
	if l.opt.Delimiter == "" {
		return entries
	}
	out := entries[:0:0]
	for _, e := range entries {
		if e.IsDir {
			if l.dirsSeen[e.Key] {
				continue
			}
			l.dirsSeen[e.Key] = true
		}
		out = append(out, e)
	}
	return out
}

// emitSorted emits kept if r is the first unflushed range, else buffers
// it, then flushes every completed range in order. Caller holds mu.
func (l *lister) emitSorted(r *krange, kept []Entry) error {
	kept = l.dedupe(kept)
	if len(kept) > 0 {
		if l.ranges[l.flushed] == r {
			l.counter.Keys.Add(int64(len(kept)))
			if err := l.emit(Page{Entries: kept}); err != nil {
				return err
			}
		} else {
			r.buf = append(r.buf, Page{Entries: kept})
		}
	}
	for l.flushed < len(l.ranges) {
		head := l.ranges[l.flushed]
		for _, p := range head.buf {
			l.counter.Keys.Add(int64(len(p.Entries)))
			if err := l.emit(p); err != nil {
				return err
			}
		}
		head.buf = nil
		if !head.done {
			break
		}
		l.flushed++
	}
	return nil
}
