package listing

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// rawAPI is a RawLister whose lean answer is scripted; its SDK calls
// answer with one object, "sdk/key".
type rawAPI struct {
	handled  bool
	body     string
	err      error
	sdkCalls int
	rawCalls int
}

func (f *rawAPI) ListObjectsV2Raw(_ context.Context, _ *s3.ListObjectsV2Input, body *bytes.Buffer) (bool, error) {
	f.rawCalls++
	body.Reset()
	body.WriteString(f.body)
	return f.handled, f.err
}

func (f *rawAPI) ListObjectsV2(_ context.Context, _ *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	f.sdkCalls++
	return &s3.ListObjectsV2Output{Contents: []types.Object{{Key: aws.String("sdk/key"), Size: aws.Int64(7)}},
		IsTruncated: aws.Bool(false)}, nil
}

func (f *rawAPI) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return nil, errors.New("not used")
}

// TestPageRawLister: page() takes a RawLister's body when it handled the
// request and the body parses, and goes through the SDK call otherwise
// (not handled, or a body the fast parser does not understand); its errors
// are returned as they are.
func TestPageRawLister(t *testing.T) {
	const good = `<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>` +
		`<NextContinuationToken>t1</NextContinuationToken><Contents><Key>raw/a%20b</Key><Size>3</Size></Contents>` +
		`<CommonPrefixes><Prefix>raw/d%3D1/</Prefix></CommonPrefixes></ListBucketResult>`
	boom := errors.New("boom")
	tests := []struct {
		name      string
		api       *rawAPI
		want      []Entry
		truncated bool
		next      string
		err       error
		sdkCalls  int
	}{
		{"raw body", &rawAPI{handled: true, body: good},
			[]Entry{{Key: "raw/a b", Size: 3}, {Key: "raw/d=1/", IsDir: true}}, true, "t1", nil, 0},
		{"not handled", &rawAPI{}, []Entry{{Key: "sdk/key", Size: 7}}, false, "", nil, 1},
		{"200 with an error body", &rawAPI{handled: true, body: `<Error><Code>InternalError</Code></Error>`},
			[]Entry{{Key: "sdk/key", Size: 7}}, false, "", nil, 1},
		{"raw error", &rawAPI{handled: true, err: boom}, nil, false, "", boom, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &s3.ListObjectsV2Input{Bucket: aws.String("b"), EncodingType: types.EncodingTypeUrl}
			got, out, err := page(context.Background(), tt.api, in, 0)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.api.rawCalls != 1 || tt.api.sdkCalls != tt.sdkCalls {
				t.Errorf("%d raw and %d SDK calls, want 1 and %d", tt.api.rawCalls, tt.api.sdkCalls, tt.sdkCalls)
			}
			if err != nil {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("entries %+v, want %+v", got, tt.want)
			}
			if aws.ToBool(out.IsTruncated) != tt.truncated || aws.ToString(out.NextContinuationToken) != tt.next {
				t.Errorf("truncated %v next %q, want %v %q", aws.ToBool(out.IsTruncated),
					aws.ToString(out.NextContinuationToken), tt.truncated, tt.next)
			}
		})
	}
}
