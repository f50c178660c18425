package upload

import (
	"context"
	"testing"
)

// TestWriterScheduleCapacity: whatever part size the client asks for, a
// Writer's 10 000 parts hold S3's largest object (5 TiB), so a long stream
// never fails at part 10 001 after uploading terabytes. With S3's 5 MiB
// floor as the first tier they held 4.878 TiB.
func TestWriterScheduleCapacity(t *testing.T) {
	for _, tc := range []struct {
		name      string
		partSize  int64
		wantFirst int64
	}{
		{"64KiB", 64 << 10, WriterMinPartSize},
		{"default", 0, DefaultPartSize},
		{"5MiB", 5 << 20, WriterMinPartSize},
		{"just-below-floor", WriterMinPartSize - 1, WriterMinPartSize},
		{"8MiB", 8 << 20, 8 << 20},
		{"100MiB", 100 << 20, 100 << 20},
		{"5GiB", MaxPartSize, MaxPartSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewWriter(context.Background(), nil, "b", "k", WriterOptions{PartSize: tc.partSize})
			if err != nil {
				t.Fatal(err)
			}
			var total int64
			for n := int32(1); n <= MaxParts; n++ {
				w.nextPart = n
				lim := w.limit()
				if n == 1 && lim != tc.wantFirst {
					t.Errorf("first part %d bytes, want %d", lim, tc.wantFirst)
				}
				if lim < MinPartSize || lim > MaxPartSize {
					t.Fatalf("part %d: %d bytes, outside S3's [%d, %d]", n, lim, MinPartSize, MaxPartSize)
				}
				total += lim
			}
			if total < MaxObjectSize {
				t.Errorf("10000 parts hold %d bytes (%.3f TiB), less than S3's largest object %d", total, float64(total)/(1<<40), int64(MaxObjectSize))
			}
		})
	}
	if WriterMinPartSize%(64<<10) != 0 || WriterMinPartSize < MinPartSize {
		t.Errorf("WriterMinPartSize %d: not a 64 KiB multiple of at least %d", WriterMinPartSize, MinPartSize)
	}
	// It is the smallest such multiple: 64 KiB less falls short.
	if smaller := int64(WriterMinPartSize-64<<10) * partsPerTier * (1<<(MaxParts/partsPerTier) - 1); smaller >= MaxObjectSize {
		t.Errorf("WriterMinPartSize %d is not the smallest: %d bytes less also reach 5 TiB", WriterMinPartSize, 64<<10)
	}
}
