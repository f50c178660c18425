// Package s3test gives the benchmark programs' Go tests a real S3-compatible
// endpoint, with the same rules as go/internal/testserver (which packages
// outside go/ may not import): the endpoint named by S3TURBO_TEST_ENDPOINT
// (credentials S3TURBO_TEST_KEY / S3TURBO_TEST_SECRET), else a versitygw
// (posix backend) started on a free loopback port in a temporary directory;
// the binary is $S3TURBO_VERSITYGW, the repository's .tools/bin/versitygw,
// or versitygw on PATH. Without one the tests skip, or fail when
// S3TURBO_REQUIRE_SERVER is set.
package s3test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/s3client"
)

// Server is a running (or external) S3 endpoint.
type Server struct {
	Endpoint, Key, Secret string

	cmd *exec.Cmd
	dir string
}

func findVersitygw() string {
	if p := os.Getenv("S3TURBO_VERSITYGW"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", ".tools", "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	return ""
}

// Start returns the external endpoint if configured, else starts versitygw.
func Start() (*Server, error) {
	if ep := os.Getenv("S3TURBO_TEST_ENDPOINT"); ep != "" {
		return &Server{Endpoint: ep, Key: os.Getenv("S3TURBO_TEST_KEY"), Secret: os.Getenv("S3TURBO_TEST_SECRET")}, nil
	}
	bin := findVersitygw()
	if bin == "" {
		return nil, fmt.Errorf("no S3 test server: set S3TURBO_TEST_ENDPOINT or run `make tools` (versitygw)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "s3turbo-benchtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), Key: "s3turbo-test", Secret: "s3turbo-test-secret", dir: dir}
	s.cmd = exec.Command(bin, "--access", s.Key, "--secret", s.Secret,
		"--port", fmt.Sprintf("127.0.0.1:%d", port), "--keep-alive", "--quiet", "posix", dir)
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(s.Endpoint + "/"); err == nil {
			resp.Body.Close()
			return s, nil
		}
	}
	s.Stop()
	return nil, fmt.Errorf("versitygw did not answer on %s", s.Endpoint)
}

// Stop ends a server this package started and removes its data.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}

// Client is an SDK client for the server (for seeding data).
func (s *Server) Client(ctx context.Context) (*s3client.Client, error) {
	return s3client.New(ctx, s3client.Options{EndpointURL: s.Endpoint, Key: s.Key, Secret: s.Secret, Region: "us-east-1"})
}

// Main is a package's TestMain body: it starts (or finds) the server,
// creates bucket, calls setup (which stores what the tests need and may
// seed data), runs the tests and stops the server. It returns the exit code
// for os.Exit.
func Main(m *testing.M, pkg, bucket string, setup func(srv *Server, c *s3client.Client) error) int {
	srv, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if strings.TrimSpace(os.Getenv("S3TURBO_REQUIRE_SERVER")) != "" {
			return 1
		}
		fmt.Fprintf(os.Stderr, "skipping %s tests that need a server\n", pkg)
		return m.Run() // tests needing the server skip themselves (their setup never ran)
	}
	defer srv.Stop()
	ctx := context.Background()
	c, err := srv.Client(ctx)
	if err == nil {
		defer c.Close()
		_, err = c.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	}
	if err == nil && setup != nil {
		err = setup(srv, c)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
