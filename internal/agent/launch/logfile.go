package launch

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// LogName is the name of the application's log file in Supervisor.LogDir;
// rotated files are LogName.1 (the newest) … LogName.N.
const LogName = "app.log"

// rotatingFile is an append-only log file that is rotated before a write
// would make it larger than max bytes, keeping keep rotated files.
type rotatingFile struct {
	mu   sync.Mutex
	path string
	max  int64
	keep int
	f    *os.File
	size int64
	// closed is set by Close; writes then fail.
	closed bool
}

// OpenLog opens dir/name for appending as a log that is rotated (name.1 …
// name.keep) before a write would make it larger than max bytes, so that
// output however long never fills the disk.
func OpenLog(dir, name string, max int64, keep int) (io.WriteCloser, error) {
	return openRotating(dir, name, max, keep)
}

func openRotating(dir, name string, max int64, keep int) (*rotatingFile, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	r := &rotatingFile{path: filepath.Join(dir, name), max: max, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first whenever the file is full; a p larger
// than the room left is split across files, so that no file exceeds max.
func (r *rotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	written := 0
	for len(p) > 0 {
		if r.f == nil { // after a failed rotation
			if err := r.open(); err != nil {
				return written, err
			}
		}
		if r.size >= r.max {
			if err := r.rotate(); err != nil {
				return written, err
			}
		}
		chunk := p
		if room := r.max - r.size; int64(len(chunk)) > room {
			chunk = chunk[:room]
		}
		n, err := r.f.Write(chunk)
		written += n
		r.size += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// rotate renames LogName.i to LogName.i+1 (the oldest is overwritten),
// LogName to LogName.1, and opens a new LogName.
func (r *rotatingFile) rotate() error {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
	for i := r.keep - 1; i >= 1; i-- {
		err := os.Rename(r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return r.open()
}

// Close closes the file; later writes fail.
func (r *rotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
