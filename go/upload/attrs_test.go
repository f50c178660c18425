package upload

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// TestAttrs: every way of writing an object stores the headers asked for,
// single PUT and multipart alike; an append keeps the object's own.
func TestAttrs(t *testing.T) {
	fresh(t)
	ctx := context.Background()
	attrs, err := ParseAttrs([]byte(`{"ContentType": "text/csv", "CacheControl": "no-cache",
		"ContentDisposition": "attachment", "ContentLanguage": "fr", "Metadata": {"owner": "alice"}}`))
	if err != nil {
		t.Fatal(err)
	}
	small, big := []byte("a,b\n1,2\n"), randBytes(2*MinPartSize+17, 3)
	file := filepath.Join(t.TempDir(), "big.csv")
	if err := os.WriteFile(file, big, 0o600); err != nil {
		t.Fatal(err)
	}
	opt := Options{PartSize: MinPartSize, Concurrency: 4, Attrs: attrs}
	write := func(key string, data []byte) error {
		w, err := NewWriter(ctx, client.S3, bucket, key, WriterOptions{PartSize: MinPartSize, Attrs: attrs})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
		_, err = w.Close(ctx)
		return err
	}
	for _, tc := range []struct {
		name string
		do   func(key string) error
	}{
		{"buffer-put", func(k string) error { return PutBuffers(ctx, client.S3, []Buffer{{bucket, k, small}}, opt, nil)[0].Err }},
		{"buffer-multipart", func(k string) error { return PutBuffers(ctx, client.S3, []Buffer{{bucket, k, big}}, opt, nil)[0].Err }},
		{"file-multipart", func(k string) error {
			return PutFiles(ctx, client.S3, []File{{Path: file, Bucket: bucket, Key: k}}, opt, nil)[0].Err
		}},
		{"writer-put", func(k string) error { return write(k, small) }},
		{"writer-multipart", func(k string) error { return write(k, big) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.do(tc.name); err != nil {
				t.Fatal(err)
			}
			checkAttrs(t, tc.name, attrs)
		})
	}

	t.Run("append-keeps-headers", func(t *testing.T) {
		for _, data := range [][]byte{small, big} { // small: GET + PUT; big: copy as part 1
			key := "append-" + string(rune('a'+len(data)%26))
			if err := PutBuffers(ctx, client.S3, []Buffer{{bucket, key, data}}, opt, nil)[0].Err; err != nil {
				t.Fatal(err)
			}
			w, err := NewWriter(ctx, client.S3, bucket, key, WriterOptions{PartSize: MinPartSize, Append: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write([]byte("more")); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := get(t, key); len(got) != len(data)+4 {
				t.Fatalf("appended object has %d bytes, want %d", len(got), len(data)+4)
			}
			checkAttrs(t, key, attrs)
		}
	})

	for _, bad := range []string{`{"ContentTyp": "x"}`, `{"Metadata": "not a map"}`, `[1]`,
		`{"contenttype": "text/csv"}`, `{"ContentType": "a", "contentType": "b"}`, // names match exactly
		`{"Metadata": {"my key": "v"}}`, `{"Metadata": {"k": "a\nb"}}`, `{"ContentType": "text/csv\r\nX: y"}`,
		`{"ContentDisposition": "a\u0000"}`, `{"Metadata": {"": "v"}}`} {
		if _, err := ParseAttrs([]byte(bad)); s3err.Classify(err) != s3err.Invalid || !strings.Contains(err.Error(), "object attributes") {
			t.Errorf("ParseAttrs(%s): %v, want an Invalid error", bad, err)
		}
	}
	if a, err := ParseAttrs(nil); a != nil || err != nil {
		t.Errorf("ParseAttrs(nil) = %v, %v", a, err)
	}
}

func checkAttrs(t *testing.T, key string, want *Attrs) {
	t.Helper()
	h, err := client.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	got := attrsOf(h)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s stored with %+v, want %+v", key, got, want)
	}
}
