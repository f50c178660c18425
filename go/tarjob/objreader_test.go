package tarjob_test

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
	"github.com/s3turbo/s3turbo/go/tarindex"
	"github.com/s3turbo/s3turbo/go/tarjob"
)

// proxied returns options that read archives as the C API does, through a
// proxy with quirks q in front of the test server, with the given read
// timeout in seconds.
func proxied(t *testing.T, q testserver.Quirks, readTimeout float64) tarjob.Options {
	t.Helper()
	o := server.Proxy(t, q)
	o.ReadTimeout = readTimeout
	c, err := s3client.New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return tarjob.Options{Get: c.Get, ReadRetries: c.Retries - 1}
}

// offsetWriter counts the bytes written through it.
type offsetWriter struct {
	buf bytes.Buffer
}

func (w *offsetWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

// buildIndexed writes a plain tar of members and returns it with the rows
// its index must give, their offsets taken from where the writer stood
// before and after each header (no other reader's opinion involved).
func buildIndexed(t testing.TB, members []member) ([]byte, []tarindex.Row) {
	t.Helper()
	w := &offsetWriter{}
	tw := tar.NewWriter(w)
	kinds := map[byte]string{tar.TypeReg: "file", tar.TypeDir: "dir", tar.TypeSymlink: "symlink", tar.TypeLink: "hardlink"}
	var rows []tarindex.Row
	for i := range members {
		m := &members[i]
		if err := tw.Flush(); err != nil { // the previous member's padding
			t.Fatal(err)
		}
		hdrOff := int64(w.buf.Len())
		if err := tw.WriteHeader(&m.hdr); err != nil {
			t.Fatalf("WriteHeader(%q): %v", m.hdr.Name, err)
		}
		rows = append(rows, tarindex.Row{
			Name: strings.TrimSuffix(m.hdr.Name, "/"), Size: m.hdr.Size, Type: kinds[m.hdr.Typeflag],
			Mode: m.hdr.Mode, Mtime: m.hdr.ModTime.Unix(), Linkname: m.hdr.Linkname,
			HeaderOffset: hdrOff, DataOffset: int64(w.buf.Len()),
		})
		if _, err := tw.Write(m.data); err != nil {
			t.Fatalf("Write(%q): %v", m.hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return w.buf.Bytes(), rows
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func regular(name string, data []byte) member {
	return member{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644, ModTime: time.Unix(1700000000, 0)}, data: data}
}

// faultMembers are standardMembers with a megabyte of incompressible data
// in the middle, so that a fault half-way through the object falls inside
// member data whatever the compression.
func faultMembers() []member {
	ms := standardMembers()
	return append(ms[:3:3], append([]member{regular("random.bin", randBytes(1<<20, 1))}, ms[3:]...)...)
}

// TestS3ReadFaultsResumed: a body of the archive that fails half-way (the
// connection reset, the body cut short, or stalled past the read timeout)
// is resumed where it stopped with one ranged GET, and the index equals
// the one read without faults. The index failed with "read error at
// uncompressed byte offset ..." after any one of them.
func TestS3ReadFaultsResumed(t *testing.T) {
	raw, want := buildIndexed(t, faultMembers())
	checkAgainstTar(t, raw, want)
	// A member of 6 MiB is skipped by reading through it (below the skip
	// threshold): the fault falls into that skip.
	six, sixWant := buildIndexed(t, []member{
		regular("a.txt", []byte("first")), regular("six.bin", fill(6<<20, 3)), regular("z.txt", []byte("last")),
	})
	for _, comp := range []struct {
		name string
		data []byte
		want []tarindex.Row
	}{
		{"plain", raw, want},
		{"gzip", gzipBytes(t, raw), want},
		{"zstd", zstdBytes(t, raw), want},
		{"plain-skip", six, sixWant},
	} {
		src := put(t, "faults/a-"+comp.name, comp.data)
		for _, kind := range []testserver.FaultKind{testserver.FaultReset, testserver.FaultTruncate, testserver.FaultStall} {
			t.Run(comp.name+"/"+string(kind), func(t *testing.T) {
				f := &testserver.Fault{Kind: kind, After: int64(len(comp.data)) / 2}
				f.Left.Store(1)
				var gets atomic.Int64
				opt := proxied(t, testserver.Quirks{Fault: f, Gets: &gets}, 0.5)
				rows, st, err := tarjob.Collect(context.Background(), client.S3, src, opt)
				if err != nil {
					t.Fatalf("Collect through one %s: %v", kind, err)
				}
				if f.Left.Load() != 0 {
					t.Fatalf("the fault was not injected")
				}
				if !slices.Equal(rows, comp.want) {
					t.Errorf("rows differ from the archive's:\ngot  %+v\nwant %+v", rows, comp.want)
				}
				if gets.Load() != 2 || st.Requests != 2 {
					t.Errorf("%d GETs through the proxy, Stats.Requests %d; want 2 (the first and one resume)", gets.Load(), st.Requests)
				}
			})
		}
	}

	// Faults that persist (every body fails before its first byte) end in
	// an error naming the object and the offset, after the first GET and
	// ReadRetries resumes.
	src := put(t, "faults/always.tar", raw)
	for _, retries := range []int{0, 2} {
		t.Run(fmt.Sprintf("persistent/retries=%d", retries), func(t *testing.T) {
			f := &testserver.Fault{Kind: testserver.FaultReset}
			f.Left.Store(100)
			var gets atomic.Int64
			opt := proxied(t, testserver.Quirks{Fault: f, Gets: &gets}, 0.5)
			opt.ReadRetries = retries
			_, _, err := tarjob.Collect(context.Background(), client.S3, src, opt)
			if err == nil || !s3err.Transient(err) {
				t.Fatalf("Collect = %v, want a connection or I/O error", err)
			}
			t.Log(err)
			if msg := err.Error(); !strings.Contains(msg, src.String()) || !strings.Contains(msg, "byte offset") {
				t.Errorf("error %q does not name %s and the offset", msg, src)
			}
			if gets.Load() != int64(retries+1) {
				t.Errorf("%d GETs, want %d", gets.Load(), retries+1)
			}
		})
	}
}

// TestS3StalledReadCancels: cancelling stops an index waiting on a stalled
// body (the read timeout far away) within a second.
func TestS3StalledReadCancels(t *testing.T) {
	raw, _ := buildIndexed(t, faultMembers())
	src := put(t, "faults/stall.tar", raw)
	f := &testserver.Fault{Kind: testserver.FaultStall, After: int64(len(raw)) / 2}
	f.Left.Store(1)
	opt := proxied(t, testserver.Quirks{Fault: f}, 60)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, _, err := tarjob.Collect(ctx, client.S3, src, opt)
	if took := time.Since(start); took > 300*time.Millisecond+time.Second {
		t.Errorf("cancelled after 300 ms, returned after %v", took)
	}
	if s3err.Classify(err) != s3err.Cancelled {
		t.Errorf("Collect = %v, want cancelled", err)
	}
}

// TestS3ObjectReplacedDuringIndex: an archive replaced between the first
// response and a later GET (a resume after a fault, or a skip over a large
// member) fails as changed rather than indexing two versions' bytes.
func TestS3ObjectReplacedDuringIndex(t *testing.T) {
	tarjob.SetSkipThreshold(t, 1<<20)
	small, _ := buildIndexed(t, faultMembers())
	big, _ := buildIndexed(t, []member{
		regular("a.txt", []byte("a")), regular("big.bin", make([]byte, 16<<20)), regular("z.txt", []byte("z")),
	})
	// Another version of the same size: only its ETag tells.
	other := func(b []byte) []byte {
		o := bytes.Clone(b)
		o[len(o)/2+1000] ^= 0xff
		return o
	}
	for _, tc := range []struct {
		name  string
		data  []byte
		fault bool
	}{
		{"resume-plain", small, true},
		{"resume-gzip", gzipBytes(t, small), true},
		{"skip", big, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := "replaced/" + tc.name
			src := put(t, key, tc.data)
			var f *testserver.Fault
			if tc.fault {
				f = &testserver.Fault{Kind: testserver.FaultReset, After: int64(len(tc.data)) / 2}
				f.Left.Store(1)
			}
			var putErr error
			replaced := other(tc.data)
			opt := proxied(t, testserver.Quirks{Fault: f, OnGet: func(n int64) {
				if n == 2 {
					_, putErr = client.S3.PutObject(context.Background(), &s3.PutObjectInput{
						Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(replaced)})
				}
			}}, 0.5)
			_, _, err := tarjob.Collect(context.Background(), client.S3, src, opt)
			if putErr != nil {
				t.Fatal(putErr)
			}
			if s3err.Classify(err) != s3err.Changed {
				t.Fatalf("Collect = %v, want the object changed", err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), src.String()) {
				t.Errorf("error %q does not name %s", err, src)
			}
		})
	}
}

// TestS3PlainTarSkipsLargeMembers: the data of a plain tar's large members
// is not downloaded: the index skips it with a ranged GET past it (one
// more request per skipped member), while small members are read through
// in the one GET. The whole archive was downloaded, a 64 MiB member's
// 64 MiB included.
func TestS3PlainTarSkipsLargeMembers(t *testing.T) {
	var many []member
	for i := range 3000 {
		many = append(many, regular(fmt.Sprintf("many/%05d", i), fill(1000, byte(i))))
	}
	large := []member{
		regular("a.txt", []byte("first")),
		regular("big.bin", make([]byte, 64<<20)),
		regular("b.txt", []byte("between")),
		regular("mid.bin", fill(20<<20, 9)),
		regular("z.txt", []byte("last")),
	}
	sixMiB := []member{regular("a.txt", []byte("first")), regular("six.bin", fill(6<<20, 3)), regular("z.txt", []byte("last"))}
	all := func(n int64) int64 { return n }
	for _, tc := range []struct {
		name      string
		members   []member
		gzip      bool
		threshold int64 // 0: the default
		wantGets  int64
		// The most body bytes the index may read, and the proxy send
		// (what a dropped body had in flight on loopback counts there).
		maxRead, maxSent func(size int64) int64
	}{
		{"many-small-members", many, false, 0, 1, all, all},
		{"64MiB-and-20MiB-members", large, false, 0, 3, func(int64) int64 { return 2 << 20 }, func(n int64) int64 { return n / 4 }},
		{"6MiB-member-read-through", sixMiB, false, 0, 1, all, all},
		{"6MiB-member-threshold-1MiB", sixMiB, false, 1 << 20, 2, func(n int64) int64 { return n / 2 }, all},
		{"gzip-cannot-skip", large, true, 0, 1, all, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.threshold > 0 {
				tarjob.SetSkipThreshold(t, tc.threshold)
			}
			raw, want := buildIndexed(t, tc.members)
			data := raw
			if tc.gzip {
				data = gzipBytes(t, raw)
			}
			src := put(t, "skip/"+tc.name, data)
			var gets, sent atomic.Int64
			opt := proxied(t, testserver.Quirks{Gets: &gets, GetBytes: &sent}, 5)
			rows, st, err := tarjob.Collect(context.Background(), client.S3, src, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rows, want) {
				t.Errorf("rows differ from the archive's:\ngot  %+v\nwant %+v", rows, want)
			}
			size := int64(len(data))
			t.Logf("archive %d bytes: %d GETs, %d body bytes sent by the proxy, %d read (Stats %+v)",
				size, gets.Load(), sent.Load(), st.BytesRead, st)
			if gets.Load() != tc.wantGets || st.Requests != tc.wantGets {
				t.Errorf("%d GETs through the proxy, Stats.Requests %d; want %d", gets.Load(), st.Requests, tc.wantGets)
			}
			if max := tc.maxRead(size); st.BytesRead > max {
				t.Errorf("%d body bytes read of a %d-byte archive; want at most %d", st.BytesRead, size, max)
			}
			if max := tc.maxSent(size); sent.Load() > max {
				t.Errorf("%d body bytes sent of a %d-byte archive; want at most %d", sent.Load(), size, max)
			}
		})
	}
}

// noETag is a server that sends no ETag (versitygw for files put into its
// directory by other means than S3).
type noETag struct{ tarjob.GetAPI }

func (a noETag) GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	out, err := a.GetAPI.GetObject(ctx, in, opts...)
	if out != nil {
		out.ETag = nil
	}
	return out, err
}

// TestS3WithoutETag: without an ETag nothing would tell another version of
// the archive apart, so its body is neither resumed nor skipped with a new
// GET: a failure says why it was not resumed, and a large member is read
// through, which still gives the right index.
func TestS3WithoutETag(t *testing.T) {
	raw, want := buildIndexed(t, []member{
		regular("a.txt", []byte("first")), regular("big.bin", fill(12<<20, 5)), regular("z.txt", []byte("last")),
	})
	src := put(t, "noetag/a.tar", raw)

	var gets atomic.Int64
	opt := proxied(t, testserver.Quirks{Gets: &gets}, 5)
	opt.Get = noETag{opt.Get}
	rows, _, err := tarjob.Collect(context.Background(), client.S3, src, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, want) || gets.Load() != 1 {
		t.Errorf("%d GETs, rows %+v; want 1 GET, rows %+v", gets.Load(), rows, want)
	}

	f := &testserver.Fault{Kind: testserver.FaultTruncate, After: int64(len(raw)) / 2}
	f.Left.Store(1)
	opt = proxied(t, testserver.Quirks{Fault: f}, 5)
	opt.Get = noETag{opt.Get}
	_, _, err = tarjob.Collect(context.Background(), client.S3, src, opt)
	if err == nil || !strings.Contains(err.Error(), "no ETag") || !s3err.Transient(err) {
		t.Errorf("Collect through a fault = %v, want the read error, saying no ETag prevented the resume", err)
	}
}
