package listing

import (
	"math"
	"sort"
	"strings"
)

// Groups of names: a flat folder of word-<hex> names (apple-…, banana-…)
// is a run of folders S3 does not show, each a folder of hashes. A page
// all in one shows its text (hashGroup), its rest is measured as a folder
// of hashes' (groupRest), and one listing with the text's last byte as the
// delimiter lists the folder's groups (runGroupProbe), so that each gets
// ranges of its own at once.

// hashGroup is the text the names first..last (a page, sorted, all in
// folder leaf) all begin with, up to the hexadecimal digits it ends in;
// "" when that is no longer than leaf. A page of fruit/mango-0d3e1c-….txt
// to fruit/mango-0f7a90-….txt gives fruit/mango-.
func hashGroup(first, last, leaf string) string {
	g := commonPrefix(first, last)
	for len(g) > len(leaf) && hashByte(g[len(g)-1]) && g[len(g)-1] != '-' {
		g = g[:len(g)-1]
	}
	g = validPrefix(g, 0) // names that part inside a character
	if len(g) <= len(leaf) {
		return ""
	}
	return g
}

// groupSet is what a probe of a flat folder found with a separator that
// ends a group of names (see hashGroup) as its delimiter: the groups
// (fruit/apple-, fruit/banana-, ...), as S3 rolls names up to their first
// separator past the folder into common prefixes.
type groupSet struct {
	probing bool
	groups  []string // sorted
	// assumed: not probed, its groups copied from a probed level of
	// numbers (see assumeNumbered).
	assumed bool
}

// groupSep returns the byte group ends with when it is punctuation that
// may separate a word from the hash after it (apple-<hex>, cat.<hex>,
// user_<hex>): a delimiter probe with it lists the folder's groups.
func groupSep(group string) (byte, bool) {
	switch b := group[len(group)-1]; b {
	case '-', '_', '.', '=', '+', '~', ',', ':', ' ':
		return b, true
	}
	return 0, false
}

// neededGroupProbe returns where a group probe is due, and the separator:
// a flat folder whose groups nobody probed, in which a range is listing a
// group of names; or a group that probe found, which the range's group
// lies deeper in (images/fried_ holding images/fried_apple_,
// images/fried_bulldog_, ...: labels whose words hold the separator too).
// A folder of word-<hex> names otherwise showed its groups one round trip
// each: the range listing a group is cut at its end, and the piece past
// it found the next group with its first page. Within the probe budget
// (see neededProbe); caller holds mu.
func (l *lister) neededGroupProbe() (groupAsk, bool) {
	if l.opt.Delimiter != "" || l.probesSpent() {
		return groupAsk{}, false
	}
	for _, r := range l.ranges {
		group := r.group
		if group == "" && r.otherWords() {
			group = r.padGroup
		}
		if r.done || !r.active || len(group) <= len(l.prefix) {
			// (A group no longer than the listing prefix: its groups
			// would be the names past the prefix up to their next
			// separator, one each.)
			continue
		}
		sep, ok := groupSep(group)
		if !ok {
			continue
		}
		if pre, ok := l.groupProbeFor(group, r.first); ok {
			return groupAsk{at: pre, sep: sep, text: group[len(leafDir(group)):]}, true
		}
	}
	return groupAsk{}, false
}

// groupAsk is a group probe to send: the prefix it lists, the separator
// it lists with as the delimiter, and the text past its folder of the
// group a range was listing when it was asked for.
type groupAsk struct {
	at   string
	sep  byte
	text string
}

// loneKey is how loneGroups and groupsAsked know text, a group of names
// past folder dir: the text itself (part-), or "/" and its separator when
// it is the folder's own name and a separator (train/n01440764/ holding
// n01440764_<n>.JPEG): then every class folder of ImageNet's has the same
// key. (No text past a folder holds a "/".)
func loneKey(text, dir string) string {
	if n := len(text) - 1; n > 0 && text[:n] == folderName(dir) {
		return "/" + text[n:]
	}
	return text
}

// folderName is the name of dir's last folder (a/b/ → b); "" for the
// bucket's root.
func folderName(dir string) string {
	d := strings.TrimSuffix(dir, "/")
	return d[strings.LastIndexByte(d, '/')+1:]
}

// groupProbeFor returns the prefix a group probe must list to find group
// among its folder's groups: the folder when nobody probed it, else the
// probed group group lies in past its end, when that was not probed yet.
// ok is false when group is known (or a probe for it is out), when a
// probe found no group holding it, or past maxGroupLevels (a probe that
// found one group, images/big_ holding images/big_blue_, is no level: the
// text goes on). first is the first name of the range listing group.
// Caller holds mu.
func (l *lister) groupProbeFor(group, first string) (pre string, ok bool) {
	pre = leafDir(group)
	if sep, ok := groupSep(group); ok {
		// Numbers parted by the separator (logs/2024-03-01-): every
		// level above the group's is probed at once, not a round trip
		// after the level above it answered.
		for _, at := range numberedLevels(group, pre, sep) {
			// (A level inside the listing's prefix lists the prefix:
			// the folder's probe does that, see runGroupProbe.)
			if l.groupSets[at] == nil && (at == pre || len(at) > len(l.prefix)) {
				return at, true
			}
		}
	}
	if key := loneKey(group[len(pre):], pre); l.loneGroups[key] || l.groupsAsked[key] > 0 {
		// Its folder's only text, or a probe of a folder whose names
		// begin with its own name too is out, whose answer will tell:
		// each of ImageNet's class folders asked for its own while the
		// first was out (50 probes in one round trip).
		return "", false
	}
	for levels := 0; ; {
		gs := l.groupSets[pre]
		if gs == nil {
			// A group's own probe only while probes stay under one per
			// 16 pages listed: each finds one label's words. Or when the
			// range has listed a group inside it before this one (first
			// lies in it, outside group): its groups are being listed one
			// after the other, a round trip each, and the probe ends that.
			// (Under the budget alone, 100 labels of a page each took 44-
			// 47 round trips in a third of listings, 25 in the rest: a
			// probe finding one group spent the budget.)
			serial := strings.HasPrefix(first, pre) && !strings.HasPrefix(first, group)
			return pre, pre == leafDir(group) || levels < maxGroupLevels && (serial || l.discovery.Load() < int64(2+l.pages/16))
		}
		if gs.probing {
			return "", false
		}
		if len(gs.groups) > 1 {
			levels++
		}
		i := sort.SearchStrings(gs.groups, group+maxRune) - 1
		if i < 0 || gs.groups[i] == group || !strings.HasPrefix(group, gs.groups[i]) {
			return "", false
		}
		pre = gs.groups[i]
	}
}

// numberedLevels returns the levels above group (a text past folder dir
// ending in sep) when what lies between dir and group's end is numbers
// parted by sep, two or more: the folder, then each number's text
// (logs/2024-03-01- gives logs/, logs/2024-, logs/2024-03-). A probe of
// each lists the numbers on that level: the years, the year's months, the
// month's days. nil for other texts (apple-, part-00042-, 2024-), and
// past maxNumberedLevels numbers.
func numberedLevels(group, dir string, sep byte) []string {
	if d := numberedDepth(group, dir, sep); d < 2 || d > maxNumberedLevels {
		return nil
	}
	levels := []string{dir}
	for i := len(dir); i < len(group)-1; i++ {
		if group[i] == sep {
			levels = append(levels, group[:i+1])
		}
	}
	return levels
}

// assumeNumbered gives each level of numbered groups in folder dir that
// no probe listed (logs/2024-04-, its month not probed) the groups of a
// probed level as deep (logs/2024-03-'s days, logs/2024-04-01- ... then):
// access logs of March and April, March's days probed, listed April as
// one range until a range met April's first names and probed it, two
// round trips later. A day a month lacks is an empty piece or none.
// Caller holds mu.
func (l *lister) assumeNumbered(dir string, sep byte) {
	models := map[int]string{} // depth (numbers past dir) → a probed level
	for at, gs := range l.groupSets {
		if at == dir || gs.probing || gs.assumed || len(gs.groups) == 0 || leafDir(at) != dir {
			continue
		}
		if !numbers(gs.groups[0][len(at):], sep) {
			continue // words inside it (red_ holding red_apple_): no model
		}
		if d := numberedDepth(at, dir, sep); d > 0 {
			if m, ok := models[d]; !ok || at < m {
				models[d] = at
			}
		}
	}
	if len(models) == 0 {
		return
	}
	budget := maxAssumedGroups
	var walk func(at string, d int)
	walk = func(at string, d int) {
		gs := l.groupSets[at]
		if gs == nil || gs.probing {
			return
		}
		for _, g := range gs.groups {
			if numberedDepth(g, dir, sep) != d+1 {
				continue // not a number (a word's group)
			}
			if l.groupSets[g] == nil {
				m, ok := models[d+1]
				if !ok || budget < len(l.groupSets[m].groups) {
					continue
				}
				mg := l.groupSets[m].groups
				t := make([]string, len(mg))
				for i, x := range mg {
					t[i] = g + x[len(m):]
				}
				budget -= len(t)
				l.groupSets[g] = &groupSet{groups: t, assumed: true}
			}
			walk(g, d+1)
		}
	}
	walk(dir, 0)
}

// maxAssumedGroups bounds the groups one assumeNumbered call copies: ten
// years of access logs probed down to an hour would otherwise copy every
// hour's minutes.
const maxAssumedGroups = 1 << 14

// numberedDepth is how many fields ending in sep a text past folder dir
// holds when every field past the first is a number, and the first ends
// in a digit (logs/2024-03- under logs/: 2; cf/E2QWRUHAPOMQZL.2024-03-,
// CloudFront's distribution before the year: 2) or is a word followed by
// two numbers or more (logs/web-2024-03-: 3). 0 for anything else: a
// word (apple-, red_apple_), a word's counter (part-00042-).
func numberedDepth(text, dir string, sep byte) int {
	rest := text[len(dir):]
	i := strings.IndexByte(rest, sep)
	if i <= 0 || strings.IndexByte(rest[:i], '/') >= 0 {
		return 0
	}
	n := 0
	if i < len(rest)-1 {
		if !numbers(rest[i+1:], sep) {
			return 0
		}
		n = strings.Count(rest[i+1:], string(sep))
	}
	if !isDigit(rest[i-1]) && n < 2 {
		return 0
	}
	return n + 1
}

// numbers reports whether s is one or more numbers, each followed by sep
// (03-01-).
func numbers(s string, sep byte) bool {
	if s == "" || s[len(s)-1] != sep {
		return false
	}
	for _, f := range strings.Split(s[:len(s)-1], string(sep)) {
		if f == "" {
			return false
		}
		for i := 0; i < len(f); i++ {
			if !isDigit(f[i]) {
				return false
			}
		}
	}
	return true
}

// maxNumberedLevels is the most numbers numberedLevels probes the levels
// above: a page of access logs in one minute (2024-03-01-05-17-) probes
// five.
const maxNumberedLevels = 5

// maxGroupLevels is how many levels of groups group probes look for: a
// folder's groups and the groups inside each (adjective_noun_<n>.jpg
// labels); a word of a label spelt with the separator (jelly_roll) would
// cost a probe of every such label for little.
const maxGroupLevels = 2

// groupsOf returns the groups of names known in flat folder dir, finest
// first: each group its folder's probe found, replaced by the groups a
// probe of it found (see groupProbeFor). probing is set while the folder's
// own probe is out. Caller holds mu.
func (l *lister) groupsOf(dir string) (groups []string, probing bool) {
	groups, _, probing = l.weighedGroups(dir)
	return groups, probing
}

// weighedGroups is groupsOf with, for each group, how many of the finest
// groups it is taken to hold: 1, or for a group no probe split yet whose
// siblings' probes found groups inside them (images/fried_ beside
// images/green_ holding green_apple_ ... green_jelly_: labels of two
// words), the mean those siblings hold. Each label then counts as a
// label: estimated as one, the first words after a range (9 of them, 10
// labels each) read as 9 labels, and 100 labels of a page each were
// listed nearly one after the other (85 round trips; the oracle 2).
// Caller holds mu.
func (l *lister) weighedGroups(dir string) (groups []string, weights []float64, probing bool) {
	gs := l.groupSets[dir]
	if gs == nil {
		return nil, nil, false
	}
	if gs.probing {
		return nil, nil, true
	}
	var walk func(gs *groupSet)
	walk = func(gs *groupSet) {
		start, split, inside := len(groups), 0, 0
		for _, g := range gs.groups {
			if sub := l.groupSets[g]; sub != nil && !sub.probing && len(sub.groups) > 0 {
				n := len(groups)
				walk(sub)
				split++
				inside += len(groups) - n
			} else {
				groups = append(groups, g)
				weights = append(weights, 0) // unsplit: set below
			}
		}
		w := 1.0
		if split > 0 && inside > split {
			w = float64(inside) / float64(split)
		}
		for i := start; i < len(groups); i++ {
			if weights[i] == 0 { // gs's own groups (a sub-probe's are set)
				weights[i] = w
			}
		}
	}
	walk(gs)
	return groups, weights, false
}

// runGroupProbe lists at (a flat folder, or a group of names in one, see
// groupProbeFor) with sep as the delimiter and records the groups found,
// releasing mu for the request; false when the probe failed (the listing
// is then cancelled with its error). Caller holds mu.
func (l *lister) runGroupProbe(a groupAsk) bool {
	at := a.at
	gs := &groupSet{probing: true}
	l.groupSets[at] = gs
	dir := leafDir(at)
	pre := at
	if len(l.prefix) > len(pre) {
		pre = l.prefix // only the listing's groups
	}
	asked := ""
	if k := loneKey(a.text, dir); at == dir && strings.HasPrefix(k, "/") {
		// Only a folder's own name is waited for: a word (apple-) may
		// begin one of a folder's many groups and its siblings' too,
		// and waiting for the first folder's answer cost the others a
		// round trip (seven folders of ten words: 12-13 → 14-15).
		asked = k
		l.groupsAsked[asked]++
	}
	l.mu.Unlock()
	entries, _, err := l.discover(pre, string(a.sep), "")
	l.mu.Lock()
	if asked != "" {
		if l.groupsAsked[asked]--; l.groupsAsked[asked] == 0 {
			delete(l.groupsAsked, asked)
		}
	}
	if err != nil {
		l.failLocked(err)
		return false
	}
	for _, e := range entries {
		// Only groups that are names past dir's folders: a delimiter
		// other than '/' rolls up subfolders' keys too (sub/x-1 under
		// sub/x-), and those are not groups of dir's own names. (A
		// prefix outside pre, from a faulty server, is no group either.)
		if e.IsDir && strings.HasPrefix(e.Key, pre) && strings.IndexByte(e.Key[len(pre):], '/') < 0 {
			gs.groups = append(gs.groups, strings.Clone(e.Key))
		}
	}
	sort.Strings(gs.groups)
	gs.probing = false
	l.assumeNumbered(dir, a.sep)
	if len(gs.groups) == 1 && at == dir {
		// Every name of the folder begins with one text (part-<uuid>):
		// folders whose names begin with it too are not probed for
		// groups (a request each, for nothing, in every partition);
		// nor, when it is the folder's own name, are folders whose names
		// begin with theirs (see loneKey: 1 000 class folders of 732 to
		// 1 300 images took 28-29 round trips at 1.20x the minimum
		// requests, each probed; 24-25 at 1.05x now).
		l.loneGroups[loneKey(gs.groups[0][len(dir):], dir)] = true
	}
	l.gen++
	l.wake()
	return true
}

// groupsPending reports whether r's last page lay in one value of a
// numbered field (see numberedField) whose levels' group probes are out
// or due: measured before they answer, the range is only that value's
// rest (a day of access logs), and cut on it alone the rest of the
// listing waited a round trip in one piece.
// Caller holds mu.
func (l *lister) groupsPending(r *krange) bool {
	if !r.groupCols || l.opt.Delimiter != "" || len(r.group) <= len(l.prefix) {
		return false // (no group probe is sent for these, see neededGroupProbe)
	}
	dir := leafDir(r.group)
	sep, _ := groupSep(r.group)
	levels := numberedLevels(r.group, dir, sep)
	if levels == nil {
		levels = []string{dir} // one number (an hour of timestamps)
	}
	for _, at := range levels {
		if gs := l.groupSets[at]; gs != nil && gs.probing {
			return true
		}
	}
	_, due := l.groupProbeFor(r.group, r.first)
	return due && !l.probesSpent()
}

// groupRest measures the rest of the group of names r's last page lay in
// (see hashGroup) like hashRest a folder's: a folder of word-<hex> names
// (apple-…, banana-…), read over its bytes, made a range's first page in
// each word a sliver of a space that spans every word spelt with those
// letters, and such ranges were halved a round trip at a time.
//
// The groups after it inside r, when a probe found them (see groupSet),
// are added each at the size of r's: their first names are then listed
// at once, each by a range of its own (see splitPoints).
func (l *lister) groupRest(r *krange) (est float64, sp *span, ok bool) {
	if r.group == "" || leafDir(r.groupFrom) != leafDir(r.cursor) {
		return 0, nil, false
	}
	var cols *[colSlots]colAlpha
	if r.groupCols {
		cols = &l.cols.list
	}
	sp, ok = restFrom(r, r.group, r.groupFrom, r.groupHashes, cols)
	if !ok {
		return 0, nil, false
	}
	if groups, weights, _ := l.weighedGroups(leafDir(r.group)); groups != nil {
		sp.next, sp.ahead = groupsAhead(r, groups, weights, sort.SearchStrings(groups, r.group+maxRune), sp.each)
	}
	return sp.dense + sp.ahead, sp, true
}

// groupsAhead returns the groups from groups[i] on that lie inside r's
// bound, and the pages they hold: each weighed (see weighedGroups) times
// each, the pages of one group.
func groupsAhead(r *krange, groups []string, weights []float64, i int, each float64) (next []string, ahead float64) {
	for j, g := range groups[i:] {
		if !r.open && g >= r.hi {
			break
		}
		next = append(next, g)
		ahead += weights[i+j] * each
	}
	return next, ahead
}

// digits is the alphabet a group of numbered names is read in.
const digits = "0123456789"

// numberNames reports whether names (a page's sample, sorted, all
// beginning with group) hold only a number past group and before the text
// they all end with, and whether those numbers are all of one width.
// Numbered without leading zeros (images/birman_1.jpg, images/birman_10.jpg
// ... images/birman_999.jpg under images/birman_), a word's names are read
// as a group of names in digits; zero-padded (images/birman_00001.jpg), the
// counter measures the word (see numbered) and a group probe finds the
// folder's other words (see padRest).
func numberNames(names []string, group string) (numbers, padded bool) {
	if len(names) < 2 {
		return false, false
	}
	suf := names[0]
	for _, n := range names[1:] {
		suf = commonSuffix(suf, n)
	}
	padded = true
	for _, n := range names {
		if !strings.HasPrefix(n, group) || len(n)-len(suf) <= len(group) {
			return false, false
		}
		for i := len(group); i < len(n)-len(suf); i++ {
			if !isDigit(n[i]) {
				return false, false
			}
		}
		padded = padded && len(n) == len(names[0])
	}
	return true, padded
}

// groupEnd returns the end of the group before group m (that group
// followed by maxRune) when m is a group of its folder that a finished
// group probe found after another, else "" (see folderEnd, its
// counterpart for folders). A cut there lets the range before end with
// the group before: its last page is listed under that group's text and
// stops at its end, not a request later with a page of the next group's
// names dropped. Caller holds mu.
func (l *lister) groupEnd(m string) string {
	groups, _ := l.groupsOf(leafDir(m))
	return endBefore(groups, m)
}

// padRest measures the rest of r when its last page lay in a word's
// zero-padded counter (see numberNames) in a folder a group probe found
// to hold other words: the rest of its word on the counter, up to r's
// bound when that lies inside the word, else guessed as much as the
// counter has run so far; and each word after it inside r, a range of
// its own, as large as that. Measured on the counter alone, the word's
// end was unknown (the folder's end bounds it), and the range was cut
// galloping 2, 4, 8 ... pages ahead on the counter, past the word's end:
// 100 words of 1 000 names (a page each) cost 6.4x the minimum requests,
// and 100 of 3 000 were listed one word after the other, as slowly as by
// one worker. wait is set while the group probe is out. Caller holds mu.
func (l *lister) padRest(r *krange) (est float64, sp *span, wait, ok bool) {
	if r.padGroup == "" || !strings.HasPrefix(r.cursor, r.padGroup) {
		return 0, nil, false, false
	}
	groups, weights, probing := l.weighedGroups(leafDir(r.padGroup))
	if probing {
		return 0, nil, true, false
	}
	if len(groups) < 2 {
		return 0, nil, false, false
	}
	c, per, ok := numbered(r, false)
	if !ok || c.at < len(r.padGroup) {
		// The range's earlier keys lay in another word (or before a
		// cut): the counter over the last page alone.
		c, ok = counterOf(r.padFrom, r.cursor)
		per = float64(c.cur-c.prev) * MaxKeys / (MaxKeys - 1)
	}
	if !ok || c.at < len(r.padGroup) || per <= 0 {
		return 0, nil, false, false
	}
	listed := max(1, float64(c.cur)/per) // pages of the word so far
	rest := listed
	if !r.open {
		if nh, ok := c.bound(r.hi, r.cursor); ok && nh < math.Pow10(c.width) {
			rest = max(0, nh-float64(c.cur)) / per // cut inside the word
		}
	}
	next, ahead := groupsAhead(r, groups, weights, sort.SearchStrings(groups, r.cursor), listed)
	return rest + ahead, &span{dir: r.padGroup, dense: rest, each: listed, next: next, ahead: ahead}, false, true
}

// otherWords reports whether r has met names of its last page's folder
// outside the word its padded counter follows (see padGroup): its start,
// first key or previous cursor lies past that folder but not in the word.
// A word's counter alone in its folder (p47/obj-000000.dat) is measured
// by the counter; a group probe of each such folder would be spent for
// nothing (probes of folders whose words were not yet known to be alone
// went out together: 5-11 probes against 3 on the skewed layout).
func (r *krange) otherWords() bool {
	if r.padGroup == "" {
		return false
	}
	dir := leafDir(r.padGroup)
	for _, x := range []string{r.start, r.first, r.prev} {
		if len(x) > len(dir) && strings.HasPrefix(x, dir) && !strings.HasPrefix(x, r.padGroup) && strings.IndexByte(x[len(dir):], '/') < 0 {
			return true
		}
	}
	return false
}
