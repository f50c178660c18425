package listing_test

import (
	"context"
	"testing"

	"github.com/s3turbo/s3turbo/go/listing"
)

// TestBuckets checks that the test bucket is listed with a creation time.
func TestBuckets(t *testing.T) {
	bs, requests, err := listing.Buckets(context.Background(), client.S3)
	if err != nil {
		t.Fatal(err)
	}
	if requests < 1 {
		t.Errorf("requests = %d, want >= 1", requests)
	}
	found := false
	for _, b := range bs {
		if b.Name == bucket {
			found = true
			if b.Created <= 0 {
				t.Errorf("bucket %s: creation time %d", b.Name, b.Created)
			}
		}
	}
	if !found {
		t.Errorf("bucket %s not among %d listed buckets", bucket, len(bs))
	}
}
