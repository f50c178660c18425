package listing

import (
	"encoding/xml"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseListXML(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount>` +
		`<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated>` +
		`<Contents><Key>p/a&amp;b &lt;c&gt; &#233;&#x1F600;</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified>` +
		`<ETag>&quot;fba9&quot;</ETag><Size>434234</Size><Owner><ID>x</ID><DisplayName>y</DisplayName></Owner>` +
		`<StorageClass>STANDARD</StorageClass><ChecksumAlgorithm>CRC32</ChecksumAlgorithm></Contents>` +
		`<Contents><Key>p/empty</Key><Size>0</Size><ETag/><LastModified>2024-01-02T03:04:05Z</LastModified></Contents>` +
		`<CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>` +
		`<NextContinuationToken>tok+/=</NextContinuationToken><EncodingType>url</EncodingType></ListBucketResult>`
	p, err := parseListXML([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want0 := Entry{Key: "p/a&b <c> é😀", Size: 434234, ETag: `"fba9"`,
		Mtime: time.Date(2009, 10, 12, 17, 50, 30, 0, time.UTC).UnixNano()}
	if len(p.Contents) != 2 || p.Contents[0] != want0 {
		t.Fatalf("contents %+v", p.Contents)
	}
	if p.Contents[1].Key != "p/empty" || p.Contents[1].Size != 0 || p.Contents[1].ETag != "" {
		t.Fatalf("second entry %+v", p.Contents[1])
	}
	if len(p.Prefixes) != 1 || p.Prefixes[0] != "p/dir/" || !p.IsTruncated || p.NextToken != "tok+/=" || p.EncodingType != "url" {
		t.Fatalf("page %+v", p)
	}
	// The same document through encoding/xml must agree on the key.
	var ref struct {
		Contents []struct{ Key string }
	}
	if err := xml.Unmarshal([]byte(doc), &ref); err != nil || ref.Contents[0].Key != want0.Key {
		t.Fatalf("encoding/xml disagrees: %v %q", err, ref.Contents)
	}
}

func TestParseListXMLRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"empty":        ``,
		"not-list":     `<Error><Code>NoSuchKey</Code></Error>`,
		"truncated":    `<ListBucketResult><Contents><Key>a</Key>`,
		"no-close":     `<ListBucketResult><IsTruncated>false</IsTruncated>`,
		"bad-size":     `<ListBucketResult><Contents><Key>a</Key><Size>x</Size></Contents></ListBucketResult>`,
		"empty-size":   `<ListBucketResult><Contents><Key>a</Key><Size></Size></Contents></ListBucketResult>`,
		"bad-escape":   `<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a%4</Key></Contents></ListBucketResult>`,
		"bad-entity":   `<ListBucketResult><Contents><Key>a&bogus;</Key></Contents></ListBucketResult>`,
		"cdata":        `<ListBucketResult><Contents><Key><![CDATA[a]]></Key></Contents></ListBucketResult>`,
		"keyless":      `<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>`,
		"bad-time":     `<ListBucketResult><Contents><Key>a</Key><LastModified>yesterday</LastModified></Contents></ListBucketResult>`,
		"stray-closer": `<ListBucketResult></Contents></ListBucketResult>`,
		"mismatched":   `<ListBucketResult><Contents><Key>a</Key><LastModified>2024-01-02T03:04:05.000Z</ETag><Size>1</Size></Contents></ListBucketResult>`,
	} {
		if _, err := parseListXML([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParseListXML(f *testing.F) {
	f.Add([]byte(`<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>`))
	f.Add([]byte(`<ListBucketResult><CommonPrefixes><Prefix>d/</Prefix></CommonPrefixes></ListBucketResult>`))
	f.Add(benchPage())
	f.Add([]byte(`<ListBucketResult><EncodingType>url</EncodingType><Contents><Key>a+b%41</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified>` +
		`<ETag>&quot;e&quot;</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>c</Key><Size>1</Size></Contents></ListBucketResult>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Must not panic, and the fast path must agree with the generic walk.
		p, err := parseListXML(b)
		ref, rerr := parseList(b, false)
		if (err == nil) != (rerr == nil) {
			t.Fatalf("fast path error %v, generic walk error %v", err, rerr)
		}
		if err == nil && !reflect.DeepEqual(p, ref) {
			t.Fatalf("fast path %+v\ngeneric walk %+v", p, ref)
		}
	})
}

// benchPage is a 1000-entry ListObjectsV2 page shaped like S3's (URL-encoded keys).
func benchPage() []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bench</Name><Prefix></Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextContinuationToken>abc</NextContinuationToken>`)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&b, `<Contents><Key>year%%3D2024/month%%3D01/part-%05d-%08x.parquet</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;%032x&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`, i, i*7919, i*104729, i*1000+17)
	}
	b.WriteString(`</ListBucketResult>`)
	return []byte(b.String())
}

func BenchmarkParseListXML(b *testing.B) {
	doc := benchPage()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseListXML(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseListXMLPlainKeys parses a page of keys that need no
// decoding, as the benchmark's deep layout lists them
// (org-N/team-NN/proj-NN/run-N/shard-NN/file-NNNNNN.bin): the key loop
// runs to the end of each key without stopping.
func BenchmarkParseListXMLPlainKeys(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bench</Name><Prefix></Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated><NextContinuationToken>abc</NextContinuationToken>`)
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, `<Contents><Key>org-%d/team-%02d/proj-%02d/run-%d/shard-%02d/file-%06d.bin</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;%032x&quot;</ETag><Size>%d</Size><StorageClass>STANDARD</StorageClass></Contents>`,
			i/500, i/50%20, i/25%20, i/10%10, i/5%20, i, i*104729, i*1000+17)
	}
	sb.WriteString(`</ListBucketResult>`)
	doc := []byte(sb.String())
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseListXML(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseListXMLMatchesReference checks the fast parser against
// encoding/xml plus url.QueryUnescape on documents S3 could send, in the
// forms the fast path takes and the ones it leaves to the generic walk.
func TestParseListXMLMatchesReference(t *testing.T) {
	entry := func(key, rest string) string { return `<Contents><Key>` + key + `</Key>` + rest + `</Contents>` }
	std := `<LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass>`
	cases := []struct {
		name, body string
		enc        bool
	}{
		{"plain", entry("a/b", std) + entry("a/c", std), false},
		{"url", entry("year%3D2024/x+y%2Bz", std) + entry("%E2%82%AC", std), true},
		{"url-entities", entry("a%26b&amp;c", std), true},
		// Bytes below '-' that need nothing (stopAt flags them all).
		{"low-bytes", entry("a!b(c)*d,e$f'g h#i\"j", std), false},
		{"url-low-bytes", entry("x!y(z)*w,v$u'%21+t", std), true},
		{"entities", entry("a&amp;b&lt;c&gt;&#233;", std), false},
		{"checksums", entry("k", `<LastModified>2024-01-02T03:04:05Z</LastModified><ETag>"q"</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>7</Size><StorageClass>GLACIER</StorageClass>`), false},
		{"owner", entry("k", `<Size>3</Size><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner><ETag>&quot;e&quot;</ETag>`), false},
		{"blanks", "\n  <Contents>\n    <Key>k</Key>\n    <Size>5</Size>\n  </Contents>\n", false},
		{"self-closing", entry("k", `<ETag/><Size>0</Size>`), false},
		{"reordered", `<Contents><Size>9</Size><ETag>&quot;z&quot;</ETag><Key>k2</Key></Contents>`, false},
		{"unknown-field", entry("k", `<Size>1</Size><RestoreStatus><IsRestoreInProgress>false</IsRestoreInProgress></RestoreStatus>`), false},
		// The fast path's own shortcuts and where it hands over.
		{"etag-first", `<Contents><ETag>&quot;e1&quot;</ETag><Key>k1</Key><Size>4</Size></Contents>` + entry("k2", std), false},
		{"no-etag", entry("k1", `<Size>4</Size>`) + entry("k2", std), false},
		{"raw-plus-percent", entry("a+b%41", std), false},
		{"url-plus-percent", entry("a+b%41%2B%25", std), true},
		{"big-size", entry("k", `<Size>1234567890123456789</Size>`), false},
		// STANDARD is matched whole; a class it is a prefix of is not it.
		{"storage-classes", entry("k1", `<Size>1</Size><StorageClass>STANDARD_IA</StorageClass>`) +
			entry("k2", `<Size>2</Size><StorageClass>STANDARD</StorageClass><Owner><ID>o</ID></Owner>`) +
			entry("k3", `<StorageClass>STANDARD</StorageClass><Size>3</Size>`), false},
		{"etag-not-quoted", entry("k", `<ETag>abc&amp;d</ETag><Size>1</Size>`), false},
		{"etag-inner-entity", entry("k", `<ETag>&quot;a&amp;b&quot;</ETag><Size>1</Size>`), false},
		{"long-key", entry(strings.Repeat("d%3D0/", 40)+"x", std) + entry(strings.Repeat("z", 300), std), true},
		{"mixed", entry("a", std) + entry("b", `<Size>3</Size><Owner><ID>o</ID></Owner>`) + entry("c", std) + entry("d", std), false},
	}
	for _, c := range cases {
		for _, encFirst := range []bool{true, false} {
			enc := ""
			if c.enc {
				enc = `<EncodingType>url</EncodingType>`
			}
			doc := `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><IsTruncated>false</IsTruncated>`
			if encFirst {
				doc += enc + c.body
			} else {
				doc += c.body + enc
			}
			doc += `</ListBucketResult>`
			p, err := parseListXML([]byte(doc))
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			var ref struct {
				Contents []struct {
					Key, ETag, LastModified string
					Size                    int64
				}
			}
			if err := xml.Unmarshal([]byte(doc), &ref); err != nil {
				t.Fatalf("%s: reference: %v", c.name, err)
			}
			if len(p.Contents) != len(ref.Contents) {
				t.Fatalf("%s: %d entries, reference %d", c.name, len(p.Contents), len(ref.Contents))
			}
			for i, r := range ref.Contents {
				got := p.Contents[i]
				key := got.Key
				if c.enc && i >= p.KeysDecoded {
					if key, err = decodeKey(&got.Key, true); err != nil {
						t.Fatal(err)
					}
				}
				want := r.Key
				if c.enc {
					if want, err = url.QueryUnescape(r.Key); err != nil {
						t.Fatal(err)
					}
				}
				var mt int64
				if r.LastModified != "" {
					tm, _ := time.Parse(time.RFC3339Nano, r.LastModified)
					mt = tm.UnixNano()
				}
				if key != want || got.ETag != r.ETag || got.Size != r.Size || got.Mtime != mt {
					t.Errorf("%s (encoding first %v) entry %d: got %+v (key %q), want key %q %+v", c.name, encFirst, i, got, key, want, r)
				}
			}
		}
	}
	// A malformed escape must not be decoded silently: the page goes to the
	// SDK (whose decodeKey names the key).
	bad := `<ListBucketResult><EncodingType>url</EncodingType>` + entry("a%zz", std) + `</ListBucketResult>`
	if p, err := parseListXML([]byte(bad)); err == nil && p.KeysDecoded > 0 {
		t.Errorf("malformed escape decoded: %+v", p.Contents)
	}
}

// TestParsedKeysOutliveTheParser: a page's keys are views of an arena
// handed over as a string, so the next page parsed (by the same pooled
// parser) must not write over them.
func TestParsedKeysOutliveTheParser(t *testing.T) {
	doc := func(key string) []byte {
		return []byte(`<ListBucketResult><Contents><Key>` + key + `</Key><ETag>&quot;` + key + `&quot;</ETag><Size>1</Size></Contents></ListBucketResult>`)
	}
	first, err := parseListXML(doc("aaaa"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if _, err := parseListXML(doc("bbbb")); err != nil {
			t.Fatal(err)
		}
	}
	if e := first.Contents[0]; e.Key != "aaaa" || e.ETag != `"aaaa"` {
		t.Fatalf("first page's entry changed to %+v", e)
	}
}

// TestParseListOmit: a parse told to omit fields leaves them empty on the
// fast path and agrees with the full parse on everything else.
func TestParseListOmit(t *testing.T) {
	docs := map[string][]byte{
		"bench": benchPage(),
		"mixed": []byte(`<ListBucketResult><EncodingType>url</EncodingType>` +
			`<Contents><Key>a%3Db</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;e&quot;</ETag><Size>7</Size></Contents>` +
			`<Contents><Key>c</Key><Size>1</Size><Owner><ID>o</ID></Owner></Contents>` + // generic walk: every field
			`<Contents><Key>d</Key><ETag/><Size>2</Size></Contents>` +
			`<CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes><IsTruncated>true</IsTruncated></ListBucketResult>`),
	}
	for _, tc := range []struct {
		name string
		omit Fields
	}{
		{"none", 0}, {"etag", ETag}, {"mtime", Mtime}, {"both", ETag | Mtime},
	} {
		for name, doc := range docs {
			full, err := parseList(doc, true)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseListOmit(doc, true, tc.omit)
			if err != nil {
				t.Fatalf("%s/%s: %v", tc.name, name, err)
			}
			if len(got.Contents) != len(full.Contents) || !reflect.DeepEqual(got.Prefixes, full.Prefixes) ||
				got.IsTruncated != full.IsTruncated || got.KeysDecoded != full.KeysDecoded {
				t.Fatalf("%s/%s: page %+v, full parse %+v", tc.name, name, got, full)
			}
			for i, e := range got.Contents {
				want := full.Contents[i]
				generic := name == "mixed" && e.Key == "c" // not the fast path: nothing skipped
				if tc.omit&ETag != 0 && !generic {
					want.ETag = ""
				}
				if tc.omit&Mtime != 0 && !generic {
					want.Mtime = 0
				}
				if e != want {
					t.Errorf("%s/%s entry %d: %+v, want %+v", tc.name, name, i, e, want)
				}
			}
		}
	}
	// Omitted fields are still checked for their closing tags.
	bad := []byte(`<ListBucketResult><Contents><Key>a</Key><LastModified>2024-01-02T03:04:05.000Z</ETag><Size>1</Size></Contents></ListBucketResult>`)
	if _, err := parseListOmit(bad, true, ETag|Mtime); err == nil {
		t.Error("mismatched LastModified element accepted")
	}
}

func BenchmarkParseListXMLOmit(b *testing.B) {
	doc := benchPage()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseListOmit(doc, true, ETag|Mtime); err != nil {
			b.Fatal(err)
		}
	}
}

// TestParseUTCStamp checks the direct timestamp reader against time.Parse:
// the same nanoseconds whenever it accepts a stamp, and every stamp it
// refuses left to time.Parse (which then accepts or rejects it itself).
func TestParseUTCStamp(t *testing.T) {
	tests := []struct {
		in     string
		direct bool // read without time.Parse
	}{
		{"2024-01-02T03:04:05.000Z", true},
		{"2024-01-02T03:04:05Z", true},
		{"1970-01-01T00:00:00.000Z", true},
		{"1969-12-31T23:59:59.999Z", true},
		{"0001-01-01T00:00:00.000Z", true},
		{"2000-02-29T12:00:00.500Z", true},
		{"2024-02-29T23:59:59.999Z", true},
		{"2100-03-01T00:00:00.000Z", true},
		{"9999-12-31T23:59:59.999Z", true},
		{"2100-02-29T00:00:00.000Z", false}, // not a leap year
		{"2023-04-31T00:00:00.000Z", false},
		{"2024-13-01T00:00:00.000Z", false},
		{"2024-00-10T00:00:00.000Z", false},
		{"2024-01-01T24:00:00.000Z", false},
		{"2024-01-01T23:60:00.000Z", false},
		{"2024-01-01T23:59:60.000Z", false},
		{"0000-01-01T00:00:00.000Z", false},
		{"2024-01-02T03:04:05.123456Z", false}, // more digits: time.Parse
		{"2024-01-02T03:04:05.1Z", false},
		{"2024-01-02T03:04:05+01:00", false},
		{"2024-01-02 03:04:05.000Z", false},
		{"2024-01-0xT03:04:05.000Z", false},
		{"+024-01-02T03:04:05.000Z", false},
		{"", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := parseUTCStamp([]byte(tc.in))
			if ok != tc.direct {
				t.Fatalf("read directly: %v, want %v", ok, tc.direct)
			}
			ref, err := time.Parse(time.RFC3339Nano, tc.in)
			if ok && (err != nil || got != ref.UnixNano()) {
				t.Fatalf("direct %d, time.Parse %v (%d, %v)", got, ref, ref.UnixNano(), err)
			}
			var c timeCache
			v, cerr := c.parse([]byte(tc.in))
			if (cerr == nil) != (err == nil) || err == nil && v != ref.UnixNano() {
				t.Fatalf("timeCache.parse = %d, %v; time.Parse %d, %v", v, cerr, ref.UnixNano(), err)
			}
		})
	}
	// Every day from 1899 to 2101, at a time of day that moves with it.
	for d := time.Date(1899, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2102; d = d.Add(24*time.Hour + 7*time.Second + time.Millisecond) {
		s := d.Format("2006-01-02T15:04:05.000Z")
		if got, ok := parseUTCStamp([]byte(s)); !ok || got != d.UnixNano() {
			t.Fatalf("%s: %d, %v; want %d", s, got, ok, d.UnixNano())
		}
	}
}

// FuzzParseUTCStamp: whatever the input, a stamp read directly has
// time.Parse's value.
func FuzzParseUTCStamp(f *testing.F) {
	for _, s := range []string{"2024-01-02T03:04:05.000Z", "2024-02-29T03:04:05Z", "1969-12-31T23:59:59.999Z", "2023-02-29T00:00:00.000Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseUTCStamp([]byte(s))
		if !ok {
			return
		}
		ref, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || got != ref.UnixNano() {
			t.Fatalf("%q: direct %d, time.Parse %d, %v", s, got, ref.UnixNano(), err)
		}
	})
}

// BenchmarkParseListXMLTimes parses a page whose entries' times all differ,
// as on a real bucket (benchPage repeats one, which the cache answers).
func BenchmarkParseListXMLTimes(b *testing.B) {
	doc := []byte(strings.Replace(string(benchPage()), "<LastModified>2024-01-02T03:04:05.000Z", "", -1))
	var sb strings.Builder
	t0 := time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC)
	for i, part := range strings.Split(string(doc), "</LastModified>") {
		if i > 0 {
			sb.WriteString(t0.Add(time.Duration(i) * 7919 * time.Millisecond).Format("<LastModified>2006-01-02T15:04:05.000Z</LastModified>"))
		}
		sb.WriteString(part)
	}
	doc = []byte(sb.String())
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseListOmit(doc, true, ETag); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTimeCache checks that the page's timestamp cache answers a repeated
// stamp with its value and never a different stamp with a cached one, in
// S3's form, in forms only time.Parse reads, and past the cache's size.
func TestTimeCache(t *testing.T) {
	stamps := []string{
		"2024-01-02T03:04:05.000Z",
		"2024-01-02T03:04:05.000Z",
		"2024-01-02T03:04:06.000Z",
		"2024-01-02T03:04:06Z",
		"2024-01-02T04:04:06+01:00", // time.Parse only
		"2024-01-02T04:04:06+01:00",
		"2024-01-02T03:04:06.123456789-00:00", // past the cache's 32 bytes
		"2024-01-02T03:04:06.123456789-00:00",
		"2024-01-02T03:04:05.000Z",
	}
	var c timeCache
	for i, s := range stamps {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.parse([]byte(s))
		if err != nil || got != want.UnixNano() {
			t.Errorf("stamp %d %q: %d, %v; want %d", i, s, got, err, want.UnixNano())
		}
	}
	if _, err := c.parse([]byte("2024-02-30T00:00:00.000Z")); err == nil {
		t.Error("2024-02-30 accepted")
	}
}
