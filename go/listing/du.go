package listing

import (
	"context"
	"sort"
	"strings"
	"sync/atomic"
)

// Counter exposes a listing's progress to pollers (keys emitted, requests
// sent). All fields are safe to read while the listing runs.
type Counter struct {
	Keys     atomic.Int64
	Requests atomic.Int64
}

// Usage is the total size and object count of a group of keys.
type Usage struct {
	Size  int64
	Count int64
}

// DuResult is what Du computed.
type DuResult struct {
	Total Usage
	// Groups maps a prefix of depth path components below the listed
	// prefix (ending in "/") to its usage; keys with fewer components are
	// counted under the listed prefix itself. Empty when depth is 0.
	Groups map[string]Usage
}

// SortedGroups returns the group prefixes in key order.
func (r DuResult) SortedGroups() []string {
	out := make([]string, 0, len(r.Groups))
	for k := range r.Groups {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// groupOf returns the group of key: prefix plus its first depth
// "/"-separated components, or prefix when key has fewer.
func groupOf(key, prefix string, depth int) string {
	rest := key[len(prefix):]
	end := 0
	for d := 0; d < depth; d++ {
		i := strings.IndexByte(rest[end:], '/')
		if i < 0 {
			if d == 0 {
				return prefix
			}
			break
		}
		end += i + 1
	}
	return prefix + rest[:end]
}

// Du computes the total size and count of every key under prefix, and per
// group when depth > 0, without keeping keys: memory is proportional to
// the number of groups, not keys. parallel selects Parallel over Walk.
func Du(ctx context.Context, api API, bucket, prefix string, depth int, parallel bool, opt Options, c *Counter) (DuResult, Stats, error) {
	res := DuResult{}
	if depth > 0 {
		res.Groups = map[string]Usage{}
	}
	add := func(p Page) error {
		for i := range p.Entries {
			e := &p.Entries[i]
			res.Total.Size += e.Size
			res.Total.Count++
			if depth > 0 {
				g := groupOf(e.Key, prefix, depth)
				u := res.Groups[g]
				u.Size += e.Size
				u.Count++
				res.Groups[g] = u
			}
		}
		return nil
	}
	opt.Sorted = false
	opt.Omit |= ETag | Mtime
	var st Stats
	var err error
	if parallel {
		st, err = ParallelCounted(ctx, api, bucket, prefix, opt, c, add)
	} else {
		st, err = WalkCounted(ctx, api, bucket, prefix, "", opt.Omit, c, add)
	}
	return res, st, err
}
