package objpath

import (
	"errors"
	"testing"

	"github.com/s3turbo/s3turbo/go/s3err"
)

func TestStripScheme(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"s3", "s3://bucket/key", "bucket/key"},
		{"s3-upper", "S3://bucket/key", "bucket/key"},
		{"s3a", "s3a://bucket/key", "bucket/key"},
		{"s3a-mixed-case", "S3A://bucket/key", "bucket/key"},
		{"s3turbo", "s3turbo://bucket/key", "bucket/key"},
		{"s3turbo-mixed-case", "S3Turbo://bucket/key", "bucket/key"},
		{"no-scheme", "bucket/key", "bucket/key"},
		{"empty", "", ""},
		{"scheme-only", "s3://", ""},
		{"strips-once", "s3://s3://bucket", "s3://bucket"},
		{"short-prefix", "s3:/", "s3:/"},
		{"single-slash", "s3:/bucket/key", "s3:/bucket/key"},
		{"other-scheme", "http://bucket/key", "http://bucket/key"},
		{"gs-scheme", "gs://bucket/key", "gs://bucket/key"},
		{"scheme-not-at-start", "bucket/s3://key", "bucket/s3://key"},
		{"s3a-prefix-without-scheme", "s3abucket/key", "s3abucket/key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := StripScheme(tc.in); got != tc.want {
				t.Errorf("StripScheme(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Path
		wantErr error // for Parse
		objErr  error // for ParseObject
	}{
		{name: "s3", in: "s3://bucket/key", want: Path{"bucket", "key"}},
		{name: "s3-upper", in: "S3://bucket/key", want: Path{"bucket", "key"}},
		{name: "s3a", in: "s3a://bucket/a/b", want: Path{"bucket", "a/b"}},
		{name: "s3turbo", in: "s3turbo://bucket/a/b", want: Path{"bucket", "a/b"}},
		{name: "no-scheme", in: "bucket/key", want: Path{"bucket", "key"}},
		{name: "bucket-only", in: "bucket", want: Path{"bucket", ""}, objErr: s3err.ErrInvalid},
		{name: "bucket-slash", in: "bucket/", want: Path{"bucket", ""}, objErr: s3err.ErrInvalid},
		{name: "scheme-bucket-only", in: "s3://bucket", want: Path{"bucket", ""}, objErr: s3err.ErrInvalid},
		{name: "trailing-slash-kept", in: "bucket/a/b/", want: Path{"bucket", "a/b/"}},
		{name: "double-slash-kept", in: "bucket//a", want: Path{"bucket", "/a"}},
		{name: "dotdot-kept", in: "bucket/a/../b", want: Path{"bucket", "a/../b"}},
		{name: "leading-dotdot-kept", in: "s3://bucket/../x", want: Path{"bucket", "../x"}},
		{name: "dot-kept", in: "bucket/./x", want: Path{"bucket", "./x"}},
		{name: "spaces-and-unicode", in: "bucket/a b/日本+%=&", want: Path{"bucket", "a b/日本+%=&"}},
		{name: "empty", in: "", wantErr: s3err.ErrInvalid, objErr: s3err.ErrInvalid},
		{name: "scheme-only", in: "s3://", wantErr: s3err.ErrInvalid, objErr: s3err.ErrInvalid},
		{name: "no-bucket", in: "/key", wantErr: s3err.ErrInvalid, objErr: s3err.ErrInvalid},
		{name: "scheme-no-bucket", in: "s3:///key", wantErr: s3err.ErrInvalid, objErr: s3err.ErrInvalid},
		{name: "just-slash", in: "/", wantErr: s3err.ErrInvalid, objErr: s3err.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Run("Parse", func(t *testing.T) {
				got, err := Parse(tc.in)
				if tc.wantErr != nil {
					if !errors.Is(err, tc.wantErr) {
						t.Fatalf("Parse(%q) error = %v, want wrapping %v", tc.in, err, tc.wantErr)
					}
					if c := s3err.Classify(err); c != s3err.Invalid {
						t.Errorf("Classify = %d, want Invalid", c)
					}
					return
				}
				if err != nil {
					t.Fatalf("Parse(%q): %v", tc.in, err)
				}
				if got != tc.want {
					t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
				}
			})
			t.Run("ParseObject", func(t *testing.T) {
				got, err := ParseObject(tc.in)
				if tc.objErr != nil {
					if !errors.Is(err, tc.objErr) {
						t.Fatalf("ParseObject(%q) error = %v, want wrapping %v", tc.in, err, tc.objErr)
					}
					if c := s3err.Classify(err); c != s3err.Invalid {
						t.Errorf("Classify = %d, want Invalid", c)
					}
					return
				}
				if err != nil {
					t.Fatalf("ParseObject(%q): %v", tc.in, err)
				}
				if got != tc.want {
					t.Errorf("ParseObject(%q) = %+v, want %+v", tc.in, got, tc.want)
				}
			})
		})
	}
}

func TestPathString(t *testing.T) {
	tests := []struct {
		name string
		p    Path
		want string
	}{
		{"bucket-only", Path{Bucket: "b"}, "b"},
		{"bucket-key", Path{Bucket: "b", Key: "k"}, "b/k"},
		{"nested-key", Path{Bucket: "b", Key: "a/b/"}, "b/a/b/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestParseStringRoundTrip checks that rendering a parsed path and parsing it
// again is the identity (keys are opaque strings).
func TestParseStringRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"simple", "bucket/key"},
		{"bucket-only", "bucket"},
		{"trailing-slash", "bucket/a/b/"},
		{"dotdot", "bucket/../../x"},
		{"leading-slash-key", "bucket//x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			q, err := Parse(p.String())
			if err != nil {
				t.Fatal(err)
			}
			if p != q {
				t.Errorf("round trip %q: %+v != %+v", tc.in, p, q)
			}
		})
	}
}

// TestParseWritable: a key to be written must be valid UTF-8 (what S3 keys
// are); reads still take any key a listing returned.
func TestParseWritable(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"b/k", true},
		{"s3://b/ünï/文件", true},
		{"b/bad\xffname", false},
		{"b/\xed\xa0\x80", false}, // a surrogate's bytes (Python's surrogateescape gives \xed\xb3\xbf-like runs)
		{"b", false},              // a bucket, not an object
	} {
		_, err := ParseWritable(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseWritable(%q): %v", tc.in, err)
		}
		if err != nil && s3err.Classify(err) != s3err.Invalid {
			t.Errorf("ParseWritable(%q): %v is not Invalid", tc.in, err)
		}
		if _, err := ParseObject(tc.in); tc.in != "b" && err != nil {
			t.Errorf("ParseObject(%q) refused a key it must read: %v", tc.in, err)
		}
	}
}
