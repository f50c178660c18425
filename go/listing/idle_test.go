package listing

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestIdleSearchOncePerEvent checks that idle workers woken together by
// one event search the ranges for work once between them, not once each,
// and that they still all wake: when the last range ends, every one of
// them returns.
func TestIdleSearchOncePerEvent(t *testing.T) {
	tests := []struct {
		name    string
		workers int
		events  int
	}{
		{"two workers", 2, 3},
		{"eight workers", 8, 5},
		{"thirty-two workers", 32, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.ctx, l.cancel = context.WithCancel(context.Background())
			defer l.cancel()
			l.counter = &Counter{}
			l.cond = sync.NewCond(&l.mu)
			// One busy range, two pages in: too small to split (half a
			// page left on its names' counter), and flat (no folder to
			// probe), so a search finds nothing.
			busy := &krange{start: "a", first: "a0001", cursor: "a2000", hi: "a2500", seen: 2000, pages: 2, active: true}
			l.ranges = []*krange{busy}
			var wg sync.WaitGroup
			got := make([]*krange, tc.workers)
			for i := range tc.workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i] = l.take()
				}()
			}
			// settled waits until every worker has handled n wake-ups
			// (searched or skipped) and is waiting again.
			settled := func(n int) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for {
					l.mu.Lock()
					done := l.idle == tc.workers && l.searched+l.skipped >= n
					l.mu.Unlock()
					if done {
						return
					}
					if time.Now().After(deadline) {
						t.Fatalf("workers did not settle: idle %d, searched %d, skipped %d, want %d handled",
							l.idle, l.searched, l.skipped, n)
					}
					time.Sleep(time.Millisecond)
				}
			}
			settled(tc.workers) // each arrival searches: the number idle differs
			l.mu.Lock()
			base := l.searched
			l.mu.Unlock()
			for e := 1; e <= tc.events; e++ {
				l.mu.Lock()
				l.wake()
				l.mu.Unlock()
				settled(tc.workers * (e + 1))
			}
			l.mu.Lock()
			searched, skipped := l.searched-base, l.skipped
			l.mu.Unlock()
			if searched != tc.events {
				t.Errorf("%d events woke %d idle workers: %d searches, want one per event (%d skipped)",
					tc.events, tc.workers, searched, skipped)
			}
			// The last range ends: every worker must wake and return.
			l.mu.Lock()
			busy.done, busy.active = true, false
			l.wake()
			l.mu.Unlock()
			wg.Wait()
			for i, r := range got {
				if r != nil {
					t.Errorf("worker %d took %+v from a finished listing", i, r)
				}
			}
		})
	}
}
