// Package bundler builds colcon bundles (the format `colcon bundle` writes
// and fleetsync-agent, like AWS RoboMaker's robots, reads) from a colcon
// install space, on any Debian or Ubuntu release: a workspace overlay with
// the install space, and a dependencies overlay made of Debian packages
// fetched with the machine's own apt configuration and unpacked with
// dpkg-deb. It is what cmd/fleetsync-bundle runs.
//
// # Layout
//
// Version 2 (the default): an uncompressed tar of `version` ("2"),
// `metadata.tar.gz` (overlays.json, the index of the overlays by offset,
// size and SHA-256, and installer_metadata.json, the Debian packages and
// versions bundled), `pad` (zeros up to the 4 MiB metadata region, as
// colcon-bundle leaves it), then `dependencies.tar.gz` and
// `workspace.tar.gz`. Version 1: a tar.gz of `version` ("1"),
// `metadata.tar` and `bundle.tar`, the two overlays merged into one tree.
//
// Each overlay has a setup.sh of the bundler's own that reads its location
// from BUNDLE_CURRENT_PREFIX (or COLCON_BUNDLE_PREFIX), as the agent and
// AWS's bundle library set them: the dependencies overlay puts its
// usr/bin, libraries, Python packages and ROS packages first on the
// search paths (and sources any opt/ros/<distro>/setup.sh it holds); the
// workspace overlay sources the install space's own local_setup.sh with
// COLCON_CURRENT_PREFIX pointing at it (opt/built_workspace).
//
// # Determinism
//
// The same install space and the same packages give the same bytes: entries
// sorted by name, owner 0:0 without names, one fixed modification time
// (Epoch, or SOURCE_DATE_EPOCH), modes reduced to 0755/0644, gzip headers
// without name or time. An unchanged dependencies overlay therefore keeps
// its SHA-256, and robots that have it do not download it again.
//
// # Links
//
// Symbolic links are kept as links. An absolute link whose target is in the
// same overlay (Debian's /usr/lib/…/libBrokenLocale.so ->
// /lib/…/libBrokenLocale.so.1) is rewritten to the relative link reaching
// that target inside the overlay (colcon-bundle's rewrite has one ".." too
// many); other links are kept as packaged (absolute ones then resolve on
// the robot). Hard links within an overlay stay hard links.
package bundler

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Names of the format.
const (
	WorkspaceDir      = "opt/built_workspace"
	DependenciesName  = "dependencies.tar.gz"
	WorkspaceName     = "workspace.tar.gz"
	MetadataRegion    = 4 << 20 // colcon-bundle's MAX_METADATA_SIZE
	installerMetadata = "installer_metadata.json"
)

// Options say what to bundle.
type Options struct {
	// InstallSpace is the colcon install directory (install/ after
	// `colcon build`; isolated or merged; ROS 1, ROS 2 or plain).
	InstallSpace string
	// Debs are Debian packages to put in the dependencies overlay, with
	// what they depend on (unless NoRecurse).
	Debs []string
	// Rosdep resolves the exec dependencies of the install space's ROS
	// packages (share/*/package.xml) with rosdep, when it is installed.
	Rosdep bool
	// Exclude are packages left out (DefaultExcluded is added unless
	// IncludeBase).
	Exclude []string
	// IncludeBase keeps the C runtime and Essential/required packages.
	IncludeBase bool
	// NoRecurse bundles only the packages named, not their dependencies.
	NoRecurse bool
	// Version is 2 (default) or 1.
	Version int
	// CacheDir keeps downloaded .deb files between runs.
	CacheDir string
	// WorkDir holds temporary files (os.TempDir() if empty).
	WorkDir string
	// Warn receives warnings (skipped special files, rosdep missing).
	Warn func(string)
}

// Result describes a bundle written.
type Result struct {
	Path    string
	Version int
	Size    int64
	SHA256  string
	// ETag is what the file store (and S3 for a single-part upload) gives
	// the object: the quoted hex MD5.
	ETag     string
	Overlays []OverlayInfo
	Debs     []Deb
}

// OverlayInfo is one overlay of a bundle.
type OverlayInfo struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

// Build writes the bundle described by o to out.
func Build(ctx context.Context, o Options, out string) (*Result, error) {
	if o.Version == 0 {
		o.Version = 2
	}
	if o.Version != 1 && o.Version != 2 {
		return nil, fmt.Errorf("bundle format version %d: want 1 or 2", o.Version)
	}
	if o.Warn == nil {
		o.Warn = func(string) {}
	}
	if fi, err := os.Stat(o.InstallSpace); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("install space %s: not a directory", o.InstallSpace)
	}
	work, err := os.MkdirTemp(o.WorkDir, "fleetsync-bundle-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	names := append([]string{}, o.Debs...)
	if o.Rosdep {
		dirs, _ := filepath.Glob(filepath.Join(o.InstallSpace, "share", "*"))
		more, _ := filepath.Glob(filepath.Join(o.InstallSpace, "*", "share", "*"))
		keys, ok, err := RosdepKeys(ctx, append(dirs, more...))
		switch {
		case err != nil:
			return nil, fmt.Errorf("rosdep: %w", err)
		case !ok:
			o.Warn("rosdep is not installed: only the packages given by name are bundled")
		default:
			names = append(names, keys...)
		}
	}
	exclude := append([]string{}, o.Exclude...)
	if !o.IncludeBase {
		exclude = append(exclude, DefaultExcluded...)
	}
	var debs []Deb
	depsRoot := filepath.Join(work, "deps")
	if err := os.Mkdir(depsRoot, 0o755); err != nil {
		return nil, err
	}
	if len(names) > 0 {
		pkgs, err := Resolve(ctx, names, exclude, o.NoRecurse)
		if err != nil {
			return nil, err
		}
		cache := o.CacheDir
		if cache == "" {
			cache = filepath.Join(work, "debs")
		}
		if debs, err = Fetch(ctx, pkgs, cache); err != nil {
			return nil, err
		}
		if err := Unpack(ctx, debs, depsRoot); err != nil {
			return nil, err
		}
	}
	meta, err := json.MarshalIndent(map[string]any{"installers": map[string]any{"apt": debsOrEmpty(debs)}}, "", "  ")
	if err != nil {
		return nil, err
	}

	deps := newTree()
	if err := deps.addDir(depsRoot, ".", true, o.Warn); err != nil {
		return nil, err
	}
	ws := newTree()
	if err := ws.addDir(o.InstallSpace, WorkspaceDir, false, o.Warn); err != nil {
		return nil, err
	}
	res := &Result{Path: out, Version: o.Version, Debs: debs}
	if o.Version == 1 {
		err = writeV1(work, deps, ws, meta, out)
	} else {
		deps.addFile("setup.sh", []byte(depsSetup), 0o644)
		ws.addFile("setup.sh", []byte(workspaceSetup), 0o644)
		res.Overlays, err = writeV2(work, deps, ws, meta, out)
	}
	if err != nil {
		return nil, err
	}
	if err := digest(res); err != nil {
		return nil, err
	}
	return res, nil
}

func debsOrEmpty(d []Deb) []Deb {
	if d == nil {
		return []Deb{}
	}
	return d
}

// writeV1 merges both overlays into bundle.tar, under one setup.sh, and
// writes version, metadata.tar and bundle.tar in that order (version
// first: that is how readers recognise the format).
func writeV1(work string, deps, ws *tree, meta []byte, out string) error {
	merged := newTree()
	for n, e := range deps.entries {
		merged.entries[n] = e
	}
	for n, e := range ws.entries {
		merged.entries[n] = e
	}
	merged.addFile("setup.sh", []byte(depsSetup+"\n"+workspaceSetup), 0o644)
	bundleTar := filepath.Join(work, "bundle.tar")
	if err := writeFileAtomic(bundleTar, merged.writeTar); err != nil {
		return err
	}
	mt := newTree()
	mt.addFile(installerMetadata, meta, 0o644)
	var metaTar bytes.Buffer
	if err := mt.writeTar(&metaTar); err != nil {
		return err
	}
	return writeFileAtomic(out, func(w io.Writer) error {
		zw, err := gzip.NewWriterLevel(w, gzip.DefaultCompression)
		if err != nil {
			return err
		}
		tw := tar.NewWriter(zw)
		mtime := mtime()
		put := func(name string, size int64, body io.Reader) error {
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: mtime}); err != nil {
				return err
			}
			_, err := io.CopyN(tw, body, size)
			return err
		}
		if err := put("version", 1, strings.NewReader("1")); err != nil {
			return err
		}
		if err := put("metadata.tar", int64(metaTar.Len()), &metaTar); err != nil {
			return err
		}
		f, err := os.Open(bundleTar)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if err := put("bundle.tar", fi.Size(), f); err != nil {
			return err
		}
		if err := tw.Close(); err != nil {
			return err
		}
		return zw.Close()
	})
}

// writeV2 writes each overlay to a file, then the bundle: version,
// metadata.tar.gz, pad up to MetadataRegion, the overlays.
func writeV2(work string, deps, ws *tree, meta []byte, out string) ([]OverlayInfo, error) {
	type ov struct {
		name string
		path string
		size int64
		sum  string
	}
	var ovs []ov
	for _, x := range []struct {
		name string
		t    *tree
	}{{DependenciesName, deps}, {WorkspaceName, ws}} {
		p := filepath.Join(work, x.name)
		f, err := os.Create(p)
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		cw := &counter{w: io.MultiWriter(f, h)}
		err = x.t.writeTarGz(cw)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		ovs = append(ovs, ov{x.name, p, cw.n, hex.EncodeToString(h.Sum(nil))})
	}
	// Offsets: each overlay's data follows its 512-byte header; entries
	// are padded to 512 bytes.
	var index []OverlayInfo
	off := int64(MetadataRegion)
	for _, o := range ovs {
		index = append(index, OverlayInfo{Name: o.name, SHA256: o.sum, Offset: off + 512, Size: o.size})
		off += 512 + (o.size+511)/512*512
	}
	idx, err := json.MarshalIndent(map[string]any{"overlays": index}, "", "  ")
	if err != nil {
		return nil, err
	}
	mt := newTree()
	mt.addFile("overlays.json", idx, 0o644)
	mt.addFile(installerMetadata, meta, 0o644)
	var metaGz bytes.Buffer
	if err := mt.writeTarGz(&metaGz); err != nil {
		return nil, err
	}
	err = writeFileAtomic(out, func(w io.Writer) error {
		cw := &counter{w: w}
		tw := tar.NewWriter(cw)
		mtime := mtime()
		put := func(name string, size int64, body io.Reader) error {
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: mtime, Format: tar.FormatGNU}); err != nil {
				return err
			}
			_, err := io.CopyN(tw, body, size)
			return err
		}
		if err := put("version", 1, strings.NewReader("2")); err != nil {
			return err
		}
		if err := put("metadata.tar.gz", int64(len(metaGz.Bytes())), bytes.NewReader(metaGz.Bytes())); err != nil {
			return err
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		pad := MetadataRegion - cw.n - 512
		if pad < 0 {
			return errors.New("metadata exceeds the 4 MiB metadata region")
		}
		if err := put("pad", pad, zeros{}); err != nil {
			return err
		}
		for i, o := range ovs {
			f, err := os.Open(o.path)
			if err != nil {
				return err
			}
			if err := tw.WriteHeader(&tar.Header{Name: o.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: o.size, ModTime: mtime, Format: tar.FormatGNU}); err != nil {
				f.Close()
				return err
			}
			if cw.n != index[i].Offset {
				f.Close()
				return fmt.Errorf("overlay %s at %d, index says %d", o.name, cw.n, index[i].Offset)
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return tw.Close()
	})
	return index, err
}

// writeFileAtomic writes path through a temporary file renamed into place.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// digest fills the size, SHA-256 and ETag of the written bundle.
func digest(r *Result) error {
	f, err := os.Open(r.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	s, m := sha256.New(), md5.New()
	n, err := io.Copy(io.MultiWriter(s, m), f)
	if err != nil {
		return err
	}
	r.Size, r.SHA256, r.ETag = n, hex.EncodeToString(s.Sum(nil)), `"`+hex.EncodeToString(m.Sum(nil))+`"`
	return nil
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// Upload copies the bundle into a fleetsyncd file store (its --bundles
// directory): the object s3://bucket/key of the API is root/bucket/key.
func Upload(r *Result, root, bucket, key string) (string, error) {
	if bucket == "" || key == "" || strings.Contains(bucket, "/") || !filepath.IsLocal(key) {
		return "", fmt.Errorf("upload: invalid bucket %q or key %q", bucket, key)
	}
	dst := filepath.Join(root, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	src, err := os.Open(r.Path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	return dst, writeFileAtomic(dst, func(w io.Writer) error { _, err := io.Copy(w, src); return err })
}
