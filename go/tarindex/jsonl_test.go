package tarindex

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// jsonRow mirrors one JSONL object.
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

var nastyStrings = []string{
	"",
	"plain.txt",
	`quo"te`,
	`back\slash`,
	"new\nline\r\ttab",
	"ctrl\x00\x01\x1f\x7f",
	"\b\f",
	"invalid\xffutf8\xc3",
	"\xed\xa0\x80 surrogate",
	"ünïcødé 文件 😀",
	"line\u2028sep\u2029",
	"<html>&amp;",
	strings.Repeat("long/", 200),
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range nastyStrings {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := `"` + string(appendJSONString(nil, s)) + `"` + "\n"
		if got != want.String() {
			t.Errorf("appendJSONString(%q) = %s, encoding/json gives %s", s, got, want.String())
		}
	}
	// Every single byte value, alone and inside text.
	for b := 0; b < 256; b++ {
		for _, s := range []string{string([]byte{byte(b)}), "a" + string([]byte{byte(b)}) + "z"} {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetEscapeHTML(false)
			_ = enc.Encode(s)
			if got := `"` + string(appendJSONString(nil, s)) + `"` + "\n"; got != want.String() {
				t.Errorf("byte %#x: got %s, want %s", b, got, want.String())
			}
		}
	}
}

func TestJSONLWriterRoundTrip(t *testing.T) {
	var rows []Row
	for i, s := range nastyStrings {
		rows = append(rows, Row{
			Name: s, Size: int64(i) * 1000, Type: []string{"file", "dir", "symlink", "S", "\xff"}[i%5],
			Mode: 0o644, Mtime: -1 + int64(i)*1e9, Linkname: nastyStrings[len(nastyStrings)-1-i],
			HeaderOffset: int64(i) * 512, DataOffset: int64(i)*512 + 512,
		})
	}
	rows = append(rows, Row{Size: 1<<63 - 1, Mtime: -1 << 63, HeaderOffset: 1 << 40})
	archive := "s3://bucket/key with \"quotes\"\n.tar"

	for _, compress := range []bool{false, true} {
		var out bytes.Buffer
		w := NewJSONLWriter(&out, archive, compress)
		for _, r := range rows {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if err := w.Write(rows[0]); err == nil {
			t.Fatal("Write after Close succeeded")
		}
		data := out.Bytes()
		if compress {
			if !bytes.HasPrefix(data, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
				t.Fatal("compressed output is not zstd")
			}
			dec, err := zstd.NewReader(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			data, err = io.ReadAll(dec)
			dec.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		i := 0
		for sc.Scan() {
			line := sc.Bytes()
			if !json.Valid(line) {
				t.Fatalf("line %d not valid JSON: %s", i, line)
			}
			// Key order.
			keys := []string{"archive", "filename", "size", "type", "mode", "mtime", "linkname", "header_offset", "data_offset"}
			pos := 0
			for _, k := range keys {
				j := bytes.Index(line[pos:], []byte(`"`+k+`":`))
				if j < 0 {
					t.Fatalf("line %d: key %q missing or out of order: %s", i, k, line)
				}
				pos += j
			}
			var got jsonRow
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			r := rows[i]
			want := jsonRow{
				Archive: strings.ToValidUTF8(archive, "\ufffd"), Filename: r.Name, Size: r.Size, Type: r.Type,
				Mode: r.Mode, Mtime: r.Mtime, Linkname: r.Linkname, HeaderOffset: r.HeaderOffset, DataOffset: r.DataOffset,
			}
			// encoding/json replaces each invalid byte with U+FFFD.
			want.Filename = jsonRoundTrip(t, want.Filename)
			want.Linkname = jsonRoundTrip(t, want.Linkname)
			want.Type = jsonRoundTrip(t, want.Type)
			if got != want {
				t.Errorf("line %d: got %+v, want %+v", i, got, want)
			}
			i++
		}
		if i != len(rows) {
			t.Fatalf("compress=%v: %d lines, want %d", compress, i, len(rows))
		}
	}
}

func jsonRoundTrip(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

func TestJSONLWriterErrors(t *testing.T) {
	boom := errors.New("disk full")
	w := NewJSONLWriter(failWriter{boom}, "a.tar", false)
	var err error
	for i := 0; i < 100000 && err == nil; i++ {
		err = w.Write(Row{Name: strings.Repeat("x", 100)})
	}
	if err == nil {
		err = w.Close()
	} else if cerr := w.Close(); !errors.Is(cerr, boom) {
		t.Fatalf("Close after failed Write: %v", cerr)
	}
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestIndexToJSONL(t *testing.T) {
	members := standardMembers(0)
	raw := buildTar(t, members)
	var out bytes.Buffer
	w := NewJSONLWriter(&out, "x.tar.gz", true)
	if _, err := Index(t.Context(), bytes.NewReader(gzipBytes(t, raw)), "x.tar.gz", w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	dec, err := zstd.NewReader(&out)
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	sc := bufio.NewScanner(dec)
	n := 0
	for sc.Scan() {
		var r jsonRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Archive != "x.tar.gz" || r.Filename == "" {
			t.Fatalf("bad row %+v", r)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(members) {
		t.Fatalf("%d lines, want %d", n, len(members))
	}
}
