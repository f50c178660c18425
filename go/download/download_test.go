package download

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/s3turbo/s3turbo/go/internal/destfile"
	"github.com/s3turbo/s3turbo/go/internal/testserver"
	"github.com/s3turbo/s3turbo/go/s3client"
	"github.com/s3turbo/s3turbo/go/s3err"
)

var (
	client *s3client.Client
	bucket = fmt.Sprintf("download-test-%d", time.Now().UnixNano()%1e9)
)

const part = 16 << 10

func TestMain(m *testing.M) {
	os.Exit(testserver.Main(m, "download", bucket, func(_ *testserver.Server, c *s3client.Client) error {
		client = c
		return nil
	}))
}

func put(t *testing.T, key string, data []byte) {
	t.Helper()
	_, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

func randBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// leftovers lists temporary files under dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".s3turbo-") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

func TestFiles(t *testing.T) {
	sizes := map[string]int{
		"basic/empty": 0, "basic/one": 1, "basic/dir/sub-part": part - 1, "basic/dir/part": part,
		"basic/dir/part-plus-one": part + 1, "basic/dir/deep/er/multi": 5*part + 7,
	}
	data := map[string][]byte{}
	seed := int64(0)
	for k, n := range sizes {
		seed++
		data[k] = randBytes(n, seed)
		put(t, k, data[k])
	}
	for _, conc := range []int{1, 8} {
		t.Run(fmt.Sprintf("conc=%d", conc), func(t *testing.T) {
			root := t.TempDir()
			var items []Item
			var total int64
			for k := range sizes {
				items = append(items, Item{Bucket: bucket, Key: k, Path: filepath.Join(root, "out", k)})
				total += int64(sizes[k])
			}
			var prog Progress
			res, err := Files(context.Background(), client.S3, items, Options{Root: root, PartSize: part, Concurrency: conc, Progress: &prog})
			if err != nil {
				t.Fatal(err)
			}
			for i, it := range items {
				if res[i].Err != nil {
					t.Fatalf("%s: %v", it.Key, res[i].Err)
				}
				got, err := os.ReadFile(it.Path)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data[it.Key]) || res[i].Size != int64(len(got)) {
					t.Errorf("%s: file has %d bytes (result says %d), want %d", it.Key, len(got), res[i].Size, len(data[it.Key]))
				}
				fi, _ := os.Stat(it.Path)
				if want := 0o666 &^ umask(); fi.Mode().Perm() != want {
					t.Errorf("%s: mode %v, want %v", it.Key, fi.Mode().Perm(), want)
				}
			}
			if l := leftovers(t, root); len(l) > 0 {
				t.Errorf("temporary files left: %v", l)
			}
			files, nbytes, reqs := prog.Load()
			var minReqs int64
			for _, n := range sizes {
				minReqs += max(1, (int64(n)+part-1)/part)
			}
			if files != int64(len(items)) || nbytes != total || reqs != minReqs {
				t.Errorf("progress = %d files, %d bytes, %d requests; want %d, %d, %d", files, nbytes, reqs, len(items), total, minReqs)
			}
		})
	}
}

// TestFilesHonourUmask: files and directories a download creates get the
// modes open() and os.makedirs give (0666 / 0777 less the umask), as boto3's
// and s3fs's downloads do. They were 0644 / 0755 whatever the umask, so a
// group-writable tree (umask 002) lost its group write bit.
func TestFilesHonourUmask(t *testing.T) {
	put(t, "umask/x", []byte("shared"))
	old := syscall.Umask(0o002)
	defer syscall.Umask(old)
	root := t.TempDir()
	dest := filepath.Join(root, "new", "x")
	res, err := Files(context.Background(), client.S3, []Item{{Bucket: bucket, Key: "umask/x", Path: dest}}, Options{PartSize: part})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	for path, want := range map[string]fs.FileMode{dest: 0o664, filepath.Dir(dest): 0o775} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v (%v), want %v", path, fi.Mode().Perm(), err, want)
		}
	}
}

func TestFilesOverwrite(t *testing.T) {
	put(t, "over/x", []byte("new content"))
	root := t.TempDir()
	dest := filepath.Join(root, "x")
	if err := os.WriteFile(dest, []byte("old content that is longer"), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := Files(context.Background(), client.S3, []Item{{Bucket: bucket, Key: "over/x", Path: dest}}, Options{PartSize: part})
	if err != nil || res[0].Err != nil {
		t.Fatal(err, res[0].Err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "new content" {
		t.Fatalf("destination holds %q", got)
	}
}

func TestFilesItemErrors(t *testing.T) {
	put(t, "errs/good", []byte("good"))
	put(t, "errs/big", randBytes(3*part, 7))
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "isdir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(".", filepath.Join(root, "here")); err != nil {
		t.Fatal(err)
	}
	items := []Item{
		{Bucket: bucket, Key: "errs/good", Path: filepath.Join(root, "good")},
		{Bucket: bucket, Key: "errs/missing", Path: filepath.Join(root, "newdir", "missing")},
		{Bucket: bucket, Key: "errs/big", Path: filepath.Join(root, "isdir")},
		{Bucket: bucket, Key: "errs/good", Path: ""},
		{Bucket: bucket, Key: "errs/good", Path: filepath.Join(root, "afile", "under-a-file")},
		{Bucket: bucket, Key: "errs/big", Path: filepath.Join(root, "big")},
		// Another object cleaning to good's path: refused, not raced.
		{Bucket: bucket, Key: "errs/big", Path: root + "/sub/../good"},
		// The same object to the same path again writes the same bytes.
		{Bucket: bucket, Key: "errs/good", Path: filepath.Join(root, "good")},
		// Another object to good's file through a link to its directory,
		// and below a directory not made yet.
		{Bucket: bucket, Key: "errs/big", Path: filepath.Join(root, "here", "good")},
		{Bucket: bucket, Key: "errs/good", Path: filepath.Join(root, "new2", "g")},
		{Bucket: bucket, Key: "errs/big", Path: filepath.Join(root, "here", "new2", "g")},
	}
	codes := []s3err.Code{s3err.OK, s3err.NotFound, s3err.IsDir, s3err.Invalid, s3err.IO, s3err.OK, s3err.Invalid, s3err.OK,
		s3err.Invalid, s3err.OK, s3err.Invalid}
	res, err := Files(context.Background(), client.S3, items, Options{Root: root, PartSize: part, Concurrency: 4})
	if err != nil {
		t.Fatalf("whole-operation error %v; item failures must stay per item", err)
	}
	for i, c := range codes {
		if got := s3err.Classify(res[i].Err); got != c {
			t.Errorf("item %d (%s -> %s): %v, want code %d", i, items[i].Key, items[i].Path, res[i].Err, c)
		}
		if c != s3err.OK {
			if res[i].Size != -1 {
				t.Errorf("item %d: size %d for a failure", i, res[i].Size)
			}
			if !strings.Contains(res[i].Err.Error(), items[i].Key) {
				t.Errorf("item %d: error %q does not name the key", i, res[i].Err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "newdir")); !os.IsNotExist(err) {
		t.Errorf("a missing object created its directory (%v)", err)
	}
	if fi, err := os.Stat(filepath.Join(root, "isdir")); err != nil || !fi.IsDir() {
		t.Errorf("the directory in the way was replaced (%v)", err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "good")); string(got) != "good" {
		t.Errorf("good file holds %q", got)
	}
	if l := leftovers(t, root); len(l) > 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestFilesRootSafety(t *testing.T) {
	put(t, "safe/x", []byte("payload"))
	base := t.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "real"), filepath.Join(root, "a"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(outside, filepath.Join(root, "link")))            // absolute, leads out
	must(os.Symlink("../../outside", filepath.Join(root, "a", "up"))) // relative, leads out
	must(os.Symlink("real", filepath.Join(root, "inlink")))           // stays inside
	must(os.Symlink(root, filepath.Join(base, "rootlink")))           // the root itself via a link

	// A hostile key: joined naively to the root it climbs out of it.
	hostile := "x/../../../outside/pwned"
	if _, err := client.S3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(hostile), Body: strings.NewReader("evil")}); err != nil {
		t.Logf("server refuses key %q (%v); the path check must still reject it", hostile, err)
	}
	for _, tc := range []struct {
		name, root, key, path string
		ok                    bool
	}{
		{"hostile-key", root, hostile, root + "/" + hostile, false},
		{"hostile-key-joined", root, hostile, filepath.Join(root, hostile), false},
		{"dotdot-path", root, "safe/x", root + "/a/../../outside/f", false},
		{"absolute-elsewhere", root, "safe/x", filepath.Join(outside, "f"), false},
		{"the-root-itself", root, "safe/x", root, false},
		{"symlink-out", root, "safe/x", filepath.Join(root, "link", "f"), false},
		{"symlink-out-deeper", root, "safe/x", filepath.Join(root, "link", "new", "f"), false},
		{"relative-symlink-out", root, "safe/x", filepath.Join(root, "a", "up", "f"), false},
		{"symlink-inside", root, "safe/x", filepath.Join(root, "inlink", "f"), true},
		{"root-through-link", filepath.Join(base, "rootlink"), "safe/x", filepath.Join(base, "rootlink", "sub", "f"), true},
		{"dotdot-staying-inside", root, "safe/x", root + "/a/../real/g", true},
		{"no-root", "", "safe/x", filepath.Join(outside, "allowed"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prog Progress
			res, err := Files(context.Background(), client.S3, []Item{{Bucket: bucket, Key: tc.key, Path: tc.path}},
				Options{Root: tc.root, PartSize: part, Progress: &prog})
			if err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				if res[0].Err != nil {
					t.Fatal(res[0].Err)
				}
				if got, _ := os.ReadFile(tc.path); string(got) != "payload" {
					t.Errorf("%s holds %q", tc.path, got)
				}
				return
			}
			err = res[0].Err
			if s3err.Classify(err) != s3err.Invalid {
				t.Fatalf("got %v, want Invalid", err)
			}
			if !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("error %q does not name key and path", err)
			}
			if (tc.path == tc.root) != strings.Contains(err.Error(), "is the download root itself") {
				t.Errorf("error %q: the root itself is not outside it", err)
			}
			if _, _, reqs := prog.Load(); reqs != 0 {
				t.Errorf("%d requests sent for a rejected destination", reqs)
			}
		})
	}
	entries, _ := os.ReadDir(outside)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "allowed" {
		t.Errorf("outside the root: %v, want only the no-root download", names)
	}
	if _, err := os.Stat(filepath.Join(base, "pwned")); err == nil {
		t.Error("hostile key wrote above the root")
	}
}

func TestFilesCancel(t *testing.T) {
	data := randBytes(64*part, 9)
	var items []Item
	root := t.TempDir()
	for i := 0; i < 8; i++ {
		key := fmt.Sprintf("cancel/%d", i)
		put(t, key, data)
		items = append(items, Item{Bucket: bucket, Key: key, Path: filepath.Join(root, key)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	var prog Progress
	go func() {
		for {
			if _, n, _ := prog.Load(); n > 0 {
				cancel()
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	res, err := Files(ctx, client.S3, items, Options{Root: root, PartSize: part, Concurrency: 2, Progress: &prog})
	cancel()
	files, _, _ := prog.Load()
	if files == int64(len(items)) {
		t.Skip("finished before the cancel landed")
	}
	if s3err.Classify(err) != s3err.Cancelled {
		t.Fatalf("err = %v, want Cancelled", err)
	}
	done := 0
	for i, it := range items {
		_, statErr := os.Stat(it.Path)
		if res[i].Err == nil {
			done++
			if statErr != nil {
				t.Errorf("%s: complete but missing: %v", it.Key, statErr)
			}
		} else if statErr == nil {
			t.Errorf("%s: failed (%v) but its destination exists", it.Key, res[i].Err)
		}
	}
	if int64(done) != files {
		t.Errorf("%d results succeeded, progress says %d", done, files)
	}
	if l := leftovers(t, root); len(l) > 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

func TestCreateTempLongName(t *testing.T) {
	dir := t.TempDir()
	d, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	name := strings.Repeat("é", 127) // 254 bytes: the longest name many file systems allow
	f, tmp, err := destfile.CreateTemp(d.OpenFile, name)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if !strings.HasPrefix(tmp, ".é") || !strings.Contains(tmp, ".s3turbo-") || len(tmp) > 255 {
		t.Errorf("temporary name %q", tmp)
	}
}

// TestFilesSpecialDestinations: a destination that exists as a named pipe
// or a device is written into, in order (a temporary file renamed over it
// replaced /dev/null with a regular file); a directory is refused as one;
// a pipe nobody reads from does not hold Ctrl-C.
func TestFilesSpecialDestinations(t *testing.T) {
	data := randBytes(5*part+123, 11) // several parts, fetched concurrently
	put(t, "special/obj", data)
	dir := t.TempDir()

	t.Run("fifo", func(t *testing.T) {
		fifo := filepath.Join(dir, "pipe")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			b, _ := os.ReadFile(fifo) // blocks until the writer opens it
			got <- b
		}()
		res, err := Files(context.Background(), client.S3, []Item{{Bucket: bucket, Key: "special/obj", Path: fifo}},
			Options{Root: dir, PartSize: part, Concurrency: 8})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Errorf("reader got %d bytes, want %d (in order)", len(b), len(data))
		}
		if st, err := os.Lstat(fifo); err != nil || st.Mode()&fs.ModeNamedPipe == 0 {
			t.Errorf("destination is no longer a pipe: %v %v", st.Mode(), err)
		}
	})

	t.Run("dev-null", func(t *testing.T) {
		res, err := Files(context.Background(), client.S3, []Item{{Bucket: bucket, Key: "special/obj", Path: os.DevNull}},
			Options{PartSize: part, Concurrency: 8})
		if err != nil || res[0].Err != nil {
			t.Fatal(err, res[0].Err)
		}
		if st, err := os.Lstat(os.DevNull); err != nil || st.Mode()&fs.ModeCharDevice == 0 {
			t.Fatalf("%s is no longer a device: %v %v", os.DevNull, st.Mode(), err)
		}
	})

	t.Run("directory", func(t *testing.T) {
		sub := filepath.Join(dir, "sub")
		if err := os.Mkdir(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		res, err := Files(context.Background(), client.S3, []Item{{Bucket: bucket, Key: "special/obj", Path: sub}},
			Options{Root: dir, PartSize: part})
		if err == nil {
			err = res[0].Err
		}
		if s3err.Classify(err) != s3err.IsDir || !strings.Contains(err.Error(), "special/obj") {
			t.Fatalf("error %v, want IsDir naming the object", err)
		}
	})

	t.Run("fifo-without-reader-cancels", func(t *testing.T) {
		fifo := filepath.Join(dir, "lonely")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := Files(ctx, client.S3, []Item{{Bucket: bucket, Key: "special/obj", Path: fifo}}, Options{PartSize: part})
		if s3err.Classify(err) != s3err.Timeout && s3err.Classify(err) != s3err.Cancelled {
			t.Errorf("error %v, want the context's", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v to give up", d)
		}
	})
}
