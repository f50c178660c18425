package upload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

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

// attrNames are Attrs' JSON names, matched exactly (encoding/json alone
// would take "contenttype" for ContentType).
var attrNames = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(Attrs{})
	for i := 0; i < t.NumField(); i++ {
		m[t.Field(i).Tag.Get("json")] = true
	}
	return m
}()

// ParseAttrs reads Attrs from JSON (empty: nil). An unknown name, or a
// value no HTTP header can carry, is an error naming it, rather than a
// header silently not sent or a request that fails to send (retried, then
// reported as a connection error).
func ParseAttrs(raw []byte) (*Attrs, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("object attributes: "+format+": %w", append(args, s3err.ErrInvalid)...)
	}
	var names map[string]json.RawMessage
	if err := json.Unmarshal(raw, &names); err != nil {
		return nil, bad("%v", err)
	}
	for k := range names {
		if !attrNames[k] {
			return nil, bad("unknown name %q (known: ContentType, ContentEncoding, ContentDisposition, "+
				"ContentLanguage, CacheControl, Metadata, StorageClass, ServerSideEncryption, SSEKMSKeyId, ACL)", k)
		}
	}
	var a Attrs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, bad("%v", err)
	}
	v := reflect.ValueOf(a)
	for i := 0; i < v.NumField(); i++ {
		if s, ok := v.Field(i).Interface().(string); ok && !headerValue(s) {
			return nil, bad("%s %q holds a control character no HTTP header can carry", v.Type().Field(i).Name, s)
		}
	}
	for k, val := range a.Metadata {
		if !headerToken(k) {
			return nil, bad("Metadata name %q is not an HTTP header name (letters, digits and !#$%%&'*+-.^_`|~)", k)
		}
		if !headerValue(val) {
			return nil, bad("Metadata %q value %q holds a control character no HTTP header can carry", k, val)
		}
	}
	return &a, nil
}

// headerValue reports whether s can be an HTTP header's value: no control
// characters but tab.
func headerValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// headerToken reports whether s can be (part of) an HTTP header name.
func headerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
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
