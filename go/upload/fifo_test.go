//go:build unix

package upload

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/s3turbo/s3turbo/go/s3err"
)

// TestPutFilesNamedPipe: a named pipe among the files fails as "not a
// regular file" at once. It was opened before its type was checked, and
// opening a pipe blocks until a writer opens it: the batch (and Ctrl-C,
// whose cancellation the open ignores) waited for another process.
func TestPutFilesNamedPipe(t *testing.T) {
	fresh(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan []Result, 1)
	go func() {
		done <- PutFiles(ctx, client.S3, []File{{Path: fifo, Bucket: bucket, Key: "fifo/pipe"}}, Options{PartSize: part}, nil)
	}()
	var res []Result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("PutFiles still opening the named pipe after 20 s")
	}
	if s3err.Classify(res[0].Err) != s3err.Invalid || !strings.Contains(res[0].Err.Error(), "not a regular file") ||
		!strings.Contains(res[0].Err.Error(), fifo) {
		t.Fatalf("err %v, want Invalid naming %s as not a regular file", res[0].Err, fifo)
	}
}
