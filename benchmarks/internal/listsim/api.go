package listsim

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
)

// Call is one simulated request, for timelines.
type Call struct {
	Start, End  time.Duration // since the server's first request
	Delimiter   bool
	Count       int    // entries returned
	Prefix      string // the request's
	StartAfter  string // the request's
	First, Last string // keys returned (diagnostics)
}

// API is an in-process listing server implementing the S3 client subset
// the listing engine uses (go/listing.API): ListObjectsV2 over Set with
// List's semantics, after a simulated delay. Every call waits Latency (the
// network), then, when Cores > 0, queues for one of Cores server cores and
// holds it for Service(entries) (a CPU-bound server: latency grows with
// concurrency). HeadObject always answers NotFound. Safe for concurrent use.
type API struct {
	Set     *layouts.Set
	Latency time.Duration
	Cores   int
	Service func(entries int) time.Duration
	Trace   bool // record every call in Calls()
	// FreeProbes answers delimiter requests (the lister's probes) without
	// the Latency wait: structure is learnt at once, and the probe budget
	// is spent as fast as the lister asks (a stress on the splitter, and
	// a bound on what faster discovery alone could gain).
	FreeProbes bool

	requests, inflight, peak atomic.Int64
	listed                   atomic.Int64 // entries returned by calls without a delimiter
	once                     sync.Once
	cores                    chan struct{}
	mu                       sync.Mutex
	t0                       time.Time
	calls                    []Call
}

// Requests returns the number of ListObjectsV2 calls so far.
func (a *API) Requests() int64 { return a.requests.Load() }

// Listed returns the entries the calls without a delimiter (pages, not
// the lister's probes) returned so far: keys the lister dropped past a
// range's end count too, as the server's and the client's work they are.
func (a *API) Listed() int64 { return a.listed.Load() }

// Peak returns the most calls that were in flight at once.
func (a *API) Peak() int64 { return a.peak.Load() }

// Calls returns the recorded calls (Trace), in completion order.
func (a *API) Calls() []Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Call(nil), a.calls...)
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ListObjectsV2 answers one page.
func (a *API) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	a.once.Do(func() {
		a.t0 = time.Now()
		if a.Cores > 0 {
			a.cores = make(chan struct{}, a.Cores)
		}
	})
	a.requests.Add(1)
	n := a.inflight.Add(1)
	defer a.inflight.Add(-1)
	for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
	}
	start := time.Since(a.t0)
	if in.Delimiter == nil || !a.FreeProbes {
		if err := sleep(ctx, a.Latency); err != nil {
			return nil, err
		}
	}
	q := Query{
		Prefix: aws.ToString(in.Prefix), Delimiter: aws.ToString(in.Delimiter), StartAfter: aws.ToString(in.StartAfter),
		MaxKeys: int(aws.ToInt32(in.MaxKeys)),
	}
	if in.MaxKeys == nil {
		q.MaxKeys = MaxKeysCap
	}
	if in.ContinuationToken != nil {
		q.Token, q.HasToken = *in.ContinuationToken, true
	}
	out := &s3.ListObjectsV2Output{Prefix: in.Prefix, Delimiter: in.Delimiter, MaxKeys: aws.Int32(int32(q.MaxKeys))}
	res, err := List(a.Set, q, func(k []byte) {
		out.Contents = append(out.Contents, types.Object{Key: aws.String(string(k)), Size: aws.Int64(layouts.Size(k, 1))})
	}, func(p []byte) {
		out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(string(p))})
	})
	if err != nil {
		return nil, &smithy.GenericAPIError{Code: "InvalidArgument", Message: err.Error()}
	}
	if a.cores != nil && a.Service != nil {
		select {
		case a.cores <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		err := sleep(ctx, a.Service(res.Count))
		<-a.cores
		if err != nil {
			return nil, err
		}
	}
	if q.Delimiter == "" {
		a.listed.Add(int64(res.Count))
	}
	out.KeyCount = aws.Int32(int32(res.Count))
	out.IsTruncated = aws.Bool(res.Truncated)
	if res.Truncated {
		out.NextContinuationToken = aws.String(res.NextToken)
	}
	if a.Trace {
		a.mu.Lock()
		c := Call{Start: start, End: time.Since(a.t0), Delimiter: q.Delimiter != "", Count: res.Count,
			Prefix: q.Prefix, StartAfter: q.StartAfter}
		if n := len(out.Contents); n > 0 {
			c.First, c.Last = aws.ToString(out.Contents[0].Key), aws.ToString(out.Contents[n-1].Key)
		}
		a.calls = append(a.calls, c)
		a.mu.Unlock()
	}
	return out, nil
}

// HeadObject answers NotFound: the simulation holds keys, not objects.
func (a *API) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, &smithy.GenericAPIError{Code: "NotFound", Message: "listsim: no objects"}
}
