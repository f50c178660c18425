package listing

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// dirInfo is what a delimiter probe of one directory found.
type dirInfo struct {
	probing bool
	folders []string // sorted common prefixes (each ends in "/")
	// upto is the last entry of a truncated probe ("" when the probe saw
	// the whole directory): nothing is known about names past it.
	upto string
	// first and last name the probe saw, and the bytes their names use
	// after the directory (for interpolating inside a flat directory).
	first, last string
	alpha       []byte
	// hashes: its names look like hashes or UUIDs past the text they all
	// begin and end with (see hashNames).
	hashes bool
	// assumed: not probed, copied from a sibling's probe (see source).
	assumed bool
	// cum: where each folder begins when a stem probe weighed them (see
	// stems.go), scaled to len(folders) in all; nil: folder i begins at i.
	cum []float64
	// light: found by a stem probe of a folder above, unweighted.
	light bool
	// uneven: its folders' weights (cum) differ widely (see sweepProbe).
	uneven bool
	// more: the next page of a truncated probe's entries is on its way
	// (see runProbe); what the pages before it found stays in use.
	more bool
	// pages: how many pages of dir's entries the probe has listed. Read
	// on a truncated probe only: dated, its folders are named by dates or
	// other numbers (see continues); folderHashes, the bytes of its
	// folders' names when those look like hashes or UUIDs, folderNames
	// when, among 500 folders or more, they are otherwise lowercase
	// letters and digits (logins; see nameBytes and alphaFor).
	pages        int
	dated        bool
	folderHashes []byte
	folderNames  []byte
}

// past reports whether key lies beyond what d's truncated probe listed:
// after its last entry and not inside that entry's folder.
func (d *dirInfo) past(key string) bool {
	return d.upto != "" && key > d.upto && !strings.HasPrefix(key, d.upto)
}

// interpolable reports whether names inside flat directory d can be
// interpolated: when its probe saw them all (first..last), or when they
// look like hashes or UUIDs (see hashLike), where a prefix of names is a
// fair sample. Sequential names past a truncated probe (part-00000 ...
// part-04999) would put every cut before the real ones.
func (d *dirInfo) interpolable(dir string) bool {
	if d.probing || len(d.folders) > 0 {
		return false
	}
	return d.upto == "" || d.hashes
}

// hashLike reports whether names using the bytes alpha (besides those of
// shared, text every name holds) look like hashes or UUIDs: lowercase
// hexadecimal with at least one letter, and dashes (see hashByte). Their
// first names in key order are then a fair sample of their density;
// digits alone are more likely a sequence (logs/0000000 ...), whose first
// names are not.
func hashLike(alpha []byte, shared string) bool {
	letter := false
	for _, b := range alpha {
		switch {
		case b >= 'a' && b <= 'f':
			letter = true
		case hashByte(b) || strings.IndexByte(shared, b) >= 0:
		default:
			return false
		}
	}
	return letter
}

// hashByte reports whether b may appear in a hash or UUID: lowercase
// hexadecimal, or a dash.
func hashByte(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b == '-'
}

// setBytes lists the bytes in set, sorted (empty, not nil, for none).
func setBytes(set *[256]bool) []byte {
	a := []byte{}
	for b := range set {
		if set[b] {
			a = append(a, byte(b))
		}
	}
	return a
}

// hashNames reports whether names (sorted, none a folder, all beginning
// with pre) look like hashes or UUIDs (see hashLike) past pre and the text
// they all end with, and returns the bytes of that middle (sorted; nil
// when they do not). Names such as <uuid>.jpg, whose extension's letters
// hid them: a folder of 180 000 of them was listed by a few ranges for 15
// round trips. Names numbered by a counter (part-00000-<uuid>.parquet) are
// not: most pairs of consecutive names there step the counter (see
// counterOf). pre is the folder for a sample of its names (a page, a
// truncated probe): the text a sample's names begin with need not begin
// the folder's others (façade-<hex>... of a folder of words-<hex>).
func hashNames(names []string, pre string) []byte {
	if len(names) < 2 {
		return nil
	}
	suf := names[0]
	for _, n := range names[1:] {
		suf = commonSuffix(suf, n)
	}
	var seen [256]bool
	for _, n := range names {
		if len(n) < len(pre)+len(suf) || !strings.HasPrefix(n, pre) {
			return nil
		}
		for i := len(pre); i < len(n)-len(suf); i++ {
			if !hashByte(n[i]) {
				return nil // not hashLike: stop early
			}
			seen[n[i]] = true
		}
	}
	alpha := setBytes(&seen)
	if !hashLike(alpha, "") {
		return nil
	}
	if seen['-'] && fixedDashes(names, pre, len(suf)) {
		// UUIDs: their dashes stand in the same columns of every name,
		// where positions read them as one digit (their index in the
		// alphabet, 0) whatever the alphabet. Read as a digit of every
		// column, a dash was an empty sliver before '0' in each, and even
		// cuts held uneven shares of the names (see scale.hashes).
		alpha = slices.DeleteFunc(alpha, func(b byte) bool { return b == '-' })
	}
	steps := 0
	for i := 1; i < len(names); i++ {
		if _, ok := counterOf(names[i-1], names[i]); ok {
			steps++
		}
	}
	if steps*2 > len(names) || hexCounter(names, len(pre), len(suf)) {
		return nil
	}
	return alpha
}

// hexCounter reports whether names (a sample taken at a fixed stride of a
// page) are numbers in hexadecimal, counted up: their middles (past pre
// bytes, before the last suf) are as long, and most steps between them
// equal. A page of 00000000 to 000003e7 read as hashes is a sliver of a
// folder of 4 G names, cut into pieces that came back empty (100 folders
// of 1 000 such names: 14-38x the minimum requests); hashes sampled so
// step by amounts that vary.
func hexCounter(names []string, pre, suf int) bool {
	if len(names) < 8 {
		return false
	}
	width := len(names[0]) - pre - suf
	if width < 3 || width > 15 {
		return false
	}
	vals := make([]uint64, 0, len(names))
	for _, n := range names {
		if len(n)-pre-suf != width {
			return false
		}
		v, err := strconv.ParseUint(n[pre:len(n)-suf], 16, 64)
		if err != nil {
			return false
		}
		vals = append(vals, v)
	}
	steps := map[uint64]int{}
	most := 0
	for i := 1; i < len(vals); i++ {
		if vals[i] <= vals[i-1] {
			return false
		}
		steps[vals[i]-vals[i-1]]++
		most = max(most, steps[vals[i]-vals[i-1]])
	}
	return most*2 > len(vals)-1
}

// fixedDashes reports whether every name's middle (past pre, before the
// last suf bytes) has its dashes in the same columns as the first's.
func fixedDashes(names []string, pre string, suf int) bool {
	first := names[0][len(pre) : len(names[0])-suf]
	for _, n := range names[1:] {
		mid := n[len(pre) : len(n)-suf]
		for c := 0; c < max(len(mid), len(first)); c++ {
			if (c < len(mid) && mid[c] == '-') != (c < len(first) && first[c] == '-') {
				return false
			}
		}
	}
	return true
}

// commonSuffix is the longest text both a and b end with.
func commonSuffix(a, b string) string {
	n := 0
	for n < len(a) && n < len(b) && a[len(a)-1-n] == b[len(b)-1-n] {
		n++
	}
	return a[len(a)-n:]
}

// flatFrac is key's fraction of the way through flat directory d, named
// dir: between the first and last names its probe saw when it saw them all.
// Bytes are read in alpha's column alphabets, else in d's own.
func flatFrac(key, dir string, d *dirInfo, alpha scale) float64 {
	sc := scale{fallback: d.alpha, cols: alpha.cols}
	if d.upto == "" && d.first < d.last {
		base := commonPrefix(d.first, d.last)
		pf, pl := position(d.first, base, sc), position(d.last, base, sc)
		if pl > pf {
			return (position(key, base, sc) - pf) / (pl - pf)
		}
	}
	return position(key, dir, sc)
}

// flatCut is flatFrac's inverse.
func flatCut(frac float64, dir string, d *dirInfo, alpha scale) string {
	sc := scale{fallback: d.alpha, cols: alpha.cols}
	if d.upto == "" && d.first < d.last {
		base := commonPrefix(d.first, d.last)
		pf, pl := position(d.first, base, sc), position(d.last, base, sc)
		if pl > pf {
			return unposition(pf+frac*(pl-pf), base, sc)
		}
	}
	return unposition(frac, dir, sc)
}

// alphaFor is the scale to interpolate names under dir in: its probe's
// bytes where no column alphabet is known, when the probe saw every name
// or the names are hashes; else every byte seen.
func (l *lister) alphaFor(dir string) scale {
	if d := l.dirs[dir]; d != nil && !d.probing && d.upto != "" {
		// Folders named by hashes past a truncated probe (100 000
		// users/<uuid>/): a range there is measured over the bytes of
		// their names, whose end is known (all 'f'), as a folder of
		// hashes is. Over every byte the listing had seen (the files'
		// ".jpg" too) the open rest read as a page or two, untrusted,
		// and the listing kept 2-3 requests in flight for 5 round trips.
		switch {
		case d.folderHashes != nil:
			return hashScale(d.folderHashes)
		case d.folderNames != nil:
			return scale{fallback: d.folderNames} // the same for logins (see measure)
		}
	}
	if d := l.dirs[dir]; d != nil && !d.probing && len(d.alpha) > 0 && (d.upto == "" || d.hashes) {
		// (A truncated probe's bytes are a sample's: train/'s first
		// 1 000 names, cat.*, had no 'd', so dog.* read as gog.*.)
		if d.hashes {
			// Hashes use every byte of their alphabet in every column;
			// column alphabets learned from their first pages would not.
			return hashScale(d.alpha)
		}
		return scale{fallback: d.alpha, cols: &l.cols.list}
	}
	if h := l.hashLeaves[dir]; h != nil && (l.dirs[dir] == nil || l.dirs[dir].probing) {
		// A full page in it showed hashes, and no probe has: a range cut
		// inside it on that page's measure (firstLeafRest) is measured
		// in the same bytes, not in every byte the listing has seen.
		return hashScale(h)
	}
	return l.alphabet()
}

// latency tracks full-page response times to tell whether more requests in
// flight still raise throughput. A server that is the bottleneck (e.g. a
// CPU-bound one on the same cores) answers more slowly the more requests
// it has: when pages take three times as long as the fastest one, more
// concurrency no longer helps and only costs requests. (Three times, not
// two: against a remote server 64 requests in flight already slow pages by
// half from the client's and server's CPU.)
type latency struct {
	best   float64 // seconds, fastest full page
	recent float64 // moving average
	n      int
}

func (t *latency) observe(d time.Duration) {
	s := d.Seconds()
	if t.n == 0 || s < t.best {
		t.best = s
	}
	if t.n == 0 {
		t.recent = s
	} else {
		t.recent += 0.25 * (s - t.recent)
	}
	t.n++
}

// saturated reports whether recent pages are slow enough, relative to the
// fastest, that the server (not the request count) limits throughput.
func (t *latency) saturated() bool { return t.n >= 4 && t.recent > 3*t.best }

// take returns a range to list, splitting a busy one or probing the
// structure of one if nothing is pending. nil means the listing is
// finished (or failed).
func (l *lister) take() *krange {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		if l.err != nil || l.ctx.Err() != nil {
			return nil
		}
		busy := false
		for _, r := range l.ranges {
			if r.done {
				continue
			}
			if !r.active {
				r.active, r.wanted = true, false
				return r
			}
			busy = true
		}
		if !busy {
			return nil
		}
		// Idle workers woken together by one event would each repeat the
		// same search over every range (a tenth of a deep listing's
		// client CPU in pprof): once one has found nothing, the others
		// go back to waiting until something changes.
		if key := l.idleKey(); key == l.fruitless {
			l.skipped++
		} else {
			l.searched++
			tail := l.seededTail()
			if v, pieces, sp := l.victim(); v != nil && (!tail || l.outgrown(v)) {
				l.split(v, pieces, sp)
				continue
			}
			if !tail { // a seeded tail is waited for, not probed
				if dir, ok := l.neededProbe(); ok {
					if !l.runProbe(dir) {
						return nil
					}
					continue
				}
				if a, ok := l.neededGroupProbe(); ok {
					if !l.runGroupProbe(a) {
						return nil
					}
					continue
				}
			}
			l.fruitless = key
		}
		l.idle++
		l.cond.Wait()
		l.idle--
	}
}

// idleKey is what an idle worker's search for work (victim, neededProbe,
// neededGroupProbe) reads that can change while it waits: every event
// that wakes workers bumps changes, a probe starting bumps gen, and the
// number of idle workers sizes a split. The zero key (valid false) is
// never current.
type idleKey struct {
	valid        bool
	changes, gen uint64
	idle         int
}

// idleKey is the current idleKey; caller holds mu.
func (l *lister) idleKey() idleKey {
	return idleKey{valid: true, changes: l.changes, gen: l.gen, idle: l.idle}
}

// wake tells idle workers that something changed; caller holds mu.
func (l *lister) wake() {
	l.changes++
	l.cond.Broadcast()
}

// planJump bounds how far one estimate may raise planned: to planJump
// times the plan so far or the pages listed, whichever is more. The plan
// sets the probe budget (probesSpent) and every folder's share of it
// (pagesUnder). On a 10 M-key deep listing a range between two
// interpolated names (proj-07//fi91 to proj-13/61en15/7m) was once
// measured at 544 M pages, trusted: the plan went from 10 443 pages to
// 545 M, and every folder looked worth a probe (3 000-3 500 probes,
// 1.33x the minimum requests, 219 round trips against 167). It happened
// in about one listing in seven, by the order in which probe answers
// arriving together were recorded.
const planJump = 16

// plan raises planned to total pages, within planJump (see there); caller
// holds mu.
func (l *lister) plan(total int) {
	if l.planned == 0 || total <= planJump*max(l.planned, l.pages) {
		l.planned = max(l.planned, total)
	}
}

// split cuts v into up to pieces ranges along sp (see splitPoints) and
// returns the last new one (nil when v could not be cut); caller holds mu.
func (l *lister) split(v *krange, pieces int, sp *span) *krange {
	points := l.splitPoints(v, pieces, sp)
	last := l.apply(v, points)
	if last != nil {
		v.seeded = false // cut on an estimate: its pieces are not alike
	}
	if last != nil && sp != nil && sp.dense > 0 && !sp.across && len(sp.next) == 0 {
		// The last piece lists on into the dense folder. It starts out
		// knowing the keys listed there and cut off before it, so it is
		// recognised (and cut) after its first page, the folder's estimate
		// doubling each time, instead of after two pages of its own every
		// time: a folder of 20 000 names took 9 round trips, 5 pages each.
		step := max(1, sp.dense/float64(pieces))
		last.leafKeys = v.leafKeys + int64(float64(len(points))*step*MaxKeys)
	}
	return last
}

// runProbe probes dir and records what it found, releasing mu for the
// request; false when the probe failed (the listing is then cancelled
// with its error). Caller holds mu.
func (l *lister) runProbe(dir string) bool {
	if old := l.dirs[dir]; continues(old) {
		// The next page of a probe that ran out of page: dir holds more
		// folders than one answer lists (1 096 dt=YYYY-MM-DD/ partitions).
		// Past the first 1 000 the ranges were stuck (see byFolders) and
		// cut over key bytes, at dt=2029-13-04/ and dt=2024-10-32/: 31-33
		// round trips at 1.5x the minimum requests, the oracle 16.
		old.more = true
		l.mu.Unlock()
		found, err := l.probeFrom(dir, old)
		l.mu.Lock()
		old.more = false
		if err != nil {
			l.failLocked(err)
			return false
		}
		l.probed(dir, found)
		l.wake()
		return true
	}
	if old := l.dirs[dir]; old != nil && old.light && len(old.folders) > 0 && old.upto == "" {
		// Counted at its level when a stem probe above found it: this
		// probe counts it again.
		if lv := l.levels[l.level(dir)]; lv != nil && lv.probes > 1 {
			lv.probes--
			lv.total -= len(old.folders)
		}
	}
	l.dirs[dir] = &dirInfo{probing: true}
	l.gen++
	delim, levels := l.stemDelim(dir)
	l.mu.Unlock()
	var found *dirInfo
	var below map[string]*dirInfo
	var err error
	fits := true
	if levels >= 2 {
		below, fits, err = l.probeStems(dir, delim, levels)
		found = below[dir]
		if err == nil && found.upto != "" {
			// The stem probe's page of prefixes ran out inside dir's
			// folders (a team of 20 projects of 20 runs each, where the
			// levels probed so far held 11), or its keys did (a tree
			// the stems do not fit): dir's folder list stops there, and
			// every range past it was stuck (see byFolders), measured
			// over key bytes out to bounds interpolated past dir's real
			// folders: 1e9-1e16 pages, and 3 000 probes on a deep
			// listing of 10 M keys. A "/" probe lists them all; the
			// folders the stem probe held whole keep their shapes.
			found, err = l.probe(dir)
		}
	} else {
		found, err = l.probe(dir)
	}
	l.mu.Lock()
	if err != nil {
		l.failLocked(err)
		return false
	}
	if !fits {
		l.stemsOff = true
		found.cum = nil
		below = nil
	}
	l.probed(dir, found)
	l.probedBelow(dir, below)
	for _, r := range l.ranges {
		if r.needDir == dir {
			// The cuts it lacked can be made now, not two pages later.
			r.retryAt = 0
		}
	}
	l.wake()
	return true
}

// moreFolders returns a directory on r's cursor path from d0 down whose
// probe ran out of page before the end of r: the next page of its folders
// is wanted. Not when r's names are a counter across folders
// (shards/000123/), which measures a range past the probe well (see
// measure): 10 000 such folders took 19 round trips when their probe's
// pages were listed one by one, 11 without. The whole path, not d0
// alone: the first range's top directory is the prefix until the
// prefix's own probe is back, and a round trip passed before the next
// page of events/ (1 096 dt=YYYY-MM-DD/ partitions) was asked for.
// Caller holds mu.
func (l *lister) moreFolders(r *krange, d0 string) (string, bool) {
	for dir := d0; ; dir = subfolder(r.cursor, dir) {
		if d := l.dirs[dir]; continues(d) && len(d.folders) > 0 && (r.open || d.past(r.bound())) {
			if c, _, ok := numbered(r, true); !ok || c.at > strings.LastIndexByte(r.cursor, '/') {
				return dir, true // (a counter in the names inside a folder is no help)
			}
			return "", false
		}
		if !nested(r.cursor, dir) {
			return "", false
		}
	}
}

// maxProbePages bounds the pages of one directory's entries a probe
// lists (see continues): 4 000 folders, ten years of daily partitions.
const maxProbePages = 4

// continues reports whether d is a finished probe that ran out of page
// (and was not weighed by a stem probe), so that a probe of its directory
// lists the next page of its entries: only for folders named by dates
// (see datedFolders), and up to maxProbePages. Folders named otherwise
// are measured past the first page by interpolating their names' bytes,
// which reads hashes and words well: 100 000 users/<uuid>/ folders paged
// one by one, each page a round trip a range waited for, took 46-205
// round trips against 25, and folders named by logins 33-38 against 30-36.
func continues(d *dirInfo) bool {
	return d != nil && !d.probing && !d.more && d.upto != "" && d.cum == nil && d.dated && d.pages < maxProbePages
}

// probeBetweenPages sends a wanted probe from a worker listing a range
// when no worker is idle: probes otherwise wait for a worker to finish
// its range, and in the middle of a large listing every worker is busy
// for many round trips while ranges that cannot be measured (folders
// nobody probed) grow into the listing's tail. The range waits one round
// trip; the number of requests in flight stays at most Workers. Caller
// holds mu; false when the probe failed.
//
// Not while every range left is one Options.SplitAfter cut: the caller's
// points are taken to split the listing evenly (names[::k] of an earlier
// listing), so no range needs measuring until a worker runs out of work
// (then take probes). With the oracle's own split in virtual time (1 M
// keys, a CPU-bound server as the benchmark's), 66-75 probes, each a
// round trip's wait and a page of the server's work, took 31-32 round
// trips where the oracle took 29.
func (l *lister) probeBetweenPages() bool {
	if l.idle > 0 || l.err != nil {
		return true // an idle worker probes (see take), or the listing is failing
	}
	if l.allSeeded() {
		return true
	}
	if dir, ok := l.neededProbe(); ok {
		return l.runProbe(dir)
	}
	if a, ok := l.neededGroupProbe(); ok {
		return l.runGroupProbe(a)
	}
	return true
}

// allSeeded reports whether every range not done was cut by
// Options.SplitAfter and not split since. Caller holds mu.
func (l *lister) allSeeded() bool {
	for _, r := range l.ranges {
		if !r.done && !r.seeded {
			return false
		}
	}
	return true
}

// seededTail reports whether every range left is an Options.SplitAfter
// range, untouched, that has listed as many pages as the shortest
// finished one, or one fewer. Taken to be alike (see probeBetweenPages),
// they are then in their last page, or one more: an idle worker waits
// for them rather than probe or split on a guess (see take). With the
// oracle's page-aligned split (15 or 16 pages a range at 1 M keys), the
// workers of the 15-page ranges probed and split what was left, and the
// listing waited a round trip for probe answers after its last key had
// arrived: 17 round trips and 1.02-1.055x the minimum requests in virtual
// time, 16 and 1.000x now (TestVirtualSeeded). A seeded range that lists
// on past the shortest (a stale split, its part of the bucket grown since)
// ends the tail, and is measured and split as any other; one estimated
// without probes to hold MinSplitPages more is split at once (outgrown,
// TestVirtualSeededStale). Caller holds mu.
func (l *lister) seededTail() bool {
	fewest := 0
	for _, r := range l.ranges {
		if r.done && r.seeded && (fewest == 0 || r.pages < fewest) {
			fewest = r.pages
		}
	}
	if fewest == 0 {
		return false
	}
	for _, r := range l.ranges {
		if !r.done && (!r.seeded || !r.active || r.pages < fewest-1 || r.pages > fewest) {
			return false
		}
	}
	return true
}

// outgrown reports whether r is estimated to hold MinSplitPages more
// pages or more (not unbounded: the last range's +Inf says nothing), so
// that a seeded tail (see seededTail) splits it at once. Caller holds mu.
func (l *lister) outgrown(r *krange) bool {
	est, _, _ := l.estimate(r, l.alphabet())
	return est >= float64(l.opt.MinSplitPages) && !math.IsInf(est, 1)
}

// probe lists dir's folders with one delimiter request from its start.
// Called without mu.
func (l *lister) probe(dir string) (*dirInfo, error) { return l.probeFrom(dir, nil) }

// probeFrom is probe, or with old (a probe of dir that ran out of page,
// old.upto its last entry) the next page of dir's entries, merged with
// old's. Called without mu; old is read only.
func (l *lister) probeFrom(dir string, old *dirInfo) (*dirInfo, error) {
	after := ""
	if old != nil {
		after = old.upto
		if strings.HasSuffix(after, "/") {
			after += maxRune // past the folder's keys, which roll up into it again
		}
	}
	entries, out, err := l.discover(dir, "/", after)
	if err != nil {
		return nil, err
	}
	d := &dirInfo{}
	var seen [256]bool
	if old != nil {
		d.folders, d.first, d.last = slices.Clone(old.folders), old.first, old.last
		for _, b := range old.alpha {
			seen[b] = true
		}
	}
	var names []string // the entries that are not folders
	for _, e := range entries {
		if old != nil && e.Key <= old.upto {
			continue
		}
		if e.IsDir {
			d.folders = append(d.folders, e.Key)
		} else {
			names = append(names, e.Key)
		}
		note(d, e.Key, dir, &seen)
	}
	d.alpha = setBytes(&seen)
	pre := dir // what the names begin with: all of it, when the probe saw them all
	if !aws.ToBool(out.IsTruncated) && len(names) > 0 && old == nil {
		pre = commonPrefix(names[0], names[len(names)-1])
	}
	if a := hashNames(names, pre); a != nil && (old == nil || old.hashes) {
		// Interpolate in the hashes' bytes: their extension's (.jpg)
		// would leave most of the number line empty.
		d.hashes, d.alpha = true, a
	} else if old != nil && old.hashes && len(names) == 0 {
		d.hashes, d.alpha = true, old.alpha
	}
	if aws.ToBool(out.IsTruncated) {
		d.upto = d.last
	}
	sort.Strings(d.folders)
	d.pages = 1
	if old != nil {
		d.pages, d.dated, d.folderHashes, d.folderNames = old.pages+1, old.dated, old.folderHashes, old.folderNames
	} else if d.upto != "" {
		// What its folders are named by matters only past its last one
		// (see continues and alphaFor): read on a truncated probe alone.
		d.dated = datedFolders(d.folders)
		d.folderHashes = hashNames(d.folders, dir)
		if d.folderHashes == nil && !d.dated && len(d.folders) >= MaxKeys/2 {
			d.folderNames = nameBytes(d.folders, dir)
		}
	}
	return d, nil
}

// nameBytes returns the bytes of folders' names past dir when every name
// is lowercase letters, digits, '-' and '_' (logins, slugs), else nil.
// Past a probe's first page such names are measured by interpolating
// those bytes: 100 000 folders named by logins took 30-33 round trips
// measured up to the probe's last folder, 21-27 so.
func nameBytes(folders []string, dir string) []byte {
	var seen [256]bool
	for _, f := range folders {
		for i := len(dir); i < len(f)-1; i++ {
			c := f[i]
			if !(c >= 'a' && c <= 'z' || isDigit(c) || c == '-' || c == '_') {
				return nil
			}
			seen[c] = true
		}
	}
	return setBytes(&seen)
}

// datedFolders reports whether sorted folders differ only in digits and
// the punctuation of dates and times (dt=2022-01-01/, 2024-03-01T05/):
// numbers whose carries (month 12 to 01, day 31 to 01) byte positions
// read as empty stretches.
func datedFolders(folders []string) bool {
	if len(folders) < 2 {
		return false
	}
	pre := len(commonPrefix(folders[0], folders[len(folders)-1]))
	for _, f := range folders {
		if len(f) <= pre {
			return false
		}
		for i := pre; i < len(f)-1; i++ {
			if c := f[i]; !isDigit(c) && strings.IndexByte("-_.:T", c) < 0 {
				return false
			}
		}
	}
	return true
}

// discover sends one LIST of prefix with delim as the delimiter, from
// StartAfter=after ("" for the start), a page of keys and common prefixes
// only, counted as a request and as discovery. Called without mu.
func (l *lister) discover(prefix, delim, after string) ([]Entry, *s3.ListObjectsV2Output, error) {
	in := &s3.ListObjectsV2Input{
		Bucket:       aws.String(l.bucket),
		Prefix:       aws.String(prefix),
		Delimiter:    aws.String(delim),
		EncodingType: types.EncodingTypeUrl,
		MaxKeys:      aws.Int32(MaxKeys),
	}
	if after != "" {
		in.StartAfter = aws.String(after)
	}
	entries, out, err := page(l.ctx, l.api, in, ETag|Mtime) // discovery looks at keys only
	l.counter.Requests.Add(1)
	l.discovery.Add(1)
	if err != nil {
		return nil, nil, fmt.Errorf("listing s3://%s/%s: %w", l.bucket, prefix, err)
	}
	return entries, out, nil
}

// probesSpent reports whether discovery has used its budget: 8 requests
// plus one per probeEvery pages listed or planned (see neededProbe).
// Caller holds mu.
func (l *lister) probesSpent() bool {
	return l.discovery.Load() >= int64(8+max(l.pages, l.planned)/probeEvery)
}

// topDir is the deepest directory (or the listing prefix) holding all of
// r's listed and remaining keys.
func (l *lister) topDir(r *krange) string {
	dir := l.prefix
	if !r.open {
		cp := commonPrefix(commonPrefix(r.first, r.cursor), r.bound())
		if i := strings.LastIndexByte(cp, '/'); i+1 > len(l.prefix) {
			dir = cp[:i+1]
		}
	}
	if root := l.root(); len(root) > len(dir) && strings.HasPrefix(root, dir) {
		return root
	}
	return dir
}

// root is the deepest directory holding every key of the listing as far
// as complete probes show: the prefix, or below it through folders that
// were their directory's only entry (datasets/project/v1/raw/). Measured
// from the prefix, a listing all in one folder sat in the middle of it
// however far it got, waiting for a range to cross into a next folder
// that does not exist (a bucket of 10 000 shards/NNNNNN/ folders listed
// serially, 200 round trips; names under a long common path differ past
// the 12 bytes positions read). Caller holds mu.
func (l *lister) root() string {
	dir := l.prefix
	for {
		d := l.dirs[dir]
		if d == nil || d.probing || d.upto != "" || len(d.folders) != 1 || d.first != d.folders[0] || d.last != d.folders[0] {
			return dir
		}
		dir = d.folders[0]
	}
}

// nested reports whether key lies in a folder below dir (not directly in it).
func nested(key, dir string) bool {
	return len(key) > len(dir) && strings.IndexByte(key[len(dir):], '/') >= 0
}

// subfolder is the folder directly below dir that holds key (nested(key,
// dir) must hold).
func subfolder(key, dir string) string {
	return key[:len(dir)+strings.IndexByte(key[len(dir):], '/')+1]
}

// neededProbe returns a directory whose folders would let a busy range
// that cannot be estimated yet be measured and cut at folder boundaries
// (caller holds mu). For the first range every directory on its cursor
// path is wanted at once, so one round trip reveals the whole path (a
// sequential descent costs one per level).
func (l *lister) neededProbe() (string, bool) {
	if l.opt.Delimiter != "" {
		return "", false
	}
	// Probes are requests too: at most 8 plus one per probeEvery pages
	// listed (or projected by a trusted estimate, so that the folders a
	// first split cuts at can be learnt at once), so that discovery stays
	// a small share of the budget however irregular the tree (a range
	// that cannot be measured runs on, or is split by key bytes).
	//
	// Past that budget a range may still have the folder it is listing
	// probed once it has listed half of MinSplitPages in it: a range that
	// cannot be measured is never split, and one left inside a large
	// folder nobody probed would list it page by page alone at the end
	// (in virtual time, with probes answered at once so that the budget
	// went in the first round trips, a deep listing took 68 round trips:
	// one range listed a team nobody had probed alone for the last 44).
	spent := l.probesSpent()
	earn := max(2, l.opt.MinSplitPages/2)
	earned := func(r *krange, dir string) bool {
		return !spent || l.keysIn(r, dir) >= int64(earn)*MaxKeys
	}
	if !spent {
		if dir, ok := l.startProbe(); ok {
			return dir, true
		}
		if dir, ok := l.sweepProbe(); ok {
			return dir, true
		}
	}
	alpha := l.alphabet()
	for _, r := range l.ranges {
		if r.done || !r.active || r.pages == 0 || r.seen == 0 || (r.pages < 2 && !r.open) {
			continue
		}
		if r.needDir != "" && l.dirs[r.needDir] == nil && earned(r, r.needDir) {
			// However small its siblings: the range was estimated worth
			// splitting, and all of it lies in this folder.
			return r.needDir, true
		}
		d0 := l.topDir(r)
		if dir, ok := l.moreFolders(r, d0); ok && earned(r, dir) {
			return dir, true
		}
		if !nested(r.cursor, d0) {
			continue // flat below d0: interpolation over key bytes does
		}
		est, _, _ := l.estimate(r, alpha)
		if l.dirs[d0] == nil && (est < 0 || l.shape(d0) == nil) {
			if earned(r, d0) {
				return d0, true // not even assumed, or the assumption failed
			}
			continue
		}
		if est >= 0 {
			continue // measured well enough
		}
		// The whole path of the first range (it alone holds the listing's
		// first round trips); one level at a time elsewhere.
		whole := r.open && r.start == l.prefix
		// Down to the cursor's own directory: when everything above is
		// known and the range still cannot be measured, it is a big flat
		// folder, whose names the probe shows how to interpolate.
		dir := d0
		for nested(r.cursor, dir) {
			dir = subfolder(r.cursor, dir)
			if d := l.dirs[dir]; d == nil {
				if (whole || l.shape(dir) == nil && !l.small(dir)) && earned(r, dir) {
					return dir, true
				}
			} else if d.probing && !whole {
				break
			}
		}
	}
	return "", false
}

// startProbe returns the folder a new range was cut at when its structure
// will be needed and nobody probed it (nor can assume it from a sibling):
// a folder at a depth where probed folders held folders, of a regular
// level, that the range covers whole. It is learnt while the range lists
// its first page, not a round trip after its second. Caller holds mu.
func (l *lister) startProbe() (string, bool) {
	for _, r := range l.ranges {
		f := r.start
		if r.folder != "" {
			f = r.folder
		}
		if r.done || r.pages > 1 || len(f) <= len(l.prefix) || !strings.HasSuffix(f, "/") {
			continue
		}
		if !r.open && strings.HasPrefix(r.hi, f) && r.hi != f+maxRune {
			continue // the range ends inside the folder: small
		}
		if lv := l.levels[l.level(f)]; lv == nil || lv.irregular {
			// No probed folder at its depth held folders (likely flat), or
			// their counts vary too much for one probe to pay for itself
			// before the range has shown it is worth measuring.
			continue
		}
		if l.dirs[f] == nil && l.shape(f) == nil {
			return f, true
		}
	}
	return "", false
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// parentDir is the directory holding dir (a "folder/" under the listing
// prefix); ok is false when dir is the prefix itself (or above it).
func (l *lister) parentDir(dir string) (parent string, ok bool) {
	if len(dir) <= len(l.prefix) {
		return "", false
	}
	i := strings.LastIndexByte(dir[:len(dir)-1], '/')
	if i+1 < len(l.prefix) {
		return l.prefix, true
	}
	return dir[:i+1], true
}

// source is the probed directory whose structure dir is assumed to share:
// dir itself when probed; else, with its parent following source P, the
// folder of the same name under P when probed, or any probed folder of P,
// or, when P has none yet, the folder of the same name under another
// folder of P's parent (year=2023/month=05/ as year=2022/month=05/).
// Partitions by date, numbered shards, per-run folders and the like repeat
// one structure, so a folder nobody probed can be cut (and measured) like
// its sibling instead of costing a round trip to learn. ok is false when
// nothing fits; last, any probed folder at dir's depth whose folders are
// a calendar's, when dir's name is a number (see calendarRun). Caller
// holds mu.
//
// A level's shape is assumed once two of its folders were probed alike
// (see probed), except from a folder of the same name under another
// folder of P's parent, which one probe is enough for: CloudTrail's
// <region>/2022/ as another region's 2022/. Waiting for a second probe
// there left each region's range unmeasured (its position inside its
// region unknown) for 5 round trips, 48 of 64 workers idle: 1 M keys over
// 16 regions took 29-30 round trips against the oracle's 16 (22-31 then).
//
// A calendar level is assumed from one probe anywhere at its depth:
// CloudTrail's regions were cut at the days of the one year whose months
// a probe had seen, and at whole years after it (a busy region's 2023 and
// 2024 were 73 pages each), while every region's months were probed one
// by one (70 probes at 1 M keys). With the calendar assumed (and ranges
// measured at the density of a busy region they cross into; see
// byFolders): 21-22 round trips, 25-30 probes.
func (l *lister) source(dir string, depth int) (src string, ok bool) {
	if d := l.dirs[dir]; d != nil {
		return dir, !d.probing
	}
	parent, ok := l.parentDir(dir)
	lv := l.levels[l.level(dir)]
	if !ok || depth > 8 || lv == nil || lv.irregular {
		return "", false
	}
	ps, ok := l.source(parent, depth+1)
	if !ok {
		return "", false
	}
	if lv.probes >= 2 {
		if d := l.dirs[ps+dir[len(parent):]]; d != nil && !d.probing {
			return ps + dir[len(parent):], true
		}
		if sib, ok := l.sibling[ps]; ok {
			return sib, true
		}
	}
	if src, ok := l.cousin(dir, parent, ps, depth); ok {
		return src, true
	}
	if cal, ok := l.calendar[l.level(dir)]; ok && numberedName(dir[len(parent):]) {
		return cal, true
	}
	return "", false
}

// calendarRun reports whether folders (d's sorted folders) are a
// calendar's: a month's days, a year's months, a day's hours or an hour's
// minutes, each named by its number (07/, month=07/, day-07/) counting up
// from 0 or 1 without a gap. Every year holds the same months and every
// month about the same days, so one probed folder of such a level tells
// the shape of all its siblings and cousins (see source). Folders merely
// numbered in turn (a tree's team-00/ ... team-07/, 2 to 20 of them) do
// not qualify: their counts differ from folder to folder.
func calendarRun(dir string, folders []string) bool {
	switch len(folders) {
	case 12, 24, 28, 29, 30, 31, 60:
	default:
		return false
	}
	var stem string
	base := 0
	for i, f := range folders {
		name := strings.TrimSuffix(strings.TrimPrefix(f, dir), "/")
		j := len(name)
		for j > 0 && isDigit(name[j-1]) {
			j--
		}
		if j == len(name) || len(name)-j > 2 {
			return false // no number, or wider than a calendar's
		}
		n, _ := strconv.Atoi(name[j:])
		if i == 0 {
			stem, base = name[:j], n
			if base > 1 {
				return false
			}
		} else if name[:j] != stem || n != base+i {
			return false
		}
	}
	return true
}

// numberedName reports whether a folder's name (with its "/") ends in a
// number: 2023/, year=2023/, 07/.
func numberedName(name string) bool {
	name = strings.TrimSuffix(name, "/")
	return name != "" && isDigit(name[len(name)-1])
}

// maxAunts bounds how many folders of a grandparent cousin looks in.
const maxAunts = 64

// cousin is source's last resort for dir, whose parent (following source
// ps) has no probed folder yet: the probed folder of dir's name, with
// folders of its own, under another folder of the parent's parent. A
// date-partitioned listing's stem probes see every year's months and the
// first year's days at once; its first split then cut the first year at
// days and the later ones only at months (their days unknown): 45
// ranges of 7 to 41 pages against 64 workers, in virtual time 21.6 round
// trips on average where the same split at every year's days took 21.0,
// with 1.085x the minimum requests instead of 1.114x (fewer probes).
func (l *lister) cousin(dir, parent, ps string, depth int) (string, bool) {
	gp, ok := l.parentDir(parent)
	if !ok {
		return "", false
	}
	gs, ok := l.source(gp, depth+1)
	if !ok {
		return "", false
	}
	g := l.dirs[gs]
	if g == nil || g.probing {
		return "", false
	}
	name := dir[len(parent):]
	for _, aunt := range g.folders[:min(len(g.folders), maxAunts)] {
		if aunt == ps {
			continue
		}
		if d := l.dirs[aunt+name]; d != nil && !d.probing && len(d.folders) > 0 {
			return aunt + name, true
		}
	}
	return "", false
}

// shape is what is known, or assumed from a probed sibling (see source),
// of dir's folders; nil when nothing is. Caller holds mu.
func (l *lister) shape(dir string) *dirInfo {
	if d := l.dirs[dir]; d != nil {
		if d.probing {
			return nil
		}
		return d
	}
	if d, ok := l.shapes[dir]; ok {
		return d
	}
	var t *dirInfo
	if src, ok := l.source(dir, 0); ok {
		d := l.dirs[src]
		re := func(s string) string {
			if strings.HasPrefix(s, src) {
				return dir + s[len(src):]
			}
			return s
		}
		t = &dirInfo{upto: "", first: re(d.first), last: re(d.last), alpha: d.alpha, hashes: d.hashes, assumed: true}
		if d.upto != "" {
			t.upto = re(d.upto)
		}
		t.folders = make([]string, len(d.folders))
		for i, f := range d.folders {
			t.folders[i] = re(f)
		}
	}
	l.shapes[dir] = t
	return t
}

// levelInfo is what complete probes of one directory depth found.
type levelInfo struct {
	folders   int  // the first one's folder count
	probes    int  // how many
	total     int  // folders of all of them
	irregular bool // some count differs from the first by over a quarter
}

// level is dir's depth below the listing prefix (0 for the prefix).
func (l *lister) level(dir string) int {
	return strings.Count(dir[min(len(dir), len(l.prefix)):], "/")
}

// small reports whether directories at dir's depth are expected to hold
// fewer than MinSplitPages pages each: the pages a trusted estimate
// projected, over as many directories as the average folder counts of the
// probes of each level above make. Learning where to cut inside one is
// not worth a probe's request and round trip: a range that small is
// split only in the endgame, where the round trip is most of what a cut
// would save. Caller holds mu.
func (l *lister) small(dir string) bool {
	if l.planned == 0 {
		return false // no measured size yet
	}
	dirs := 1.0
	for k := 0; k < l.level(dir); k++ {
		lv := l.levels[k]
		if lv == nil {
			return false // a level above without folders probed: unknown
		}
		dirs *= float64(lv.total) / float64(lv.probes)
	}
	return float64(l.planned) < float64(l.opt.MinSplitPages)*dirs
}

// probed records a finished probe of dir; caller holds mu. Shapes are
// assumed at a level only once two of its directories were probed and
// every probed one has within a quarter of the first one's folder count:
// a sibling with 3 folders says nothing about one with 20.
func (l *lister) probed(dir string, d *dirInfo) {
	*l.dirs[dir] = *d
	l.gen++
	clear(l.shapes) // assumptions may now have a closer source
	if d.uneven {
		l.unevenAt[l.level(dir)] = true
	}
	if n := len(d.folders); n > 0 && d.upto == "" {
		lv := l.levels[l.level(dir)]
		if lv == nil {
			lv = &levelInfo{folders: n}
			l.levels[l.level(dir)] = lv
		}
		lv.probes++
		lv.total += n
		if m := lv.folders; 4*abs(n-m) > max(n, m) {
			lv.irregular = true
		}
	}
	if _, ok := l.calendar[l.level(dir)]; !ok && d.upto == "" && calendarRun(dir, d.folders) {
		l.calendar[l.level(dir)] = dir
	}
	if p, ok := l.parentDir(dir); ok && l.sibling[p] == "" && (len(d.folders) > 0 || d.first != "") {
		l.sibling[p] = dir
	}
}

// hpos is key's position among dir's folders: i+f inside folder i (f from
// the folder's own folders when probed, from interpolating its names when
// a probe found it flat, else one half), i for a name between folders i-1
// and i. ok is false when dir was
// not probed or key lies past what its probe saw.
func (l *lister) hpos(key, dir string, alpha scale, depth int) (float64, bool) {
	d := l.shape(dir)
	if d == nil || !strings.HasPrefix(key, dir) {
		return 0, false
	}
	if d.past(key) {
		return 0, false
	}
	f := d.folders
	i := sort.SearchStrings(f, key)
	if i < len(f) && f[i] == key {
		return d.at(i), true
	}
	if i == 0 || !strings.HasPrefix(key, f[i-1]) {
		// Between folders. A probed directory can hold names there; an
		// assumed shape that puts a key outside its folders is wrong (a
		// sibling with fewer folders), and its positions mean nothing.
		return d.at(i), !d.assumed
	}
	sub := f[i-1]
	if key == sub+maxRune {
		return d.at(i), true // a cut at the folder's end (see folderEnd)
	}
	frac := -1.0
	sd := l.shape(sub)
	if depth < 8 && sd != nil && len(sd.folders) > 0 && sd.upto == "" {
		if p, ok := l.hpos(key, sub, alpha, depth+1); ok {
			frac = p / float64(len(sd.folders))
		}
	}
	if frac < 0 && sd != nil && sd.interpolable(sub) {
		frac = flatFrac(key, sub, sd, alpha)
	}
	if frac < 0 {
		// A folder of unknown shape: only which folder the key is in
		// counts (interpolating its names would read sequential names such
		// as part-00001 as a sliver of the folder and overestimate wildly).
		frac = 0.5
	}
	lo := d.at(i - 1)
	return lo + (d.at(i)-lo)*min(max(frac, 0), 0.999), true
}

// unpos is hpos's inverse: a cut string at position u among dir's folders,
// "" for the end of dir.
func (l *lister) unpos(u float64, dir string, alpha scale, depth int) string {
	d := l.shape(dir)
	if d == nil {
		return ""
	}
	f := d.folders
	if u < 0 {
		return dir
	}
	i, frac := d.index(u)
	if i >= len(f) {
		return ""
	}
	sub := f[i]
	next := "" // the boundary after sub
	if i+1 < len(f) {
		next = f[i+1]
	}
	sd := l.shape(sub)
	known := sd != nil
	switch {
	case known && depth < 8 && len(sd.folders) > 0 && sd.upto == "":
		if m := l.unpos(frac*float64(len(sd.folders)), sub, alpha, depth+1); m != "" {
			return m
		}
		return next
	case known && sd.interpolable(sub) && frac >= 0.05:
		return flatCut(frac, sub, sd, alpha) // a flat folder: interpolate its names
	case frac < 0.5:
		// A folder of unknown shape: cut at its nearest boundary (inside
		// it, interpolated names mostly fall between its real ones).
		return sub
	}
	return next
}

// trailing returns the cut after dir's last folder when its probe saw
// names past that folder (files after it), else "". Caller holds mu.
func (l *lister) trailing(dir string) string {
	d := l.shape(dir)
	if d == nil || len(d.folders) == 0 {
		return ""
	}
	f := d.folders[len(d.folders)-1]
	if d.last <= f || strings.HasPrefix(d.last, f) {
		return ""
	}
	return f + maxRune
}

// span is a range's remaining extent in folder positions of dir.
type span struct {
	dir    string
	pc, ph float64
	// dense: the range is listing a dense flat folder (dir) of names no
	// probe measured, estimated to hold this many more pages; cut inside
	// it, a page apart or more, at the last page's extent.
	dense float64
	// hashes: the folder's names look like hashes, read in these bytes
	// (see hashNames, hashRest): dense was measured from the range's last
	// page, and cuts are placed under dir.
	hashes []byte
	// cols: with hashes, the column alphabets known columns are read in
	// (see scale); nil: hashes everywhere.
	cols *[colSlots]colAlpha
	// across: the range is measured (dense > 0) or galloped (dense 0) on
	// a counter its names share across folders (see byFolders' stuck).
	across bool
	// gallop: the range lists names of a counter up to its folder's end,
	// whose last number is unknown: its size is unknown, and it is cut
	// galloping on the counter (see counter.gallop).
	gallop bool
	// from: where the extent dense was measured from begins (see
	// restFrom); "" for the range's previous cursor.
	from string
	// each: the pages all of dir holds at the extent dense was measured
	// from (see restFrom).
	each float64
	// next: for a group of names (dir), the groups after it inside the
	// range that a probe found (see groupSet); for a dense folder (dir)
	// a range is still inside the first of, the folders after it inside
	// the range (see byFolders).
	next []string
	// ahead: the pages next holds, each of its entries each pages, or for
	// groups of labels as many times that as it is weighed (see
	// weighedGroups).
	ahead float64
}

// estCache is a range's last estimate and what it was computed from. An
// estimate changes only when the range lists a page, its bound moves, a
// probe starts or ends, or an alphabet grows; victim and neededProbe ask
// for every live range's after every page, so it is computed once per
// such change instead (it walks folder positions: a tenth of the client's
// CPU on a deep tree without the cache).
type estCache struct {
	valid    bool
	pages    int
	hi       string
	open     bool
	gen      uint64
	alphaGen int // the lister's, when computed
	est      float64
	trusted  bool
	sp       *span
}

// estimate returns r's estimated remaining pages (-1 when unknown, +Inf
// when open-ended and unbounded as far as anyone knows), whether that is
// trusted, and, when folders measured it, the span to cut along (not to
// be modified: it is cached). alpha is the lister's alphabet. Caller holds
// mu.
func (l *lister) estimate(r *krange, alpha scale) (float64, bool, *span) {
	c := &r.est
	if c.valid && c.pages == r.pages && c.hi == r.hi && c.open == r.open && c.gen == l.gen && c.alphaGen == l.alphaGen {
		return c.est, c.trusted, c.sp
	}
	est, trusted, sp := l.measure(r, alpha)
	*c = estCache{valid: true, pages: r.pages, hi: r.hi, open: r.open, gen: l.gen, alphaGen: l.alphaGen, est: est, trusted: trusted, sp: sp}
	return est, trusted, sp
}

// measure computes estimate's result.
func (l *lister) measure(r *krange, alpha scale) (float64, bool, *span) {
	if r.pages == 0 || r.seen < 2 {
		return -1, false, nil
	}
	if est, sp, wait, ok := l.padRest(r); ok {
		return est, true, sp
	} else if wait {
		return -1, false, nil // the group probe will tell
	}
	top := l.topDir(r)
	if l.opt.Delimiter == "" && nested(r.cursor, top) {
		d := l.shape(top)
		if d == nil {
			// Wait for the probe, unless r is listing a folder of hashes:
			// their density measures the folder's rest now, and cuts inside
			// it (with a range of its own for what follows) need no probe.
			// A bucket whose first folder held 90% of its keys as hashes
			// (hot/<md5>) waited a round trip for the probe with one
			// range listing, where a bucket of hashes alone was cut after
			// its first page.
			if est, sp, ok := l.firstLeafRest(r); ok {
				return est, true, sp
			}
			return -1, false, nil
		}
		if len(d.folders) > 0 {
			est, trusted, sp, st := l.byFolders(r, top, d, alpha)
			switch st {
			case measured:
				return est, trusted, sp
			case waiting:
				return -1, false, nil
			}
			// No probe can place r among the folders (stuck): measure it
			// on the folder of hashes it is listing, on a counter its
			// names share across folders, else over bytes.
			if leaf, ok := l.denseLeaf(r, top); ok {
				if est, sp, ok := l.leafRest(r, leaf); ok {
					return est, true, sp
				}
			}
			if c, per, ok := numbered(r, true); ok {
				if r.open {
					return math.Inf(1), false, &span{dir: top, across: true}
				}
				if est, ok := c.rest(r, per); ok {
					return est, true, &span{dir: top, dense: est, across: true}
				}
			}
		}
	}
	if !r.open && leafDir(r.cursor) == top {
		// A bounded range inside one flat folder of numbered names (a
		// range cut from a spike day of part-NNNNN files): measured on the
		// counter, a page being its run over a page (see numbered). Over the names'
		// bytes it read 3-10x too large (the letters of hashes and
		// extensions widen the alphabet past the digits), so such ranges
		// were split again and again into pieces of a page or two.
		if c, per, ok := numbered(r, false); ok {
			if est, ok := c.rest(r, per); ok {
				return est, true, &span{dir: top, dense: est}
			}
			// Bounded by the folder's end, not by a name on the counter:
			// how far the counter runs is unknown, as for an open range.
			// Over the names' bytes the rest of the folder read as
			// millions of pages (obj-000000 to obj-000999 is a sliver of
			// p49/), and the range was cut into 43 empty pieces.
			return math.Inf(1), false, &span{dir: top, gallop: true}
		}
	}
	if l.groupsPending(r) {
		return -1, false, nil // the group probes will tell
	}
	if est, sp, ok := l.groupRest(r); ok {
		// Hashes behind a text the range's last page shared (a word):
		// the rest of that text's names; the split gives what follows
		// them a range of its own (see splitPoints).
		return est, true, sp
	}
	alpha = l.alphaFor(top)
	hi, trusted := l.upper(r, alpha)
	if d := l.dirs[top]; r.open && d != nil && !d.probing && d.upto != "" && d.folderNames != nil && len(r.cursor) > len(top) {
		// Past a truncated probe of folders named by logins: they end
		// before the last byte of their names' alphabet, repeated. The
		// guess over every byte seen was untrusted, and 100 000 such
		// folders kept 2-3 requests in flight for 5 round trips.
		hi, trusted = top+strings.Repeat(string([]byte{alpha.top()}), 12), true
	}
	if !trusted {
		if r.pages < 2 {
			return -1, false, nil // a one-page listing must not pay for a guess
		}
		// Open-ended with only a guess of its end: size unknown, and the
		// galloping split is cheap when the range turns out small.
		return math.Inf(1), false, nil
	}
	if r.cursor <= r.first {
		return -1, false, nil
	}
	base := commonPrefix(r.first, hi)
	p0, pc, ph := position(r.first, base, alpha), position(r.cursor, base, alpha), position(hi, base, alpha)
	if pc <= p0 {
		// The keys listed so far differ only beyond the precision of
		// position (they share a long prefix the upper bound does not):
		// what is covered is negligible next to the range.
		return math.Inf(1), false, nil
	}
	if ph <= pc {
		// The bound reads as behind the cursor: bytes no alphabet has
		// yet. A negative estimate, trusted, kept such a range (100
		// pages of dog.* names) from ever being split.
		return math.Inf(1), false, nil
	}
	est := r.atDensity(ph-pc, pc-p0)
	if r.prev > r.first {
		// The last full page's density when it is higher: an earlier page
		// that crossed a carry (a day's end in timestamps: 23:48 to 00:13)
		// spans the unused values between (hours 24-29) and reads as sparse,
		// so a range of 78 pages read as one and was listed alone.
		if pp := position(r.prev, base, alpha); pp < pc {
			est = max(est, (ph-pc)/(pc-pp))
		}
	}
	return est, true, nil
}

// atDensity is the pages ahead (a span of positions) holds at r's average
// density: its keys listed over covered, the span from its first key to
// its cursor.
func (r *krange) atDensity(ahead, covered float64) float64 {
	return float64(r.seen-1) * ahead / covered / MaxKeys
}

// folderState is what folder positions made of a range (see byFolders).
type folderState int

const (
	measured folderState = iota
	waiting              // for a probe that will place it
	stuck                // past what probes saw, and no probe will place it
)

// byFolders measures r on its positions among the folders of d0 (whose
// shape d has folders). A range it cannot measure is waiting when a probe
// may yet place it, and stuck when none will: its keys lie past d0's
// truncated probe, or inside a folder whose own probe was truncated (its
// positions sit at the folder's middle however far the range gets: a
// range over 10 000 shards/NNNNNN/ folders, whose probe saw 1 000, was
// never split). Caller holds mu.
func (l *lister) byFolders(r *krange, d0 string, d *dirInfo, alpha scale) (float64, bool, *span, folderState) {
	if d.upto != "" && (d.folderHashes != nil || d.folderNames != nil) && (r.open || d.past(r.bound())) {
		// Reaching past a truncated probe of folders named by hashes
		// (100 000 users/<uuid>/) or logins: measured over the bytes of
		// those names (see alphaFor), whose end is known, not up to the
		// probe's last folder, which read a range holding 99% of the
		// listing as a page or two.
		return -1, false, nil, stuck
	}
	p0, ok0 := l.hpos(r.first, d0, alpha, 0)
	pc, okc := l.hpos(r.cursor, d0, alpha, 0)
	ph, okh, trusted := float64(len(d.folders)), true, d.upto == ""
	if !r.open {
		ph, okh = l.hpos(r.bound(), d0, alpha, 0)
		trusted = true
	}
	if !ok0 || !okc || !okh {
		if p := l.dirs[d0]; p != nil && !p.probing && p.upto != "" {
			return -1, false, nil, stuck
		}
		return -1, false, nil, waiting // an assumed shape: d0's own probe will tell
	}
	// The folders after the cursor's, at the range's average density.
	rest := 0.0
	if pc > p0 {
		i, _ := d.index(pc)
		rest = r.atDensity(max(0, ph-d.at(i+1)), pc-p0)
	}
	if leaf := leafDir(r.cursor); !r.open && r.leafKeys >= 2*MaxKeys && len(leaf) > len(d0) && !strings.HasPrefix(r.first, leaf) {
		// Listing its second page or more in a folder of hashes whose
		// probe saw its first names, entered from folders before it: the
		// folder's rest from the last page's extent. Its position among
		// d0's folders, at the range's average density over them, read
		// the rest of a folder of 30 000 among folders of 3 as a few
		// hundred names. (A range that began in the folder is measured
		// well by its positions: its density is the folder's.)
		if sd := l.shape(leaf); sd != nil && !sd.probing && sd.hashes && sd.upto != "" {
			if sp, ok := hashRest(r, leaf, sd.alpha); ok {
				return sp.dense + rest, true, sp, measured
			}
		}
	}
	if leaf, ok := l.denseLeaf(r, d0); ok {
		if !r.open && strings.HasPrefix(r.bound(), leaf) {
			// Cut inside the folder (a piece of a split along its
			// counter): the rest runs to the bound. The guess below
			// ignored it: a range of 2 pages up to part-08316 read as 12
			// (twice the 6 190 names listed there), so it was picked to
			// be split again and again and every cut fell past its end.
			if c, per, ok := numbered(r, false); ok {
				if est, ok := c.rest(r, per); ok {
					return est, true, &span{dir: leaf, dense: est}, measured
				}
			}
		}
		// Folder positions put the cursor at the middle of its
		// folder however many pages it lists there. The rest of
		// the folder is unknown: assume twice as much as listed in
		// it (a wrong guess costs a request or two, an unsplit dense
		// folder a round trip per page).
		if ld := l.dirs[leaf]; ld == nil || !ld.probing {
			// (A folder being probed is left to its probe: the root's
			// probe places what follows it better than one range can.)
			if est, sp, ok := l.leafRest(r, leaf); ok {
				if pc <= p0 {
					// Still in its first folder, with folders of d0 after
					// it in the range: each counted as large as this one
					// (see folderPages), when that is large enough to be
					// split, and cut at once (see splitPoints). Measured on
					// its folder's rest alone, the range kept the folders
					// after it until it crossed into the next, a page a
					// round trip: seven folders of ten word-<hex> groups
					// (28 pages each) took 16-17 round trips, the oracle 4.
					// Smaller folders are crossed in a page or two, and
					// their positions then measure every folder after
					// (100 folders of 2 pages counted so took 10 round
					// trips, not 7: each piece sat in its first folder).
					if next := foldersAfter(d, pc, r); len(next) > 0 {
						if per := l.folderPages(r, leaf, sp); per >= float64(l.opt.MinSplitPages) {
							sp = sp.withNext(next, per)
							return est + per*float64(len(next)), true, sp, measured
						}
					}
				}
				return est + rest, true, sp, measured
			}
		}
		dense := 2 * float64(r.leafKeys) / MaxKeys
		if pc <= p0 && dense >= float64(l.opt.MinSplitPages) {
			// Still inside the first folder it listed, large enough to
			// be cut, with folders of d0 after it in the range: those
			// get ranges of their own when it is cut (see splitPoints),
			// each guessed as large as this one until its own pages
			// measure it. Cut inside the folder alone, the last piece
			// kept every folder after it and was again inside its first
			// one, so the folders were found one by one, each at the end
			// of a chain of ranges: 20 folders of 15 pages after 200 000
			// hashes took 105 round trips (the oracle 8), and skewed's 50
			// folders after hot/ at 10 M keys filled its last 25.
			if next := foldersAfter(d, pc, r); len(next) > 0 {
				ahead := dense * float64(len(next)) // each as large
				return dense + ahead, false, &span{dir: leaf, dense: dense, next: next, ahead: ahead}, measured
			}
		}
		return dense + rest, false, &span{dir: leaf, dense: dense}, measured
	}
	if pc <= p0 {
		// Still inside the first folder it listed, whose extent the names
		// do not tell: wait for the range to cross into the next, or for
		// that folder's probe.
		if sd := l.shape(subfolder(r.cursor, d0)); sd != nil && len(sd.folders) > 0 && sd.upto != "" {
			return -1, false, nil, stuck
		}
		return -1, false, nil, waiting
	}
	est := r.atDensity(ph-pc, pc-p0)
	if sub := subfolder(r.cursor, d0); nested(r.cursor, d0) && nested(r.cursor, sub) && !strings.HasPrefix(r.first, sub) {
		// Crossed into a folder of d0 with folders of its own (a flat
		// one's names are measured by denseLeaf) and listed a page or
		// more there: the rest of that folder is measured at its own
		// density when that is higher. At the range's average density, a
		// range that listed a quiet CloudTrail region (10 files a day)
		// and crossed into a busy one (200 a day) read its 10 pages left
		// there as one, and listed them alone, a page a round trip, with
		// 62 workers idle.
		if n := l.keysIn(r, sub); n >= MaxKeys {
			if ps, ok := l.hpos(sub, d0, alpha, 0); ok && pc > ps {
				// Only to the folder's end: past it the folders are
				// measured as before. A range that reached one of the
				// few large folders among thousands of tiny ones read
				// them all at its density and was cut into hundreds of
				// empty pieces (1.9x the minimum requests).
				i, _ := d.index(pc)
				end := min(ph, d.at(i+1))
				local := float64(n) * max(0, end-pc) / (pc - ps) / MaxKeys
				est = max(est, local+r.atDensity(max(0, ph-end), pc-p0))
			}
		}
	}
	return est, trusted, &span{dir: d0, pc: pc, ph: ph}, measured
}

// foldersAfter returns the folders of d (a probed directory) after the
// one at position pc that lie inside r. The slice is shared: spans are not
// modified.
func foldersAfter(d *dirInfo, pc float64, r *krange) []string {
	i, _ := d.index(pc)
	next := d.folders[min(i+1, len(d.folders)):]
	if !r.open {
		next = next[:sort.SearchStrings(next, r.bound())]
	}
	return next
}

// folderPages is the pages flat folder leaf holds in all, as measured by
// sp, r's span inside it (see leafRest): a folder of hashes' extent, or
// the group of names' times the folder's groups when a group probe found
// them, else what r listed there and the rest sp measured.
func (l *lister) folderPages(r *krange, leaf string, sp *span) float64 {
	if sp.dir == leaf && sp.each > 0 {
		return sp.each
	}
	if _, weights, _ := l.weighedGroups(leaf); len(weights) > 0 && sp.each > 0 {
		n := 0.0
		for _, w := range weights {
			n += w
		}
		return n * sp.each
	}
	return float64(r.leafKeys)/MaxKeys + sp.dense + sp.ahead
}

// withNext is a copy of sp with folders (after its own, each of per
// pages) added to what lies ahead of it.
func (sp *span) withNext(folders []string, per float64) *span {
	c := *sp
	c.next = append(slices.Clip(sp.next), folders...)
	c.ahead += per * float64(len(folders))
	return &c
}

// hashRest measures the rest of flat folder leaf, which r is listing,
// from its last page's extent, its names being hashes read in the bytes
// hashes (see hashNames; nil when they are not): up to the folder's end,
// or to r's bound inside it. Guessed at twice what r had listed there, a
// folder of 30 000 <uuid>.bin grew a page or two a round trip.
func hashRest(r *krange, leaf string, hashes []byte) (*span, bool) {
	if r.prev == "" || leafDir(r.prev) != leaf {
		return nil, false
	}
	return restFrom(r, leaf, r.prev, hashes, nil)
}

// leafRest measures the rest of flat folder leaf, which r is listing,
// when its last page showed hashes: of the folder (hashRest), or of the
// group of names the page lay in (groupRest).
func (l *lister) leafRest(r *krange, leaf string) (float64, *span, bool) {
	if sp, ok := hashRest(r, leaf, r.leafHashes); ok {
		return sp.dense, sp, true
	}
	if strings.HasPrefix(r.group, leaf) {
		return l.groupRest(r)
	}
	return 0, nil, false
}

// firstLeafRest measures the rest of the flat folder of hashes r's pages
// have all lain in (its last full page showed hashes, see leafHashes):
// from its last page's extent once it has a page before it there
// (hashRest), else from the extent of every key it listed, which is all
// a first page has. Caller holds mu.
func (l *lister) firstLeafRest(r *krange) (float64, *span, bool) {
	leaf := leafDir(r.cursor)
	if r.leafHashes == nil || leafDir(r.first) != leaf || r.leafKeys < r.seen {
		return 0, nil, false
	}
	sp, ok := hashRest(r, leaf, r.leafHashes)
	if !ok {
		sp, ok = restFrom(r, leaf, r.first, r.leafHashes, nil)
	}
	if !ok {
		return 0, nil, false
	}
	return sp.dense, sp, true
}

// restFrom is the span of the rest of dir (a folder, or a group of names
// sharing a text) that r is listing, its names being hashes read in the
// bytes hashes: its pages from the extent between from and r's cursor,
// both in dir, up to dir's end or r's bound inside it. With cols (the
// listing's column alphabets, for one value of a numbered field), known
// columns are read in their own bytes: a day of access logs read in
// digits alone spans hours 00-99, its rest 4x too large, and its pieces
// past hour 23 were empty.
func restFrom(r *krange, dir, from string, hashes []byte, cols *[colSlots]colAlpha) (*span, bool) {
	if hashes == nil || !strings.HasPrefix(from, dir) || !strings.HasPrefix(r.cursor, dir) {
		return nil, false
	}
	sc := hashScale(hashes)
	sc.cols = cols
	pp, pl, end := position(from, dir, sc), position(r.cursor, dir, sc), 1.0
	if !r.open && strings.HasPrefix(r.bound(), dir) {
		end = position(r.bound(), dir, sc) // a piece cut inside it
	}
	if pl <= pp {
		return nil, false
	}
	return &span{dir: dir, dense: max(0, end-pl) / (pl - pp), each: 1 / (pl - pp), hashes: hashes, cols: cols, from: from}, true
}

// denseLeaf reports whether r's last two pages or more lay in one flat
// folder below d0 whose names no probe measured (sequential names past a
// truncated probe, or no probe at all), and returns that folder. Caller
// holds mu.
func (l *lister) denseLeaf(r *krange, d0 string) (string, bool) {
	if r.leafKeys < 2*MaxKeys || r.prev == "" {
		return "", false
	}
	leaf := leafDir(r.cursor)
	if len(leaf) <= len(d0) || leafDir(r.prev) != leaf {
		return "", false
	}
	if d := l.shape(leaf); d != nil && (len(d.folders) > 0 || d.interpolable(leaf)) {
		return "", false
	}
	return leaf, true
}

// probeEvery: discovery may send one probe per this many pages listed
// (see neededProbe).
const probeEvery = 9

// endgamePages: once this many pages per worker are listed, idle workers
// may split ranges down to single pages (see victim). At 4, a listing of
// fewer than 256 pages (64 workers) never got there: in virtual time,
// 200 000 keys whose ranges were left at 3-4 pages each while 60 workers
// idled took 10-11 round trips in about one listing in ten (uuidroot,
// 7 otherwise; TestVirtualShapes failed CI on it), b64 13, catsdogs 17 and
// unpadded 14 every time. At 2: uuidroot 7 in 40 listings of 40, b64 9,
// catsdogs 12, unpadded 10, with 0.01-0.07x more of the minimum requests
// on the 200 000-key shapes, and the 1 M layouts and shapes within noise.
// The request budget in victim still bounds what the endgame spends.
const endgamePages = 2

// pagesLeft is what a range whose estimate is est counts for in the pages
// a listing has left: est, at least a page, and a page when it has no
// estimate (-1, not measurable yet; +Inf, unbounded).
func pagesLeft(est float64) float64 {
	if est < 0 || math.IsInf(est, 1) {
		return 1
	}
	return max(est, 1)
}

// victim picks the range to split and into how many pieces; caller holds
// mu. The listing can end no sooner than the largest remaining range, nor
// sooner than (all remaining pages) / workers rounds: a range is split when
// its estimate exceeds that share T, into pieces of about T pages (never
// below MinSplitPages/2: each piece costs about half a request for its
// partial last page). Only ranges estimated to hold MinSplitPages or more
// are split at all.
func (l *lister) victim() (*krange, int, *span) {
	alpha := l.alphabet()
	var best *krange
	var bestSpan *span
	bestEst, bestTrusted := 0.0, false
	live, pages := 0, l.pages
	total := 0.0
	// The endgame: with workers idle on a listing already large enough
	// that a few more partial pages are noise next to its size, ranges
	// down to two pages are split (one page more each way), or the last
	// ranges run on alone for up to MinSplitPages rounds.
	minSplit := float64(l.opt.MinSplitPages)
	endgame := l.idle > 0 && pages >= endgamePages*l.opt.Workers
	if endgame {
		minSplit = min(minSplit, 2) // the loop's floor; checked below
	}
	for _, r := range l.ranges {
		if r.done {
			continue
		}
		live++
		if !r.active { // not started, or parked for other work (see yieldTo)
			est, _, _ := l.estimate(r, alpha)
			total += pagesLeft(est)
			continue
		}
		est, trusted, sp := l.estimate(r, alpha)
		if !math.IsInf(est, 1) {
			total += max(est, 1)
		}
		if r.pages < r.retryAt {
			continue
		}
		if est >= minSplit && est > bestEst {
			best, bestEst, bestTrusted, bestSpan = r, est, trusted, sp
		}
	}
	if best == nil {
		return nil, 0, nil
	}
	if endgame {
		// ... while the requests over the minimum (partial pages, probes)
		// stay under a twelfth of it, plus a quarter of a request per
		// worker: the budget is ~1.15x on a large listing. The minimum is
		// the listing's projected size, the pages listed plus the
		// estimates of what is left, not the pages listed so far, and the
		// fixed allowance (16 requests for 64 workers) is noise next to a
		// large listing but a round trip or more saved on one of a few
		// hundred pages. In virtual time (30 ms, 64 workers), 300 000
		// unpadded frame numbers (frame_1.png ...) took 12 round trips
		// (the oracle 5): the second round trip cut the names starting
		// 3..9 as densely as those starting 1 and 2 (300 000 needs six
		// digits, the rest five at most), so 49 of its 63 pieces ended in
		// a page or two, 8% over the minimum, and the 28 dense pieces left
		// ran alone for 8 round trips because the budget counted only the
		// pages listed so far. 9 now (1.24x the minimum requests, from
		// 1.14x); 1 000 numbered folders (shards) 14 -> 11 (1.20 -> 1.26x);
		// the four layouts at 1 M keys within noise. At the very end, with
		// few ranges left, the last ones may still be split while what was
		// spent plus a partial page for every live range stays under an
		// eighth: a few requests then save rounds.
		listed := float64(l.seen) / MaxKeys
		minimum := listed + total
		over := float64(l.counter.Requests.Load()) - listed
		slack := float64(l.opt.Workers) / 4
		if !(over < minimum/12+slack || over+float64(live) < minimum/8) {
			minSplit = float64(l.opt.MinSplitPages)
			if bestEst < minSplit {
				return nil, 0, nil
			}
		}
	}
	if bestTrusted { // total leaves out unbounded (+Inf) estimates
		l.plan(pages + int(total))
	}
	switch {
	case !l.lat.saturated():
		l.liveCap = 0
	case l.liveCap == 0:
		l.liveCap = live // more requests in flight stopped paying off
	}
	workers := l.opt.Workers
	if l.liveCap > 0 {
		workers = min(workers, l.liveCap)
	}
	minPiece := max(1, minSplit/2)
	pieces := l.idle + 2 // the victim, the splitting worker, the idle ones
	if !math.IsInf(bestEst, 1) {
		share := max(math.Ceil(total/float64(workers)), minPiece)
		if bestEst <= share {
			return nil, 0, nil // not on the critical path
		}
		pieces = min(pieces, int(math.Ceil(bestEst/share)))
	}
	if bestSpan != nil && bestSpan.cols != nil && len(bestSpan.next) < workers {
		// A numbered field's values a probe listed, fewer than the
		// workers: one range each, though not every worker is idle yet
		// (the probes' own are about to be). Cut 60 ways, 61 days of
		// CloudFront's logs were cut evenly 59 times past the first, so
		// that 31 March and 1 April were one range of 6.6 pages: 8-9
		// round trips, against 6 when each day had its own.
		pieces = max(pieces, min(len(bestSpan.next)+1, workers-live+1))
	}
	// Grow the number of ranges with evidence of size and of speed: at
	// most max(4, 4 x pages listed so far) live ranges on a guess, 8 x on
	// a measured estimate, so a listing of a few pages never pays for many
	// partial ones and the latency check sees a few rounds before the
	// request count has grown much. A range measured over folders at four
	// pages a worker or more may grow to 32 x: a date-partitioned or deep
	// listing whose probes had measured it at 1 000 pages by its second
	// round trip ran 16 ranges then, not 64, at 8 x (a round trip lost
	// against a server that lists 35 pages in one, in virtual time). Below
	// that size 32 x cut 100 folders of a page each into 25 ranges at once,
	// each paying a request to learn its last page had ended: 1.3-1.5x the
	// minimum requests against a co-located server (TestColocatedDoesNotBlowUp).
	switch {
	case !bestTrusted:
		pieces = min(pieces, max(4, 4*pages)-live+1)
	case bestEst < float64(4*workers):
		pieces = min(pieces, max(8, 8*pages)-live+1)
	case bestSpan != nil && (bestEst >= float64(16*workers) || bestSpan.cols != nil && len(bestSpan.next) > 0):
		// Measured over folders or groups at 16 pages a worker or more:
		// every worker from the first page on. At 32 after one page, an
		// hour-by-hour split of 1 M timestamps (417 hours, 1 700 pages)
		// made 32 ranges of 14 hours, each cut again in small steps at
		// hour ends as workers came free, every cut a partial page: 23-24
		// round trips at 1.14-1.19x the minimum requests, against 20 at
		// 1.11x when its second page came before the hours' probe.
		//
		// So are a numbered field's values a probe listed (see
		// groupsPending), at four pages a worker or more: 61 days of
		// access logs (3.3 pages each) cut 32 ways after one page were
		// ranges of two days, 6.6 pages, too small to split before the
		// endgame (MinSplitPages), and 32 workers idled for 5 round
		// trips: 9 round trips, against 6 when the second page came
		// first.
		pieces = min(pieces, max(workers, 32*pages)-live+1)
	case bestSpan != nil:
		pieces = min(pieces, max(32, 32*pages)-live+1)
	}
	// A trusted estimate over key bytes of four pages a worker or more (a
	// measured density of hash-like names over a known extent) is split
	// among all workers at once: its pieces are as large as the estimate
	// says, and ramping up would cost rounds. Estimates over folders ramp
	// up, faster: each new range there may need probes of its own.
	if l.liveCap > 0 {
		pieces = min(pieces, l.liveCap-live+1)
	}
	if pieces < 2 {
		return nil, 0, nil
	}
	return best, pieces, bestSpan
}

// counter is a run of decimal digits numbering the names of a flat folder
// (part-00000, part-00001, ...), or folders (shards/000000/, see
// numbered's across): the run's offset and width in the names,
// and its values in the range's previous and current cursor.
type counter struct {
	at, width int
	prev, cur int64
}

// counterOf finds the counter prev and cursor are numbered by: they first
// differ inside a run of decimal digits as wide in both (3 or more, with
// no hexadecimal letter next to it: not a hash), and cursor's number is
// the larger. ok is false for other names, whose positions come from
// interpolating their bytes: digits interpolated as bytes of a larger
// alphabet carry at the wrong place (part-05/99).
func counterOf(prev, cursor string) (c counter, ok bool) {
	i := len(commonPrefix(prev, cursor))
	if i >= len(prev) || i >= len(cursor) || !isDigit(prev[i]) || !isDigit(cursor[i]) {
		return counter{}, false
	}
	a := i
	for a > 0 && isDigit(cursor[a-1]) {
		a--
	}
	end := func(s string) int {
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		return j
	}
	width := end(cursor) - a
	if width != end(prev)-a || width < 3 || width > 18 || hexLetter(cursor, a-1) && !wordBefore(cursor, a) || hexLetter(cursor, a+width) || hexLetter(prev, a+width) {
		return counter{}, false // not a counter: a hash's digits, or too short to tell
	}
	np, err1 := strconv.ParseInt(prev[a:a+width], 10, 64)
	nc, err2 := strconv.ParseInt(cursor[a:a+width], 10, 64)
	if err1 != nil || err2 != nil || nc <= np {
		return counter{}, false
	}
	return counter{at: a, width: width, prev: np, cur: nc}, true
}

// bound is where cut string s falls on the counter of names sharing
// name's text before it: part-04133 at 4133, part-06 at 6000 (before every
// part-06xxx), part-66r (past every part-66xxx) at 67000. ok is false when
// s does not share that text.
func (c counter) bound(s, name string) (float64, bool) {
	if len(s) < c.at || s[:c.at] != name[:c.at] {
		return 0, false
	}
	v, k := 0.0, 0
	for k < c.width && c.at+k < len(s) && isDigit(s[c.at+k]) {
		v = v*10 + float64(s[c.at+k]-'0')
		k++
	}
	if k < c.width && c.at+k < len(s) && s[c.at+k] > '9' {
		v++ // past every name with these leading digits
	}
	return v * math.Pow10(c.width-k), true
}

// rest is the pages left in bounded range r on c, perPage numbers a page:
// from its cursor's number to where its bound falls (see bound). ok is
// false when the bound does not share the counter's text.
func (c counter) rest(r *krange, perPage float64) (float64, bool) {
	nh, ok := c.bound(r.bound(), r.cursor)
	if !ok {
		return 0, false
	}
	return max(0, nh-float64(c.cur)) / perPage, true
}

// numbered returns the counter r's names are numbered by (see counterOf)
// and how far it runs over a page: measured from the previous cursor
// (one page back), else from the range's first key (a piece starting at a
// cut that is not a name of the counter's width, such as a
// byte-interpolated one). Either must lie in the cursor's folder unless
// across is set: then the counter may number folders (shards/001099/, for
// a range folder positions cannot place). ok is false for names no
// counter numbers.
func numbered(r *krange, across bool) (c counter, perPage float64, ok bool) {
	leaf := leafDir(r.cursor)
	if across || leafDir(r.prev) == leaf {
		if c, ok := counterOf(r.prev, r.cursor); ok {
			return c, float64(c.cur - c.prev), true
		}
	}
	if r.seen > 1 && (across || leafDir(r.first) == leaf) {
		if c, ok := counterOf(r.first, r.cursor); ok {
			return c, float64(c.cur-c.prev) * MaxKeys / float64(r.seen-1), true
		}
	}
	return counter{}, 0, false
}

// cuts returns the names (up to the counter: part-04983) at c's current
// number plus each of pages times perPage, a little short (1/64) of whole
// pages: a piece of exactly a page would take a second request to learn
// that it has ended. Cuts past the counter's width are left out; name is
// a name the counter numbers.
func (c counter) cuts(name string, perPage float64, pages []float64) []string {
	var cuts []string
	for _, p := range pages {
		x := c.cur + int64(math.Round(p*perPage*(1-1.0/64)))
		s := strconv.FormatInt(x, 10)
		if x <= c.cur || len(s) > c.width { // past the counter's width (or overflowed)
			break
		}
		cuts = append(cuts, name[:c.at]+strings.Repeat("0", c.width-len(s))+s)
	}
	return cuts
}

// gallop returns up to pieces-1 cuts on c (see cuts), 2 pages ahead and
// then each gallopRatio(...) times as far, within the counter's width:
// pieces that turn out empty cost a logarithmic number of requests,
// pieces holding names get bounds and are measured and split evenly
// later.
func (c counter) gallop(name string, perPage float64, pieces int) []string {
	var pages []float64
	end := math.Pow10(c.width) // past the counter's last number
	ratio := gallopRatio((end-float64(c.cur))/perPage, pieces)
	for d := 2.0; len(pages) < pieces-1 && d*perPage < end; d *= ratio {
		pages = append(pages, d)
	}
	return c.cuts(name, perPage, pages)
}

// gallopRatio is how much farther each of a gallop's pieces-1 cuts goes
// than the one before, the first 2 pages ahead: far enough that the last
// reaches the counter's end, reach pages ahead, but from 2 to 4. Doubling
// reached 256 pages with the 8 pieces a listing's second round trip may
// cut, so a flat folder of 1 M unpadded numbers (data/0.json ...
// data/999999.json) galloped three round trips in a row before its end
// was known: 25-28 round trips in virtual time against the oracle's 16,
// and 20-21 when the cuts span the counter. Above 4, the piece holding
// the end is so large that the even split after it is mostly empty
// pieces: 100 000 names numbered in 7 digits (logs7) took 9 round trips
// at 1.24x the minimum requests with a cap of 8 or 16, 8 at 1.18x with 4
// (10 at 1.16x doubling).
func gallopRatio(reach float64, pieces int) float64 {
	if pieces < 3 || reach <= 2 {
		return 2
	}
	return min(4, max(2, math.Pow(reach/2, 1/float64(pieces-2))))
}

// wordBefore reports whether the letters a-f just before s[a] end a word
// rather than a hash: no decimal digit comes before them (image00001,
// f00001, frame-2/e0042). Names numbered so read as hashes (the letter
// next to the counter), and a folder of 1 000 of them, a page, looked
// like a sliver of a huge folder of hashes: 30 empty pieces a folder,
// 33x the minimum requests over 100 such folders.
func wordBefore(s string, a int) bool {
	h := a
	for h > 0 && hexLetter(s, h-1) {
		h--
	}
	return h == 0 || !isDigit(s[h-1])
}

// hexLetter reports whether s[i] exists and is a letter a-f or A-F.
func hexLetter(s string, i int) bool {
	return i >= 0 && i < len(s) && (s[i] >= 'a' && s[i] <= 'f' || s[i] >= 'A' && s[i] <= 'F')
}

// splitPoints finds up to pieces-1 strings strictly inside v's remaining
// range: evenly spaced over its folder positions when folders measured it,
// else interpolated over key bytes. Caller holds mu.
func (l *lister) splitPoints(v *krange, pieces int, sp *span) []string {
	alpha := l.alphabet()
	if sp != nil && (sp.across || sp.gallop) && sp.dense == 0 {
		// Open-ended on a counter (across folders, or running to its
		// folder's end): gallop on it.
		if c, per, ok := numbered(v, sp.across); ok {
			return c.gallop(v.cursor, per, pieces)
		}
		sp = nil
	}
	if sp != nil && sp.dense > 0 {
		// Inside a dense folder of unmeasured names: cut its estimated
		// rest evenly, a page apart or more at the last page's extent; the
		// last piece also takes whatever lies past the estimate and the
		// folders after it.
		// (apply drops cuts outside the range.)
		inside := pieces // pieces inside the folder (or group)
		if len(sp.next) > 0 {
			// Pieces in proportion to the pages of it and of the groups
			// (or folders) after it.
			all := sp.dense + sp.ahead
			inside = max(1, int(math.Round(float64(pieces)*sp.dense/all)))
		}
		step := max(1, sp.dense/float64(inside))
		if c, per, ok := numbered(v, sp.across); ok && sp.hashes == nil {
			var pages []float64
			for j := 1; j < inside; j++ {
				pages = append(pages, float64(j)*step)
			}
			// The folders after it (see byFolders' dense leaf).
			return appendNext(c.cuts(v.cursor, per, pages), sp.next, pieces)
		}
		base := commonPrefix(v.prev, v.cursor)
		alpha = l.alphaFor(sp.dir)
		if sp.hashes != nil {
			base, alpha = sp.dir, hashScale(sp.hashes)
			alpha.cols = sp.cols
		}
		from := v.prev
		if sp.from != "" {
			from = sp.from
		}
		pp, pc := position(from, base, alpha), position(v.cursor, base, alpha)
		var points []string
		for j := 1.0; len(points) < inside-1 && pc > pp && pc+(pc-pp)*step*j < 1; j++ {
			points = append(points, unposition(pc+(pc-pp)*step*j, base, alpha))
		}
		if end := sp.dir + maxRune; sp.hashes != nil && (len(points) > 0 || len(sp.next) > 0) && (v.open || v.hi > end) {
			// What follows the folder of hashes gets a range of its own,
			// measured on its own folders; the last piece took it all
			// (50 folders after 9 M hashes, listed by one range).
			points = append(points, end)
		}
		return appendNext(points, sp.next, pieces)
	}
	if sp != nil {
		var points []string
		for j := 1; j < pieces; j++ {
			m := l.unpos(sp.pc+(sp.ph-sp.pc)*float64(j)/float64(pieces), sp.dir, alpha, 0)
			if m != "" && m > v.cursor && (v.open || m < v.hi) && (len(points) == 0 || m > points[len(points)-1]) {
				points = append(points, m)
			}
		}
		if v.open {
			// Names after the directory's last folder (loose files at the
			// end of the key space) sit at its end in folder positions, as
			// if they took no room: give them a range of their own now,
			// not when the range before reaches them at the very end.
			if t := l.trailing(sp.dir); t > v.cursor {
				if i, found := slices.BinarySearch(points, t); !found {
					points = slices.Insert(points, i, t)
				}
			}
		}
		if len(points) == 0 {
			// The rest lies in one folder of unknown shape: learn it.
			v.needDir = l.unknownFolder(v.cursor, sp.dir)
		}
		return points
	}
	alpha = l.alphaFor(l.topDir(v))
	hi, trusted := l.upper(v, alpha)
	if !trusted {
		// Gallop toward the largest possible key, not the guess: the guess
		// is made from the cursor and can sit just above it.
		hi = l.root() + strings.Repeat(string([]byte{alpha.top()}), 16) // the byte (see upper)
	}
	base := commonPrefix(v.first, hi)
	if !trusted {
		base = gallopBase(base, v.first, v.cursor)
	}
	p0, pc, ph := position(v.first, base, alpha), position(v.cursor, base, alpha), position(hi, base, alpha)
	var at []float64
	if trusted {
		for j := 1; j < pieces; j++ {
			at = append(at, pc+(ph-pc)*float64(j)/float64(pieces))
		}
	} else if c, per, ok := numbered(v, false); ok {
		// Galloping (below) over a counter's numbers: over the names'
		// bytes the carry lands in letters (part-2b997q2 for part-32997).
		return c.gallop(v.cursor, per, pieces)
	} else if pc > p0 && v.seen > 1 {
		// The end is a guess that may overshoot by orders of magnitude:
		// gallop (cuts 2, 4, 8, ... pages ahead) so empty pieces cost a
		// logarithmic number of requests; pieces holding data get real
		// densities and bounds, and are split evenly later.
		perPage := (pc - p0) * MaxKeys / float64(v.seen-1)
		if v.prev != "" && v.prev > v.first {
			// The last page's extent: the range's average misleads when it
			// began among sparser names (a run of sequential ones after
			// scattered folders).
			if pp := position(v.prev, base, alpha); pp < pc {
				perPage = pc - pp
			}
		}
		for d := 2.0; len(at) < pieces-1 && pc+perPage*d < ph; d *= 2 {
			at = append(at, pc+perPage*d)
		}
	}
	var points []string
	for _, x := range at {
		m := unposition(x, base, alpha)
		if m > v.cursor && m < hi && (len(points) == 0 || m > points[len(points)-1]) {
			points = append(points, m)
		}
	}
	return points
}

// appendNext adds to points (cuts inside a span's dir) a cut at each of
// next, the groups or folders after dir (see span.next), each starting a
// range of its own listed from its first name; every k-th one when there
// are more than pieces leaves room for. (At even shares of their pages instead, seven
// folders of ten word-<hex> groups took 12-14 round trips, not 11-13:
// the folders' pieces each wait for a page or two in their first folder
// before they are measured, the groups' are measured at once.)
func appendNext(points, next []string, pieces int) []string {
	n := min(pieces-1-len(points), len(next))
	for k := 0; k < n; k++ {
		points = append(points, next[k*len(next)/n])
	}
	return points
}

// gallopBase is the base a gallop from cursor interpolates under: base
// (shared by the range's first key and its guessed end), or deeper when
// first and cursor share more than positionBytes/2 bytes past base.
// Positions read positionBytes bytes past their base, so keys sharing a
// long text past it sit at one position: a folder of ISO timestamps
// (events/2024-01-01T00:00:00.000Z...) galloped from events/ saw one
// position until the hour's second digit changed, 24 pages on, and was
// listed serially. Cuts under the deeper base reach only the end of the
// text it holds (the rest of the day); the open range past them gallops
// again from its own first page.
func gallopBase(base, first, cursor string) string {
	cp := commonPrefix(first, cursor)
	if n := len(cp) - positionBytes/2; n > len(base) {
		return cp[:n]
	}
	return base
}

// unknownFolder is the shallowest folder below dir on key's path whose
// shape is not known (nor assumed): the one whose probe would give cuts
// inside it. "" when every folder on the path is known.
func (l *lister) unknownFolder(key, dir string) string {
	for nested(key, dir) {
		dir = subfolder(key, dir)
		if l.shape(dir) == nil {
			return dir
		}
	}
	return ""
}
