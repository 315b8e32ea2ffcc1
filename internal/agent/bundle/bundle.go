// Package bundle extracts robot application bundles on the robot, safely.
//
// A bundle is a plain tar or tar.gz, or a colcon bundle as `colcon bundle`
// writes it and AWS's aws-robomaker-bundle-support-library reads it:
//
//   - Version 1: a tar (usually gzip-compressed) whose first entry is
//     `version` containing "1", followed by `metadata.tar` and `bundle.tar`,
//     two nested tars that are both extracted into the bundle root, which has
//     a setup.sh to source.
//   - Version 2: an uncompressed tar whose entries are `version` ("2"),
//     `metadata.tar.gz` (a tar.gz holding overlays.json and other metadata),
//     `pad` (zeros up to the 4 MiB metadata region) and then one entry per
//     overlay (dependencies.tar.gz, workspace.tar.gz). overlays.json is
//     {"overlays":[{"name","sha256","offset","size"}]}: offset and size address
//     the overlay's bytes in the bundle file itself, so a robot can fetch only
//     the overlays it lacks with ranged reads. Each overlay is a tar.gz
//     extracted once into a cache directory named by its SHA-256 and shared by
//     every bundle that contains it; each has a setup.sh, sourced in order.
//
// Extraction never writes outside the destination or the cache directory:
// every file operation goes through an os.Root, entry names with ".." or a
// leading "/" are refused, no entry's path may go through a symbolic link
// (so nothing is written through one), symbolic links themselves are
// created as the archive gives them, pointing anywhere (as real colcon
// bundles' links do: dangling relative links out of the root, absolute links
// into /lib), hard links only to regular files extracted earlier, and device
// nodes, FIFOs and sockets are refused. Sizes and file counts are counted
// while copying, so a compression bomb stops at the limit. A refusal wraps
// ErrUnsafe (an escape attempt), ErrInvalid (not a bundle) or ErrTooLarge.
//
// The package imports only the standard library: it is part of the agent,
// which must build without server code.
package bundle

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Refusals, told apart so that an operator reads "unsafe" only for a real
// escape attempt (test with errors.Is, or Refused for any of them). Every
// message names the entry and the reason.
var (
	// ErrUnsafe marks an attempt to reach outside the destination: a path
	// with ".." or a leading "/", a path through a symbolic link, a hard
	// link to anything but a regular file extracted earlier, a device node,
	// FIFO or socket, an entry replacing the root.
	ErrUnsafe = errors.New("unsafe bundle")
	// ErrInvalid marks a file that is not a bundle: not a tar or tar.gz, a
	// corrupt or truncated archive, an unknown colcon version, an invalid
	// overlay index, an overlay whose SHA-256 does not match, an entry type
	// a bundle does not hold.
	ErrInvalid = errors.New("invalid bundle")
	// ErrTooLarge marks a bundle beyond the Limits (a compression bomb, too
	// many entries) or beyond the format's own bounds.
	ErrTooLarge = errors.New("bundle too large")
)

// Refused reports whether err is a refusal to extract (ErrUnsafe,
// ErrInvalid or ErrTooLarge) rather than an I/O error or a cancellation.
func Refused(err error) bool {
	return errors.Is(err, ErrUnsafe) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge)
}

// Format names reported in Extracted.Format.
const (
	FormatTar      = "tar"
	FormatTarGz    = "tar.gz"
	FormatColconV1 = "colcon-v1"
	FormatColconV2 = "colcon-v2"
)

// Limits bound what an archive may expand to. A zero or negative field means
// the corresponding DefaultLimits value. The limits apply to one Extract call
// as a whole (the bundle root and every overlay extracted by that call;
// overlays reused from the cache do not count).
type Limits struct {
	// MaxBytes bounds the total uncompressed bytes of regular files.
	MaxBytes int64
	// MaxFiles bounds the number of entries created: files, directories
	// (also those created implicitly as parents), symbolic and hard links.
	MaxFiles int
	// MaxFileBytes bounds the size of one regular file.
	MaxFileBytes int64
	// MaxNameBytes bounds the entry names an extraction remembers (every
	// node it created, to know parents are real directories): 200,000
	// entries of 4 KiB names fit in a 1 MB archive (they compress a
	// thousandfold) and would take 800 MB of the robot's memory.
	MaxNameBytes int64
}

// DefaultLimits returns the limits used for zero fields: 8 GiB in all,
// 200,000 entries, 4 GiB per file, 64 MiB of names.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 8 << 30, MaxFiles: 200_000, MaxFileBytes: 4 << 30, MaxNameBytes: 64 << 20}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxNameBytes <= 0 {
		l.MaxNameBytes = d.MaxNameBytes
	}
	if l.MaxFileBytes <= 0 {
		l.MaxFileBytes = d.MaxFileBytes
	}
	return l
}

// Extracted describes an extracted bundle.
type Extracted struct {
	// Root is the directory the application runs in: the absolute path of
	// dst. For a colcon v2 bundle it holds the bundle's metadata files
	// (overlays.json, …); the application itself is in the overlays.
	Root string
	// Format is FormatTar, FormatTarGz, FormatColconV1 or FormatColconV2.
	Format string
	// Overlays are the absolute directories whose setup.sh must be sourced,
	// in this order, before the launcher (each with BUNDLE_CURRENT_PREFIX
	// and COLCON_BUNDLE_PREFIX set to the directory). For colcon v1 it is
	// [Root]; for v2 the cache directories of the overlays in the index's
	// order (colcon bundles list the workspace last); empty for plain tars
	// (the agent then sources Root/setup.sh if present).
	Overlays []string
	// DownloadedOverlays counts the v2 overlays extracted by this call.
	DownloadedOverlays int
	// ReusedOverlays counts the v2 overlays found complete in the cache
	// (their bytes in the bundle file were not read).
	ReusedOverlays int
}

// Overlay is one entry of a colcon v2 bundle's overlays.json.
type Overlay struct {
	// Name is the overlay's file name in the bundle ("dependencies.tar.gz").
	Name string
	// Offset and Size address the overlay's bytes in the bundle file.
	Offset, Size int64
	// SHA256 is the lower-case hex SHA-256 of those bytes; it names the
	// overlay's cache directory.
	SHA256 string
}

// Extract extracts the bundle file at src into dst and reports where the
// application and its overlays are.
//
// dst is created if it does not exist; if it exists it must be an empty
// directory. The format is detected from the content: gzip or plain tar; a
// tar whose first entry is `version` is a colcon bundle (v1 or v2, see the
// package comment); any other tar or tar.gz is a plain bundle extracted as a
// whole. colcon v2 overlays are extracted into cacheDir/<sha256>/ (cacheDir
// is created if needed) through a temporary directory renamed into place
// once complete and verified, and are skipped, unread, when that directory
// already exists; so a bundle file whose cached overlays were never
// downloaded (holes) extracts correctly. cacheDir is needed only for v2.
//
// Refusals wrap ErrUnsafe, ErrInvalid or ErrTooLarge; a cancelled ctx returns ctx.Err(); other errors
// are I/O errors. On any error dst is removed (emptied if it existed), while
// overlays already complete stay in the cache.
func Extract(ctx context.Context, src, dst, cacheDir string, lim Limits) (Extracted, error) {
	if err := ctx.Err(); err != nil {
		return Extracted{}, err
	}
	// Stat first: opening a FIFO would block.
	if st, err := os.Stat(src); err != nil {
		return Extracted{}, fmt.Errorf("bundle: %w", err)
	} else if !st.Mode().IsRegular() {
		return Extracted{}, fmt.Errorf("bundle: %s is not a regular file", src)
	}
	f, err := os.Open(src)
	if err != nil {
		return Extracted{}, fmt.Errorf("bundle: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Extracted{}, fmt.Errorf("bundle: %w", err)
	}
	if !st.Mode().IsRegular() {
		return Extracted{}, fmt.Errorf("bundle: %s is not a regular file", src)
	}
	dstAbs, err := filepath.Abs(dst)
	if err != nil {
		return Extracted{}, fmt.Errorf("bundle: %w", err)
	}
	created, err := prepareDst(dstAbs)
	if err != nil {
		return Extracted{}, err
	}
	root, err := os.OpenRoot(dstAbs)
	if err != nil {
		return Extracted{}, fmt.Errorf("bundle: %w", err)
	}
	x := &extraction{ctx: ctx, lim: lim.withDefaults(), buf: make([]byte, 64<<10)}
	res, err := x.run(f, st.Size(), root, dstAbs, cacheDir)
	if err == nil {
		// Durable before the caller records it as the robot's application
		// (and removes the version it replaces): after a power cut the
		// state file must never name files still in the page cache.
		err = syncFS(root)
	}
	root.Close()
	if err != nil {
		cleanDst(dstAbs, created)
		return Extracted{}, err
	}
	return res, nil
}

// V2Overlays reads a bundle's format version and, for a colcon v2 bundle,
// its overlay index, without extracting anything. It reads only the start of
// the file (the version entry and metadata.tar.gz, inside the first 4 MiB of
// a bundle colcon wrote), so src may be backed by ranged downloads and the
// agent can then fetch only the overlays missing from its cache. size is the
// whole bundle's size; every overlay must lie inside it.
//
// version is 0 for a plain tar or tar.gz, 1 or 2 for a colcon bundle;
// overlays is nil unless version is 2. A corrupt or unknown archive, or an
// invalid index, wraps ErrInvalid.
func V2Overlays(src io.ReaderAt, size int64) (version int, overlays []Overlay, err error) {
	gz, version, err := probe(src, size)
	if err != nil || version != 2 {
		return version, nil, err
	}
	if gz {
		return 0, nil, invalidf("version", "a colcon v2 bundle must be an uncompressed tar")
	}
	overlays, _, err = readV2Index(src, size)
	if err != nil {
		return 0, nil, err
	}
	return 2, overlays, nil
}

// extraction is the state of one Extract call: its context, limits and the
// counters shared by the bundle root and every overlay it extracts.
type extraction struct {
	ctx   context.Context
	lim   Limits
	files int
	bytes int64
	// nameBytes and headers are what the limits on remembered names and
	// on archive headers count (tree.countEntry, tree.extractTar).
	nameBytes int64
	headers   int
	buf       []byte
}

func (x *extraction) run(f *os.File, size int64, root *os.Root, dstAbs, cacheDir string) (Extracted, error) {
	res := Extracted{Root: dstAbs}
	gz := isGzip(f, 0, size)
	var r io.Reader = io.NewSectionReader(f, 0, size)
	var zr *gzip.Reader
	if gz {
		var err error
		if zr, err = gzip.NewReader(r); err != nil {
			return res, corrupt("", err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err == io.EOF {
		return res, invalidf("", "corrupt archive: not a tar archive (no entries)")
	}
	if err != nil {
		return res, corrupt("", err)
	}
	t := x.newTree(root)
	if !isVersionEntry(hdr) {
		res.Format = FormatTar
		if gz {
			res.Format = FormatTarGz
		}
		if err := t.entry(hdr, tr); err != nil {
			return res, err
		}
		if err := t.extractTar(tr); err != nil {
			return res, err
		}
		return res, x.finishGzip(zr)
	}
	version, err := readVersion(hdr, tr)
	if err != nil {
		return res, err
	}
	switch version {
	case 1:
		res.Format = FormatColconV1
		if err := t.colconV1(tr); err != nil {
			return res, err
		}
		if err := x.finishGzip(zr); err != nil {
			return res, err
		}
		res.Overlays = []string{dstAbs}
		return res, nil
	default: // 2; readVersion refuses anything else
		if gz {
			return res, invalidf("version", "a colcon v2 bundle must be an uncompressed tar")
		}
		res.Format = FormatColconV2
		return x.colconV2(res, f, size, t, cacheDir)
	}
}

// prepareDst creates dst (and its parents) or checks that it is an empty
// directory; created reports whether Extract made it.
func prepareDst(dst string) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, fmt.Errorf("bundle: %w", err)
	}
	err = os.Mkdir(dst, 0o755)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("bundle: %w", err)
	}
	fi, err := os.Lstat(dst)
	if err != nil {
		return false, fmt.Errorf("bundle: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("bundle: destination %s exists and is not a directory", dst)
	}
	d, err := os.Open(dst)
	if err != nil {
		return false, fmt.Errorf("bundle: %w", err)
	}
	defer d.Close()
	if names, _ := d.Readdirnames(1); len(names) > 0 {
		return false, fmt.Errorf("bundle: destination %s is not empty", dst)
	}
	return false, nil
}

// cleanDst removes what a failed extraction left in dst. os.RemoveAll never
// follows symbolic links.
func cleanDst(dst string, created bool) {
	if created {
		_ = os.RemoveAll(dst)
		return
	}
	d, err := os.Open(dst)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		_ = os.RemoveAll(filepath.Join(dst, n))
	}
}

// isGzip reports whether the bytes at off start with the gzip magic number.
func isGzip(r io.ReaderAt, off, size int64) bool {
	if size < 2 {
		return false
	}
	var b [2]byte
	if _, err := r.ReadAt(b[:], off); err != nil {
		return false
	}
	return b[0] == 0x1f && b[1] == 0x8b
}

// unsafef returns an ErrUnsafe refusal naming the entry (if any).
func unsafef(entry, format string, args ...any) error {
	return refusal(ErrUnsafe, entry, fmt.Sprintf(format, args...))
}

// invalidf returns an ErrInvalid refusal naming the entry (if any).
func invalidf(entry, format string, args ...any) error {
	return refusal(ErrInvalid, entry, fmt.Sprintf(format, args...))
}

// tooLargef returns an ErrTooLarge refusal naming the entry (if any).
func tooLargef(entry, format string, args ...any) error {
	return refusal(ErrTooLarge, entry, fmt.Sprintf(format, args...))
}

func refusal(kind error, entry, msg string) error {
	if entry == "" {
		return fmt.Errorf("%w: %s", kind, msg)
	}
	return fmt.Errorf("%w: entry %q: %s", kind, entry, msg)
}

// corrupt returns an ErrInvalid refusal for an archive that cannot be read.
func corrupt(entry string, err error) error {
	if entry == "" {
		return fmt.Errorf("%w: corrupt archive (not a readable tar or tar.gz): %w", ErrInvalid, err)
	}
	return fmt.Errorf("%w: entry %q: corrupt archive: %w", ErrInvalid, entry, err)
}
