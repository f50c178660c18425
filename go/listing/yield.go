package listing

import (
	"math"
	"slices"
)

// yieldPages: a range of hashes with fewer pages than this left is not
// parked (see yieldTo): it is about to end anyway.
const yieldPages = 2

// maxYieldPieces bounds how many pieces yieldTo cuts a range into at
// once; the pieces past the one its worker takes wait for the next
// workers that yield.
const maxYieldPieces = 8

// yieldTo lets the worker that has just listed a page of r, a range in a
// folder of hashes, switch to work that needs it more, with no worker idle
// to take that work; it returns the range the worker lists next (nil: go
// on with r). Caller holds mu.
//
// A range of hashes is measured exactly (its names' extent) and can be cut
// evenly at any time, so it makes the best work for the listing's last
// round trips; ranges elsewhere are measured by folder positions or
// guesses that their later pages often revise. So when a range that is
// not of hashes is estimated to hold more than a worker's share of what is
// left, r is parked (left to the next worker that finishes a range: take
// hands out ranges no worker lists first) and its worker takes a piece of
// that range; the other pieces of the cut go to the next workers that
// yield.
//
// Without this, a bucket of 900 000 hashes under hot/ followed by 100 000
// keys in 50 numbered folders (the benchmark's skewed layout) gave the
// hashes every worker but one after its first page, before the folders
// after them had been seen. The one range listing those folders was
// measured at ~100 pages by its third round trip, but no worker came free
// to take a piece of it until the shortest ranges of hashes ended, 5-10
// round trips later, and the folders' last pieces, measured worst, ended
// the listing: 19-24 round trips in virtual time (30 ms, 64 workers; the
// oracle 16), 21.3 on average, at 1.07-1.135x the minimum requests. Seven
// workers now leave the hashes in the third round trip: 19-20 at
// 1.07-1.085x.
func (l *lister) yieldTo(r *krange) *krange {
	if l.idle > 0 || l.liveCap > 0 || l.opt.Sorted || r.done || r.leafHashes == nil {
		// Idle workers take such work themselves (see victim); a listing
		// whose latency says more ranges stopped paying off is left alone,
		// and so is a Sorted one: a parked range holds back every page
		// after it, which waits in memory meanwhile.
		return nil
	}
	alpha := l.alphabet()
	if est, trusted, _ := l.estimate(r, alpha); !trusted || est < yieldPages {
		return nil
	}
	for _, q := range l.ranges {
		if q.wanted && !q.active && !q.done {
			return l.park(r, q) // cut by an earlier yield, not started yet
		}
	}
	total := 0.0
	var best *krange
	var bestSpan *span
	bestEst := 0.0
	for _, q := range l.ranges {
		if q.done {
			continue
		}
		est, _, sp := l.estimate(q, alpha)
		total += pagesLeft(est)
		if math.IsInf(est, 1) {
			continue
		}
		if q.active && q.leafHashes == nil && q.pages >= q.retryAt && est > bestEst {
			best, bestEst, bestSpan = q, est, sp
		}
	}
	share := total / float64(l.opt.Workers)
	if best == nil || bestEst < float64(l.opt.MinSplitPages) || bestEst <= share {
		return nil
	}
	pieces := min(maxYieldPieces, int(math.Ceil(bestEst/share)))
	last := l.split(best, pieces, bestSpan)
	if last == nil {
		return nil
	}
	// The pieces cut off best follow it, up to last: the next workers that
	// yield take them.
	for _, q := range l.ranges[slices.Index(l.ranges, best)+1:] {
		q.wanted = true
		if q == last {
			break
		}
	}
	return l.park(r, last)
}

// park leaves r to the next free worker and hands q to the caller's.
// Caller holds mu.
func (l *lister) park(r, q *krange) *krange {
	r.active, q.active, q.wanted = false, true, false
	l.yields++
	return q
}
