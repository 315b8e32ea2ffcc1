package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Names and sizes of the colcon bundle format, as colcon-bundle writes them
// and aws-robomaker-bundle-support-library reads them.
const (
	versionEntry  = "version"
	v1BundleTar   = "bundle.tar"
	v1MetadataTar = "metadata.tar"
	v2MetadataTar = "metadata.tar.gz"
	overlaysJSON  = "overlays.json"

	// maxMetadataSize is colcon-bundle's MAX_METADATA_SIZE: metadata.tar.gz
	// must be smaller, and the overlays start at this offset.
	maxMetadataSize = 4 << 20
	// maxIndexSize bounds overlays.json once decompressed.
	maxIndexSize = 4 << 20
	// maxMetadataExpanded bounds metadata.tar.gz once decompressed.
	maxMetadataExpanded = 64 << 20
	// maxOverlays bounds the overlays of one bundle.
	maxOverlays = 1024
	// maxVersionSize bounds the version entry.
	maxVersionSize = 64
)

func isVersionEntry(hdr *tar.Header) bool {
	if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00' {
		return false
	}
	name, err := cleanName(hdr.Name)
	return err == nil && name == versionEntry
}

// readVersion reads the version entry: "1" or "2" (a "major.minor" form and
// surrounding white space are accepted too).
func readVersion(hdr *tar.Header, r io.Reader) (int, error) {
	if hdr.Size > maxVersionSize {
		return 0, tooLargef(hdr.Name, "version entry of %d bytes is too large", hdr.Size)
	}
	b, err := io.ReadAll(io.LimitReader(r, maxVersionSize))
	if err != nil {
		return 0, corrupt(hdr.Name, err)
	}
	v := strings.TrimSpace(string(b))
	major, _, _ := strings.Cut(v, ".")
	switch major {
	case "1":
		return 1, nil
	case "2":
		return 2, nil
	}
	return 0, invalidf(hdr.Name, "unknown colcon bundle version %q", v)
}

// probe reports whether the bundle is gzip-compressed and its colcon version
// (0 for a plain tar), reading only its first entry.
func probe(ra io.ReaderAt, size int64) (gz bool, version int, err error) {
	gz = isGzip(ra, 0, size)
	var r io.Reader = io.NewSectionReader(ra, 0, size)
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return gz, 0, corrupt("", err)
		}
		r = zr
	}
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err == io.EOF {
		return gz, 0, invalidf("", "corrupt archive: not a tar archive (no entries)")
	}
	if err != nil {
		return gz, 0, corrupt("", err)
	}
	if !isVersionEntry(hdr) {
		return gz, 0, nil
	}
	version, err = readVersion(hdr, tr)
	return gz, version, err
}

// colconV1 extracts the rest of a v1 bundle: like AWS's extractor, the
// nested metadata.tar and bundle.tar are both extracted into the root (a
// gzip-compressed one is accepted too); any other entry is extracted as it
// is.
func (t *tree) colconV1(tr *tar.Reader) error {
	for {
		if err := t.x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return corrupt("", err)
		}
		name, nerr := cleanName(hdr.Name)
		nested := nerr == nil && (name == v1BundleTar || name == v1MetadataTar) &&
			(hdr.Typeflag == tar.TypeReg || hdr.Typeflag == '\x00')
		if !nested {
			if err := t.entry(hdr, tr); err != nil {
				return err
			}
			continue
		}
		if err := t.nested(hdr.Name, tr); err != nil {
			return err
		}
	}
}

// nested extracts a tar or tar.gz read from r (an entry of the outer tar)
// into the tree.
func (t *tree) nested(entry string, r io.Reader) error {
	br := newPeekReader(r)
	var in io.Reader = br
	if br.isGzip() {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return corrupt(entry, err)
		}
		defer func() { _ = zr.Close() }()
		in = zr
	}
	if err := t.extractTar(tar.NewReader(in)); err != nil {
		return fmt.Errorf("in %s: %w", entry, err)
	}
	return nil
}

// peekReader lets the first two bytes of a stream be inspected.
type peekReader struct {
	head []byte
	r    io.Reader
}

func newPeekReader(r io.Reader) *peekReader {
	head := make([]byte, 2)
	n, _ := io.ReadFull(r, head)
	return &peekReader{head: head[:n], r: r}
}

func (p *peekReader) isGzip() bool {
	return len(p.head) == 2 && p.head[0] == 0x1f && p.head[1] == 0x8b
}

func (p *peekReader) Read(b []byte) (int, error) {
	if len(p.head) > 0 {
		n := copy(b, p.head)
		p.head = p.head[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// V2HeadSize tells, from the first bytes of a bundle (head, at least
// MinV2Head of them or the whole bundle), how many bytes from its start a
// colcon v2 bundle's index needs: the version entry and metadata.tar.gz,
// so that a robot fetches just those before deciding which overlays it
// lacks (colcon-bundle reserves 4 MiB for them; they are usually a few KB).
// version is 0 for a plain tar or tar.gz and 1 for a v1 bundle (n is then 0);
// a head that is not a readable start of a bundle wraps ErrInvalid.
func V2HeadSize(head []byte) (version int, n int64, err error) {
	gz, version, err := probe(bytes.NewReader(head), int64(len(head)))
	if err != nil || version != 2 {
		return version, 0, err
	}
	if gz {
		return 0, 0, invalidf("version", "a colcon v2 bundle must be an uncompressed tar")
	}
	cr := &countReader{r: bytes.NewReader(head)}
	tr := tar.NewReader(cr)
	if _, err := tr.Next(); err != nil {
		return 0, 0, corrupt("", err)
	}
	hdr, err := tr.Next()
	if err != nil {
		return 0, 0, corrupt("", err)
	}
	if name, _ := cleanName(hdr.Name); name != v2MetadataTar {
		return 0, 0, invalidf(hdr.Name, "colcon v2 bundle: second entry must be %s", v2MetadataTar)
	}
	if hdr.Size < 0 || hdr.Size >= maxMetadataSize {
		return 0, 0, tooLargef(hdr.Name, "metadata of %d bytes exceeds %d", hdr.Size, maxMetadataSize)
	}
	// The tar reader has consumed exactly the header blocks: the metadata's
	// data starts at cr.n.
	return 2, cr.n + hdr.Size, nil
}

// MinV2Head is how many bytes V2HeadSize needs at least: the version
// entry and metadata.tar.gz's header, with room for long-name extensions.
const MinV2Head = 8 << 10

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// overlayIndex mirrors overlays.json, as AWS's library declares it.
type overlayIndex struct {
	Overlays []struct {
		FileName string `json:"name"`
		Sha256   string `json:"sha256"`
		Offset   int64  `json:"offset"`
		Size     int64  `json:"size"`
	} `json:"overlays"`
}

// readV2Index reads a v2 bundle's second entry, metadata.tar.gz, and the
// overlay index in it. It returns the index, checked against the bundle's
// size, and the raw metadata.tar.gz.
func readV2Index(ra io.ReaderAt, size int64) ([]Overlay, []byte, error) {
	tr := tar.NewReader(io.NewSectionReader(ra, 0, size))
	if _, err := tr.Next(); err != nil { // version, checked by the caller
		return nil, nil, corrupt("", err)
	}
	hdr, err := tr.Next()
	if err == io.EOF {
		return nil, nil, invalidf("", "colcon v2 bundle has no %s", v2MetadataTar)
	}
	if err != nil {
		return nil, nil, corrupt("", err)
	}
	if name, _ := cleanName(hdr.Name); name != v2MetadataTar || (hdr.Typeflag != tar.TypeReg && hdr.Typeflag != '\x00') {
		return nil, nil, invalidf(hdr.Name, "colcon v2 bundle: second entry must be %s", v2MetadataTar)
	}
	if hdr.Size >= maxMetadataSize {
		return nil, nil, tooLargef(hdr.Name, "metadata of %d bytes exceeds %d", hdr.Size, maxMetadataSize)
	}
	meta, err := io.ReadAll(tr)
	if err != nil {
		return nil, nil, corrupt(hdr.Name, err)
	}
	idx, err := parseIndex(meta)
	if err != nil {
		return nil, nil, err
	}
	if len(idx.Overlays) == 0 {
		return nil, nil, invalidf(overlaysJSON, "colcon v2 bundle lists no overlays")
	}
	if len(idx.Overlays) > maxOverlays {
		return nil, nil, tooLargef(overlaysJSON, "%d overlays exceed the limit of %d", len(idx.Overlays), maxOverlays)
	}
	out := make([]Overlay, 0, len(idx.Overlays))
	for _, o := range idx.Overlays {
		sum := strings.ToLower(o.Sha256)
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			return nil, nil, invalidf(overlaysJSON, "overlay %q: invalid sha256 %q", o.FileName, o.Sha256)
		}
		if o.Offset < 0 || o.Size <= 0 || o.Offset > size || o.Size > size-o.Offset {
			return nil, nil, invalidf(overlaysJSON, "overlay %q: range offset %d size %d outside the %d-byte bundle",
				o.FileName, o.Offset, o.Size, size)
		}
		out = append(out, Overlay{Name: o.FileName, Offset: o.Offset, Size: o.Size, SHA256: sum})
	}
	return out, meta, nil
}

// parseIndex finds overlays.json in metadata.tar.gz and decodes it.
func parseIndex(meta []byte) (*overlayIndex, error) {
	zr, err := gzip.NewReader(bytes.NewReader(meta))
	if err != nil {
		return nil, corrupt(v2MetadataTar, err)
	}
	tr := tar.NewReader(&capReader{r: zr, left: maxMetadataExpanded})
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, invalidf(v2MetadataTar, "no %s in it", overlaysJSON)
		}
		if err != nil {
			return nil, corrupt(v2MetadataTar, err)
		}
		if name, _ := cleanName(hdr.Name); name != overlaysJSON {
			continue
		}
		if hdr.Size > maxIndexSize {
			return nil, tooLargef(overlaysJSON, "index of %d bytes is too large", hdr.Size)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, corrupt(overlaysJSON, err)
		}
		var idx overlayIndex
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, invalidf(overlaysJSON, "corrupt archive: %v", err)
		}
		return &idx, nil
	}
}

// errTooLarge is returned by a capReader past its cap.
var errTooLarge = errors.New("data exceeds its size limit")

// capReader fails with errTooLarge after left bytes.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(b []byte) (int, error) {
	if c.left <= 0 {
		return 0, errTooLarge
	}
	if int64(len(b)) > c.left {
		b = b[:c.left]
	}
	n, err := c.r.Read(b)
	c.left -= int64(n)
	return n, err
}

// colconV2 extracts the metadata into the root and each overlay into the
// cache.
func (x *extraction) colconV2(res Extracted, f *os.File, size int64, t *tree, cacheDir string) (Extracted, error) {
	if cacheDir == "" {
		return res, errors.New("bundle: a colcon v2 bundle needs an overlay cache directory")
	}
	overlays, meta, err := readV2Index(f, size)
	if err != nil {
		return res, err
	}
	if err := t.nested(v2MetadataTar, bytes.NewReader(meta)); err != nil {
		return res, err
	}
	cacheAbs, err := filepath.Abs(cacheDir)
	if err != nil {
		return res, fmt.Errorf("bundle: %w", err)
	}
	if err := os.MkdirAll(cacheAbs, 0o755); err != nil {
		return res, fmt.Errorf("bundle: %w", err)
	}
	cache, err := os.OpenRoot(cacheAbs)
	if err != nil {
		return res, fmt.Errorf("bundle: %w", err)
	}
	defer cache.Close()
	seen := map[string]bool{}
	for _, ov := range overlays {
		if err := x.ctx.Err(); err != nil {
			return res, err
		}
		if seen[ov.SHA256] {
			continue
		}
		seen[ov.SHA256] = true
		reused, err := x.overlay(f, ov, cache)
		if err != nil {
			return res, err
		}
		if reused {
			res.ReusedOverlays++
		} else {
			res.DownloadedOverlays++
		}
		res.Overlays = append(res.Overlays, filepath.Join(cacheAbs, ov.SHA256))
	}
	if res.DownloadedOverlays > 0 {
		// The new overlays' names, durable as their content already is.
		return res, syncFS(cache)
	}
	return res, nil
}

// overlay makes cache/<sha256> hold the extracted overlay: reused if it is
// already there, else extracted into a temporary directory while hashing
// the overlay's bytes, and renamed into place once the hash matches.
func (x *extraction) overlay(f io.ReaderAt, ov Overlay, cache *os.Root) (reused bool, err error) {
	if ok, err := cachedDir(cache, ov.SHA256); ok || err != nil {
		return ok, err
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := ".tmp-" + ov.SHA256[:16] + "-" + hex.EncodeToString(rnd[:])
	if err := cache.Mkdir(tmp, 0o755); err != nil {
		return false, fmt.Errorf("bundle: overlay %q: %w", ov.Name, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = cache.RemoveAll(tmp)
		}
	}()
	if err := cache.Chmod(tmp, 0o755); err != nil {
		return false, fmt.Errorf("bundle: overlay %q: %w", ov.Name, err)
	}
	sub, err := cache.OpenRoot(tmp)
	if err != nil {
		return false, fmt.Errorf("bundle: overlay %q: %w", ov.Name, err)
	}
	defer sub.Close()

	h := sha256.New()
	sec := io.NewSectionReader(f, ov.Offset, ov.Size)
	in := io.TeeReader(sec, h)
	xerr := x.overlayTar(sub, in, isGzip(f, ov.Offset, ov.Size), ov.Name)
	if xerr != nil && (!Refused(xerr) || x.ctx.Err() != nil) {
		return false, xerr
	}
	// Hash what the extraction did not read, so a corrupted overlay is
	// reported as such even when it also broke the archive.
	if _, err := io.Copy(h, sec); err != nil {
		return false, fmt.Errorf("bundle: overlay %q: %w", ov.Name, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != ov.SHA256 {
		return false, invalidf(ov.Name, "overlay sha256 mismatch: content has %s, index says %s", got, ov.SHA256)
	}
	if xerr != nil {
		return false, xerr
	}
	// Durable before it is named: a cached overlay is reused by every later
	// bundle without being checked again, so after a power cut the name
	// must never stand for files whose data was still in the page cache.
	if err := syncFS(sub); err != nil {
		return false, err
	}
	if err := cache.Rename(tmp, ov.SHA256); err != nil {
		// Another extraction may have completed the same overlay meanwhile.
		if ok, _ := cachedDir(cache, ov.SHA256); ok {
			return true, nil
		}
		return false, fmt.Errorf("bundle: overlay %q: %w", ov.Name, err)
	}
	renamed = true
	return false, nil
}

// cachedDir reports whether cache/<sum> is a complete overlay directory.
func cachedDir(cache *os.Root, sum string) (bool, error) {
	fi, err := cache.Lstat(sum)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("bundle: overlay cache: %w", err)
	case !fi.IsDir():
		return false, fmt.Errorf("bundle: overlay cache entry %s is not a directory", sum)
	}
	return true, nil
}

// overlayTar extracts one overlay (a tar.gz, or a plain tar) into root.
func (x *extraction) overlayTar(root *os.Root, r io.Reader, gz bool, name string) error {
	t := x.newTree(root)
	if !gz {
		if err := t.extractTar(tar.NewReader(r)); err != nil {
			return fmt.Errorf("overlay %q: %w", name, err)
		}
		return nil
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return corrupt(name, err)
	}
	if err := t.extractTar(tar.NewReader(zr)); err != nil {
		return fmt.Errorf("overlay %q: %w", name, err)
	}
	if err := x.finishGzip(zr); err != nil {
		return fmt.Errorf("overlay %q: %w", name, err)
	}
	return nil
}
