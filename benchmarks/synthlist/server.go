package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
	"github.com/s3turbo/s3turbo/benchmarks/internal/listsim"
)

const (
	maxKeysCap   = listsim.MaxKeysCap
	lastModified = "2024-01-01T00:00:00.000Z"
	xmlHeader    = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	s3NS         = `http://s3.amazonaws.com/doc/2006-03-01/`
)

type server struct {
	bucket string
	set    *layouts.Set
	seed   int64

	listRequests atomic.Int64
	requests     atomic.Int64

	digestOnce sync.Once
	digest     []byte
}

func newServer(bucket string, set *layouts.Set, seed int64) *server {
	return &server{bucket: bucket, set: set, seed: seed}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/__stats":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{
			"list_requests": s.listRequests.Load(), "requests": s.requests.Load(),
		})
		return
	case "/__stats/reset":
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		s.listRequests.Store(0)
		s.requests.Store(0)
		w.WriteHeader(http.StatusNoContent)
		return
	case "/__digest":
		s.digestOnce.Do(s.computeDigest)
		w.Header().Set("Content-Type", "application/json")
		w.Write(s.digest)
		return
	}
	s.requests.Add(1)

	// Path-style /bucket[/key]; virtual-host style bucket.host/key also works.
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if host, _, _ := strings.Cut(r.Host, ":"); strings.HasPrefix(host, s.bucket+".") {
		bucket, key = s.bucket, strings.TrimPrefix(r.URL.Path, "/")
	}
	q := r.URL.Query()
	switch {
	case bucket == "" && r.Method == http.MethodGet:
		s.listBuckets(w)
	case bucket == "":
		s.notImplemented(w, r)
	case bucket != s.bucket:
		writeError(w, r, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist", "/"+bucket)
	case key != "":
		s.notImplemented(w, r)
	case r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case r.Method != http.MethodGet:
		s.notImplemented(w, r)
	case q.Has("location"):
		writeXML(w, []byte(xmlHeader+`<LocationConstraint xmlns="`+s3NS+`"></LocationConstraint>`))
	case q.Get("list-type") == "2":
		s.listRequests.Add(1)
		s.list(w, r, q)
	default:
		s.notImplemented(w, r)
	}
}

func (s *server) notImplemented(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusNotImplemented, "NotImplemented",
		"synthlist only implements ListObjectsV2, HeadBucket, GetBucketLocation and ListBuckets", r.URL.Path)
}

func writeXML(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg, resource string) {
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	var b bytes.Buffer
	b.WriteString(xmlHeader + "<Error><Code>" + code + "</Code><Message>")
	xmlEscape(&b, []byte(msg))
	b.WriteString("</Message><Resource>")
	xmlEscape(&b, []byte(resource))
	b.WriteString("</Resource><RequestId>synthlist</RequestId></Error>")
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func (s *server) listBuckets(w http.ResponseWriter) {
	var b bytes.Buffer
	b.WriteString(xmlHeader + `<ListAllMyBucketsResult xmlns="` + s3NS + `"><Owner><ID>synthlist</ID>` +
		`<DisplayName>synthlist</DisplayName></Owner><Buckets><Bucket><Name>`)
	xmlEscape(&b, []byte(s.bucket))
	b.WriteString("</Name><CreationDate>" + lastModified + "</CreationDate></Bucket></Buckets></ListAllMyBucketsResult>")
	writeXML(w, b.Bytes())
}

func (s *server) computeDigest() {
	h := sha256.New()
	var total int64
	for it := s.set.Iter(0); it.Valid(); it.Next() {
		h.Write(it.Key())
		h.Write([]byte{'\n'})
		total += layouts.Size(it.Key(), s.seed)
	}
	s.digest, _ = json.Marshal(map[string]any{
		"keys": s.set.Len(), "sha256": hex.EncodeToString(h.Sum(nil)), "total_size": total,
	})
}

func (s *server) list(w http.ResponseWriter, r *http.Request, q map[string][]string) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	prefix, delim, startAfter, token := get("prefix"), get("delimiter"), get("start-after"), get("continuation-token")
	maxKeys := maxKeysCap
	if v := get("max-keys"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 0 {
			writeError(w, r, http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range", "")
			return
		}
		maxKeys = min(m, maxKeysCap)
	}
	enc := get("encoding-type")
	if enc != "" && enc != "url" {
		writeError(w, r, http.StatusBadRequest, "InvalidArgument", "Invalid Encoding Method specified in Request", "")
		return
	}
	_, hasToken := q["continuation-token"]
	if hasToken && token == "" {
		writeError(w, r, http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect", "")
		return
	}

	pfx := []byte(prefix)
	contents, prefixes := bufPool.Get().(*bytes.Buffer), bufPool.Get().(*bytes.Buffer)
	defer func() { contents.Reset(); prefixes.Reset(); bufPool.Put(contents); bufPool.Put(prefixes) }()
	var num [32]byte
	res, err := listsim.List(s.set, listsim.Query{
		Prefix: prefix, Delimiter: delim, StartAfter: startAfter, Token: token, HasToken: hasToken, MaxKeys: maxKeys,
	}, func(key []byte) {
		contents.WriteString("<Contents><Key>")
		writeValue(contents, key, enc)
		contents.WriteString("</Key><LastModified>" + lastModified + "</LastModified><ETag>&quot;")
		h := layouts.Hash(key, 0xe7a9)
		contents.Write(hex.AppendEncode(num[:0], be64(h)))
		contents.Write(hex.AppendEncode(num[:0], be64(h*0x9e3779b97f4a7c15+1)))
		contents.WriteString("&quot;</ETag><Size>")
		contents.Write(strconv.AppendInt(num[:0], layouts.Size(key, s.seed), 10))
		contents.WriteString("</Size><StorageClass>STANDARD</StorageClass></Contents>")
	}, func(cp []byte) {
		prefixes.WriteString("<CommonPrefixes><Prefix>")
		writeValue(prefixes, cp, enc)
		prefixes.WriteString("</Prefix></CommonPrefixes>")
	})
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect", "")
		return
	}
	d := []byte(delim)
	count, truncated := res.Count, res.Truncated

	out := bufPool.Get().(*bytes.Buffer)
	defer func() { out.Reset(); bufPool.Put(out) }()
	out.Grow(contents.Len() + prefixes.Len() + 1024)
	out.WriteString(xmlHeader + `<ListBucketResult xmlns="` + s3NS + `"><Name>`)
	xmlEscape(out, []byte(s.bucket))
	out.WriteString("</Name><Prefix>")
	writeValue(out, pfx, enc)
	out.WriteString("</Prefix>")
	if delim != "" {
		out.WriteString("<Delimiter>")
		writeValue(out, d, enc)
		out.WriteString("</Delimiter>")
	}
	if startAfter != "" {
		out.WriteString("<StartAfter>")
		writeValue(out, []byte(startAfter), enc)
		out.WriteString("</StartAfter>")
	}
	if hasToken {
		out.WriteString("<ContinuationToken>")
		xmlEscape(out, []byte(token))
		out.WriteString("</ContinuationToken>")
	}
	out.WriteString("<KeyCount>" + strconv.Itoa(count) + "</KeyCount><MaxKeys>" + strconv.Itoa(maxKeys) + "</MaxKeys>")
	if enc != "" {
		out.WriteString("<EncodingType>url</EncodingType>")
	}
	if truncated {
		out.WriteString("<IsTruncated>true</IsTruncated><NextContinuationToken>" +
			res.NextToken + "</NextContinuationToken>")
	} else {
		out.WriteString("<IsTruncated>false</IsTruncated>")
	}
	out.Write(contents.Bytes())
	out.Write(prefixes.Bytes())
	out.WriteString("</ListBucketResult>")
	writeXML(w, out.Bytes())
}

func be64(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func writeValue(b *bytes.Buffer, v []byte, enc string) {
	if enc == "url" {
		s3URLEncode(b, v) // output is XML-safe
		return
	}
	xmlEscape(b, v)
}

// xmlEscape writes v as XML character data.
func xmlEscape(b *bytes.Buffer, v []byte) {
	start := 0
	for i, c := range v {
		var esc string
		switch c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		case '\'':
			esc = "&apos;"
		case '\r':
			esc = "&#xD;"
		default:
			if c < 0x20 && c != '\t' && c != '\n' {
				esc = "&#x" + strconv.FormatInt(int64(c), 16) + ";" // XML 1.0 forbids these; S3 sends them as references
			} else {
				continue
			}
		}
		b.Write(v[start:i])
		b.WriteString(esc)
		start = i + 1
	}
	b.Write(v[start:])
}

// s3URLEncode writes v the way S3 does for encoding-type=url: like
// url.QueryEscape (space -> '+', everything else but A-Z a-z 0-9 - _ . as
// %XX, upper-case hex), except that '/' and '*' are kept (and '~' is escaped).
func s3URLEncode(b *bytes.Buffer, v []byte) {
	const hexUpper = "0123456789ABCDEF"
	start := 0 // bytes kept as they are are written in runs, not one by one
	for i, c := range v {
		if urlSafe[c] {
			continue
		}
		b.Write(v[start:i])
		start = i + 1
		if c == ' ' {
			b.WriteByte('+')
		} else {
			b.Write([]byte{'%', hexUpper[c>>4], hexUpper[c&15]})
		}
	}
	b.Write(v[start:])
}

// urlSafe marks the bytes s3URLEncode keeps as they are.
var urlSafe = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '/' || c == '*'
	}
	return t
}()
