package listing

import (
	"math"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Folder stems: many trees name every folder of a level alike, a word and
// a separator before a number or value (year=2024/month=01/,
// org-3/team-07/proj-12/run-4/shard-09/). A delimiter of "/" and the stem
// of the level below makes one LIST roll keys up several levels down:
// probed with "/shard-", team-07/ answers with one common prefix per run
// folder (team-07/proj-12/run-4/shard-), so one request tells its
// projects, the runs of each and so how much each project holds compared
// with its siblings, where a "/" probe tells only the projects. Weighted
// so, positions among folders of 2 to 20 subfolders each are positions in
// the work they hold (see dirInfo.cum).

// stemOf returns name's stem: its leading ASCII letters and the separator
// ('-', '_' or '=') after them, when digits or other text follow; "" when
// the name has none.
func stemOf(name string) string {
	i := 0
	for i < len(name) && (name[i] >= 'a' && name[i] <= 'z' || name[i] >= 'A' && name[i] <= 'Z') {
		i++
	}
	if i == 0 || i+1 >= len(name) {
		return ""
	}
	switch name[i] {
	case '-', '_', '=':
		return name[:i+1]
	}
	return ""
}

// maxStemLevels bounds how many levels one probe rolls up.
const maxStemLevels = 3

// maxStemPrefixes: a probe rolls up no more levels than are expected to
// give this many common prefixes (a page holds 1 000).
const maxStemPrefixes = 600

// learnStems records, from the keys of the listing's first full page, the
// stem every name at each depth below the prefix shares ("" where they
// differ or have none). Caller holds mu.
func (l *lister) learnStems(keys []Entry) {
	if l.stems != nil || l.opt.Delimiter != "" || len(keys) < MaxKeys/2 {
		return
	}
	var stems []string
	bad := map[int]bool{}
	// A stem followed by a word, not a number, is kept only when two
	// names share it: one folder's name (CloudTrail's ap-northeast-1/,
	// the only region a first page reaches) says nothing of its siblings
	// (eu-west-1/), and a probe with delimiter "/ap-" rolled up that one
	// region and answered 1 000 keys of the others, after which the
	// listing waited a round trip for the "/" probe it had not sent.
	first := map[int]string{}
	many, word := map[int]bool{}, map[int]bool{}
	for _, e := range keys {
		if e.IsDir || !strings.HasPrefix(e.Key, l.prefix) {
			continue
		}
		rest := e.Key[len(l.prefix):]
		for j := 0; rest != ""; j++ {
			name := rest
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				name, rest = rest[:i], rest[i+1:]
			} else {
				rest = ""
			}
			s := stemOf(name)
			for len(stems) <= j {
				stems = append(stems, "")
			}
			if rest != "" && wholeDate(name[len(s):]) {
				if l.daily == nil {
					l.daily = map[int]bool{}
				}
				l.daily[j] = true
			}
			if f, ok := first[j]; !ok {
				first[j] = name
			} else if f != name {
				many[j] = true
			}
			if s != "" && !isDigit(name[len(s)]) {
				word[j] = true
			}
			switch {
			case bad[j]:
			case s == "":
				bad[j] = true
			case stems[j] == "":
				stems[j] = s
			case stems[j] != s:
				bad[j] = true
			}
		}
	}
	for j := range stems {
		if bad[j] || word[j] && !many[j] {
			stems[j] = ""
		}
	}
	l.stems = append(stems, "") // non-nil: learnt
}

// wholeDate reports whether s begins with a date, YYYY-MM-DD.
func wholeDate(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for _, i := range []int{0, 1, 2, 3, 5, 6, 8, 9} {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// stemDelim returns the delimiter for probing dir several levels at once
// and how many levels its common prefixes reach; levels < 2 when a "/"
// probe is all there is. Caller holds mu.
func (l *lister) stemDelim(dir string) (string, int) {
	if l.opt.Delimiter != "" || l.stemsOff || !strings.HasSuffix(dir, "/") && dir != l.prefix {
		return "", 0
	}
	k0 := l.level(dir)
	if dir == l.prefix && l.prefix != "" && !strings.HasSuffix(l.prefix, "/") {
		return "", 0 // the first names past a partial prefix are fragments
	}
	best, bestM := "", 0
	expect := 1.0
	for m := 1; m <= maxStemLevels; m++ {
		fan := 12.0 // unknown: about what the levels probed so far hold
		if lv := l.levels[k0+m-1]; lv != nil && lv.probes > 0 {
			fan = float64(lv.total) / float64(lv.probes)
		} else if l.daily[k0+m-1] {
			// A folder a day: three years are 1 096, past a page of
			// prefixes. Counted as 12, the stem probes of the root and
			// of events/ over dt=YYYY-MM-DD/hour=HH/ both ran out of
			// page, and each sent its "/" probe a round trip later.
			fan = MaxKeys
		}
		expect *= fan
		if expect > maxStemPrefixes {
			break
		}
		if k0+m < len(l.stems) && l.stems[k0+m] != "" && m >= 2 {
			best, bestM = "/"+l.stems[k0+m], m
		}
	}
	return best, bestM
}

// parseStemProbe turns the answer to a probe of dir with a stem delimiter
// reaching levels folders down into shapes: for dir and every folder above
// the common prefixes' depth that the answer holds whole (all of them when
// it was not truncated, all but the last otherwise), its folders and, in
// cum, how many common prefixes (or keys) each holds. ok is false when
// the answer does not fit the stems (keys past the delimiter's depth), so
// the caller can stop using them.
func parseStemProbe(dir string, levels int, entries []Entry, truncated bool) (map[string]*dirInfo, bool) {
	type node struct {
		folders []string
		weight  map[string]float64
		names   []string
	}
	nodes := map[string]*node{}
	get := func(d string) *node {
		n := nodes[d]
		if n == nil {
			n = &node{weight: map[string]float64{}}
			nodes[d] = n
		}
		return n
	}
	get(dir)
	ok := true
	last := ""
	for _, e := range entries {
		rest := e.Key[len(dir):]
		if e.IsDir {
			// Drop the stem after the last '/': the prefix names a folder
			// levels-1 below dir's folders.
			rest = rest[:strings.LastIndexByte(rest, '/')+1]
		}
		parts := strings.SplitAfter(rest, "/")
		if !e.IsDir && len(parts) > levels {
			ok = false // a key as deep as the prefixes: the stems do not fit
		}
		d := dir
		for i, p := range parts {
			if p == "" {
				continue
			}
			n := get(d)
			if !strings.HasSuffix(p, "/") {
				n.names = append(n.names, d+p) // a file directly in d
				break
			}
			f := d + p
			if n.weight[f] == 0 {
				n.folders = append(n.folders, f)
			}
			n.weight[f]++
			if i+1 < len(parts) {
				d = f
			}
		}
		last = e.Key
	}
	infos := map[string]*dirInfo{}
	for d, n := range nodes {
		whole := !truncated || d == dir || (last != "" && !strings.HasPrefix(last, d))
		if !whole {
			continue
		}
		// light: its folders are the prefixes' own level, all weighing
		// one; its own probe would weigh them (see sweepProbe).
		info := &dirInfo{light: d != dir && strings.Count(d[len(dir):], "/") >= levels-1}
		var seen [256]bool
		sort.Strings(n.folders)
		info.folders = n.folders
		for _, f := range n.folders {
			note(info, f, d, &seen)
		}
		for _, s := range n.names {
			note(info, s, d, &seen)
		}
		info.alpha = setBytes(&seen)
		if d != dir || !truncated {
			pre := d
			if len(n.names) > 0 {
				pre = commonPrefix(n.names[0], n.names[len(n.names)-1])
			}
			if a := hashNames(n.names, pre); a != nil {
				info.hashes, info.alpha = true, a
			}
			if len(n.folders) > 1 {
				info.cum = make([]float64, len(n.folders)+1)
				for i, f := range n.folders {
					info.cum[i+1] = info.cum[i] + n.weight[f]
				}
				lo, hi := math.Inf(1), 0.0
				for _, f := range n.folders {
					lo, hi = min(lo, n.weight[f]), max(hi, n.weight[f])
				}
				info.uneven = hi > unevenWeights*lo
				scale := float64(len(n.folders)) / info.cum[len(n.folders)]
				for i := range info.cum {
					info.cum[i] *= scale
				}
			}
		} else {
			info.upto = info.last
			if last > info.upto {
				info.upto = last
			}
		}
		infos[d] = info
	}
	return infos, ok
}

// note adds name (a folder or key in dir) to info's first and last names
// and its bytes past dir to seen. It keeps copies: a key is a view of its
// page's names, which the probe's record would otherwise keep alive for
// the whole listing.
func note(info *dirInfo, name, dir string, seen *[256]bool) {
	if info.first == "" || name < info.first {
		info.first = strings.Clone(name)
	}
	if name > info.last {
		info.last = strings.Clone(name)
	}
	for i := len(dir); i < len(name); i++ {
		seen[name[i]] = true
	}
}

// at is the position where d's folder i begins: i, or its share of the
// work below d when a stem probe weighed d's folders (see cum).
func (d *dirInfo) at(i int) float64 {
	if d.cum != nil && i >= 0 && i < len(d.cum) {
		return d.cum[i]
	}
	return float64(i)
}

// index returns the folder u lies in and how far into it (0..1): the
// inverse of at.
func (d *dirInfo) index(u float64) (int, float64) {
	if d.cum == nil {
		i := math.Floor(u)
		return int(i), u - i
	}
	if u < 0 {
		return -1, 0
	}
	n := len(d.cum) - 1
	i := sort.SearchFloat64s(d.cum, u) // first cum[i] >= u
	if i < len(d.cum) && d.cum[i] == u {
		return i, 0 // folder i's start (n: the end)
	}
	i--
	if i >= n {
		return n, 0
	}
	w := d.cum[i+1] - d.cum[i]
	if w <= 0 {
		return i, 0
	}
	return i, (u - d.cum[i]) / w
}

// probeStems probes dir with delim, a stem delimiter reaching levels
// folders down (see stemDelim), and returns the shapes it found (dir's
// always) and whether the answer fit the stems. Called without mu.
func (l *lister) probeStems(dir, delim string, levels int) (map[string]*dirInfo, bool, error) {
	entries, out, err := l.discover(dir, delim, "")
	if err != nil {
		return nil, false, err
	}
	infos, ok := parseStemProbe(dir, levels, entries, aws.ToBool(out.IsTruncated))
	return infos, ok, nil
}

// probedBelow records the shapes a stem probe of dir found for the
// folders below it, parents first, where no probe has been sent. Caller
// holds mu.
func (l *lister) probedBelow(dir string, infos map[string]*dirInfo) {
	dirs := make([]string, 0, len(infos))
	for d := range infos {
		if d != dir && l.dirs[d] == nil {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(i, j int) bool {
		return len(dirs[i]) < len(dirs[j]) || len(dirs[i]) == len(dirs[j]) && dirs[i] < dirs[j]
	})
	for _, d := range dirs {
		l.dirs[d] = &dirInfo{}
		l.probed(d, infos[d])
	}
}

// sweepProbe returns an unprobed folder, at a level or below one where a
// stem probe found folders uneven, that a stem probe weighed as holding
// sweepPages or more pages (of the pages a trusted estimate planned), the
// largest first: its own probe weighs its folders in turn. Caller holds mu.
func (l *lister) sweepProbe() (string, bool) {
	if l.stems == nil || l.stemsOff || l.planned == 0 {
		return "", false
	}
	// The answer changes only when a probe starts or ends (gen), a folder
	// is recorded or the plan grows; neededProbe asks between every two
	// pages of every range, and walking every probed folder each time
	// took a sixth of the lister's CPU on deep.
	key := sweepKey{gen: l.gen, planned: l.planned, dirs: len(l.dirs)}
	if l.sweep.valid && l.sweep.key == key {
		return l.sweep.dir, l.sweep.dir != ""
	}
	dir := l.sweepScan()
	l.sweep = sweepCache{valid: true, key: key, dir: dir}
	return dir, dir != ""
}

// sweepKey is what sweepProbe's answer depends on besides the stems.
type sweepKey struct {
	gen           uint64
	planned, dirs int
}

// sweepCache is sweepProbe's last answer and what it was computed from.
type sweepCache struct {
	valid bool
	key   sweepKey
	dir   string
}

// sweepScan computes sweepProbe's answer. Caller holds mu.
func (l *lister) sweepScan() string {
	least := float64(sweepPages * l.opt.MinSplitPages)
	best, bestPages := "", 0.0
	for dir, d := range l.dirs {
		if d.probing || d.cum == nil || d.upto != "" || d.light {
			continue
		}
		if k := l.level(dir); !l.unevenAt[k] && !l.unevenAt[k+1] {
			continue // folders alike at both levels: nothing to weigh
		}
		p := l.pagesUnder(dir, 0)
		if p < least {
			continue
		}
		n := float64(len(d.folders))
		for i, f := range d.folders {
			if fd := l.dirs[f]; fd != nil && !fd.light {
				continue
			}
			if pf := p * (d.cum[i+1] - d.cum[i]) / n; pf >= least && pf > bestPages {
				best, bestPages = f, pf
			}
		}
	}
	return best
}

// unevenWeights: folders whose weights differ by more than this factor
// are uneven: their sizes vary as their folders' counts do, and probing
// them pays (see sweepProbe). Partitions by date weigh alike.
const unevenWeights = 1.5

// sweepPages: see sweepProbe (times MinSplitPages).
const sweepPages = 1

// pagesUnder is dir's share of the pages planned, by the weights of the
// stem probes above it; 0 when one is missing.
func (l *lister) pagesUnder(dir string, depth int) float64 {
	if dir == l.prefix {
		return float64(l.planned)
	}
	parent, ok := l.parentDir(dir)
	if !ok || depth > 16 {
		return 0
	}
	d := l.dirs[parent]
	if d == nil || d.probing || d.cum == nil {
		return 0
	}
	i := sort.SearchStrings(d.folders, dir)
	if i >= len(d.folders) || d.folders[i] != dir {
		return 0
	}
	return l.pagesUnder(parent, depth+1) * (d.cum[i+1] - d.cum[i]) / float64(len(d.folders))
}
