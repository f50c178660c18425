// Package listsim answers ListObjectsV2 queries over a layouts.Set with real
// S3 semantics (prefix, delimiter roll-up into common prefixes, start-after,
// continuation tokens, max-keys, truncation), each page in O(log n + page).
// It is the pure core of the synthlist HTTP server and of in-process
// simulations of a listing server (API).
package listsim

import (
	"bytes"
	"encoding/base64"
	"errors"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
)

// MaxKeysCap is the most entries one page holds (S3's limit).
const MaxKeysCap = 1000

// ErrBadToken is returned for a continuation token this package did not make.
var ErrBadToken = errors.New("the continuation token provided is incorrect")

// Query is one ListObjectsV2 request.
type Query struct {
	Prefix, Delimiter, StartAfter string
	// Token is the continuation token; HasToken tells an empty token (an
	// error) from none.
	Token    string
	HasToken bool
	// MaxKeys is the page size, capped at MaxKeysCap (negative: the cap).
	MaxKeys int
}

// Result describes one page (its entries went to the callbacks).
type Result struct {
	Count     int // keys plus common prefixes
	Truncated bool
	NextToken string // set when Truncated
}

// Successor returns the smallest string greater than every string with
// prefix p, or ok=false if there is none (p empty or all 0xff).
func Successor(p []byte) (next []byte, ok bool) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xff {
			next = append([]byte(nil), p[:i+1]...)
			next[i]++
			return next, true
		}
	}
	return nil, false
}

// AfterPrefix is the index of the first key of set that does not start
// with p (and sorts after it).
func AfterPrefix(set *layouts.Set, p []byte) int {
	if next, ok := Successor(p); ok {
		return set.Search(next)
	}
	return set.Len()
}

// Continuation tokens are opaque to clients: 'K' + last key returned, or
// 'P' + last common prefix returned, base64url.
func encodeToken(kind byte, v []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{kind}, v...))
}

func decodeToken(t string) (kind byte, v []byte, ok bool) {
	raw, err := base64.RawURLEncoding.DecodeString(t)
	if err != nil || len(raw) == 0 || (raw[0] != 'K' && raw[0] != 'P') {
		return 0, nil, false
	}
	return raw[0], raw[1:], true
}

// List answers q over set: key is called for every object and prefix for
// every common prefix of the page, each in key order (the slices are only
// valid during the call). The error is ErrBadToken or nil.
func List(set *layouts.Set, q Query, key, prefix func([]byte)) (Result, error) {
	maxKeys := q.MaxKeys
	if maxKeys < 0 || maxKeys > MaxKeysCap {
		maxKeys = MaxKeysCap
	}
	if q.HasToken && q.Token == "" {
		return Result{}, ErrBadToken
	}
	pfx := []byte(q.Prefix)
	lo, end := set.Search(pfx), AfterPrefix(set, pfx)
	if q.StartAfter != "" {
		lo = max(lo, set.SearchAfter([]byte(q.StartAfter)))
	}
	if q.HasToken {
		kind, v, ok := decodeToken(q.Token)
		if !ok {
			return Result{}, ErrBadToken
		}
		if kind == 'K' {
			lo = max(lo, set.SearchAfter(v))
		} else {
			lo = max(lo, AfterPrefix(set, v))
		}
	}
	d := []byte(q.Delimiter)
	var res Result
	var lastKind byte
	var last []byte
	it := set.Iter(lo)
	for res.Count < maxKeys && it.Index() < end {
		k := it.Key()
		if len(d) > 0 {
			if j := bytes.Index(k[len(pfx):], d); j >= 0 {
				cp := k[:len(pfx)+j+len(d)]
				prefix(cp)
				res.Count++
				lastKind, last = 'P', append(last[:0], cp...)
				it.Seek(AfterPrefix(set, last)) // skip the whole rolled-up prefix
				continue
			}
		}
		key(k)
		res.Count++
		lastKind, last = 'K', append(last[:0], k...)
		it.Next()
	}
	res.Truncated = maxKeys > 0 && it.Index() < end
	if res.Truncated {
		res.NextToken = encodeToken(lastKind, last)
	}
	return res, nil
}
