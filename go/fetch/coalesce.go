package fetch

import (
	"fmt"
	"io"
	"sort"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Coalescing: many small ranges of one object (a columnar file's pages, a
// tar's members, random samples) cost one request each, and a request
// costs the server far more than streaming a few hundred KiB more. With
// Options.CoalesceGap, ranges of the same object that lie close together
// are fetched by one request spanning them; the bytes between them are read
// and dropped. 1 MiB is a sensible gap on S3 (a request's latency is worth
// several MiB of one connection's throughput) and the default obstore and
// arrow's object_store use.

// coalesce groups eligible ranged items: each group's first member (in
// item order) leads it, the others are followers. Called by Start before
// any worker runs.
func (b *Batch) coalesce() {
	type objKey struct{ bucket, key, ifMatch string }
	byObj := map[objKey][]int{}
	part := b.opt.PartSize
	for i := range b.items {
		it := &b.items[i]
		if !it.Ranged || it.Start < 0 || it.End == EOF || it.End <= it.Start || it.End-it.Start > part {
			continue
		}
		k := objKey{it.Bucket, it.Key, it.IfMatch}
		byObj[k] = append(byObj[k], i)
	}
	for _, idx := range byObj {
		sort.SliceStable(idx, func(a, c int) bool { return b.items[idx[a]].Start < b.items[idx[c]].Start })
		var cur []int
		var lo, hi int64
		flush := func() {
			if len(cur) < 2 {
				return
			}
			lead := cur[0]
			for _, m := range cur {
				lead = min(lead, m) // scheduled in item order, like everything else
				b.items[m].follower = true
			}
			b.items[lead].follower = false
			b.items[lead].group = append([]int(nil), cur...)
		}
		for _, i := range idx {
			it := &b.items[i]
			// Overlapping and repeated ranges join too: the bytes they
			// share with earlier members are copied from those (see
			// firstGroup). Each used to cost a request of its own, so a
			// batch of 100 000 small ranges at random offsets, some
			// overlapping, sent ~41 000 requests instead of 2.
			if len(cur) > 0 && it.Start-hi <= b.opt.CoalesceGap && max(hi, it.End)-lo <= part {
				cur = append(cur, i)
				hi = max(hi, it.End)
				continue
			}
			if len(cur) > 0 {
				flush()
			}
			cur, lo, hi = []int{i}, it.Start, it.End
		}
		flush()
	}
}

// failGroup records err(m) for every member of a group not already done.
func (b *Batch) failGroup(group []int, err func(m int) error) {
	for _, m := range group {
		it := &b.items[m]
		if it.complete.Load() || it.failed.Load() {
			continue
		}
		b.fail(m, err(m))
	}
}

// firstGroup fetches a coalesced group with one request spanning its
// members (ranges with non-negative bounds, sorted by start): the response
// reveals the object's size, every member's range is resolved against it
// and gets its destination, then the body is streamed into the members in
// order. A member starting before the stream's position takes the bytes it
// shares with the members before it from the one that reached furthest,
// which holds every byte from its own start to that position. Failures are
// recorded per member.
func (b *Batch) firstGroup(lead int) {
	g := b.items[lead].group
	lo, hi := b.items[g[0]].Start, b.items[g[0]].End
	for _, m := range g[1:] {
		hi = max(hi, b.items[m].End)
	}
	ifMatch := b.items[lead].IfMatch
	resp, err := b.firstResponse(lead, rangeHeader(lo, hi-lo), hi-lo, lo, ifMatch)
	if err != nil {
		b.failGroup(g, func(m int) error { return fmt.Errorf("%s: %w", b.name(m), err) })
		return
	}
	body, total, winStart, winLen := resp.body, resp.total, resp.start, resp.n
	defer body.Close()
	etag := resp.etag
	if etag == "" {
		etag = ifMatch
	}

	// Resolve each member and ask for the destinations still unknown.
	var waiting []ReadyItem
	for _, m := range g {
		it := &b.items[m]
		it.etag = etag
		s, e := Resolve(it.Start, it.End, total)
		length := e - s
		it.off = s
		it.remaining.Store(1)
		if it.Known {
			if length != it.size {
				b.fail(m, fmt.Errorf("%s: range [%s:%s] of the object is %d bytes but its buffer holds %d: %w",
					b.name(m), sliceBound(it.Start), sliceBound(it.End), length, it.size, s3err.ErrInvalid))
			}
			continue
		}
		waiting = append(waiting, ReadyItem{Index: m, Size: length})
	}
	if len(waiting) > 0 {
		b.mu.Lock() // publishes the sizes to Provide's readers
		for _, r := range waiting {
			b.items[r.Index].size = r.Size
		}
		b.ready = append(b.ready, waiting...)
		b.mu.Unlock()
		select {
		case b.readyCh <- struct{}{}:
		default:
		}
		for _, r := range waiting {
			it := &b.items[r.Index]
			select {
			case buf := <-it.bufCh:
				it.Buf = buf
			case <-b.ctx.Done():
				b.failGroup(g, func(m int) error { return fmt.Errorf("%s: %w", b.name(m), b.ctx.Err()) })
				return
			}
		}
	}

	// Stream the window into the members, in order.
	pos, winEnd := winStart, winStart+winLen
	reach := -1     // the member the stream was last written into: it holds [its start, pos)
	broken := false // the body failed: remaining members get requests of their own
	for _, m := range g {
		it := &b.items[m]
		if it.failed.Load() {
			continue
		}
		s, n := it.off, it.size
		if n == 0 {
			b.partDone(m)
			continue
		}
		if s < winStart || s+n > winEnd || (s < pos && reach < 0) {
			broken = true // cannot happen for members sorted by start; stay correct if it does
		}
		tries := b.opt.ReadRetries + 1
		if !broken {
			err := b.skip(m, body, s-pos)
			if err == nil && s < pos {
				r := &b.items[reach]
				k := min(pos, s+n) - s
				copy(it.Buf[:k], r.Buf[s-r.off:s-r.off+k])
				b.bytes.Add(k) // progress counts bytes delivered, as for the stream's
				if s+n > pos {
					err = b.write(m, body, pos, s+n-pos)
				}
			} else if err == nil {
				err = b.write(m, body, s, n)
			}
			if err == nil {
				if s+n > pos {
					pos, reach = s+n, m
				}
				b.partDone(m)
				continue
			}
			if b.opt.ReadRetries == 0 || !retryable(err) {
				b.failGroup(g, func(k int) error {
					if k == m {
						return err
					}
					return fmt.Errorf("%s: reading a coalesced response failed: %w", b.name(k), err)
				})
				return
			}
			broken, tries = true, b.opt.ReadRetries // the failed read was m's first try
		}
		if err := b.fetchRange(m, s, n, tries); err != nil {
			b.fail(m, err)
			continue
		}
		b.partDone(m)
	}
	if rest := winEnd - pos; !broken && rest > 0 && rest <= 64<<10 {
		_, _ = io.Copy(io.Discard, body) // let the connection be reused
	}
}
