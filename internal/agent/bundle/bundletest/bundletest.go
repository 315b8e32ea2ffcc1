// Package bundletest builds colcon bundles for tests, laid out exactly as
// colcon-bundle writes them, so the extractor's tests and the agent's
// end-to-end tests share one definition of the format.
package bundletest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Overlay is one overlay archive (a .tar.gz) of a v2 bundle.
type Overlay struct {
	Name string
	Data []byte
}

// SHA256 is the hex SHA-256 of the overlay's bytes, its cache name.
func (o Overlay) SHA256() string {
	s := sha256.Sum256(o.Data)
	return hex.EncodeToString(s[:])
}

// IndexEntry is one overlay as overlays.json records it.
type IndexEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

// Region is where colcon-bundle starts the overlays (its MAX_METADATA_SIZE).
const Region = 4 << 20

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// ColconV2 lays out a colcon v2 bundle as colcon-bundle's bundlefile.py
// writes it (GNU tar): version ("2"), metadata.tar.gz holding meta (which
// must contain overlays.json; see Metadata), a pad of zeros up to region,
// then each overlay as an entry. It returns the bundle and the index of the
// overlays (offset of each overlay's data, after its tar header).
func ColconV2(region int64, overlays []Overlay, meta func(index []IndexEntry) []byte) ([]byte, []IndexEntry, error) {
	var recs []IndexEntry
	off := region
	for _, o := range overlays {
		const headerSize = 512 // one block for a short name
		size := int64(len(o.Data))
		recs = append(recs, IndexEntry{o.Name, o.SHA256(), off + headerSize, size})
		off += headerSize + (size+511)/512*512
	}
	metadata := meta(recs)

	var buf bytes.Buffer
	cw := &countWriter{w: &buf}
	tw := tar.NewWriter(cw)
	put := func(name string, size int64, body io.Reader) error {
		hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, Format: tar.FormatGNU, ModTime: time.Unix(1700000000, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := io.CopyN(tw, body, size)
		return err
	}
	if err := put("version", 1, strings.NewReader("2")); err != nil {
		return nil, nil, err
	}
	if err := put("metadata.tar.gz", int64(len(metadata)), bytes.NewReader(metadata)); err != nil {
		return nil, nil, err
	}
	if err := tw.Flush(); err != nil {
		return nil, nil, err
	}
	pad := region - cw.n - 512
	if pad < 0 {
		return nil, nil, fmt.Errorf("metadata does not fit in %d bytes", region)
	}
	if err := put("pad", pad, zeroReader{}); err != nil {
		return nil, nil, err
	}
	for i, o := range overlays {
		hdr := &tar.Header{Name: o.Name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(o.Data)), Format: tar.FormatGNU, ModTime: time.Unix(1700000000, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, nil, err
		}
		// WriteHeader writes the header at once: the data starts here.
		if cw.n != recs[i].Offset {
			return nil, nil, fmt.Errorf("overlay %s data at %d, index says %d", o.Name, cw.n, recs[i].Offset)
		}
		if _, err := tw.Write(o.Data); err != nil {
			return nil, nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, nil, err
	}
	return buf.Bytes(), recs, nil
}

// IndexJSON is the overlays.json of an index.
func IndexJSON(index []IndexEntry) []byte {
	b, _ := json.Marshal(map[string]any{"overlays": index})
	return b
}

// Tar builds an uncompressed tar of regular files of one mode, in name
// order, with a fixed time: the same files make the same bytes.
func Tar(files map[string]string, mode int64) ([]byte, error) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, name := range slices.Sorted(maps.Keys(files)) {
		body := files[name]
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
