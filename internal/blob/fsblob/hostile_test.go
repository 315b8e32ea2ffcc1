package fsblob

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/blob"
)

// TestFileStoreRefusesNonRegular: a FIFO, a socket, a directory or a bucket
// symlinked out of the root is an object (or bucket) that does not exist,
// answered at once: opening a FIFO for reading would block until a writer
// came, pinning a thread per request.
func TestFileStoreRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "bkt", "adir"), 0o755))
	must(syscall.Mkfifo(filepath.Join(dir, "bkt", "fifo"), 0o644))
	must(os.WriteFile(filepath.Join(dir, "bkt", "real.tar"), []byte("ok"), 0o644))
	must(os.Symlink("real.tar", filepath.Join(dir, "bkt", "inside-link")))
	must(os.Symlink("fifo", filepath.Join(dir, "bkt", "fifo-link")))
	must(os.WriteFile(filepath.Join(outside, "secret"), []byte("outside"), 0o644))
	must(os.Symlink(outside, filepath.Join(dir, "escape")))
	must(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "bkt", "escape-file")))
	sock := filepath.Join(dir, "bkt", "sock")
	ln, err := net.Listen("unix", sock)
	must(err)
	defer ln.Close()

	s, err := OpenFileStore(dir)
	must(err)
	defer s.Close()
	ctx := t.Context()

	within := func(what string, fn func() error) error {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- fn() }()
		select {
		case err := <-done:
			return err
		case <-time.After(time.Second):
			t.Fatalf("%s: no answer within a second (blocked on open?)", what)
			return nil
		}
	}
	for _, key := range []string{"fifo", "fifo-link", "sock", "adir", "escape-file"} {
		for name, op := range map[string]func() error{
			"Stat":   func() error { _, err := s.Stat(ctx, "bkt", key); return err },
			"Open":   func() error { r, err := s.Open(ctx, "bkt", key, 0, ""); closeIf(r); return err },
			"SHA256": func() error { _, err := s.SHA256(ctx, "bkt", key, `"x"`); return err },
		} {
			err := within(name+" "+key, op)
			if !errors.Is(err, blob.ErrNotExist) {
				t.Errorf("%s(bkt, %s) = %v, want blob.ErrNotExist", name, key, err)
			}
		}
	}
	var nr *NotRegularError
	if _, err := s.Stat(ctx, "bkt", "fifo"); !errors.As(err, &nr) || !strings.Contains(err.Error(), "s3://bkt/fifo is a FIFO") {
		t.Errorf("Stat of a FIFO: %v, want a message naming the object and what it is", err)
	}
	for _, key := range []string{"a\x00b", "real.tar\x00"} {
		if _, err := s.Stat(ctx, "bkt", key); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Stat(bkt, %q) = %v, want blob.ErrNotExist", key, err)
		}
	}
	// A bucket that is a symlink out of the root does not exist.
	for _, b := range []string{"escape", "nul\x00"} {
		if err := s.Bucket(ctx, b); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Bucket(%q) = %v, want blob.ErrNotExist", b, err)
		}
	}
	if _, err := s.Stat(ctx, "escape", "secret"); !errors.Is(err, blob.ErrNotExist) {
		t.Errorf("Stat(escape, secret) = %v, want blob.ErrNotExist", err)
	}
	// A symlink inside the root is followed.
	if obj, err := s.Stat(ctx, "bkt", "inside-link"); err != nil || obj.Size != 2 {
		t.Errorf("Stat of a symlink inside the root: %+v, %v", obj, err)
	}
}

func closeIf(r interface{ Close() error }) {
	if r != nil {
		r.Close()
	}
}
