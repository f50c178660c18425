package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
	"github.com/s3turbo/s3turbo/benchmarks/internal/listsim"
	"github.com/s3turbo/s3turbo/go/listing"
)

// Run is the outcome of one simulated parallel listing.
type Run struct {
	Keys      int
	Wall      time.Duration
	Ideal     time.Duration // the oracle's: ceil(pages/workers) round trips
	Requests  int
	Listed    int64 // entries the server's pages returned (see listsim.API.Listed)
	Min       int   // ceil(keys/1000)
	Discovery int
	Ranges    int
	Peak      int64
	Calls     []listsim.Call
}

// Fraction is the ideal time over the wall time (1 = the oracle's rate).
func (r Run) Fraction() float64 { return r.Ideal.Seconds() / r.Wall.Seconds() }

// ListedPerKey is the entries the server's pages returned over the keys.
func (r Run) ListedPerKey() float64 { return float64(r.Listed) / float64(r.Keys) }

// PerMin is requests over the minimum.
func (r Run) PerMin() float64 { return float64(r.Requests) / float64(r.Min) }

// simulate lists set through api with listing.Parallel and checks that
// every key arrived exactly once.
func simulate(api *listsim.API, opt listing.Options) (Run, error) {
	set := api.Set
	got := make([]string, 0, set.Len())
	t0 := time.Now()
	st, err := listing.Parallel(context.Background(), api, "sim", "", opt, func(p listing.Page) error {
		for _, e := range p.Entries {
			got = append(got, e.Key) // checked afterwards: checking here would slow the listing
		}
		return nil
	})
	wall := time.Since(t0)
	if err != nil {
		return Run{}, err
	}
	if err := check(set, got); err != nil {
		return Run{}, err
	}
	pages := (set.Len() + listing.MaxKeys - 1) / listing.MaxKeys
	w := max(1, opt.Workers)
	rounds := (pages + w - 1) / w
	return Run{
		Keys: set.Len(), Wall: wall, Ideal: time.Duration(rounds) * api.Latency,
		Requests: st.Requests, Min: pages, Discovery: st.Discovery, Ranges: st.Ranges,
		Peak: api.Peak(), Calls: api.Calls(), Listed: api.Listed(),
	}, nil
}

// oracle lists set through api the way benchmarks/oracle does: w
// page-aligned ranges known in advance, the minimum number of requests.
// Its wall time is the sim's practical limit (the ideal plus the sim's
// own CPU per call).
func oracle(api *listsim.API, w int) (time.Duration, error) {
	set := api.Set
	starts := oracleStarts(set.Len(), w)
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, lo := range starts {
		hi := set.Len()
		if i+1 < len(starts) {
			hi = starts[i+1]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for got := lo; got < hi; {
				in := &s3.ListObjectsV2Input{Bucket: aws.String("sim"), MaxKeys: aws.Int32(int32(min(listing.MaxKeys, hi-got)))}
				if got > 0 {
					in.StartAfter = aws.String(set.Key(got - 1))
				}
				out, err := api.ListObjectsV2(context.Background(), in)
				if err != nil {
					errs[i] = err
					return
				}
				if len(out.Contents) == 0 {
					errs[i] = fmt.Errorf("oracle: empty page at key %d", got)
					return
				}
				got += len(out.Contents)
			}
		}()
	}
	wg.Wait()
	return time.Since(t0), errors.Join(errs...)
}

// oracleStarts returns the index of the first key of each of the oracle's
// ranges over n keys: up to w of them, page-aligned, each as many whole
// pages as the others or one fewer.
func oracleStarts(n, w int) []int {
	pages := (n + listing.MaxKeys - 1) / listing.MaxKeys
	w = max(1, min(w, pages))
	starts := make([]int, w)
	for i := range starts {
		starts[i] = i * pages / w * listing.MaxKeys
	}
	return starts
}

// folders is the co-located case's key set: nf folders of per keys each.
func folders(nf, per int) *layouts.Set {
	keys := make([]string, 0, nf*per)
	for f := 0; f < nf; f++ {
		for k := 0; k < per; k++ {
			keys = append(keys, fmt.Sprintf("dir-%03d/key-%05d", f, k))
		}
	}
	s, err := layouts.FromSorted(keys)
	if err != nil {
		panic(err)
	}
	return s
}

// colocated is a CPU-bound server on 2 cores: no network latency, each
// call holds a core for 1 ms plus 4 us per entry returned (5 ms a full page).
func colocated(set *layouts.Set) *listsim.API {
	return &listsim.API{Set: set, Cores: 2, Service: func(n int) time.Duration {
		return time.Millisecond + time.Duration(n)*4*time.Microsecond
	}}
}

// check reports keys of set missing from got or listed twice, or keys in
// got that are not in set.
func check(set *layouts.Set, got []string) error {
	sort.Strings(got)
	want := set.Strings()
	i, j, missing, extra := 0, 0, 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || i < len(want) && want[i] < got[j]:
			missing++
			i++
		case i == len(want) || got[j] < want[i]:
			extra++ // a duplicate or a stranger
			j++
		default:
			i++
			j++
		}
	}
	if missing > 0 || extra > 0 {
		return fmt.Errorf("%d keys missing, %d listed twice or not in the set", missing, extra)
	}
	return nil
}
