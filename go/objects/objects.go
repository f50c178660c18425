// Package objects runs batch operations on S3 objects and buckets: stat
// (HEAD, with a LIST probe that recognises "directories"), delete
// (DeleteObjects in chunks of up to 1000 keys), server-side copy (CopyObject,
// or a multipart UploadPartCopy for sources above a threshold), presigned
// URLs, and bucket creation and removal.
//
// Batch functions take a small interface (a subset of *s3.Client) so they
// can be tested against fakes, run their requests concurrently up to
// Options.Concurrency, and return one error per input item: a failed item
// never stops the others. Only cancellation of ctx stops a batch early;
// items not finished by then carry the cancellation error.
package objects

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Limits of the S3 API that shape requests.
const (
	// MaxDeleteKeys is the most keys one DeleteObjects request may carry.
	MaxDeleteKeys = 1000
	// MaxSingleCopy is the largest source CopyObject accepts (5 GiB).
	MaxSingleCopy = 5 << 30
	// MinPartSize is the smallest multipart part (all but the last part).
	MinPartSize = 5 << 20
	// MaxPartSize is the largest multipart part.
	MaxPartSize = 5 << 30
	// MaxParts is the most parts a multipart upload may have.
	MaxParts = 10000
	// DefaultConcurrency is used when Options.Concurrency is not positive.
	DefaultConcurrency = 64
	// DefaultCopyPartSize is used when Options.PartSize is not positive.
	DefaultCopyPartSize = 64 << 20
)

// Options tunes a batch. Zero values pick defaults.
type Options struct {
	// Concurrency bounds the requests in flight at once.
	Concurrency int
	// CopyThreshold is the largest source copied with one CopyObject;
	// larger ones use a multipart copy. Zero or values above MaxSingleCopy
	// mean MaxSingleCopy.
	CopyThreshold int64
	// PartSize is the multipart copy part size. It is raised to at least
	// MinPartSize and grown as needed to stay within MaxParts parts.
	PartSize int64
	// Items and Requests, if not nil, are incremented as items finish and
	// requests are sent, so a poller can report progress while the batch
	// runs.
	Items    *atomic.Int64
	Requests *atomic.Int64
}

// normalized fills defaults and returns counters that are never nil.
func (o Options) normalized() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.CopyThreshold <= 0 || o.CopyThreshold > MaxSingleCopy {
		o.CopyThreshold = MaxSingleCopy
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultCopyPartSize
	}
	if o.Items == nil {
		o.Items = new(atomic.Int64)
	}
	if o.Requests == nil {
		o.Requests = new(atomic.Int64)
	}
	return o
}

// counter counts one batch's requests and mirrors them into a shared
// progress counter.
type counter struct {
	shared *atomic.Int64
	n      atomic.Int64
}

func (c *counter) add() {
	c.n.Add(1)
	c.shared.Add(1)
}

// s3url renders s3://bucket/key (s3://bucket when key is empty).
func s3url(bucket, key string) string {
	if key == "" {
		return "s3://" + bucket
	}
	return "s3://" + bucket + "/" + key
}

// forEach calls fn(i) for every i in [0, n) on at most conc goroutines and
// returns the errors. A panic in fn(i) becomes an ErrInternal error naming
// item i; items not started before ctx ends get ctx's error. done is called
// (if not nil) after each item finishes.
func forEach(ctx context.Context, n, conc int, name func(i int) string, fn func(i int) error, done func(i int)) []error {
	errs := make([]error, n)
	var next atomic.Int64
	workers := min(conc, n)
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := context.Cause(ctx); err != nil {
					errs[i] = fmt.Errorf("%s: %w", name(i), err)
				} else {
					errs[i] = guarded(name(i), func() error { return fn(i) })
				}
				if done != nil {
					done(i)
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// guarded runs fn, turning a panic into an ErrInternal error naming what.
func guarded(what string, fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: internal error (please report): %v: %w", what, r, s3err.ErrInternal)
		}
	}()
	return fn()
}
