package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/s3turbo/s3turbo/go/fetch"
	"github.com/s3turbo/s3turbo/go/listing"
	"github.com/s3turbo/s3turbo/go/s3client"
)

// handles maps the integers Python holds to live Go objects. Integers
// (not cgo.Handle) let a stale or forged value fail cleanly.
type handles struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]any
}

var table = handles{next: 1, m: map[uint64]any{}}

func (h *handles) put(v any) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next++
	h.m[id] = v
	return id
}

func (h *handles) get(id uint64) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.m[id]
}

func (h *handles) del(id uint64) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	v := h.m[id]
	delete(h.m, id)
	return v
}

// getClient returns the client id names: a live one, or one freed
// recently (see closedClients).
func getClient(id uint64) *s3client.Client {
	if c, ok := table.get(id).(*s3client.Client); ok {
		return c
	}
	return closed.get(id)
}

// closedClients keeps the last clients freed resolvable. Python's
// Client.close() frees its handle while a call on another thread may have
// read it a moment before; that call then arrives after the free. A
// closed client stays usable (Close only drops idle connections), so it
// is served, as boto3 serves a call racing its close(), instead of
// failing with "unknown or freed handle".
type closedClients struct {
	mu    sync.Mutex
	ids   [64]uint64
	cs    [64]*s3client.Client
	added int
}

var closed closedClients

func (r *closedClients) add(id uint64, c *s3client.Client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := r.added % len(r.ids)
	r.ids[i], r.cs[i] = id, c
	r.added++
}

func (r *closedClients) get(id uint64) *s3client.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, v := range r.ids {
		if v == id && id != 0 {
			return r.cs[i]
		}
	}
	return nil
}

// op is a long-running operation: start → wait(timeout) → cancel → free.
type op struct {
	cancel context.CancelFunc
	done   chan struct{}
	batch  *fetch.Batch    // set for batch GETs, which have their own wait states
	label  string          // canonical name of what the operation works on
	stream *pageStream     // streamed results (listings)
	list   listing.Counter // listing progress
	// progress, if set, reports (items done, bytes, requests) for
	// s3t_op_progress (uploads).
	progress func() (items, bytes, requests int64)

	// Set by the operation before done is closed.
	err    error
	result *tableBuilder
	count  atomic.Int64
}

func getOp(id uint64) *op {
	o, _ := table.get(id).(*op)
	return o
}

// startOp runs fn in a goroutine guarded by recover.
func startOp(label string, fn func(ctx context.Context, o *op) error) uint64 {
	return startOpWith(nil, label, fn)
}

// startOpWith is startOp with a hook to set fields before fn starts.
func startOpWith(init func(*op), label string, fn func(ctx context.Context, o *op) error) uint64 {
	ctx, cancel := context.WithCancel(context.Background())
	o := &op{cancel: cancel, done: make(chan struct{}), label: label}
	if init != nil {
		init(o)
	}
	go func() {
		defer close(o.done)
		defer cancel()
		defer func() {
			if r := recover(); r != nil {
				o.err = panicErr(r)
			}
		}()
		o.err = fn(ctx, o)
	}()
	return table.put(o)
}

// wait blocks up to timeout (negative: forever) and reports the op state.
func (o *op) wait(timeout time.Duration) fetch.State {
	if o.batch != nil {
		return o.batch.Wait(timeout)
	}
	if timeout < 0 {
		<-o.done
		return fetch.Done
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-o.done:
		return fetch.Done
	case <-t.C:
		return fetch.Pending
	}
}

func (o *op) finished() <-chan struct{} {
	if o.batch != nil {
		return o.batch.Done()
	}
	return o.done
}

func (o *op) stop() {
	if o.batch != nil {
		o.batch.Cancel()
		return
	}
	o.cancel()
}

func (o *op) error() error {
	if o.batch != nil {
		return o.batch.Err()
	}
	return o.err
}
