package upload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// sinkPartAPI is the real client except for UploadPart, which reads the
// part's body to its end (checking its length and that it is all zeros),
// answers with a made-up ETag and, after stopAfter parts, calls stop.
// Parts of huge sparse files can then be sent without storing terabytes.
var zeros = make([]byte, 256<<10)

type sinkPartAPI struct {
	API
	stopAfter int64
	stop      context.CancelFunc
	parts     atomic.Int64
	bad       atomic.Value // first error found in a body
}

func (s *sinkPartAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, _ ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	buf := make([]byte, len(zeros))
	var got int64
	for {
		k, err := in.Body.Read(buf)
		if !bytes.Equal(buf[:k], zeros[:k]) {
			s.bad.CompareAndSwap(nil, fmt.Errorf("part %d: non-zero bytes", aws.ToInt32(in.PartNumber)))
		}
		got += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if want := aws.ToInt64(in.ContentLength); got != want {
		s.bad.CompareAndSwap(nil, fmt.Errorf("part %d: body of %d bytes, Content-Length %d", aws.ToInt32(in.PartNumber), got, want))
	}
	if s.parts.Add(1) == s.stopAfter {
		s.stop()
	}
	return &s3.UploadPartOutput{ETag: aws.String(fmt.Sprintf(`"etag-%d"`, aws.ToInt32(in.PartNumber)))}, nil
}

// TestPutFilesMemoryBounded: a file so large that its parts grow far past
// PartSize (S3 allows 10 000 parts) is uploaded without holding those
// parts in memory: the bytes the upload allocates stay below Concurrency ×
// PartSize. They used to be Concurrency × the grown part size (a 2 TiB file
// with 16 workers held 3.3 GiB, 5 TiB would not fit in memory at all).
// The files are sparse (no disk used) and UploadPart is stubbed past the
// body read, so only the multipart upload's creation and its abort reach
// the server.
func TestPutFilesMemoryBounded(t *testing.T) {
	fresh(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name        string
		size        int64
		partSize    int64
		concurrency int
		wantPart    int64 // the grown part size
	}{
		{"1TiB-4-workers", 1 << 40, MinPartSize, 4, 105 << 20},
		{"200GiB-8-workers", 200 << 30, MinPartSize, 8, 21 << 20},
		{"64GiB-6MiB-parts", 64 << 30, 6 << 20, 2, 7 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(tc.size); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if ps, _ := partSizeFor(tc.size, tc.partSize); ps != tc.wantPart {
				t.Fatalf("part size %d, want %d: the case does not test grown parts", ps, tc.wantPart)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			api := &sinkPartAPI{API: client.S3, stopAfter: int64(2 * tc.concurrency), stop: cancel}
			opt := Options{PartSize: tc.partSize, Concurrency: tc.concurrency}
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res := PutFiles(ctx, api, []File{{Path: path, Bucket: bucket, Key: "mem/" + tc.name}}, opt, nil)
			runtime.ReadMemStats(&after)
			if err, _ := api.bad.Load().(error); err != nil {
				t.Fatal(err)
			}
			if n := api.parts.Load(); n < api.stopAfter {
				t.Fatalf("%d parts sent before the stop, want %d (err %v)", n, api.stopAfter, res[0].Err)
			}
			if !errors.Is(res[0].Err, context.Canceled) || s3err.Classify(res[0].Err) != s3err.Cancelled {
				t.Fatalf("err %v, want the cancellation", res[0].Err)
			}
			bound := uint64(tc.concurrency) * uint64(tc.partSize)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d parts of %d MiB, %d workers: %.1f MiB allocated", api.parts.Load(), tc.wantPart>>20, tc.concurrency, float64(alloc)/(1<<20))
			if alloc > bound {
				t.Fatalf("uploading %d parts of %d MiB with %d workers allocated %d MiB, want at most Concurrency × PartSize = %d MiB",
					api.parts.Load(), tc.wantPart>>20, tc.concurrency, alloc>>20, bound>>20)
			}
			noUploads(t, "mem/")
		})
	}
}

// shrinkAPI truncates the file at path to size just before the request
// (a part, or the single PUT) that carries its bytes past size.
type shrinkAPI struct {
	API
	path string
	size int64
	part int32 // the part to shrink before (0: the PutObject)
}

func (s *shrinkAPI) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	if aws.ToInt32(in.PartNumber) == s.part {
		if err := os.Truncate(s.path, s.size); err != nil {
			return nil, err
		}
	}
	return s.API.UploadPart(ctx, in, o...)
}

func (s *shrinkAPI) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if s.part == 0 {
		if err := os.Truncate(s.path, s.size); err != nil {
			return nil, err
		}
	}
	return s.API.PutObject(ctx, in, o...)
}

// TestPutFilesShrinks: a file read as its requests are sent (not buffered
// first) that shrinks under the upload fails with ErrChanged naming the
// file, not with the transport's complaint about a short body, and stores
// nothing.
func TestPutFilesShrinks(t *testing.T) {
	fresh(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name       string
		size, to   int64
		part       int32
		wantShrank bool
	}{
		{"single-put", 3 << 20, 1 << 20, 0, true},
		{"part-2", big, part + 100, 2, true},
		{"grows", 3 << 20, 4 << 20, 0, false}, // only the first size bytes are sent
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			data := randBytes(int(tc.size), 41)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			key := "shrink/" + tc.name
			api := &shrinkAPI{API: client.S3, path: path, size: tc.to, part: tc.part}
			res := PutFiles(context.Background(), api, []File{{Path: path, Bucket: bucket, Key: key}}, Options{PartSize: part, Concurrency: 1}, nil)
			if !tc.wantShrank {
				if res[0].Err != nil {
					t.Fatal(res[0].Err)
				}
				checkObject(t, key, data)
				return
			}
			err := res[0].Err
			if s3err.Classify(err) != s3err.Changed || !strings.Contains(err.Error(), path+" shrank") {
				t.Fatalf("err %v, want ErrChanged saying %s shrank", err, path)
			}
			if _, ok := get(t, key); ok {
				t.Fatal("object stored")
			}
			noUploads(t, key)
		})
	}
}
