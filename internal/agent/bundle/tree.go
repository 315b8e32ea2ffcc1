package bundle

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
)

// maxNameLen bounds an entry name (Linux PATH_MAX).
const maxNameLen = 4096

// maxTrailing bounds the data a gzip stream may hold after the tar's
// end-of-archive marker (tar writers pad to 10 KiB records).
const maxTrailing = 1 << 20

type kind uint8

const (
	kindDir kind = iota + 1
	kindFile
	kindSymlink
)

// tree extracts tar entries into one initially empty root directory. It
// remembers every node it created, so it knows without asking the file
// system that each parent of a new entry is a real directory (never a
// symbolic link), and which names are regular files a hard link may point
// to. Directories are never replaced, so that knowledge stays true.
type tree struct {
	x     *extraction
	root  *os.Root
	nodes map[string]kind
}

func (x *extraction) newTree(root *os.Root) *tree {
	return &tree{x: x, root: root, nodes: map[string]kind{".": kindDir}}
}

// extractTar extracts every remaining entry of tr.
func (t *tree) extractTar(tr *tar.Reader) error {
	for {
		if err := t.x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			name := ""
			if hdr != nil {
				name = hdr.Name
			}
			return corrupt(name, err)
		}
		// Every header counts, also those that create nothing (global
		// headers, a directory again): a stream of them would otherwise
		// run until the deployment timeout.
		if t.x.headers++; t.x.headers > 2*t.x.lim.MaxFiles {
			return tooLargef(hdr.Name, "too many archive entries (limit %d)", 2*t.x.lim.MaxFiles)
		}
		if err := t.entry(hdr, tr); err != nil {
			return err
		}
	}
}

// entry extracts one entry whose content is read from r.
func (t *tree) entry(hdr *tar.Header, r io.Reader) error {
	if err := t.x.ctx.Err(); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return unsafef(hdr.Name, "%v", err)
	}
	mode := hdr.FileInfo().Mode()
	switch {
	case hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock || mode&fs.ModeDevice != 0:
		return unsafef(hdr.Name, "device node")
	case hdr.Typeflag == tar.TypeFifo || mode&fs.ModeNamedPipe != 0:
		return unsafef(hdr.Name, "FIFO")
	case mode&fs.ModeSocket != 0:
		return unsafef(hdr.Name, "socket")
	}
	if name == "." && hdr.Typeflag != tar.TypeDir {
		return unsafef(hdr.Name, "entry would replace the root directory")
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		return t.dir(hdr.Name, name)
	case tar.TypeReg, '\x00', tar.TypeCont, tar.TypeGNUSparse:
		return t.file(hdr, name, r)
	case tar.TypeSymlink:
		return t.symlink(hdr.Name, name, hdr.Linkname)
	case tar.TypeLink:
		return t.hardlink(hdr.Name, name, hdr.Linkname)
	default:
		return invalidf(hdr.Name, "unsupported entry type %q", hdr.Typeflag)
	}
}

// cleanName turns an archive name into a slash-separated path relative to
// the root ("." for the root itself), refusing absolute paths and any ".."
// component.
func cleanName(n string) (string, error) {
	switch {
	case n == "":
		return "", errors.New("empty name")
	case strings.IndexByte(n, 0) >= 0:
		return "", errors.New("NUL byte in name")
	case len(n) > maxNameLen:
		return "", errors.New("name too long")
	case strings.HasPrefix(n, "/"):
		return "", errors.New("absolute path")
	}
	parts := strings.Split(n, "/")
	out := parts[:0]
	for _, p := range parts {
		switch p {
		case "", ".":
			continue
		case "..":
			return "", errors.New("path escapes the root (\"..\")")
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return ".", nil
	}
	return strings.Join(out, "/"), nil
}

// countEntry accounts for one more created node, named name.
func (t *tree) countEntry(entry, name string) error {
	if t.x.files >= t.x.lim.MaxFiles {
		return tooLargef(entry, "too many entries (limit %d)", t.x.lim.MaxFiles)
	}
	if t.x.nameBytes += int64(len(name)); t.x.nameBytes > t.x.lim.MaxNameBytes {
		return tooLargef(entry, "entry names total more than %d bytes", t.x.lim.MaxNameBytes)
	}
	t.x.files++
	return nil
}

// parents makes sure every parent of name is a real directory, creating the
// missing ones.
func (t *tree) parents(entry, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		switch t.nodes[p] {
		case kindDir:
			continue
		case kindSymlink:
			return unsafef(entry, "path goes through symbolic link %q", p)
		case kindFile:
			return unsafef(entry, "parent %q is not a directory", p)
		}
		if err := t.mkdir(entry, p); err != nil {
			return err
		}
	}
	return nil
}

func (t *tree) mkdir(entry, p string) error {
	if err := t.countEntry(entry, p); err != nil {
		return err
	}
	if err := t.root.Mkdir(p, 0o755); err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	if err := t.root.Chmod(p, 0o755); err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	t.nodes[p] = kindDir
	return nil
}

func (t *tree) dir(entry, name string) error {
	if name == "." {
		return nil
	}
	if err := t.parents(entry, name); err != nil {
		return err
	}
	switch t.nodes[name] {
	case kindDir:
		return nil
	case kindFile, kindSymlink:
		return unsafef(entry, "directory conflicts with an earlier non-directory entry")
	}
	return t.mkdir(entry, name)
}

// replace removes an earlier non-directory at name (later tar entries win).
// Removing first means a new file never writes through an earlier symbolic
// link or into an inode shared by a hard link.
func (t *tree) replace(entry, name string) error {
	k, ok := t.nodes[name]
	if !ok {
		return nil
	}
	if k == kindDir {
		return unsafef(entry, "conflicts with an earlier directory")
	}
	if err := t.root.Remove(name); err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	delete(t.nodes, name)
	return nil
}

// file extracts a regular file, counting its bytes as they are copied.
func (t *tree) file(hdr *tar.Header, name string, r io.Reader) error {
	entry, lim := hdr.Name, t.x.lim
	switch {
	case hdr.Size < 0:
		return invalidf(entry, "corrupt archive: negative size")
	case hdr.Size > lim.MaxFileBytes:
		return tooLargef(entry, "file size %d exceeds the limit of %d bytes", hdr.Size, lim.MaxFileBytes)
	case hdr.Size > lim.MaxBytes-t.x.bytes:
		return tooLargef(entry, "total size exceeds the limit of %d bytes", lim.MaxBytes)
	}
	if err := t.parents(entry, name); err != nil {
		return err
	}
	if err := t.replace(entry, name); err != nil {
		return err
	}
	if err := t.countEntry(entry, name); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if hdr.Mode&0o111 != 0 {
		perm = 0o755
	}
	f, err := t.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	t.nodes[name] = kindFile
	if err := t.copy(entry, f, r); err != nil {
		f.Close()
		return err
	}
	// Chmod after creation: the umask does not apply, and setuid, setgid
	// and sticky bits are never set.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	return nil
}

// copy copies r to w, never past the per-file or total limit whatever the
// header said, checking for cancellation between chunks.
func (t *tree) copy(entry string, w io.Writer, r io.Reader) error {
	lim := t.x.lim
	var n int64
	for {
		if err := t.x.ctx.Err(); err != nil {
			return err
		}
		m, rerr := r.Read(t.x.buf)
		if m > 0 {
			n += int64(m)
			t.x.bytes += int64(m)
			if n > lim.MaxFileBytes {
				return tooLargef(entry, "file size exceeds the limit of %d bytes", lim.MaxFileBytes)
			}
			if t.x.bytes > lim.MaxBytes {
				return tooLargef(entry, "total size exceeds the limit of %d bytes", lim.MaxBytes)
			}
			if _, err := w.Write(t.x.buf[:m]); err != nil {
				return fmt.Errorf("bundle: entry %q: %w", entry, err)
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return corrupt(entry, rerr)
		}
	}
}

// symlink creates a symbolic link as the archive gives it, whatever its
// target: relative links out of the root and absolute links are what real
// colcon bundles hold (colcon-bundle rewrites Debian packages' absolute
// links with one ".." too many and keeps some absolute on purpose), and AWS's
// extractor created them as they were. Safety does not depend on where a
// link points but on never going through one: the tree records every link
// it creates, and parents refuses any later entry whose path crosses one
// (so nothing is written through a link), a hard link may only name a
// regular file (never a link), and replace removes a link before a file
// takes its name. The agent then opens the launch and script files through
// an os.Root, which refuses links that leave it.
func (t *tree) symlink(entry, name, target string) error {
	switch {
	case target == "":
		return invalidf(entry, "symbolic link with an empty target")
	case strings.IndexByte(target, 0) >= 0:
		return invalidf(entry, "NUL byte in symbolic link target")
	case len(target) > maxNameLen:
		return invalidf(entry, "symbolic link target too long")
	}
	if err := t.parents(entry, name); err != nil {
		return err
	}
	if err := t.replace(entry, name); err != nil {
		return err
	}
	if err := t.countEntry(entry, name); err != nil {
		return err
	}
	if err := t.root.Symlink(target, name); err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	t.nodes[name] = kindSymlink
	return nil
}

// hardlink links name to a regular file extracted earlier into this root.
func (t *tree) hardlink(entry, name, linkname string) error {
	old, err := cleanName(linkname)
	if err != nil {
		return unsafef(entry, "hard link to %q: %v", linkname, err)
	}
	if t.nodes[old] != kindFile {
		return unsafef(entry, "hard link to %q, which is not a regular file extracted earlier", linkname)
	}
	if old == name {
		return unsafef(entry, "hard link to itself")
	}
	if err := t.parents(entry, name); err != nil {
		return err
	}
	if err := t.replace(entry, name); err != nil {
		return err
	}
	if err := t.countEntry(entry, name); err != nil {
		return err
	}
	if err := t.root.Link(old, name); err != nil {
		return fmt.Errorf("bundle: entry %q: %w", entry, err)
	}
	t.nodes[name] = kindFile
	return nil
}

// finishGzip reads a gzip stream to its end once the tar inside has ended,
// so a truncated stream or a bad checksum is detected; it refuses more than
// maxTrailing bytes after the tar (a bomb hiding behind the archive's end).
func (x *extraction) finishGzip(zr *gzip.Reader) error {
	if zr == nil {
		return nil
	}
	var n int64
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		m, err := zr.Read(x.buf)
		n += int64(m)
		if n > maxTrailing {
			return tooLargef("", "more than %d bytes of data after the end of the tar archive", maxTrailing)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return corrupt("", err)
		}
	}
}
