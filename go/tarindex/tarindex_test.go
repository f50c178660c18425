package tarindex

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// standardMembers returns a mix of member kinds in the given format.
func standardMembers(format tar.Format) []member {
	mt := time.Unix(1700000000, 0)
	long := strings.Repeat("long-directory-name/", 6) + "file-with-a-long-name.txt" // > 100 chars
	longLink := strings.Repeat("target/", 20) + "t"
	ms := []member{
		{hdr: tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt, Format: format}},
		fileMember("dir/a.txt", 100, format),
		fileMember("dir/empty", 0, format),
		fileMember("dir/exact512", 512, format),
		fileMember("dir/511", 511, format),
		fileMember("dir/513", 513, format),
		fileMember("dir/1024", 1024, format),
		fileMember(long, 3000, format),
		{hdr: tar.Header{Name: strings.Repeat("d", 120) + "/", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: mt, Format: format}},
		{hdr: tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "dir/a.txt", Mode: 0o777, ModTime: mt, Format: format}},
		{hdr: tar.Header{Name: "longlink", Typeflag: tar.TypeSymlink, Linkname: longLink, Mode: 0o777, ModTime: mt, Format: format}},
		{hdr: tar.Header{Name: "hard", Typeflag: tar.TypeLink, Linkname: "dir/a.txt", Mode: 0o644, ModTime: mt, Format: format}},
		{hdr: tar.Header{Name: "fifo", Typeflag: tar.TypeFifo, Mode: 0o600, ModTime: mt, Format: format}},
		{hdr: tar.Header{Name: "chr", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o600, ModTime: mt, Format: format}},
		{hdr: tar.Header{Name: "blk", Typeflag: tar.TypeBlock, Devmajor: 8, Devminor: 0, Mode: 0o600, ModTime: mt, Format: format}},
		fileMember("big.bin", 70000, format),
		fileMember("last", 5, format),
	}
	if format != tar.FormatUSTAR {
		ms = append(ms,
			fileMember("ünïcødé/файл/文件.txt", 33, format),
			fileMember("emoji-😀.bin", 600, format))
	}
	return ms
}

func TestIndexFormatsAndCompressions(t *testing.T) {
	for _, format := range []tar.Format{tar.FormatPAX, tar.FormatGNU, tar.FormatUnknown} {
		members := standardMembers(format)
		raw := buildTar(t, members)
		encodings := []struct {
			name string
			data []byte
			want Compression
		}{
			{"plain", raw, CompressionNone},
			{"gzip", gzipBytes(t, raw), CompressionGzip},
			{"gzip-multimember", gzipMulti(t, raw, 5), CompressionGzip},
			{"zstd", zstdBytes(t, raw), CompressionZstd},
		}
		for _, enc := range encodings {
			for _, seekable := range []bool{true, false} {
				name := fmt.Sprintf("%v/%s/seekable=%v", format, enc.name, seekable)
				t.Run(name, func(t *testing.T) {
					var r io.Reader = bytes.NewReader(enc.data)
					if !seekable {
						r = nonSeeker{r}
					}
					rows, kind, err := collect(t, r, "test.tar")
					if err != nil {
						t.Fatal(err)
					}
					if kind != enc.want {
						t.Fatalf("compression %q, want %q", kind, enc.want)
					}
					checkRows(t, raw, rows, members)
				})
			}
		}
	}
}

func TestLongNameHeaderOffsets(t *testing.T) {
	long := strings.Repeat("x", 150)
	tests := []struct {
		name      string
		format    tar.Format
		hdr       tar.Header
		firstType byte
	}{
		{"pax-longname", tar.FormatPAX, tar.Header{Name: long, Typeflag: tar.TypeReg, Size: 10}, 'x'},
		{"gnu-longname", tar.FormatGNU, tar.Header{Name: long, Typeflag: tar.TypeReg, Size: 10}, 'L'},
		{"gnu-longlink", tar.FormatGNU, tar.Header{Name: "s", Typeflag: tar.TypeSymlink, Linkname: long}, 'K'},
		{"pax-longlink", tar.FormatPAX, tar.Header{Name: "s", Typeflag: tar.TypeSymlink, Linkname: long}, 'x'},
		{"gnu-both", tar.FormatGNU, tar.Header{Name: long + "/n", Typeflag: tar.TypeSymlink, Linkname: long}, 'L'},
		{"pax-unicode", tar.FormatPAX, tar.Header{Name: "é", Typeflag: tar.TypeReg, Size: 3}, 'x'},
		{"ustar-prefix", tar.FormatUSTAR, tar.Header{Name: strings.Repeat("p", 120) + "/name", Typeflag: tar.TypeReg, Size: 3}, '0'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := fileMember("first", 700, tt.format) // occupies blocks 0..2
			m := member{hdr: tt.hdr}
			m.hdr.Format = tt.format
			m.hdr.Mode = 0o644
			m.hdr.ModTime = time.Unix(1600000000, 0)
			m.data = content(tt.name, int(tt.hdr.Size))
			members := []member{first, m, fileMember("after", 1, tt.format)}
			raw := buildTar(t, members)
			rows, err := scanRows(bytes.NewReader(raw), tt.name)
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, raw, rows, members)
			row := rows[1]
			if row.HeaderOffset != 1536 {
				t.Errorf("HeaderOffset = %d, want 1536 (end of first member)", row.HeaderOffset)
			}
			if got := raw[row.HeaderOffset+156]; got != tt.firstType {
				t.Errorf("typeflag at HeaderOffset = %q, want %q", got, tt.firstType)
			}
			if tt.firstType != '0' && row.DataOffset-row.HeaderOffset <= 512 {
				t.Errorf("DataOffset %d should be past the extended headers starting at %d", row.DataOffset, row.HeaderOffset)
			}
		})
	}
}

func TestPAXGlobalHeader(t *testing.T) {
	global := func(recs map[string]string) member {
		return member{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: recs, Format: tar.FormatPAX}}
	}
	long := strings.Repeat("g", 300)
	members := []member{
		global(map[string]string{"comment": strings.Repeat("c", 700)}), // 2 data blocks
		fileMember("a", 10, tar.FormatPAX),
		global(map[string]string{"comment": "second"}),
		fileMember(long, 10, tar.FormatPAX), // 'x' after 'g'
		fileMember("b", 0, tar.FormatPAX),
	}
	raw := buildTar(t, members)
	rows, err := scanRows(bytes.NewReader(raw), "g.tar")
	if err != nil {
		t.Fatal(err)
	}
	checkRows(t, raw, rows, members)
	// g header (1 block) + 2 data blocks, then "a".
	if rows[0].HeaderOffset != 1536 || rows[0].DataOffset != 2048 {
		t.Errorf("member after global header: offsets %d/%d, want 1536/2048", rows[0].HeaderOffset, rows[0].DataOffset)
	}
	if raw[rows[1].HeaderOffset+156] != 'x' {
		t.Errorf("member with long name after 'g': HeaderOffset should point at its 'x' header")
	}
}

func TestPAXGlobalRecordsApply(t *testing.T) {
	// tarfile applies global path/linkpath/mtime records to following
	// members unless their own extended header overrides them.
	var b []byte
	recs := paxRecord("mtime", "1234.75") + paxRecord("comment", "hi")
	b = append(b, rawHeader("pax_global_header", 'g', int64(len(recs)))...)
	b = append(b, pad512([]byte(recs))...)
	b = append(b, rawHeader("plain", '0', 0)...)
	x := paxRecord("mtime", "-5.5")
	b = append(b, rawHeader("PaxHeader/own", 'x', int64(len(x)))...)
	b = append(b, pad512([]byte(x))...)
	b = append(b, rawHeader("own", '0', 0)...)
	b = append(b, make([]byte, 1024)...)
	rows, err := scanRows(bytes.NewReader(b), "g.tar")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows", len(rows))
	}
	if rows[0].Mtime != 1234 || rows[0].HeaderOffset != 1024 {
		t.Errorf("row 0: %+v", rows[0])
	}
	if rows[1].Mtime != -6 || rows[1].HeaderOffset != 1536 || rows[1].DataOffset != 3072 {
		t.Errorf("row 1: %+v", rows[1])
	}
}

func TestNameNormalization(t *testing.T) {
	tests := []struct {
		name     string
		build    func() []byte
		wantName string
		wantType string
	}{
		{"v7 dir via trailing slash", func() []byte { return rawHeader("olddir/", 0, 0) }, "olddir", "dir"},
		{"dir many slashes", func() []byte { return rawHeader("d///", '5', 0) }, "d", "dir"},
		{"root dir", func() []byte { return rawHeader("/", '5', 0) }, "", "dir"},
		{"file keeps slash", func() []byte { return rawHeader("f/", '0', 0) }, "f/", "file"},
		{"pax path stripped", func() []byte {
			rec := paxRecord("path", "p/q/")
			b := append(rawHeader("x", 'x', int64(len(rec))), pad512([]byte(rec))...)
			return append(b, rawHeader("short", '0', 0)...)
		}, "p/q", "file"},
		{"contiguous file", func() []byte { return rawHeader("c", '7', 0) }, "c", "file"},
		{"unknown type", func() []byte { return rawHeader("v", 'V', 0) }, "v", "V"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := append(tt.build(), make([]byte, 1024)...)
			rows, err := scanRows(bytes.NewReader(raw), "n.tar")
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 1 || rows[0].Name != tt.wantName || rows[0].Type != tt.wantType {
				t.Fatalf("rows = %+v, want name %q type %q", rows, tt.wantName, tt.wantType)
			}
		})
	}
}

func TestTenThousandMembers(t *testing.T) {
	members := manyMembers(10000)
	raw := buildTar(t, members)
	for _, enc := range []struct {
		name string
		data []byte
	}{{"plain", raw}, {"zstd", zstdBytes(t, raw)}} {
		t.Run(enc.name, func(t *testing.T) {
			rows, _, err := collect(t, bytes.NewReader(enc.data), "10k.tar")
			if err != nil {
				t.Fatal(err)
			}
			checkRows(t, raw, rows, members)
		})
	}
}

func manyMembers(n int) []member {
	ms := make([]member, 0, n)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("shard/%05d/sample.%d.bin", i/100, i)
		if i%10 == 0 {
			name = fmt.Sprintf("%s/%05d-%s.json", strings.Repeat("nested/", 15), i, "long") // PAX long name
		}
		ms = append(ms, fileMember(name, (i*37)%2000, tar.FormatPAX))
	}
	return ms
}

func TestLargeMemberSeekSkip(t *testing.T) {
	// Members larger than seekThreshold are skipped by seeking an *os.File.
	big := seekThreshold*2 + 123
	members := []member{fileMember("a", 10, tar.FormatPAX), fileMember("big", big, tar.FormatPAX), fileMember("z", 7, tar.FormatPAX)}
	raw := buildTar(t, members)
	path := filepath.Join(t.TempDir(), "big.tar")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cs := &countingSeeker{File: f}
	rows, kind, err := collect(t, cs, path)
	if err != nil {
		t.Fatal(err)
	}
	if kind != CompressionNone {
		t.Fatalf("kind %q", kind)
	}
	checkRows(t, raw, rows, members)
	if cs.bigSeeks != 1 {
		t.Errorf("%d large forward seeks, want 1 (skipping the big member)", cs.bigSeeks)
	}

	// Truncated inside the big member: seeking past EOF must not hide it.
	for _, cut := range []int{1536 + 512 + big/2, 1536 + 512 + big - 1} {
		if err := os.WriteFile(path, raw[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = collect(t, f, "trunc-big.tar")
		f.Close()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "offset") {
			t.Errorf("cut %d: err = %v, want ErrCorrupt with offset", cut, err)
		}
	}
}

// countingSeeker counts large relative seeks.
type countingSeeker struct {
	*os.File
	bigSeeks int
}

func (c *countingSeeker) Seek(off int64, whence int) (int64, error) {
	if whence == io.SeekCurrent && off >= seekThreshold {
		c.bigSeeks++
	}
	return c.File.Seek(off, whence)
}

func TestTruncated(t *testing.T) {
	members := []member{
		fileMember("a", 1000, tar.FormatPAX),
		fileMember(strings.Repeat("L", 200), 700, tar.FormatPAX),
		fileMember("c", 2000, tar.FormatGNU),
	}
	raw := buildTar(t, members)
	// Layout: a: hdr 0, data 512..1512 (pad to 1536); long: x 1536, x-data 2048,
	// hdr 2560, data 3072..3772 (pad to 4096); c: hdr 4096, data 4608..6608.
	cuts := []struct {
		name string
		at   int
	}{
		{"mid first header", 100},
		{"after first header", 512},
		{"mid data", 800},
		{"mid padding", 1520},
		{"mid pax header", 1600},
		{"mid pax records", 2100},
		{"mid ustar after pax", 2700},
		{"mid second data", 3500},
		{"mid last data", 5000},
		{"last data minus one", 6607},
		{"mid last padding", 6700},
	}
	for _, c := range cuts {
		for _, enc := range []string{"plain", "gzip", "zstd"} {
			t.Run(c.name+"/"+enc, func(t *testing.T) {
				data := raw[:c.at]
				switch enc {
				case "gzip":
					data = gzipBytes(t, data)
				case "zstd":
					data = zstdBytes(t, data)
				}
				var n int
				_, err := Index(context.Background(), bytes.NewReader(data), "cut.tar", func(Row) error { n++; return nil })
				if err == nil {
					t.Fatalf("no error, %d rows", n)
				}
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("error does not wrap ErrCorrupt: %v", err)
				}
				if msg := err.Error(); !strings.Contains(msg, "cut.tar") || !strings.Contains(msg, "offset") {
					t.Fatalf("error lacks archive name or offset: %v", err)
				}
				if !strings.Contains(err.Error(), fmt.Sprint(c.at)) {
					t.Errorf("error does not mention the cut offset %d: %v", c.at, err)
				}
			})
		}
	}
}

// TestTruncatedAfterExtendedHeader: an archive cut right after an extended
// header (PAX x, GNU L) and its data, where the member's own header
// belongs, or with the end-of-archive blocks there. archive/tar reports a
// clean end; the member and all after it were silently missing. tarfile
// raises "empty header".
func TestTruncatedAfterExtendedHeader(t *testing.T) {
	long := strings.Repeat("L", 200)
	for _, tc := range []struct {
		name   string
		format tar.Format
		tail   int // zero bytes after the cut
	}{
		{"pax x, then the end", tar.FormatPAX, 0},
		{"pax x, then end blocks", tar.FormatPAX, 1024},
		{"gnu L, then the end", tar.FormatGNU, 0},
		{"gnu L, then end blocks", tar.FormatGNU, 1024},
	} {
		for _, enc := range []string{"plain", "gzip", "zstd"} {
			t.Run(tc.name+"/"+enc, func(t *testing.T) {
				raw := buildTar(t, []member{fileMember("a", 1000, tc.format), fileMember(long, 700, tc.format)})
				// a: 0..1536; extended header 1536, its data 2048..2560; the
				// member's header at 2560.
				data := append(append([]byte{}, raw[:2560]...), make([]byte, tc.tail)...)
				switch enc {
				case "gzip":
					data = gzipBytes(t, data)
				case "zstd":
					data = zstdBytes(t, data)
				}
				var names []string
				_, err := Index(context.Background(), bytes.NewReader(data), "cut.tar", func(r Row) error {
					names = append(names, r.Name)
					return nil
				})
				if err == nil || !errors.Is(err, ErrCorrupt) {
					t.Fatalf("err %v (rows %q), want ErrCorrupt", err, names)
				}
				if msg := err.Error(); !strings.Contains(msg, "cut.tar") || !strings.Contains(msg, "extended header at byte offset 1536") {
					t.Fatalf("error does not name the archive and the extended header: %v", err)
				}
			})
		}
	}
	// The whole archive, and one cut at the member boundary before the
	// extended header, are fine.
	raw := buildTar(t, []member{fileMember("a", 1000, tar.FormatPAX), fileMember(long, 700, tar.FormatPAX)})
	for _, cut := range []int{len(raw), 1536} {
		if _, err := scanRows(bytes.NewReader(raw[:cut]), "ok.tar"); err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
	}
}

// TestInvalidExtendedHeaderMessage: a PAX record archive/tar cannot parse
// (one tarfile accepts: a number with a leading space) fails the archive
// naming the entry's extended header. The message said "not a tar archive"
// at offset 0, whose header had been read fine.
func TestInvalidExtendedHeaderMessage(t *testing.T) {
	rec := paxRecord("mtime", " 1700000000")
	b := append(rawHeader("PaxHeaders/a", 'x', int64(len(rec))), pad512([]byte(rec))...)
	b = append(b, rawHeader("a", '0', 0)...)
	b = append(b, make([]byte, 1024)...)
	_, err := scanRows(bytes.NewReader(b), "bad-pax.tar")
	if err == nil || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "invalid extended header of the entry at byte offset 0") ||
		strings.Contains(msg, "not a tar archive") {
		t.Fatalf("message: %v", err)
	}
}

func TestEndsAtMemberBoundary(t *testing.T) {
	members := []member{fileMember("a", 1000, tar.FormatPAX), fileMember("b", 10, tar.FormatPAX)}
	raw := buildTar(t, members)
	for _, cut := range []int{1536, 1536 + 1024, 1536 + 1024 + 512} { // no end blocks; one zero block
		rows, err := scanRows(bytes.NewReader(raw[:cut]), "b.tar")
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		want := 1
		if cut > 1536 {
			want = 2
		}
		if len(rows) != want {
			t.Fatalf("cut %d: %d rows, want %d", cut, len(rows), want)
		}
	}
}

func TestZeroBlockEndsArchive(t *testing.T) {
	// Like tarfile, a single zero block ends the archive even if a header follows.
	b := append(rawHeader("a", '0', 0), make([]byte, 512)...)
	b = append(b, rawHeader("b", '0', 0)...)
	rows, err := scanRows(bytes.NewReader(b), "z.tar")
	if err != nil || len(rows) != 1 || rows[0].Name != "a" {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
	// An archive consisting only of zero blocks is valid and empty.
	rows, err = scanRows(bytes.NewReader(make([]byte, 10240)), "empty-tar.tar")
	if err != nil || len(rows) != 0 {
		t.Fatalf("rows %+v, err %v", rows, err)
	}
}

func TestCorruptInputs(t *testing.T) {
	raw := buildTar(t, standardMembers(tar.FormatPAX))
	gz := gzipBytes(t, raw)
	zs := zstdBytes(t, raw)
	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0xff
		return c
	}
	garbage := content("garbage", 5000)
	tests := []struct {
		name    string
		data    []byte
		wantMsg string
	}{
		{"empty", nil, "empty"},
		{"garbage", garbage, "not a tar archive"},
		{"short garbage", garbage[:10], "offset"},
		{"text", []byte(strings.Repeat("hello world\n", 100)), "not a tar archive"},
		{"xz magic", append([]byte{0xfd, '7', 'z', 'X', 'Z', 0}, garbage...), "xz"},
		{"bad checksum third member", flip(raw, 1536+10), "invalid tar header at uncompressed byte offset 1536"},
		{"truncated in zeros", append(bytes.Clone(raw[:1024]), make([]byte, 600)...), "offset"},
		{"truncated gzip", gz[:len(gz)/2], "offset"},
		{"truncated gzip header", gz[:5], "offset"},
		{"gzip magic only", gz[:2], "offset"},
		{"gzip bad crc", flip(gz, len(gz)-6), "gzip"},
		{"gzip corrupt deflate", flip(gz, len(gz)/3), "offset"},
		{"truncated zstd", zs[:len(zs)/2], "offset"},
		{"zstd corrupt", flip(zs, len(zs)/2), "offset"},
		{"zstd magic only", zs[:4], "offset"},
		{"negative size", func() []byte {
			h := rawHeader("neg", '0', 0)
			copy(h[124:136], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			setChecksum(h)
			return append(h, make([]byte, 1024)...)
		}(), "offset"},
		{"huge size", func() []byte {
			h := rawHeader("huge", '0', 0)
			copy(h[124:136], []byte{0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			setChecksum(h)
			return append(h, make([]byte, 1024)...)
		}(), "offset"},
		{"huge pax size", func() []byte {
			rec := paxRecord("size", "9223372036854775807")
			b := append(rawHeader("x", 'x', int64(len(rec))), pad512([]byte(rec))...)
			return append(append(b, rawHeader("f", '0', 0)...), make([]byte, 1024)...)
		}(), "offset"},
		{"bad pax record", func() []byte {
			rec := "99999 path=x\n"
			b := append(rawHeader("x", 'x', int64(len(rec))), pad512([]byte(rec))...)
			return append(append(b, rawHeader("f", '0', 0)...), make([]byte, 1024)...)
		}(), "offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			_, err := Index(context.Background(), bytes.NewReader(tt.data), "bad.tar", func(Row) error { n++; return nil })
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v (rows %d), want ErrCorrupt", err, n)
			}
			if msg := err.Error(); !strings.Contains(msg, "bad.tar") || !strings.Contains(msg, tt.wantMsg) || !strings.Contains(msg, "offset") {
				t.Fatalf("unexpected message: %v", err)
			}
			// Decompress followed by Scan reports the same kind of error.
			if rc, _, err := Decompress(bytes.NewReader(tt.data)); !errors.Is(err, ErrCorrupt) {
				if err != nil {
					t.Fatalf("Decompress: %v", err)
				}
				_, err = scanRows(rc, "bad.tar")
				rc.Close()
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "offset") {
					t.Fatalf("Decompress+Scan: err = %v, want ErrCorrupt", err)
				}
			}
			// Scan on the same (undecoded) bytes must also fail cleanly.
			if _, err := scanRows(nonSeeker{bytes.NewReader(tt.data)}, "bad.tar"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Scan: err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// errReader returns data, then err.
type errReader struct {
	data []byte
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	if len(e.data) == 0 {
		return 0, e.err
	}
	n := copy(p, e.data)
	e.data = e.data[n:]
	return n, nil
}

func TestSourceErrorIsNotCorrupt(t *testing.T) {
	raw := buildTar(t, standardMembers(tar.FormatPAX))
	ioErr := errors.New("connection reset by peer")
	for _, enc := range []struct {
		name string
		data []byte
	}{{"plain", raw}, {"gzip", gzipBytes(t, raw)}, {"zstd", zstdBytes(t, raw)}} {
		t.Run(enc.name, func(t *testing.T) {
			r := &errReader{data: enc.data[:len(enc.data)/2], err: ioErr}
			_, _, err := collect(t, r, "net.tar")
			if !errors.Is(err, ioErr) {
				t.Fatalf("err = %v, want wrapping %v", err, ioErr)
			}
			if errors.Is(err, ErrCorrupt) {
				t.Fatalf("I/O error reported as corrupt: %v", err)
			}
			if !strings.Contains(err.Error(), "net.tar") {
				t.Fatalf("no archive name: %v", err)
			}
		})
	}
}

func TestContextCancel(t *testing.T) {
	raw := buildTar(t, manyMembers(200))
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Index(ctx, bytes.NewReader(raw), "c.tar", func(Row) error { return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		_, err := Index(ctx, nonSeeker{bytes.NewReader(zstdBytes(t, raw))}, "c.tar", func(Row) error {
			n++
			if n == 5 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "c.tar") {
			t.Fatalf("err = %v", err)
		}
		if n != 5 {
			t.Fatalf("fn called %d times after cancel", n-5)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		err := Scan(ctx, bytes.NewReader(raw), "c.tar", func(Row) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestCallbackError(t *testing.T) {
	raw := buildTar(t, standardMembers(tar.FormatGNU))
	stop := errors.New("stop here")
	n := 0
	_, err := Index(context.Background(), bytes.NewReader(raw), "cb.tar", func(Row) error {
		n++
		if n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "cb.tar") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecompress(t *testing.T) {
	raw := buildTar(t, standardMembers(tar.FormatPAX))
	for _, tt := range []struct {
		name string
		data []byte
		want Compression
	}{
		{"plain", raw, CompressionNone},
		{"gzip", gzipBytes(t, raw), CompressionGzip},
		{"zstd", zstdBytes(t, raw), CompressionZstd},
		{"zstd skippable frame first", append([]byte{0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 'h', 'i'}, zstdBytes(t, raw)...), CompressionZstd},
		{"tiny", []byte{1}, CompressionNone},
		{"empty", nil, CompressionNone},
	} {
		for _, seekable := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/seekable=%v", tt.name, seekable), func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tt.data)
				if !seekable {
					r = nonSeeker{r}
				}
				rc, kind, err := Decompress(r)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				if kind != tt.want {
					t.Fatalf("kind %q, want %q", kind, tt.want)
				}
				got, err := io.ReadAll(rc)
				if err != nil {
					t.Fatal(err)
				}
				want := tt.data
				if tt.want != CompressionNone {
					want = raw
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("decompressed %d bytes, want %d", len(got), len(want))
				}
			})
		}
	}
}

func TestSparseNoPanic(t *testing.T) {
	// Old GNU sparse ('S') and PAX 1.0 sparse members: offsets need not match
	// tarfile exactly, but scanning must work and continue past them.
	gnuSparse := func() []byte {
		h := rawHeader("sparse", 'S', 1024) // 1024 bytes stored
		copy(h[257:265], "ustar  \x00")     // GNU magic
		// sparse map entry 0: offset 0, len 512; entry 1: offset 4096, len 512
		copy(h[386:398], fmt.Sprintf("%011o\x00", 0))
		copy(h[398:410], fmt.Sprintf("%011o\x00", 512))
		copy(h[410:422], fmt.Sprintf("%011o\x00", 4096))
		copy(h[422:434], fmt.Sprintf("%011o\x00", 512))
		copy(h[483:495], fmt.Sprintf("%011o\x00", 8192)) // real size
		setChecksum(h)
		return append(h, content("s", 1024)...)
	}
	paxSparse := func() []byte {
		recs := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
			paxRecord("GNU.sparse.name", "real-name") + paxRecord("GNU.sparse.realsize", "10000")
		b := append(rawHeader("./GNUSparseFile.1/real-name", 'x', int64(len(recs))), pad512([]byte(recs))...)
		mapBlk := pad512([]byte("1\n0\n100\n"))
		b = append(b, rawHeader("./GNUSparseFile.1/real-name", '0', int64(len(mapBlk)+100))...)
		b = append(b, mapBlk...)
		return append(b, pad512(content("p", 100))...)
	}
	var b []byte
	b = append(b, gnuSparse()...)
	b = append(b, paxSparse()...)
	b = append(b, rawHeader("after", '0', 3)...)
	b = append(b, pad512([]byte("abc"))...)
	b = append(b, make([]byte, 1024)...)
	rows, err := scanRows(bytes.NewReader(b), "sparse.tar")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("rows: %+v", rows)
	}
	want := []Row{
		{Name: "sparse", Size: 8192, Type: "S", HeaderOffset: 0, DataOffset: 512},
		{Name: "real-name", Size: 10000, Type: "file", HeaderOffset: 1536, DataOffset: 3584}, // after the sparse map, like tarfile
		{Name: "after", Size: 3, Type: "file", HeaderOffset: 4096, DataOffset: 4608},
	}
	for i, w := range want {
		g := rows[i]
		if g.Name != w.Name || g.Size != w.Size || g.Type != w.Type || g.HeaderOffset != w.HeaderOffset || g.DataOffset != w.DataOffset {
			t.Errorf("row %d: %+v, want %+v", i, g, w)
		}
	}
}

func TestParsePAXSeconds(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1700000000", 1700000000, true},
		{"1700000000.5", 1700000000, true},
		{"-1.5", -2, true},
		{"-1", -1, true},
		{"1e3", 1000, true},
		{"nan", 0, false},
		{"x", 0, false},
		{"1e300", 0, false},
	} {
		got, ok := parsePAXSeconds(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePAXSeconds(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func BenchmarkScan10k(b *testing.B) {
	raw := buildTar(b, manyMembers(10000))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		if err := Scan(context.Background(), bytes.NewReader(raw), "bench.tar", func(Row) error { n++; return nil }); err != nil {
			b.Fatal(err)
		}
		if n != 10000 {
			b.Fatalf("%d rows", n)
		}
	}
}

func BenchmarkIndex10kJSONL(b *testing.B) {
	raw := buildTar(b, manyMembers(10000))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := NewJSONLWriter(io.Discard, "s3://bucket/bench.tar", false)
		if _, err := Index(context.Background(), bytes.NewReader(raw), "bench.tar", w.Write); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
