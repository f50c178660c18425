package fetch

import (
	"fmt"
	"io"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"

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

// coalesce groups eligible ranged items and returns the number of first
// jobs the batch will run (groups count once). Called by Start before any
// worker runs.
func (b *Batch) coalesce() int { //nolint:unparam // the count documents the grouping; tests use it
	type objKey struct{ bucket, key, ifMatch string }
	byObj := map[objKey][]int{}
	jobs := 0
	part := b.opt.PartSize
	for i := range b.items {
		it := &b.items[i]
		if !it.Ranged || it.Start < 0 || it.End == EOF || it.End <= it.Start || it.End-it.Start > part {
			jobs++
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
			jobs++
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
			// Sorted and disjoint only: overlapping ranges would need the
			// same bytes twice from one stream.
			if len(cur) > 0 && it.Start >= hi && it.Start-hi <= b.opt.CoalesceGap && it.End-lo <= part {
				cur = append(cur, i)
				hi = it.End
				continue
			}
			if len(cur) > 0 {
				flush()
			}
			cur, lo, hi = []int{i}, it.Start, it.End
		}
		flush()
	}
	return jobs
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
// members (sorted, disjoint ranges with non-negative bounds): the response
// reveals the object's size, every member's range is resolved against it
// and gets its destination, then the body is streamed into the members in
// order. Failures are recorded per member.
func (b *Batch) firstGroup(lead int) {
	g := b.items[lead].group
	lo, hi := b.items[g[0]].Start, b.items[g[len(g)-1]].End
	ifMatch := b.items[lead].IfMatch
	out, err := b.get(lead, rangeHeader(lo, hi-lo), ifMatch)
	var total, winStart, winLen int64
	var body io.ReadCloser = emptyBody{}
	etag := ifMatch
	switch {
	case err == nil:
		body = out.Body
		clen := aws.ToInt64(out.ContentLength)
		if cr := aws.ToString(out.ContentRange); cr != "" {
			first, last, t, ok := ParseContentRange(cr)
			if !ok || clen != last-first+1 || last-first+1 > hi-lo || first != lo {
				body.Close()
				b.failGroup(g, func(m int) error {
					return fmt.Errorf("%s: response of %d bytes (Content-Range %q) to a request for bytes %d-%d: %w",
						b.name(m), clen, cr, lo, hi-1, s3err.ErrCorrupt)
				})
				return
			}
			total, winStart, winLen = t, first, last-first+1
		} else {
			if clen < 0 {
				body.Close()
				b.failGroup(g, func(m int) error { return fmt.Errorf("%s: response without a length: %w", b.name(m), s3err.ErrCorrupt) })
				return
			}
			total, winStart, winLen = clen, 0, clen // the whole object
		}
		if e := aws.ToString(out.ETag); e != "" {
			etag = e
		}
	case ifMatch != "" && s3err.Classify(err) == s3err.Changed:
		b.failGroup(g, func(m int) error {
			return fmt.Errorf("%s: changed since it was opened (If-Match %s does not match): %w", b.name(m), ifMatch, s3err.ErrChanged)
		})
		return
	case unsatisfiableRange(err):
		// Every member starts at or past the end of the object: all empty
		// (total stays 0, so each resolves to an empty range).
	default:
		b.failGroup(g, func(m int) error { return fmt.Errorf("%s: %w", b.name(m), err) })
		return
	}
	defer body.Close()

	// Resolve each member and ask for the destinations still unknown.
	var waiting []int
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
		waiting = append(waiting, m)
	}
	if len(waiting) > 0 {
		b.mu.Lock()
		for _, m := range waiting {
			it := &b.items[m]
			s, e := Resolve(it.Start, it.End, total)
			it.size = e - s
			b.ready = append(b.ready, ReadyItem{Index: m, Size: it.size})
		}
		b.mu.Unlock()
		select {
		case b.readyCh <- struct{}{}:
		default:
		}
		for _, m := range waiting {
			it := &b.items[m]
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
		if s < pos || s+n > winEnd {
			broken = true // cannot happen for sorted, disjoint members; stay correct if it does
		}
		if !broken {
			err := b.skip(m, body, s-pos)
			if err == nil {
				err = b.write(m, body, s, n)
			}
			if err == nil {
				pos = s + n
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
			broken = true
		}
		if err := b.fetchRange(m, s, n); err != nil {
			b.fail(m, err)
			continue
		}
		b.partDone(m)
	}
	if rest := winEnd - pos; !broken && rest > 0 && rest <= 64<<10 {
		_, _ = io.Copy(io.Discard, body) // let the connection be reused
	}
}
