package s3client

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func strp(s string) *string { return &s }

// TestSyncEnv: the environment the configuration chain reads is the one
// the caller sends, AWS_ variables it leaves out unset.
func TestSyncEnv(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before map[string]string
		env    map[string]*string
		want   map[string]*string // nil value: must be unset
	}{
		{"set", nil, map[string]*string{"AWS_PROFILE": strp("sandbox")}, map[string]*string{"AWS_PROFILE": strp("sandbox")}},
		{"replace", map[string]string{"AWS_PROFILE": "prod"}, map[string]*string{"AWS_PROFILE": strp("sandbox")},
			map[string]*string{"AWS_PROFILE": strp("sandbox")}},
		{"aws-left-out-is-unset", map[string]string{"AWS_ACCESS_KEY_ID": "AKIA_OLD", "AWS_REGION": "eu-west-1"},
			map[string]*string{"AWS_REGION": strp("us-east-1")},
			map[string]*string{"AWS_ACCESS_KEY_ID": nil, "AWS_REGION": strp("us-east-1")}},
		{"nil-unsets", map[string]string{"S3TURBO_TEST_OTHER": "x"}, map[string]*string{"S3TURBO_TEST_OTHER": nil},
			map[string]*string{"S3TURBO_TEST_OTHER": nil}},
		{"others-left-alone", map[string]string{"S3TURBO_TEST_OTHER": "x", "AWS_PROFILE": "p"}, map[string]*string{},
			map[string]*string{"S3TURBO_TEST_OTHER": strp("x"), "AWS_PROFILE": nil}},
		{"nil-map-changes-nothing", map[string]string{"AWS_PROFILE": "p"}, nil, map[string]*string{"AWS_PROFILE": strp("p")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.before {
				t.Setenv(k, v)
			}
			for k := range tc.want {
				if _, ok := tc.before[k]; !ok {
					t.Setenv(k, "") // restored after the test
					os.Unsetenv(k)
				}
			}
			envMu.Lock()
			syncEnv(tc.env)
			envMu.Unlock()
			for k, want := range tc.want {
				got, ok := os.LookupEnv(k)
				switch {
				case want == nil && ok:
					t.Errorf("%s = %q, want unset", k, got)
				case want != nil && (!ok || got != *want):
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, *want)
				}
			}
		})
	}
}

// TestRedactProcessOutput: a credential_process whose output does not
// parse is reported without that output (it holds the secrets).
func TestRedactProcessOutput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"process provider error: parse failed of process output: {\"SecretAccessKey\": \"TOPSECRET\"}\nbye\n, error: invalid character 'b'",
			"process provider error: parse failed of process output: (not shown: it may hold secrets), error: invalid character 'b'"},
		{"parse failed of process output: SECRET", "parse failed of process output: (not shown: it may hold secrets)"},
		{"missing AccessKeyId in process output", "missing AccessKeyId in process output"},
		{"no credentials", "no credentials"},
	} {
		if got := redact(tc.in); got != tc.want {
			t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	inner := errors.New("parse failed of process output: {\"SessionToken\": \"TOKEN\"}, error: boom")
	err := error(redactedError{inner})
	if strings.Contains(err.Error(), "TOKEN") || !errors.Is(err, inner) {
		t.Errorf("redactedError %q: leaks or does not unwrap", err)
	}
}

// TestCredentialProcessSecretsNotInErrors: the whole path, a profile
// whose credential_process prints its JSON and then another line.
func TestCredentialProcessSecretsNotInErrors(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "creds.sh")
	body := "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIAEXAMPLE\", \"SecretAccessKey\": \"TOPSECRET-wJal\", \"SessionToken\": \"SESSIONTOKEN-Fwo\"}'\necho 'token refreshed'\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile proc]\ncredential_process = "+script+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	env := map[string]*string{"AWS_CONFIG_FILE": &cfg, "AWS_SHARED_CREDENTIALS_FILE": strp(filepath.Join(dir, "none"))}
	c, err := New(context.Background(), Options{EndpointURL: srv.URL, Profile: "proc", Retries: 1, Env: env})
	if err == nil {
		_, err = c.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		if err == nil {
			_, err = c.Get.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		}
	}
	if err == nil {
		t.Fatal("no error from credentials that do not parse")
	}
	if msg := err.Error(); strings.Contains(msg, "TOPSECRET") || strings.Contains(msg, "SESSIONTOKEN") {
		t.Fatalf("error quotes the secrets: %s", msg)
	}
	for _, call := range []func() error{
		func() error {
			_, err := c.Get.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
			return err
		},
		func() error {
			_, err := c.List.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("b")})
			return err
		},
	} {
		if err := call(); err == nil || strings.Contains(err.Error(), "TOPSECRET") || strings.Contains(err.Error(), "SESSIONTOKEN") {
			t.Errorf("error %v: none, or quotes the secrets", err)
		}
	}
}

// TestCABundle: a server whose certificate the system does not trust is
// refused by default, at once (no retries), and reached with its CA given
// as CABundle.
func TestCABundle(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		w.Header().Set("ETag", `"x"`)
	}))
	var handshakes atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			handshakes.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	head := func(o Options) error {
		o.EndpointURL, o.Key, o.Secret = srv.URL, "k", "s"
		if o.Retries == 0 {
			o.Retries = 1
		}
		c, err := New(context.Background(), o)
		if err != nil {
			return err
		}
		_, err = c.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("b"), Key: aws.String("k")})
		return err
	}
	before := handshakes.Load()
	if err := head(Options{Retries: 5}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server: %v, want a certificate error", err)
	}
	if n := handshakes.Load() - before; n != 1 {
		t.Errorf("untrusted server: %d connections, want 1 (a certificate does not change on retry)", n)
	}
	if err := head(Options{CABundle: bundle}); err != nil {
		t.Errorf("with its CA bundle: %v", err)
	}
	if err := head(Options{CABundle: filepath.Join(t.TempDir(), "missing.pem")}); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing bundle: %v, want an invalid-options error naming it", err)
	}
}

// TestChecksumSetting: uploads carry no checksum by default (many
// S3-compatible servers refuse aws-chunked bodies) and carry one when the
// environment asks for it, as boto3 reads AWS_REQUEST_CHECKSUM_CALCULATION.
func TestChecksumSetting(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setting  *string
		profile  string // the default profile's setting in the config file
		checksum bool
	}{
		{"default", nil, "", false},
		{"when_required", strp("when_required"), "", false},
		{"when_supported", strp("when_supported"), "", true},
		{"profile-when_supported", nil, "when_supported", true},
		{"environment-over-profile", strp("when_required"), "when_supported", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == http.MethodPut {
					sent = r.Header.Clone()
				}
				w.Header().Set("ETag", `"x"`)
			}))
			defer srv.Close()
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config")
			if tc.profile != "" {
				if err := os.WriteFile(cfg, []byte("[default]\nrequest_checksum_calculation = "+tc.profile+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]*string{"AWS_REQUEST_CHECKSUM_CALCULATION": tc.setting,
				"AWS_CONFIG_FILE": &cfg, "AWS_SHARED_CREDENTIALS_FILE": strp(filepath.Join(dir, "none"))}
			c, err := New(context.Background(), Options{EndpointURL: srv.URL, Key: "k", Secret: "s", Retries: 1, Env: env})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("b"), Key: aws.String("k"),
				Body: strings.NewReader("hello")}); err != nil {
				t.Fatal(err)
			}
			got := false
			for name := range sent {
				if n := strings.ToLower(name); strings.HasPrefix(n, "x-amz-checksum-") || n == "x-amz-trailer" {
					got = true
				}
			}
			if got != tc.checksum {
				t.Errorf("checksum headers sent %v, want %v: %v", got, tc.checksum, sent)
			}
		})
	}
}
