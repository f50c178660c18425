package upload

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

// writeAll writes data in chunks of random sizes up to maxChunk, reusing
// one caller buffer (as Python does) to prove Write copies.
func writeAll(t *testing.T, w *Writer, data []byte, maxChunk int, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	scratch := make([]byte, maxChunk)
	for off := 0; off < len(data); {
		n := min(1+rng.Intn(maxChunk), len(data)-off)
		copy(scratch, data[off:off+n])
		k, err := w.Write(scratch[:n])
		if err != nil || k != n {
			t.Fatalf("Write at %d: %d, %v", off, k, err)
		}
		for i := range scratch[:n] {
			scratch[i] = 0xAA // clobber: the writer must have copied
		}
		off += n
	}
}

// wpart is a Writer's smallest part (S3's 5 MiB would not reach 5 TiB).
const wpart = WriterMinPartSize

func TestWriter(t *testing.T) {
	fresh(t)
	for _, tc := range []struct {
		name      string
		size      int
		chunk     int
		conc      int
		multipart bool
	}{
		{name: "empty", size: 0, chunk: 1},
		{name: "small-writes-single-put", size: 100_000, chunk: 97},
		{name: "exact-part-single-put", size: wpart, chunk: 1 << 20},
		{name: "part-plus-one", size: wpart + 1, chunk: 1 << 20, multipart: true},
		{name: "many-small-writes", size: big, chunk: 64 << 10, conc: 2, multipart: true},
		{name: "exact-two-parts", size: 2 * wpart, chunk: 3 << 20, multipart: true},
		{name: "one-big-write", size: big, chunk: big, multipart: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "writer/" + tc.name
			data := randBytes(tc.size, int64(tc.size))
			api := &hookAPI{API: client.S3}
			w, err := NewWriter(context.Background(), api, bucket, key, WriterOptions{PartSize: wpart, Concurrency: tc.conc})
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, w, data, tc.chunk, 1)
			etag, err := w.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if etag == "" || w.Size() != int64(tc.size) {
				t.Errorf("etag %q size %d", etag, w.Size())
			}
			checkObject(t, key, data)
			wantPuts, wantCompletes := int64(1), int64(0)
			if tc.multipart {
				wantPuts, wantCompletes = 0, 1
				if want := int64((tc.size + wpart - 1) / wpart); api.parts.Load() != want {
					t.Errorf("%d parts, want %d", api.parts.Load(), want)
				}
			}
			if api.puts.Load() != wantPuts || api.completes.Load() != wantCompletes {
				t.Errorf("puts %d completes %d, want %d %d", api.puts.Load(), api.completes.Load(), wantPuts, wantCompletes)
			}
			if items, b, _ := w.Progress(); items != 1 || b != int64(tc.size) {
				t.Errorf("progress %d items %d bytes", items, b)
			}
			// Close is idempotent; writes after it fail.
			if again, err := w.Close(context.Background()); err != nil || again != etag {
				t.Errorf("second Close: %q %v", again, err)
			}
			if _, err := w.Write([]byte("x")); s3err.Classify(err) != s3err.Invalid {
				t.Errorf("Write after Close: %v", err)
			}
			if err := w.Abort(context.Background()); err != nil {
				t.Errorf("Abort after Close: %v", err)
			}
			checkObject(t, key, data)
		})
	}
}

func TestWriterPartSizeTiers(t *testing.T) {
	w := &Writer{opt: WriterOptions{PartSize: 8 << 20}}
	for _, tc := range []struct {
		part int32
		want int64
	}{{1, 8 << 20}, {1000, 8 << 20}, {1001, 16 << 20}, {5001, 256 << 20}, {9001, 4 << 30}, {10000, 4 << 30}} {
		w.nextPart = tc.part
		if got := w.limit(); got != tc.want {
			t.Errorf("part %d: size %d, want %d", tc.part, got, tc.want)
		}
	}
	var total int64
	for n := int32(1); n <= MaxParts; n++ {
		w.nextPart = n
		total += w.limit()
	}
	if total < 5<<40 {
		t.Errorf("10000 parts reach only %d bytes", total)
	}
}

func TestWriterCreateOnly(t *testing.T) {
	fresh(t)
	old := []byte("already here")
	for _, tc := range []struct {
		name string
		size int
		race bool // the key appears after the multipart upload started
	}{
		{name: "single", size: 10},
		{name: "empty", size: 0},
		{name: "multipart", size: big},
		{name: "multipart-race", size: big, race: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "writer-x/" + tc.name
			api := &hookAPI{API: client.S3}
			if tc.race {
				api.beforeComplete = func(context.Context, *s3.CompleteMultipartUploadInput) { put(t, key, old) }
			} else {
				put(t, key, old)
			}
			w, err := NewWriter(context.Background(), api, bucket, key, WriterOptions{PartSize: part, CreateOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			data := randBytes(tc.size, 2)
			var werr error
			for off := 0; off < len(data) && werr == nil; off += 1 << 20 {
				_, werr = w.Write(data[off:min(off+1<<20, len(data))])
			}
			_, cerr := w.Close(context.Background())
			err = werr
			if err == nil {
				err = cerr
			}
			if !errors.Is(err, s3err.ErrExists) {
				t.Fatalf("err = %v (close: %v), want ErrExists", err, cerr)
			}
			if want := "s3://" + bucket + "/" + key + " already exists"; err.Error() != want {
				t.Errorf("message %q, want %q", err, want)
			}
			checkObject(t, key, old)
			noUploads(t, key)
			if tc.race && api.completes.Load() != 1 {
				t.Errorf("%d completions, want 1", api.completes.Load())
			}
			// A new key works.
			w, _ = NewWriter(context.Background(), client.S3, bucket, key+"-new", WriterOptions{PartSize: part, CreateOnly: true})
			writeAll(t, w, data, 1<<20, 3)
			if _, err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			checkObject(t, key+"-new", data)
		})
	}
}

func TestWriterAbort(t *testing.T) {
	fresh(t)
	for _, tc := range []struct {
		name string
		size int
	}{
		{"before-any-part", 1000},
		{"after-parts", big},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "writer-abort/" + tc.name
			api := &hookAPI{API: client.S3}
			w, _ := NewWriter(context.Background(), api, bucket, key, WriterOptions{PartSize: part})
			writeAll(t, w, randBytes(tc.size, 4), 1<<20, 5)
			if err := w.Abort(context.Background()); err != nil {
				t.Fatal(err)
			}
			if _, ok := get(t, key); ok {
				t.Error("object exists after Abort")
			}
			noUploads(t, "writer-abort/")
			if _, err := w.Write([]byte("x")); err == nil {
				t.Error("Write after Abort succeeded")
			}
			if _, err := w.Close(context.Background()); err == nil {
				t.Error("Close after Abort succeeded")
			}
			// One abort, and one more each time a check found the upload
			// back (a part cancelled in flight, stored after the abort).
			if want := 1 + api.found.Load(); tc.size > part && api.aborts.Load() != want {
				t.Errorf("%d aborts, want %d", api.aborts.Load(), want)
			}
		})
	}
}

// TestWriterAbortRechecks: a part request cancelled in flight may still be
// stored by the server after the abort, bringing the upload back (it left
// one behind in CI once). Abort then checks with ListParts and aborts
// again. Here part 2 is held in flight until Abort cancels it and the
// first abort is lost, which the client cannot tell from that case.
func TestWriterAbortRechecks(t *testing.T) {
	fresh(t)
	for _, tc := range []struct {
		name       string
		lose       int64
		wantAborts int64
	}{
		{"abort-holds", 0, 1},
		{"abort-undone-once", 1, 2},
		{"abort-undone-twice", 2, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "writer-recheck/" + tc.name + "/"
			stored := make(chan struct{})
			api := &hookAPI{API: client.S3, holdPart: 2, afterPart: func(n int32, err error) error {
				if n == 1 {
					close(stored)
				}
				return err
			}}
			api.loseAborts.Store(tc.lose)
			w, err := NewWriter(context.Background(), api, bucket, prefix+"x", WriterOptions{PartSize: part})
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, w, randBytes(big, 6), 1<<20, 7)
			// Part 1 stored, so that no real request is in flight: an
			// abort it undid would count one abort more.
			<-stored
			if err := w.Abort(context.Background()); err != nil {
				t.Fatal(err)
			}
			noUploads(t, prefix)
			if n := api.aborts.Load(); n != tc.wantAborts {
				t.Errorf("%d aborts, want %d", n, tc.wantAborts)
			}
			if n := api.found.Load(); n != tc.lose {
				t.Errorf("the upload was found %d times after an abort, want %d", n, tc.lose)
			}
			// The create, parts 1 and 2, and each abort with its check.
			if _, _, reqs := w.Progress(); reqs != 3+2*tc.wantAborts {
				t.Errorf("%d requests counted, want %d", reqs, 3+2*tc.wantAborts)
			}
		})
	}
}

func TestWriterFailures(t *testing.T) {
	fresh(t)
	t.Run("earlier-part-error-returned-by-write", func(t *testing.T) {
		api := &hookAPI{API: client.S3}
		api.afterPart = func(n int32, err error) error {
			if n == 1 {
				return fmt.Errorf("injected: %w", s3err.ErrCorrupt)
			}
			return err
		}
		w, _ := NewWriter(context.Background(), api, bucket, "writer-fail/part", WriterOptions{PartSize: part, Concurrency: 1})
		data := randBytes(4*part, 6)
		var err error
		for off := 0; off < len(data) && err == nil; off += 1 << 20 {
			_, err = w.Write(data[off : off+1<<20])
		}
		if s3err.Classify(err) != s3err.Corrupt || !strings.Contains(err.Error(), "s3://"+bucket+"/writer-fail/part: part 1") {
			t.Fatalf("Write error %v", err)
		}
		if _, cerr := w.Close(context.Background()); !errors.Is(cerr, s3err.ErrCorrupt) {
			t.Errorf("Close: %v", cerr)
		}
		if api.aborts.Load() != 1 {
			t.Errorf("%d aborts", api.aborts.Load())
		}
		noUploads(t, "writer-fail/")
	})
	t.Run("missing-bucket", func(t *testing.T) {
		for _, size := range []int{10, big} {
			w, _ := NewWriter(context.Background(), client.S3, bucket+"-nope", "k", WriterOptions{PartSize: part})
			_, err := w.Write(randBytes(size, 1))
			if err == nil {
				_, err = w.Close(context.Background())
			}
			if s3err.Classify(err) != s3err.NotFound || !strings.Contains(err.Error(), "s3://"+bucket+"-nope/k") {
				t.Errorf("size %d: %v", size, err)
			}
		}
	})
	t.Run("cancelled-close-aborts", func(t *testing.T) {
		api := &hookAPI{API: client.S3}
		ctx, cancel := context.WithCancel(context.Background())
		api.beforeComplete = func(cctx context.Context, _ *s3.CompleteMultipartUploadInput) {
			cancel()
			<-cctx.Done() // Close's context reaches the request asynchronously
		}
		w, _ := NewWriter(context.Background(), api, bucket, "writer-cancel/k", WriterOptions{PartSize: part})
		writeAll(t, w, randBytes(big, 8), 1<<20, 9)
		_, err := w.Close(ctx)
		if s3err.Classify(err) != s3err.Cancelled {
			t.Fatalf("Close: %v, want a cancellation", err)
		}
		if _, ok := get(t, "writer-cancel/k"); ok {
			t.Error("object exists")
		}
		noUploads(t, "writer-cancel/")
	})
	t.Run("cancelled-writer-context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var n atomic.Int32
		api := &hookAPI{API: client.S3}
		api.afterPart = func(_ int32, err error) error {
			if n.Add(1) == 1 {
				cancel()
			}
			return err
		}
		w, _ := NewWriter(ctx, api, bucket, "writer-cancel/ctx", WriterOptions{PartSize: part, Concurrency: 1})
		data := randBytes(6*part, 1)
		var err error
		for off := 0; off < len(data) && err == nil; off += 1 << 20 {
			_, err = w.Write(data[off : off+1<<20])
		}
		if err == nil {
			_, err = w.Close(context.Background())
		}
		if s3err.Classify(err) != s3err.Cancelled {
			t.Fatalf("err %v, want a cancellation", err)
		}
		noUploads(t, "writer-cancel/")
	})
	t.Run("bad-options", func(t *testing.T) {
		if _, err := NewWriter(context.Background(), client.S3, bucket, "k", WriterOptions{CreateOnly: true, Append: true}); s3err.Classify(err) != s3err.Invalid {
			t.Errorf("create-only + append: %v", err)
		}
		if _, err := NewWriter(context.Background(), client.S3, bucket, "", WriterOptions{}); s3err.Classify(err) != s3err.Invalid {
			t.Errorf("empty key: %v", err)
		}
	})
}

func TestWriterAppend(t *testing.T) {
	fresh(t)
	for _, tc := range []struct {
		name     string
		existing int // -1: no object
		add      int
		partSize int64
		copies   int64 // UploadPartCopy requests expected
		puts     int64
	}{
		{name: "missing", existing: -1, add: 100, partSize: part, puts: 1},
		{name: "empty-existing", existing: 0, add: 100, partSize: part, puts: 1},
		{name: "10-bytes+small", existing: 10, add: 1000, partSize: part, puts: 1},
		{name: "10-bytes+multipart", existing: 10, add: big, partSize: part},
		{name: "6MiB+small-copy", existing: 6 << 20, add: 10, partSize: part, copies: 1},
		{name: "6MiB+multipart-copy", existing: 6 << 20, add: big, partSize: part, copies: 1},
		{name: "6MiB odd key +%ü&=?#", existing: 6 << 20, add: 10, partSize: part, copies: 1},
		{name: "6MiB+small-fits-one-put", existing: 6 << 20, add: 10, partSize: 8 << 20, puts: 1},
		{name: "10-bytes+nothing", existing: 10, add: 0, partSize: part},
		{name: "missing+nothing", existing: -1, add: 0, partSize: part, puts: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "append/" + tc.name
			var old []byte
			var oldETag string
			if tc.existing >= 0 {
				old = randBytes(tc.existing, 21)
				oldETag = put(t, key, old)
			}
			add := randBytes(tc.add, 22)
			api := &hookAPI{API: client.S3}
			w, err := NewWriter(context.Background(), api, bucket, key, WriterOptions{PartSize: tc.partSize, Append: true, Concurrency: 2})
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, w, add, 1<<20, 23)
			etag, err := w.Close(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]byte{}, old...), add...)
			checkObject(t, key, want)
			if w.Size() != int64(len(want)) {
				t.Errorf("size %d, want %d", w.Size(), len(want))
			}
			if api.copies.Load() != tc.copies || api.puts.Load() != tc.puts {
				t.Errorf("copies %d puts %d, want %d %d", api.copies.Load(), api.puts.Load(), tc.copies, tc.puts)
			}
			if tc.add == 0 && tc.existing >= 0 && etag != oldETag {
				t.Errorf("appending nothing changed the ETag %s → %s", oldETag, etag)
			}
			noUploads(t, key)
		})
	}
}

// The object to append to changes between HEAD and the copy: the pinned
// copy fails instead of mixing versions.
func TestWriterAppendChanged(t *testing.T) {
	fresh(t)
	key := "append-changed/k"
	put(t, key, randBytes(6<<20, 1))
	api := &raceHeadAPI{hookAPI: hookAPI{API: client.S3}, after: func() { put(t, key, randBytes(7<<20, 2)) }}
	w, _ := NewWriter(context.Background(), api, bucket, key, WriterOptions{PartSize: part, Append: true})
	var err error
	data := randBytes(big, 3)
	for off := 0; off < len(data) && err == nil; off += 1 << 20 {
		_, err = w.Write(data[off:min(off+1<<20, len(data))])
	}
	if err == nil {
		_, err = w.Close(context.Background())
	}
	if s3err.Classify(err) != s3err.Changed {
		t.Fatalf("err %v, want Changed", err)
	}
	noUploads(t, "append-changed/")
}

type raceHeadAPI struct {
	hookAPI
	after func()
}

func (r *raceHeadAPI) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	out, err := r.hookAPI.HeadObject(ctx, in, o...)
	r.after()
	return out, err
}

// TestWriterReady: Ready says whether Write can take a part without
// waiting for one in flight, within its timeout, so that a caller that can
// only be interrupted between calls (Python's Ctrl-C) waits in slices.
// Write blocked while every part was in flight for as long as they took.
func TestWriterReady(t *testing.T) {
	fresh(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	api := &hookAPI{API: client.S3, holdPart: 1} // part 1 waits until cancelled
	w, err := NewWriter(ctx, api, bucket, "ready/obj", WriterOptions{PartSize: WriterMinPartSize, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		write int
		want  bool
	}{
		{"nothing in flight", 0, true},
		{"a part's worth buffered", WriterMinPartSize, true},
		{"the one slot taken by part 1", 1, false},
	}
	for _, st := range steps {
		if st.write > 0 {
			if _, err := w.Write(make([]byte, st.write)); err != nil {
				t.Fatalf("%s: Write: %v", st.name, err)
			}
		}
		if got := w.Ready(100 * time.Millisecond); got != st.want {
			t.Fatalf("%s: Ready = %v, want %v", st.name, got, st.want)
		}
	}
	cancel() // the writer stopped: Ready returns (the next flush or Close says why)
	if !w.Ready(10 * time.Second) {
		t.Fatal("Ready = false after the writer's context ended")
	}
	if err := w.Abort(context.Background()); err != nil {
		t.Fatalf("Abort: %v", err)
	}
}

// Appending through a gateway that sends bodies chunked (no
// Content-Length): the object's bytes are read to their end, not taken
// as 0 bytes and refused as "changed size from 10 to 0".
func TestWriterAppendChunked(t *testing.T) {
	fresh(t)
	for _, tc := range []struct {
		name  string
		q     testserver.Quirks
		wantE bool
	}{
		{"chunked", testserver.Quirks{Chunked: true}, false},
		{"chunked-overlong", testserver.Quirks{Chunked: true, ExtraByte: true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s3client.New(context.Background(), server.Proxy(t, tc.q))
			if err != nil {
				t.Fatal(err)
			}
			key := "append-chunked/" + tc.name
			old := randBytes(10, 31)
			put(t, key, old)
			add := randBytes(1000, 32)
			w, err := NewWriter(context.Background(), c.S3, bucket, key, WriterOptions{PartSize: part, Append: true, Concurrency: 2})
			if err != nil {
				t.Fatal(err)
			}
			writeAll(t, w, add, 1<<20, 33)
			_, err = w.Close(context.Background())
			if tc.wantE {
				if s3err.Classify(err) != s3err.Changed || !strings.Contains(err.Error(), key) {
					t.Fatalf("error %v, want ErrChanged naming the key", err)
				}
				checkObject(t, key, old)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkObject(t, key, append(append([]byte{}, old...), add...))
		})
	}
}
