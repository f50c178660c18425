package objects

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// putMany creates keys concurrently.
func putMany(t *testing.T, b string, keys []string) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(keys))
	for _, k := range keys {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
				Bucket: aws.String(b), Key: aws.String(k), Body: bytesReader("d")})
			if err != nil {
				errs <- fmt.Errorf("put %s: %w", k, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func countKeys(t *testing.T, b, prefix string) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectsV2Paginator(client.S3, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Contents)
	}
	return n
}

func keys(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%05d", prefix, i)
	}
	return out
}

func paths(b string, ks ...string) []objpath.Path {
	out := make([]objpath.Path, len(ks))
	for i, k := range ks {
		out[i] = objpath.Path{Bucket: b, Key: k}
	}
	return out
}

func TestDelete(t *testing.T) {
	many := keys("del/many/", 2500)
	putMany(t, bucket, many)
	putMany(t, bucket, []string{"del/two/a", "del/dup/a", "del/odd/ünï cødé+?#%", "del/ctl/\x01x", "del/ctl/\x1fy"})
	put(t, bucket, "del/marker/", nil)
	putMany(t, bucket2, []string{"del/two/b"})
	missing := bucket + "-missing"
	for _, tc := range []struct {
		name     string
		paths    []objpath.Path
		requests int64
		codes    map[int]s3err.Code // expected non-zero codes by item
		gone     []objpath.Path     // must not exist afterwards
	}{
		{"2500-keys", paths(bucket, many...), 3, nil, paths(bucket, many...)},
		{"missing-keys", paths(bucket, "del/nope/1", "del/nope/2"), 1, nil, nil},
		{"two-buckets", append(paths(bucket, "del/two/a"), paths(bucket2, "del/two/b")...), 2, nil,
			append(paths(bucket, "del/two/a"), paths(bucket2, "del/two/b")...)},
		{"duplicates", paths(bucket, "del/dup/a", "del/dup/a", "del/nope/3", "del/dup/a"), 1, nil, paths(bucket, "del/dup/a")},
		{"odd-keys", paths(bucket, "del/odd/ünï cødé+?#%", "del/marker/"), 1, nil, paths(bucket, "del/odd/ünï cødé+?#%", "del/marker/")},
		// XML cannot carry these: DeleteObjects named "del/ctl/\ufffdx"
		// instead, and the objects stayed while reported deleted.
		{"control-characters", paths(bucket, "del/ctl/\x01x", "del/nope/6", "del/ctl/\x1fy"), 3, nil, paths(bucket, "del/ctl/\x01x", "del/ctl/\x1fy")},
		{"missing-bucket", append(paths(missing, "a", "b"), paths(bucket, "del/nope/4")...), 2,
			map[int]s3err.Code{0: s3err.NotFound, 1: s3err.NotFound}, nil},
		{"not-an-object", paths(bucket, "", "del/nope/5"), 1, map[int]s3err.Code{0: s3err.Invalid}, nil},
		{"empty", nil, 0, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opt Options
			opt.Items = new(atomicInt)
			errs, reqs := Delete(context.Background(), client.S3, tc.paths, opt)
			if len(errs) != len(tc.paths) {
				t.Fatalf("%d results for %d paths", len(errs), len(tc.paths))
			}
			for i, err := range errs {
				if got := s3err.Classify(err); got != tc.codes[i] {
					t.Errorf("item %d (%v): code %d (%v), want %d", i, tc.paths[i], got, err, tc.codes[i])
				} else if err != nil {
					mustContain(t, err, s3url(tc.paths[i].Bucket, tc.paths[i].Key))
				}
			}
			if reqs != tc.requests {
				t.Errorf("requests = %d, want %d", reqs, tc.requests)
			}
			if got := opt.Items.Load(); got != int64(len(tc.paths)) {
				t.Errorf("items done = %d, want %d", got, len(tc.paths))
			}
			for _, p := range tc.gone {
				if exists(t, p.Bucket, p.Key) {
					t.Errorf("%v still exists", p)
					break
				}
			}
		})
	}
	if n := countKeys(t, bucket, "del/"); n != 0 {
		t.Errorf("%d keys left under del/", n)
	}
}

func TestPlanDelete(t *testing.T) {
	ps := append(paths("a", "1", "2", "1", "3", "4"), paths("b", "1", "2")...)
	ps = append(ps, paths("a", "5", "", "\x01", "6", "\x01")...)
	errs := make([]error, len(ps))
	chunks := planDelete(ps, 2, errs)
	var got string
	for _, c := range chunks {
		got += fmt.Sprintf("{%s %q %v %v}", c.bucket, c.keys, c.items, c.single)
	}
	want := `{a ["1" "2"] [[0 2] [1]] false}{a ["3" "4"] [[3] [4]] false}{b ["1" "2"] [[5] [6]] false}` +
		`{a ["5" "6"] [[7] [10]] false}{a ["\x01"] [[9 11]] true}`
	if got != want {
		t.Errorf("plan = %s\nwant   %s", got, want)
	}
	if s3err.Classify(errs[8]) != s3err.Invalid {
		t.Errorf("empty key: %v", errs[8])
	}
}

// fakeDelete answers DeleteObjects with per-key errors or a request error,
// and records the keys DeleteObject was asked for.
type fakeDelete struct {
	keyErrs map[string]string // key → S3 error code
	rename  map[string]string // key → the spelling its error is reported under
	reqErr  error
	mu      sync.Mutex
	singles []string
}

func (f *fakeDelete) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	f.mu.Lock()
	f.singles = append(f.singles, aws.ToString(in.Key))
	f.mu.Unlock()
	if code, ok := f.keyErrs[aws.ToString(in.Key)]; ok {
		return nil, &smithy.GenericAPIError{Code: code, Message: "refused"}
	}
	return &s3.DeleteObjectOutput{}, nil
}

func (f *fakeDelete) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if f.reqErr != nil {
		return nil, f.reqErr
	}
	if !aws.ToBool(in.Delete.Quiet) {
		return nil, fmt.Errorf("not quiet")
	}
	out := &s3.DeleteObjectsOutput{}
	for _, o := range in.Delete.Objects {
		if !xmlSafe(aws.ToString(o.Key)) {
			return nil, fmt.Errorf("DeleteObjects sent %q, which XML cannot carry", aws.ToString(o.Key))
		}
		if code, ok := f.keyErrs[aws.ToString(o.Key)]; ok {
			key := o.Key
			if r, ok := f.rename[*key]; ok {
				key = aws.String(r)
			}
			out.Errors = append(out.Errors, types.Error{Key: key, Code: aws.String(code), Message: aws.String("refused")})
		}
	}
	return out, nil
}

func TestDeleteFake(t *testing.T) {
	for _, tc := range []struct {
		name    string
		api     *fakeDelete
		keys    []string
		codes   []s3err.Code
		msg     string
		singles []string // keys sent alone with DeleteObject
	}{
		{"per-key-errors", &fakeDelete{keyErrs: map[string]string{"k1": "AccessDenied", "k2": "NoSuchKey", "k3": "InternalError"}},
			nil, []s3err.Code{0, s3err.Permission, 0, s3err.IO}, "delete refused", nil},
		{"request-error", &fakeDelete{reqErr: httpErr(403)}, nil,
			[]s3err.Code{s3err.Permission, s3err.Permission, s3err.Permission, s3err.Permission}, "s3://b/k", nil},
		// An error under a spelling not sent leaves every key unconfirmed.
		{"error-for-a-key-not-sent", &fakeDelete{keyErrs: map[string]string{"k2": "AccessDenied"}, rename: map[string]string{"k2": "k2\ufffd"}},
			nil, []s3err.Code{s3err.Permission, s3err.Permission, s3err.Permission, s3err.Permission}, "delete not confirmed", nil},
		{"missing-key-not-sent", &fakeDelete{keyErrs: map[string]string{"k2": "NoSuchKey"}, rename: map[string]string{"k2": "k2\ufffd"}},
			nil, []s3err.Code{0, 0, 0, 0}, "", nil},
		// Keys XML 1.0 cannot carry are deleted one by one, by URL.
		{"keys-xml-cannot-carry", &fakeDelete{keyErrs: map[string]string{"k\x02": "AccessDenied"}},
			[]string{"k0", "k\x01", "k\x02", "k\uffff", "k\xff", "k\t\n\r", "k\x01"},
			[]s3err.Code{0, 0, s3err.Permission, 0, 0, 0, 0}, "s3://b/k", []string{"k\x01", "k\x02", "k\uffff", "k\xff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := tc.keys
			if keys == nil {
				keys = []string{"k0", "k1", "k2", "k3"}
			}
			errs, reqs := Delete(context.Background(), tc.api, paths("b", keys...), Options{})
			if want := int64(1 + len(tc.singles)); reqs != want {
				t.Errorf("requests = %d, want %d", reqs, want)
			}
			for i, err := range errs {
				if got := s3err.Classify(err); got != tc.codes[i] {
					t.Errorf("item %d: code %d (%v), want %d", i, got, err, tc.codes[i])
				}
				if err != nil {
					mustContain(t, err, s3url("b", keys[i]), tc.msg)
				}
			}
			slices.Sort(tc.api.singles)
			if !slices.Equal(tc.api.singles, tc.singles) {
				t.Errorf("DeleteObject sent for %q, want %q", tc.api.singles, tc.singles)
			}
		})
	}
}

// TestDeleteDuplicateKeysServer records how the server treats a
// DeleteObjects request naming a key twice (Delete never sends one).
func TestDeleteDuplicateKeysServer(t *testing.T) {
	put(t, bucket, "dupraw/a", []byte("x"))
	_, err := client.S3.DeleteObjects(context.Background(), &s3.DeleteObjectsInput{
		Bucket: aws.String(bucket),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("dupraw/a")}, {Key: aws.String("dupraw/a")}}},
	})
	t.Logf("duplicate keys in one DeleteObjects request: err=%v, object still exists=%v", err, exists(t, bucket, "dupraw/a"))
}
