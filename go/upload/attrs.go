package upload

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// Attrs are the headers an uploaded object is stored with, named as S3's
// PutObject fields (and boto3's ExtraArgs): content headers, user metadata,
// storage class, server-side encryption and a canned ACL. Empty fields are
// not sent. A bucket policy that requires encryption, or a site that needs
// Content-Type, depends on them: dropping them silently stored objects the
// policy refused or that browsers download instead of showing.
type Attrs struct {
	ContentType          string            `json:"ContentType"`
	ContentEncoding      string            `json:"ContentEncoding"`
	ContentDisposition   string            `json:"ContentDisposition"`
	ContentLanguage      string            `json:"ContentLanguage"`
	CacheControl         string            `json:"CacheControl"`
	Metadata             map[string]string `json:"Metadata"`
	StorageClass         string            `json:"StorageClass"`
	ServerSideEncryption string            `json:"ServerSideEncryption"`
	SSEKMSKeyID          string            `json:"SSEKMSKeyId"`
	ACL                  string            `json:"ACL"`
}

// ParseAttrs reads Attrs from JSON (empty: nil). An unknown field is an
// error naming it rather than a header silently not sent.
func ParseAttrs(raw []byte) (*Attrs, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var a Attrs
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("object attributes: %v (known: ContentType, ContentEncoding, ContentDisposition, "+
			"ContentLanguage, CacheControl, Metadata, StorageClass, ServerSideEncryption, SSEKMSKeyId, ACL): %w",
			err, s3err.ErrInvalid)
	}
	return &a, nil
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// headerFields are where a request input keeps the headers Attrs set
// (PutObject's and CreateMultipartUpload's fields of the same names).
type headerFields struct {
	contentType, contentEncoding, contentDisposition, contentLanguage, cacheControl, kmsKey **string
	metadata                                                                                *map[string]string
	storageClass                                                                            *types.StorageClass
	sse                                                                                     *types.ServerSideEncryption
	acl                                                                                     *types.ObjectCannedACL
}

func (a *Attrs) set(f headerFields) {
	if a == nil {
		return
	}
	*f.contentType, *f.contentEncoding, *f.contentDisposition = opt(a.ContentType), opt(a.ContentEncoding), opt(a.ContentDisposition)
	*f.contentLanguage, *f.cacheControl, *f.kmsKey = opt(a.ContentLanguage), opt(a.CacheControl), opt(a.SSEKMSKeyID)
	*f.metadata = a.Metadata
	*f.storageClass = types.StorageClass(a.StorageClass)
	*f.sse = types.ServerSideEncryption(a.ServerSideEncryption)
	*f.acl = types.ObjectCannedACL(a.ACL)
}

// applyPut sets a's headers on a PutObject.
func (a *Attrs) applyPut(in *s3.PutObjectInput) {
	a.set(headerFields{&in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage,
		&in.CacheControl, &in.SSEKMSKeyId, &in.Metadata, &in.StorageClass, &in.ServerSideEncryption, &in.ACL})
}

// applyCreate sets a's headers on a CreateMultipartUpload.
func (a *Attrs) applyCreate(in *s3.CreateMultipartUploadInput) {
	a.set(headerFields{&in.ContentType, &in.ContentEncoding, &in.ContentDisposition, &in.ContentLanguage,
		&in.CacheControl, &in.SSEKMSKeyId, &in.Metadata, &in.StorageClass, &in.ServerSideEncryption, &in.ACL})
}

// attrsOf are the content headers and metadata of an existing object (an
// append keeps them, as a copy does).
func attrsOf(h *s3.HeadObjectOutput) *Attrs {
	return &Attrs{
		ContentType: aws.ToString(h.ContentType), ContentEncoding: aws.ToString(h.ContentEncoding),
		ContentDisposition: aws.ToString(h.ContentDisposition), ContentLanguage: aws.ToString(h.ContentLanguage),
		CacheControl: aws.ToString(h.CacheControl), Metadata: h.Metadata,
	}
}
