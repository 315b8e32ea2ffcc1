package bundler

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// entry is one node of an overlay tree, from a directory on disk or made
// up by the bundler (setup.sh).
type entry struct {
	name string // slash-separated, relative, no leading "./"
	typ  byte   // tar.TypeDir, tar.TypeReg, tar.TypeSymlink, tar.TypeLink
	mode int64  // 0755 or 0644 (dirs 0755)
	link string // symlink target or hard link's first name
	src  string // file to copy for TypeReg ("" when body is set)
	body []byte // contents of a made-up file
	size int64
}

// tree is an overlay being assembled: names are unique, later additions
// replace earlier ones (as unpacking debs one after the other would).
type tree struct {
	entries map[string]*entry
}

func newTree() *tree { return &tree{entries: map[string]*entry{}} }

// addDir adds every node under dir, under the prefix inside the tree.
// Symbolic links are kept as links (absolute ones rewritten to relative ones
// when their target is inside dir, see relink), hard links become tar hard
// links to the first name of the inode, devices, FIFOs and sockets are
// skipped with a warning (they never belong in a bundle).
//
// chroot says whether absolute links are relative to dir (an unpacked
// Debian package tree) or to the real file system (an install space, whose
// links into itself name the build machine's path).
func (t *tree) addDir(dir, prefix string, chroot bool, warn func(string)) error {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	inodes := map[[2]uint64][]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		if name == "." || name == "" {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		t.parents(name)
		switch m := fi.Mode(); {
		case m.IsDir():
			t.entries[name] = &entry{name: name, typ: tar.TypeDir, mode: 0o755}
		case m&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			t.entries[name] = &entry{name: name, typ: tar.TypeSymlink, link: relink(absDir, rel, target, chroot)}
		case m.IsRegular():
			mode := int64(0o644)
			if m&0o111 != 0 {
				mode = 0o755
			}
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), uint64(st.Ino)}
				inodes[key] = append(inodes[key], name)
			}
			t.entries[name] = &entry{name: name, typ: tar.TypeReg, mode: mode, src: p, size: fi.Size()}
		default:
			warn(fmt.Sprintf("skipping %s: %v is not a file, directory or link", p, m.Type()))
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Hard links: the first name in archive order keeps the content, the
	// others link to it.
	for _, names := range inodes {
		slices.Sort(names)
		for _, n := range names[1:] {
			t.entries[n] = &entry{name: n, typ: tar.TypeLink, link: names[0]}
		}
	}
	return nil
}

// relink returns the target a link at rel (inside root) gets in the
// bundle. An absolute target inside root — in a chroot-like tree (unpacked
// Debian packages) any absolute path naming something that exists in it
// (/usr/bin/foo -> /etc/alternatives/foo, /usr/lib/x/libBrokenLocale.so ->
// /lib/x/libBrokenLocale.so.1), in an install space a path under the
// install space itself — becomes the relative link reaching it inside the
// overlay, with exactly as many ".." as the link is deep; any other target
// is kept as it is (relative links as packaged, absolute links to what is
// not bundled, which resolve on the robot).
func relink(root, rel, target string, chroot bool) string {
	if !strings.HasPrefix(target, "/") {
		return target
	}
	var inside string
	if r, err := filepath.Rel(root, filepath.Clean(target)); err == nil && filepath.IsLocal(r) {
		inside = filepath.ToSlash(r)
	} else if chroot {
		inside = strings.TrimPrefix(path.Clean(target), "/")
		if inside == "" {
			return target
		}
		if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(inside))); err != nil {
			return target
		}
	} else {
		return target
	}
	from := path.Dir(filepath.ToSlash(rel))
	r, err := filepath.Rel(filepath.FromSlash(from), filepath.FromSlash(inside))
	if err != nil {
		return target
	}
	return filepath.ToSlash(r)
}

// addFile adds a made-up file.
func (t *tree) addFile(name string, body []byte, mode int64) {
	t.parents(name)
	t.entries[name] = &entry{name: name, typ: tar.TypeReg, mode: mode, body: body, size: int64(len(body))}
}

func (t *tree) parents(name string) {
	for d := path.Dir(name); d != "." && d != "/"; d = path.Dir(d) {
		if e, ok := t.entries[d]; ok && e.typ == tar.TypeDir {
			return
		}
		t.entries[d] = &entry{name: d, typ: tar.TypeDir, mode: 0o755}
	}
}

// names returns the tree's names in the order they are archived: sorted, so
// that a parent comes before its children and the same tree always gives
// the same bytes; a hard link after its target.
func (t *tree) names() []string {
	names := make([]string, 0, len(t.entries))
	for n := range t.entries {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Epoch is the modification time of every archived entry (and of nothing
// else: gzip headers carry none), unless SOURCE_DATE_EPOCH says otherwise:
// the same inputs always give the same bytes.
var Epoch = time.Unix(946684800, 0).UTC() // 2000-01-01

func mtime() time.Time {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return Epoch
}

// writeTar writes the tree as a tar stream: owner root (0:0, no names),
// one fixed mtime, modes 0755/0644.
func (t *tree) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	mt := mtime()
	for _, n := range t.names() {
		e := t.entries[n]
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, ModTime: mt, Linkname: e.link}
		switch e.typ {
		case tar.TypeDir:
			hdr.Name += "/"
		case tar.TypeSymlink:
			hdr.Mode = 0o777
		case tar.TypeLink:
			hdr.Mode = t.entries[e.link].mode
		case tar.TypeReg:
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if e.src == "" {
			if _, err := tw.Write(e.body); err != nil {
				return err
			}
			continue
		}
		f, err := os.Open(e.src)
		if err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, e.size)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.src, err)
		}
	}
	return tw.Close()
}

// writeTarGz writes the tree as a deterministic tar.gz: no name, no
// modification time and a fixed OS in the gzip header, a fixed level.
func (t *tree) writeTarGz(w io.Writer) error {
	zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	if err := t.writeTar(zw); err != nil {
		return err
	}
	return zw.Close()
}
