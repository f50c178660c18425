package listing

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// probeAPI answers delimiter probes with fixed folders (or fails) and
// records every request's prefix.
type probeAPI struct {
	mu       sync.Mutex
	prefixes []string
	folders  []string
	err      error
}

func (p *probeAPI) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	p.mu.Lock()
	p.prefixes = append(p.prefixes, aws.ToString(in.Prefix))
	p.mu.Unlock()
	if p.err != nil {
		return nil, p.err
	}
	out := &s3.ListObjectsV2Output{IsTruncated: aws.Bool(false)}
	for _, f := range p.folders {
		out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(f)})
	}
	return out, nil
}

func (p *probeAPI) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("not used")
}

// TestProbeBetweenPages checks that a worker between two pages of its
// range sends the probe another range is waiting for when no worker is
// idle to send it, and that a failed probe fails the listing.
func TestProbeBetweenPages(t *testing.T) {
	refused := errors.New("refused")
	tests := []struct {
		name   string
		idle   int
		wanted bool  // a busy range cannot be measured until "a/" is probed
		err    error // the probe's failure
		sent   []string
	}{
		{"every worker busy", 0, true, nil, []string{"a/"}},
		{"a worker idle probes instead", 1, true, nil, nil},
		{"nothing wanted", 0, false, nil, nil},
		{"the probe fails", 0, true, refused, []string{"a/"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := &probeAPI{folders: []string{"a/x/", "a/y/"}, err: tc.err}
			l := testLister()
			l.ctx, l.cancel = context.WithCancel(context.Background())
			defer l.cancel()
			l.api, l.bucket, l.counter = api, "bkt", &Counter{}
			l.cond = sync.NewCond(&l.mu)
			l.idle = tc.idle
			r := &krange{start: "a/", first: "a/x/0001", cursor: "a/x/2000", hi: "a/y/", seen: 2000, pages: 2, active: true}
			if !tc.wanted {
				r.done, r.active = true, false
			}
			l.ranges = []*krange{r}
			l.mu.Lock()
			ok := l.probeBetweenPages()
			l.mu.Unlock()
			if len(api.prefixes) != len(tc.sent) || len(tc.sent) > 0 && api.prefixes[0] != tc.sent[0] {
				t.Fatalf("probes sent for %q, want %q", api.prefixes, tc.sent)
			}
			if tc.err != nil {
				if ok || !errors.Is(l.err, tc.err) || l.ctx.Err() == nil {
					t.Fatalf("after a failed probe: ok %v, err %v, listing cancelled %v", ok, l.err, l.ctx.Err() != nil)
				}
				return
			}
			if !ok {
				t.Fatalf("probeBetweenPages failed: %v", l.err)
			}
			if d := l.dirs["a/"]; tc.sent != nil && (d == nil || d.probing || len(d.folders) != 2) {
				t.Fatalf("probe of a/ recorded as %+v", d)
			}
			if tc.sent != nil && l.discovery.Load() != 1 {
				t.Fatalf("discovery requests counted: %d, want 1", l.discovery.Load())
			}
		})
	}
}
