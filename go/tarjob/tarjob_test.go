package tarjob_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/objpath"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
	"github.com/s3turbo/s3turbo/go/tarindex"
	"github.com/s3turbo/s3turbo/go/tarjob"
)

var (
	client *s3client.Client
	server *testserver.Server
	bucket = fmt.Sprintf("tarjob-test-%d", time.Now().UnixNano()%1e9)
)

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "tarjob", bucket, func(srv *testserver.Server, c *s3client.Client) error {
		client, server = c, srv
		return nil
	}))
}

// opts reads archives in S3 as the C API does: through the client's lean
// GetObject, resuming failed reads.
func opts() tarjob.Options {
	return tarjob.Options{Get: client.Get, ReadRetries: client.Retries - 1}
}

// ---- fixtures ----

type member struct {
	hdr  tar.Header
	data []byte
}

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// standardMembers covers the member kinds tarindex reports.
func standardMembers() []member {
	mt := time.Unix(1700000000, 0)
	reg := func(name string, data []byte) member {
		return member{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Size: int64(len(data)), Mode: 0o644, ModTime: mt}, data: data}
	}
	return []member{
		{hdr: tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}},
		reg("dir/a.txt", fill(100, 1)),
		reg("dir/empty", nil),
		reg("big.bin", fill(300<<10, 2)),
		{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "dir/a.txt", Mode: 0o777, ModTime: mt}},
		{hdr: tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "dir/a.txt", Mode: 0o644, ModTime: mt}},
		reg(strings.Repeat("long-name/", 20)+"file.txt", fill(10, 3)),
		reg("ünï/日本 \"quoted\" & <tag>.txt", fill(513, 4)),
		reg("last", fill(1, 5)),
	}
}

// Indexes larger than one 5 MiB multipart-upload part: every JSON Lines row
// repeats the archive name, so a long S3 source key (longKey) and manyCount
// short-named members give rows of ~700 bytes and an index of ~8 MiB.
const (
	manyCount = 12000
	partSize  = 5 << 20
)

// longKey is ~500 bytes, in segments short enough for a posix-backed server.
var longKey = strings.Repeat(strings.Repeat("k", 99)+"/", 5) + "a.tar"

// manyMembers returns n empty files with ustar-sized names.
func manyMembers(n int) []member {
	ms := make([]member, n)
	for i := range ms {
		name := fmt.Sprintf("many/%06d-%s", i, strings.Repeat("x", 80))
		ms[i] = member{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: time.Unix(1600000000, 0)}}
	}
	return ms
}

func buildTar(t testing.TB, members []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := range members {
		m := &members[i]
		if err := tw.WriteHeader(&m.hdr); err != nil {
			t.Fatalf("WriteHeader(%q): %v", m.hdr.Name, err)
		}
		if _, err := tw.Write(m.data); err != nil {
			t.Fatalf("Write(%q): %v", m.hdr.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstdBytes(t testing.TB, raw []byte) []byte {
	t.Helper()
	zw, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer zw.Close()
	return zw.EncodeAll(raw, nil)
}

func put(t testing.TB, key string, data []byte) tarjob.Location {
	t.Helper()
	_, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return tarjob.Location{S3: objpath.Path{Bucket: bucket, Key: key}, IsS3: true}
}

func get(t testing.TB, key string) []byte {
	t.Helper()
	out, err := client.S3.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return b
}

func writeFile(t testing.TB, path string, data []byte) tarjob.Location {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return tarjob.Location{Local: path}
}

func s3loc(key string) tarjob.Location {
	return tarjob.Location{S3: objpath.Path{Bucket: bucket, Key: key}, IsS3: true}
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// ---- Resolve ----

func TestResolveSource(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, p := range []string{"arch.tar", "sub/inner.tar", "bucket/key"} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, p, []byte("x"))
	}
	if err := os.Mkdir("adir", 0o755); err != nil {
		t.Fatal(err)
	}
	abs := filepath.Join(dir, "arch.tar")
	local := func(p string) tarjob.Location { return tarjob.Location{Local: p} }
	remote := func(b, k string) tarjob.Location {
		return tarjob.Location{S3: objpath.Path{Bucket: b, Key: k}, IsS3: true}
	}
	tests := []struct {
		name    string
		in      string
		want    tarjob.Location
		wantErr error
	}{
		{name: "existing-relative-file", in: "arch.tar", want: local("arch.tar")},
		{name: "existing-nested-file", in: "sub/inner.tar", want: local("sub/inner.tar")},
		{name: "existing-dot-file", in: "./arch.tar", want: local("./arch.tar")},
		{name: "existing-absolute-file", in: abs, want: local(abs)},
		{name: "existing-file-looks-like-bucket-key", in: "bucket/key", want: local("bucket/key")},
		{name: "scheme-wins-over-local-file", in: "s3://bucket/key", want: remote("bucket", "key")},
		{name: "scheme-upper", in: "S3://b/k.tar", want: remote("b", "k.tar")},
		{name: "scheme-s3a", in: "s3a://b/d/k.tar.gz", want: remote("b", "d/k.tar.gz")},
		{name: "scheme-s3turbo", in: "s3turbo://b/k", want: remote("b", "k")},
		{name: "missing-bucket-key", in: "bucket/missing.tar", want: remote("bucket", "missing.tar")},
		{name: "missing-under-local-dir", in: "adir/missing.tar", want: remote("adir", "missing.tar")},
		{name: "local-directory", in: "adir", wantErr: s3err.ErrInvalid},
		{name: "bucket-only", in: "s3://bucket", wantErr: s3err.ErrInvalid},
		{name: "bucket-slash", in: "s3://bucket/", wantErr: s3err.ErrInvalid},
		{name: "missing-bucket-only", in: "nobucket", wantErr: s3err.ErrInvalid},
		{name: "empty", in: "", wantErr: s3err.ErrInvalid},
		{name: "missing-absolute", in: filepath.Join(dir, "missing.tar"), want: local(filepath.Join(dir, "missing.tar"))},
		{name: "missing-dot-relative", in: "./missing.tar", want: local("./missing.tar")},
		{name: "missing-dotdot-relative", in: "../missing.tar", want: local("../missing.tar")},
		{name: "missing-hidden", in: ".hidden/missing.tar", want: local(".hidden/missing.tar")},
		{name: "absolute-directory", in: dir, want: local(dir)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tarjob.ResolveSource(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ResolveSource(%q) = %+v, %v; want error wrapping %v", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveSource(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ResolveSource(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestResolveOutput(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("localdir", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, "afile", []byte("x"))
	abs := filepath.Join(dir, "x.jsonl")
	local := func(p string) tarjob.Location { return tarjob.Location{Local: p} }
	remote := func(b, k string) tarjob.Location {
		return tarjob.Location{S3: objpath.Path{Bucket: b, Key: k}, IsS3: true}
	}
	tests := []struct {
		name    string
		in      string
		want    tarjob.Location
		wantErr error
		bug     string
	}{
		{name: "dot-slash", in: "./x.jsonl", want: local("./x.jsonl")},
		{name: "dot-dot-slash", in: "../x.jsonl", want: local("../x.jsonl")},
		{name: "hidden-dir", in: ".hidden/x.jsonl", want: local(".hidden/x.jsonl")},
		{name: "absolute", in: abs, want: local(abs)},
		{name: "absolute-missing-parent", in: "/nonexistent-s3turbo-dir/x.jsonl", want: local("/nonexistent-s3turbo-dir/x.jsonl")},
		{name: "bare-name-parent-dot", in: "out.jsonl", want: local("out.jsonl")},
		{name: "bare-name-zst", in: "out.jsonl.zst", want: local("out.jsonl.zst")},
		{name: "existing-local-dir", in: "localdir/x.jsonl", want: local("localdir/x.jsonl")},
		{name: "no-local-dir-is-s3", in: "bucket/key.jsonl", want: remote("bucket", "key.jsonl")},
		{name: "nested-s3", in: "bucket/deep/key.jsonl.zst", want: remote("bucket", "deep/key.jsonl.zst")},
		{name: "parent-is-a-file", in: "afile/x.jsonl", want: remote("afile", "x.jsonl")},
		{name: "scheme-wins-over-local-dir", in: "s3://localdir/x.jsonl", want: remote("localdir", "x.jsonl")},
		{name: "scheme-upper", in: "S3://b/k.jsonl", want: remote("b", "k.jsonl")},
		{name: "scheme-s3a", in: "s3a://b/k.jsonl", want: remote("b", "k.jsonl")},
		{name: "bucket-only", in: "s3://bucket", wantErr: s3err.ErrInvalid},
		{name: "bucket-slash", in: "bucket/", wantErr: s3err.ErrInvalid},
		{name: "scheme-empty", in: "s3://", wantErr: s3err.ErrInvalid},
		{
			name: "empty", in: "", wantErr: s3err.ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tarjob.ResolveOutput(tc.in)
			if tc.bug != "" && !errors.Is(err, tc.wantErr) {
				t.Skipf("BUG: %s (got %+v, %v)", tc.bug, got, err)
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("ResolveOutput(%q) = %+v, %v; want error wrapping %v", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveOutput(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ResolveOutput(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

// TestResolveSourceMissingLocal checks that a path that can only be local
// ends, when missing, in NotFound rather than an S3 error.
func TestResolveSourceMissingLocal(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name, in string
	}{
		{"dot-relative", "./missing.tar"},
		{"dotdot-relative", "../missing-s3turbo.tar"},
		{"absolute", filepath.Join(dir, "missing.tar")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			loc, err := tarjob.ResolveSource(tc.in)
			if err != nil {
				t.Fatalf("ResolveSource(%q): %v", tc.in, err)
			}
			_, _, err = tarjob.Collect(context.Background(), client.S3, loc, opts())
			if c := s3err.Classify(err); c != s3err.NotFound {
				t.Errorf("Collect(%s): class %d (%v), want NotFound", loc, c, err)
			}
		})
	}
}

// ---- Collect / Run ----

// checkAgainstTar cross-checks rows with what archive/tar reads from the
// uncompressed archive: names, sizes, kinds, and that regular-file data
// really sits at DataOffset.
func checkAgainstTar(t *testing.T, raw []byte, rows []tarindex.Row) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(raw))
	kinds := map[byte]string{tar.TypeReg: "file", tar.TypeDir: "dir", tar.TypeSymlink: "symlink", tar.TypeLink: "hardlink"}
	i := 0
	for ; ; i++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i >= len(rows) {
			t.Fatalf("only %d rows, archive has more (next %q)", len(rows), hdr.Name)
		}
		r := rows[i]
		if want := strings.TrimSuffix(hdr.Name, "/"); r.Name != want {
			t.Errorf("row %d name %q, want %q", i, r.Name, want)
		}
		if r.Size != hdr.Size || r.Type != kinds[hdr.Typeflag] || r.Mode != hdr.Mode ||
			r.Mtime != hdr.ModTime.Unix() || r.Linkname != hdr.Linkname {
			t.Errorf("row %d = %+v, header %+v", i, r, hdr)
		}
		if r.HeaderOffset%512 != 0 || r.DataOffset%512 != 0 || r.DataOffset < r.HeaderOffset+512 {
			t.Errorf("row %d offsets header=%d data=%d", i, r.HeaderOffset, r.DataOffset)
		}
		if hdr.Typeflag == tar.TypeReg {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if end := r.DataOffset + r.Size; end > int64(len(raw)) || !bytes.Equal(raw[r.DataOffset:end], data) {
				t.Errorf("row %d (%q): data not at DataOffset %d", i, r.Name, r.DataOffset)
			}
		}
	}
	if i != len(rows) {
		t.Errorf("%d rows, archive has %d members", len(rows), i)
	}
}

func TestCollectLocalAndS3Identical(t *testing.T) {
	raw := buildTar(t, standardMembers())
	dir := t.TempDir()
	tests := []struct {
		name string
		data []byte
		comp tarindex.Compression
	}{
		{"plain", raw, tarindex.CompressionNone},
		{"gzip", gzipBytes(t, raw), tarindex.CompressionGzip},
		{"zstd", zstdBytes(t, raw), tarindex.CompressionZstd},
	}
	var plainRows []tarindex.Row
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			local := writeFile(t, filepath.Join(dir, "a-"+tc.name+".tar"), tc.data)
			remote := put(t, "collect/a-"+tc.name+".tar", tc.data)
			localRows, localSt, err := tarjob.Collect(context.Background(), client.S3, local, opts())
			if err != nil {
				t.Fatalf("Collect(local): %v", err)
			}
			s3Rows, s3St, err := tarjob.Collect(context.Background(), client.S3, remote, opts())
			if err != nil {
				t.Fatalf("Collect(S3): %v", err)
			}
			if !slices.Equal(localRows, s3Rows) {
				t.Errorf("local rows differ from S3 rows:\nlocal %+v\ns3    %+v", localRows, s3Rows)
			}
			for _, st := range []tarjob.Stats{localSt, s3St} {
				if st.Rows != int64(len(localRows)) || st.Compression != tc.comp {
					t.Errorf("Stats = %+v, want {Rows: %d, Compression: %s}", st, len(localRows), tc.comp)
				}
			}
			checkAgainstTar(t, raw, localRows)
			if plainRows == nil {
				plainRows = localRows
			} else if !slices.Equal(plainRows, localRows) {
				t.Errorf("%s rows differ from the plain archive's", tc.name)
			}
		})
	}
}

func TestRunCallbackError(t *testing.T) {
	raw := buildTar(t, standardMembers())
	local := writeFile(t, filepath.Join(t.TempDir(), "a.tar"), raw)
	remote := put(t, "run/a.tar", raw)
	stop := errors.New("stop here")
	tests := []struct {
		name string
		src  tarjob.Location
	}{
		{"local", local},
		{"s3", remote},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			st, err := tarjob.Run(context.Background(), client.S3, tc.src, opts(), func(tarindex.Row) error {
				calls++
				if calls == 3 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) {
				t.Fatalf("Run error = %v, want wrapping the callback's error", err)
			}
			if calls != 3 || st.Rows != 3 {
				t.Errorf("calls = %d, Stats.Rows = %d; want 3, 3", calls, st.Rows)
			}
		})
	}
}

func TestCollectErrors(t *testing.T) {
	raw := buildTar(t, standardMembers())
	local := writeFile(t, filepath.Join(t.TempDir(), "a.tar"), raw)
	remote := put(t, "errors/a.tar", raw)
	tests := []struct {
		name   string
		src    tarjob.Location
		cancel bool
		want   s3err.Code
	}{
		{"missing-s3-key", s3loc("errors/missing.tar"), false, s3err.NotFound},
		{"missing-s3-bucket", tarjob.Location{S3: objpath.Path{Bucket: bucket + "-missing", Key: "a.tar"}, IsS3: true}, false, s3err.NotFound},
		{"missing-local", tarjob.Location{Local: filepath.Join(t.TempDir(), "missing.tar")}, false, s3err.NotFound},
		{"local-directory", tarjob.Location{Local: t.TempDir()}, false, s3err.IsDir}, // as tarfile.open: IsADirectoryError
		{"cancelled-local", local, true, s3err.Cancelled},
		{"cancelled-s3", remote, true, s3err.Cancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			rows, _, err := tarjob.Collect(ctx, client.S3, tc.src, opts())
			if c := s3err.Classify(err); c != tc.want {
				t.Fatalf("Collect(%s): class %d (%v), want %d", tc.src, c, err, tc.want)
			}
			if len(rows) != 0 {
				t.Errorf("%d rows returned with error", len(rows))
			}
		})
	}
}

// ---- WriteIndex ----

// jsonRow is one JSON Lines record as the index format defines it.
type jsonRow struct {
	Archive      string `json:"archive"`
	Filename     string `json:"filename"`
	Size         int64  `json:"size"`
	Type         string `json:"type"`
	Mode         int64  `json:"mode"`
	Mtime        int64  `json:"mtime"`
	Linkname     string `json:"linkname"`
	HeaderOffset int64  `json:"header_offset"`
	DataOffset   int64  `json:"data_offset"`
}

// decodeIndex parses index bytes (zstd-decompressing when compressed) line
// by line with encoding/json.
func decodeIndex(t *testing.T, data []byte, compressed bool) []jsonRow {
	t.Helper()
	if compressed {
		zr, err := zstd.NewReader(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		if data, err = zr.DecodeAll(data, nil); err != nil {
			t.Fatalf("index is not a valid zstd stream: %v", err)
		}
	} else if len(data) >= 4 && bytes.Equal(data[:4], []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("uncompressed index expected, got zstd data")
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		t.Errorf("index does not end with a newline")
	}
	var rows []jsonRow
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var r jsonRow
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %d %q: %v", len(rows)+1, sc.Text(), err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func compareIndex(t *testing.T, got []jsonRow, archive string, want []tarindex.Row) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("index has %d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		exp := jsonRow{Archive: archive, Filename: w.Name, Size: w.Size, Type: w.Type, Mode: w.Mode,
			Mtime: w.Mtime, Linkname: w.Linkname, HeaderOffset: w.HeaderOffset, DataOffset: w.DataOffset}
		if got[i] != exp {
			t.Errorf("row %d = %+v, want %+v", i, got[i], exp)
		}
	}
}

func TestWriteIndex(t *testing.T) {
	raw := buildTar(t, standardMembers())
	gz := gzipBytes(t, raw)
	srcDir := t.TempDir()
	localPlain := writeFile(t, filepath.Join(srcDir, "a.tar"), raw)
	localGz := writeFile(t, filepath.Join(srcDir, "a.tar.gz"), gz)
	s3Plain := put(t, "wi/src/a.tar", raw)
	s3Many := put(t, "wi/src/"+longKey, buildTar(t, manyMembers(manyCount)))

	tests := []struct {
		name string
		src  tarjob.Location
		dst  string // file name (local) or key (S3)
		s3   bool
	}{
		{"local-to-local-jsonl", localPlain, "out.jsonl", false},
		{"local-to-local-zst", localPlain, "out.jsonl.zst", false},
		{"gzip-to-local-jsonl", localGz, "gz.jsonl", false},
		{"s3-to-local-jsonl", s3Plain, "from-s3.jsonl", false},
		{"s3-to-local-zst", s3Plain, "from-s3.jsonl.zst", false},
		{"local-to-s3-jsonl", localPlain, "wi/out/a.jsonl", true},
		{"local-to-s3-zst", localPlain, "wi/out/a.jsonl.zst", true},
		{"s3-to-s3-jsonl", s3Plain, "wi/out/s3.jsonl", true},
		{"gzip-to-s3-zst", localGz, "wi/out/gz.jsonl.zst", true},
		{"s3-to-s3-multipart", s3Many, "wi/out/many.jsonl", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			want, wantSt, err := tarjob.Collect(ctx, client.S3, tc.src, opts())
			if err != nil {
				t.Fatalf("Collect: %v", err)
			}
			outDir := t.TempDir()
			dst := s3loc(tc.dst)
			if !tc.s3 {
				dst = tarjob.Location{Local: filepath.Join(outDir, tc.dst)}
			}
			st, err := tarjob.WriteIndex(ctx, client.S3, tc.src, dst, opts())
			if err != nil {
				t.Fatalf("WriteIndex(%s → %s): %v", tc.src, dst, err)
			}
			if st != wantSt {
				t.Errorf("Stats = %+v, want %+v", st, wantSt)
			}
			var data []byte
			if tc.s3 {
				data = get(t, tc.dst)
				if tc.src == s3Many && len(data) <= partSize {
					t.Fatalf("index is %d bytes: too small to need a multipart upload", len(data))
				}
			} else {
				if data, err = os.ReadFile(dst.Local); err != nil {
					t.Fatal(err)
				}
				if names := dirNames(t, outDir); !slices.Equal(names, []string{tc.dst}) {
					t.Errorf("output directory holds %q, want only %q", names, tc.dst)
				}
			}
			compareIndex(t, decodeIndex(t, data, strings.HasSuffix(tc.dst, ".zst")), tc.src.String(), want)
		})
	}
}

// TestWriteIndexReplacesExisting checks an existing output is replaced.
func TestWriteIndexReplacesExisting(t *testing.T) {
	raw := buildTar(t, standardMembers())
	src := writeFile(t, filepath.Join(t.TempDir(), "a.tar"), raw)
	want, _, err := tarjob.Collect(context.Background(), client.S3, src, opts())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
	}{
		{"jsonl", "out.jsonl"},
		{"zst", "out.jsonl.zst"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outDir := t.TempDir()
			dst := writeFile(t, filepath.Join(outDir, tc.file), bytes.Repeat([]byte("old junk\n"), 100000))
			if _, err := tarjob.WriteIndex(context.Background(), client.S3, src, dst, opts()); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(dst.Local)
			if err != nil {
				t.Fatal(err)
			}
			compareIndex(t, decodeIndex(t, data, strings.HasSuffix(tc.file, ".zst")), src.String(), want)
			if names := dirNames(t, outDir); !slices.Equal(names, []string{tc.file}) {
				t.Errorf("output directory holds %q", names)
			}
		})
	}
}

// TestWriteIndexFileMode checks that a local index is created with the mode
// os.Create would give it (0666 minus umask), not the temporary file's 0600.
// TestWriteIndexFileMode: a local index gets os.Create's mode under the
// umask (it was 0644 whatever the umask: readable by others under 077).
func TestWriteIndexFileMode(t *testing.T) {
	raw := buildTar(t, standardMembers())
	src := writeFile(t, filepath.Join(t.TempDir(), "a.tar"), raw)
	for _, mask := range []int{0o022, 0o077, 0o002} {
		old := syscall.Umask(mask)
		testWriteIndexFileMode(t, src, fmt.Sprintf("umask-%03o", mask))
		syscall.Umask(old)
	}
}

func testWriteIndexFileMode(t *testing.T, src tarjob.Location, name string) {
	outDir := t.TempDir()
	ref, err := os.Create(filepath.Join(outDir, "reference"))
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()
	refInfo, err := os.Stat(ref.Name())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
	}{
		{"jsonl", "out.jsonl"},
		{"zst", "out.jsonl.zst"},
	}
	for _, tc := range tests {
		t.Run(name+"/"+tc.name, func(t *testing.T) {
			dst := tarjob.Location{Local: filepath.Join(outDir, tc.file)}
			if _, err := tarjob.WriteIndex(context.Background(), client.S3, src, dst, opts()); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(dst.Local)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fi.Mode().Perm(), refInfo.Mode().Perm(); got != want {
				t.Errorf("index file mode %v, want %v (what os.Create gives under the current umask)", got, want)
			}
		})
	}
}

// TestCollectFIFOWithoutWriterCancels: indexing a named pipe nobody
// writes to stops when cancelled. The open waited for a writer inside
// open(2), beyond the context's reach, so Ctrl-C went unheard.
func TestCollectFIFOWithoutWriterCancels(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "stream.tar")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := tarjob.Collect(ctx, client.S3, tarjob.Location{Local: fifo}, opts())
		done <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled: %v, want context.Canceled", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still waiting for a writer after cancel")
	}
	// With a writer, a pipe is indexed as a file is.
	raw := buildTar(t, standardMembers())
	go func() {
		if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
			w.Write(raw)
			w.Close()
		}
	}()
	rows, _, err := tarjob.Collect(context.Background(), client.S3, tarjob.Location{Local: fifo}, opts())
	if err != nil || len(rows) != len(standardMembers()) {
		t.Fatalf("indexing the pipe: %d rows, %v", len(rows), err)
	}
}

// TestWriteIndexIntoFIFO: an index written to a named pipe goes to its
// reader, and the pipe stays a pipe (a temporary file was renamed over it,
// and the reader got nothing); with no reader, a cancel stops the wait.
func TestWriteIndexIntoFIFO(t *testing.T) {
	src := writeFile(t, filepath.Join(t.TempDir(), "a.tar"), buildTar(t, standardMembers()))
	fifo := filepath.Join(t.TempDir(), "index.jsonl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- nil
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- b
	}()
	if _, err := tarjob.WriteIndex(context.Background(), client.S3, src, tarjob.Location{Local: fifo}, opts()); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if lines := bytes.Count(b, []byte("\n")); lines != len(standardMembers()) {
			t.Errorf("the reader got %d lines, want %d", lines, len(standardMembers()))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the pipe's reader got nothing")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the pipe was replaced: %v %v", fi.Mode(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := tarjob.WriteIndex(ctx, client.S3, src, tarjob.Location{Local: fifo}, opts()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("no reader: %v, want the context's end", err)
	}
}

type corruptArchive struct {
	name string
	data []byte
	// large: the index outgrows one upload part before the corruption is
	// found; only run with S3 source and output (see longKey).
	large bool
}

// corruptArchives returns archives that tarindex must reject as corrupt.
func corruptArchives(t *testing.T, withLarge bool) []corruptArchive {
	raw := buildTar(t, standardMembers())
	gz := gzipBytes(t, raw)
	zs := zstdBytes(t, raw)
	// Cut inside big.bin's data (members 0..3: the 4th header is at 2048 at the latest).
	cut := bytes.Index(raw, fill(300<<10, 2)) + 1000
	if cut < 1000 {
		t.Fatal("big.bin data not found in archive")
	}
	garbage := bytes.Repeat([]byte("not a tar archive "), 200)
	cas := []corruptArchive{
		{name: "truncated-in-member-data", data: raw[:cut]},
		{name: "truncated-in-header", data: raw[:cut-1000-512+100]},
		{name: "garbage", data: garbage},
		{name: "empty", data: nil},
		{name: "truncated-gzip", data: gz[:len(gz)/2]},
		{name: "gzip-bad-checksum", data: append(append([]byte{}, gz[:len(gz)-8]...), 0, 0, 0, 0, 0, 0, 0, 0)},
		{name: "truncated-zstd", data: zs[:len(zs)/2]},
	}
	if withLarge {
		// Cut inside the last member header: corruption is found after
		// more than one part of index output has been uploaded.
		many := buildTar(t, manyMembers(manyCount))
		cas = append(cas, corruptArchive{name: "large-truncated-at-end", data: many[:len(many)-3*512-100], large: true})
	}
	return cas
}

func TestWriteIndexCorruptLeavesNothing(t *testing.T) {
	for _, ca := range corruptArchives(t, true) {
		t.Run(ca.name, func(t *testing.T) {
			srcDir := t.TempDir()
			local := writeFile(t, filepath.Join(srcDir, "bad.tar"), ca.data)
			remote := put(t, "corrupt/"+ca.name+"/"+longKey, ca.data)
			tests := []struct {
				name string
				src  tarjob.Location
				file string
				s3   bool
			}{
				{"local-to-local-jsonl", local, "out.jsonl", false},
				{"local-to-local-zst", local, "out.jsonl.zst", false},
				{"s3-to-local-jsonl", remote, "out.jsonl", false},
				{"local-to-s3-jsonl", local, "corrupt-out/" + ca.name + "/l.jsonl", true},
				{"s3-to-s3-jsonl", remote, "corrupt-out/" + ca.name + "/s.jsonl", true},
				{"s3-to-s3-zst", remote, "corrupt-out/" + ca.name + "/s.jsonl.zst", true},
			}
			for _, tc := range tests {
				if ca.large && tc.name != "s3-to-s3-jsonl" {
					continue // only this variant reaches a multipart upload
				}
				t.Run(tc.name, func(t *testing.T) {
					outDir := t.TempDir()
					dst := s3loc(tc.file)
					if !tc.s3 {
						dst = tarjob.Location{Local: filepath.Join(outDir, tc.file)}
					}
					st, err := tarjob.WriteIndex(context.Background(), client.S3, tc.src, dst, opts())
					if c := s3err.Classify(err); c != s3err.Corrupt {
						t.Fatalf("WriteIndex: class %d (%v), want Corrupt", c, err)
					}
					if ca.large && st.Rows*int64(len(tc.src.String())) <= partSize {
						t.Fatalf("only %d rows indexed before the error: not enough to need a multipart upload", st.Rows)
					}
					if !errors.Is(err, s3err.ErrCorrupt) || !errors.Is(err, tarindex.ErrCorrupt) {
						t.Errorf("error %v should wrap both s3err.ErrCorrupt and tarindex.ErrCorrupt", err)
					}
					if !tc.s3 {
						if names := dirNames(t, outDir); len(names) != 0 {
							t.Errorf("output directory not empty after failure: %q", names)
						}
						return
					}
					_, err = client.S3.HeadObject(context.Background(), &s3.HeadObjectInput{
						Bucket: aws.String(bucket), Key: aws.String(tc.file)})
					if c := s3err.Classify(err); c != s3err.NotFound {
						t.Errorf("HeadObject of failed output: class %d (%v), want NotFound", c, err)
					}
				})
			}
		})
	}
	t.Run("no-pending-multipart-uploads", func(t *testing.T) {
		out, err := client.S3.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{
			Bucket: aws.String(bucket), Prefix: aws.String("corrupt-out/")})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			t.Errorf("upload of %q (id %s) left pending", aws.ToString(u.Key), aws.ToString(u.UploadId))
		}
	})
}

// TestWriteIndexCorruptKeepsExisting checks that a failed write leaves a
// previous index untouched.
func TestWriteIndexCorruptKeepsExisting(t *testing.T) {
	ca := corruptArchives(t, false)[0]
	src := writeFile(t, filepath.Join(t.TempDir(), "bad.tar"), ca.data)
	tests := []struct {
		name string
		s3   bool
	}{
		{"local", false},
		{"s3", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := []byte("previous index\n")
			outDir := t.TempDir()
			var dst tarjob.Location
			if tc.s3 {
				dst = put(t, "keep/old.jsonl", old)
			} else {
				dst = writeFile(t, filepath.Join(outDir, "old.jsonl"), old)
			}
			_, err := tarjob.WriteIndex(context.Background(), client.S3, src, dst, opts())
			if c := s3err.Classify(err); c != s3err.Corrupt {
				t.Fatalf("WriteIndex: class %d (%v), want Corrupt", c, err)
			}
			var got []byte
			if tc.s3 {
				got = get(t, "keep/old.jsonl")
			} else {
				if got, err = os.ReadFile(dst.Local); err != nil {
					t.Fatal(err)
				}
				if names := dirNames(t, outDir); !slices.Equal(names, []string{"old.jsonl"}) {
					t.Errorf("output directory holds %q", names)
				}
			}
			if !bytes.Equal(got, old) {
				t.Errorf("previous index changed to %q", got)
			}
		})
	}
}

func TestWriteIndexErrors(t *testing.T) {
	raw := buildTar(t, standardMembers())
	local := writeFile(t, filepath.Join(t.TempDir(), "a.tar"), raw)
	tests := []struct {
		name string
		src  tarjob.Location
		dst  func(outDir string) tarjob.Location
		want s3err.Code
	}{
		{
			name: "missing-s3-source-to-local",
			src:  s3loc("wie/missing.tar"),
			dst:  func(d string) tarjob.Location { return tarjob.Location{Local: filepath.Join(d, "out.jsonl")} },
			want: s3err.NotFound,
		},
		{
			name: "missing-s3-bucket-source-to-local",
			src:  tarjob.Location{S3: objpath.Path{Bucket: bucket + "-missing", Key: "a.tar"}, IsS3: true},
			dst:  func(d string) tarjob.Location { return tarjob.Location{Local: filepath.Join(d, "out.jsonl.zst")} },
			want: s3err.NotFound,
		},
		{
			name: "missing-s3-source-to-s3",
			src:  s3loc("wie/missing.tar"),
			dst:  func(string) tarjob.Location { return s3loc("wie/out/missing.jsonl") },
			want: s3err.NotFound,
		},
		{
			name: "missing-local-source-to-local",
			src:  tarjob.Location{Local: filepath.Join(t.TempDir(), "missing.tar")},
			dst:  func(d string) tarjob.Location { return tarjob.Location{Local: filepath.Join(d, "out.jsonl")} },
			want: s3err.NotFound,
		},
		{
			name: "local-output-dir-missing",
			src:  local,
			dst: func(d string) tarjob.Location {
				return tarjob.Location{Local: filepath.Join(d, "no-such-dir", "out.jsonl")}
			},
			want: s3err.NotFound,
		},
		{
			name: "output-bucket-missing",
			src:  local,
			dst: func(string) tarjob.Location {
				return tarjob.Location{S3: objpath.Path{Bucket: bucket + "-missing", Key: "out.jsonl"}, IsS3: true}
			},
			want: s3err.NotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			outDir := t.TempDir()
			dst := tc.dst(outDir)
			_, err := tarjob.WriteIndex(context.Background(), client.S3, tc.src, dst, opts())
			if c := s3err.Classify(err); c != tc.want {
				t.Fatalf("WriteIndex(%s → %s): class %d (%v), want %d", tc.src, dst, c, err, tc.want)
			}
			if names := dirNames(t, outDir); len(names) != 0 {
				t.Errorf("output directory not empty after failure: %q", names)
			}
			if dst.IsS3 && dst.S3.Bucket == bucket {
				_, err := client.S3.HeadObject(context.Background(), &s3.HeadObjectInput{
					Bucket: aws.String(bucket), Key: aws.String(dst.S3.Key)})
				if s3err.Classify(err) != s3err.NotFound {
					t.Errorf("output object exists after failure (%v)", err)
				}
			}
		})
	}
}

func TestLocationString(t *testing.T) {
	tests := []struct {
		name string
		loc  tarjob.Location
		want string
	}{
		{"local", tarjob.Location{Local: "/tmp/a.tar"}, "/tmp/a.tar"},
		{"s3", s3loc("k/a.tar"), "s3://" + bucket + "/k/a.tar"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.loc.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLocalPlainTarSkipsByOffset: a local plain tar's member data is
// skipped by seeking the file, not read: indexing an archive with a 1 GiB
// member (a hole in a sparse file) reads a few MiB, by the process's own
// count of bytes read (/proc/self/io rchar). Wrapped in a bufio.Reader the
// file could not seek, and every byte was read (20 s for 9 GiB).
func TestLocalPlainTarSkipsByOffset(t *testing.T) {
	const huge = 1 << 30
	if _, err := readChars(); err != nil {
		t.Skipf("no /proc/self/io here: %v", err)
	}
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	if err := tw.WriteHeader(&tar.Header{Name: "huge.bin", Typeflag: tar.TypeReg, Size: huge, Mode: 0o644,
		ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	tail := buildTar(t, []member{{hdr: tar.Header{Name: "after.txt", Typeflag: tar.TypeReg, Size: 5, Mode: 0o644,
		ModTime: time.Unix(1700000000, 0)}, data: []byte("hello")}})
	path := filepath.Join(t.TempDir(), "sparse.tar")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	dataOff := int64(head.Len())
	if _, err := f.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(tail, dataOff+huge); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := readChars()
	rows, _, err := tarjob.Collect(context.Background(), client.S3, tarjob.Location{Local: path}, opts())
	after, _ := readChars()
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if len(rows) != 2 || rows[0].Name != "huge.bin" || rows[0].Size != huge || rows[1].Name != "after.txt" ||
		rows[1].HeaderOffset != dataOff+huge {
		t.Fatalf("rows %+v", rows)
	}
	if read := after - before; read > 64<<20 {
		t.Fatalf("read %d MiB of a %d MiB archive: its member was read, not skipped", read>>20, (dataOff+huge)>>20)
	}
}

// readChars is the bytes this process has read (rchar in /proc/self/io).
func readChars() (int64, error) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			var n int64
			_, err := fmt.Sscan(v, &n)
			return n, err
		}
	}
	return 0, fmt.Errorf("no rchar in /proc/self/io")
}

// TestWriteIndexOutputErrorNamesOutput: an index whose S3 output cannot be
// written (no such bucket) fails naming the output. It named the source
// archive and the member being indexed when the upload failed, as if they
// were missing.
func TestWriteIndexOutputErrorNamesOutput(t *testing.T) {
	// An index large enough for a multipart upload (rows name the archive:
	// a long key makes them ~600 bytes): the upload fails while the
	// indexer is still writing to it.
	src := put(t, "wo/src/"+longKey, buildTar(t, manyMembers(manyCount)))
	dst := tarjob.Location{S3: objpath.Path{Bucket: bucket + "-no-such", Key: "out/index.jsonl"}, IsS3: true}
	_, err := tarjob.WriteIndex(context.Background(), client.S3, src, dst, opts())
	if err == nil {
		t.Fatal("no error writing to a missing bucket")
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "writing index to "+dst.String()) || strings.Contains(msg, "member") {
		t.Fatalf("error does not name the output first: %v", err)
	}
	if s3err.Classify(err) != s3err.NotFound {
		t.Fatalf("class %v, want NotFound: %v", s3err.Classify(err), err)
	}
}
