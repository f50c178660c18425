// Package objpath parses the "bucket/key" paths s3turbo accepts, with an
// optional s3:// (or s3a://, s3turbo://) scheme.
package objpath

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Path is a parsed bucket and key. Key may be empty (the bucket itself).
type Path struct {
	Bucket string
	Key    string
}

// String renders the path as bucket/key.
func (p Path) String() string {
	if p.Key == "" {
		return p.Bucket
	}
	return p.Bucket + "/" + p.Key
}

var schemes = []string{"s3://", "s3a://", "s3turbo://"}

// StripScheme removes a leading s3://, s3a:// or s3turbo:// if present.
func StripScheme(s string) string {
	for _, sc := range schemes {
		if len(s) >= len(sc) && strings.EqualFold(s[:len(sc)], sc) {
			return s[len(sc):]
		}
	}
	return s
}

// Parse splits "bucket/key" (scheme optional). The key is kept verbatim,
// including trailing slashes and any "..": S3 keys are opaque strings.
func Parse(s string) (Path, error) {
	s = StripScheme(s)
	bucket, key, _ := strings.Cut(s, "/")
	if bucket == "" {
		return Path{}, fmt.Errorf("path %q has no bucket name: %w", s, s3err.ErrInvalid)
	}
	return Path{Bucket: bucket, Key: key}, nil
}

// ParseObject is Parse for paths that must name an object (non-empty key).
func ParseObject(s string) (Path, error) {
	p, err := Parse(s)
	if err != nil {
		return p, err
	}
	if p.Key == "" {
		return p, fmt.Errorf("path %q names a bucket, not an object: %w", s, s3err.ErrInvalid)
	}
	return p, nil
}

// ParseWritable is ParseObject for an object to be written (see
// Path.Writable).
func ParseWritable(s string) (Path, error) {
	p, err := ParseObject(s)
	if err == nil {
		err = p.Writable()
	}
	return p, err
}

// Writable reports why p cannot name an object to be written: its key must
// be valid UTF-8. S3 names keys in UTF-8, and a key holding other bytes (a
// local file name that is not UTF-8, carried as Python's surrogate escapes)
// was stored under another name that no read of the name written could find.
func (p Path) Writable() error {
	if !utf8.ValidString(p.Key) {
		return fmt.Errorf("key %q is not valid UTF-8, which S3 keys must be: %w",
			strings.ToValidUTF8(p.Key, "\uFFFD"), s3err.ErrInvalid)
	}
	return nil
}
