package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle/bundletest"
)

// tent is one entry of a test archive.
type tent struct {
	name  string
	typ   byte
	mode  int64
	body  string
	link  string
	zeros int64 // body of this many zero bytes instead of body
}

func file(name, body string) tent      { return tent{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
func exe(name, body string) tent       { return tent{name: name, typ: tar.TypeReg, mode: 0o755, body: body} }
func dir(name string) tent             { return tent{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, target string) tent { return tent{name: name, typ: tar.TypeSymlink, link: target} }
func hardlink(name, target string) tent {
	return tent{name: name, typ: tar.TypeLink, link: target}
}

// writeTar writes the entries as a tar to w.
func writeTar(t testing.TB, w io.Writer, entries []tent) {
	t.Helper()
	tw := tar.NewWriter(w)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, ModTime: time.Unix(1700000000, 0)}
		if e.typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
			if e.zeros > 0 {
				hdr.Size = e.zeros
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatalf("WriteHeader(%q): %v", e.name, err)
		}
		if e.zeros > 0 {
			if _, err := io.CopyN(tw, zeroReader{}, e.zeros); err != nil {
				t.Fatal(err)
			}
		} else if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

func tarOf(t testing.TB, entries ...tent) []byte {
	t.Helper()
	var b bytes.Buffer
	writeTar(t, &b, entries)
	return b.Bytes()
}

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func writeBundle(t testing.TB, dir string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, "bundle.bin")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantMode(t *testing.T, p string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky); got != want {
		t.Errorf("mode of %s = %v, want %v", p, got, want)
	}
}

func appTree() []tent {
	return []tent{
		dir("./"),
		dir("a/"),
		dir("a/b/"),
		file("a/b/c/file.txt", "hello"), // parent c created implicitly
		{name: "bin/run.sh", typ: tar.TypeReg, mode: 0o4755, body: "#!/bin/sh\necho hi\n"},
		{name: "private.cfg", typ: tar.TypeReg, mode: 0o600, body: "k=v"},
		file("setup.sh", "export X=1\n"),
		file("lib/libfoo.so.1", "ELF"),
		symlink("lib/libfoo.so", "libfoo.so.1"),
		symlink("current", "a/b"),
		symlink("lib/up", "../a/b/c/file.txt"),
		hardlink("a/hard.txt", "a/b/c/file.txt"),
	}
}

func TestExtractPlain(t *testing.T) {
	for _, tc := range []struct {
		name   string
		gz     bool
		format string
	}{{"tar", false, FormatTar}, {"tar_gz", true, FormatTarGz}} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			b := tarOf(t, appTree()...)
			if tc.gz {
				b = gzipOf(t, b)
			}
			src := writeBundle(t, base, b)
			dst := filepath.Join(base, "out", "app")
			got, err := Extract(t.Context(), src, dst, filepath.Join(base, "cache"), Limits{})
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got.Root != dst || got.Format != tc.format || len(got.Overlays) != 0 {
				t.Errorf("Extract = %+v, want Root %s, Format %s, no overlays", got, dst, tc.format)
			}
			if s := readFile(t, filepath.Join(dst, "a/b/c/file.txt")); s != "hello" {
				t.Errorf("file.txt = %q", s)
			}
			if s := readFile(t, filepath.Join(dst, "current/c/file.txt")); s != "hello" {
				t.Errorf("through internal dir symlink = %q", s)
			}
			if s := readFile(t, filepath.Join(dst, "lib/libfoo.so")); s != "ELF" {
				t.Errorf("libfoo.so = %q", s)
			}
			if s := readFile(t, filepath.Join(dst, "lib/up")); s != "hello" {
				t.Errorf("lib/up = %q", s)
			}
			if s := readFile(t, filepath.Join(dst, "a/hard.txt")); s != "hello" {
				t.Errorf("hard link = %q", s)
			}
			if l, err := os.Readlink(filepath.Join(dst, "lib/libfoo.so")); err != nil || l != "libfoo.so.1" {
				t.Errorf("Readlink = %q, %v", l, err)
			}
			wantMode(t, filepath.Join(dst, "bin/run.sh"), 0o755) // exec kept, setuid stripped
			wantMode(t, filepath.Join(dst, "private.cfg"), 0o644)
			wantMode(t, filepath.Join(dst, "setup.sh"), 0o644)
			wantMode(t, filepath.Join(dst, "a/b/c"), 0o755)
			wantMode(t, filepath.Join(dst, "bin"), 0o755)
		})
	}
}

func TestExtractIntoExistingDir(t *testing.T) {
	base := t.TempDir()
	src := writeBundle(t, base, tarOf(t, file("x", "1")))
	empty := filepath.Join(base, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(t.Context(), src, empty, "", Limits{}); err != nil {
		t.Fatalf("Extract into an empty dir: %v", err)
	}
	if _, err := Extract(t.Context(), src, empty, "", Limits{}); err == nil || Refused(err) {
		t.Fatalf("Extract into a non-empty dir = %v, want a plain error", err)
	}
	if s := readFile(t, filepath.Join(empty, "x")); s != "1" {
		t.Errorf("existing content changed: %q", s)
	}
}

// v1Bundle builds a colcon v1 bundle as colcon-bundle does: a tar.gz of
// version, metadata.tar and bundle.tar.
func v1Bundle(t testing.TB, gz bool) []byte {
	meta := tarOf(t, file("installers.json", `{"apt":{"installed_packages":[]}}`))
	app := tarOf(t,
		file("setup.sh", "export BUNDLE=1\n"),
		dir("opt/"),
		exe("opt/install/lib/pkg/node", "#!/bin/sh\n"),
		symlink("usr/lib/libx.so", "libx.so.1"),
	)
	outer := tarOf(t,
		file("version", "1"),
		file("metadata.tar", string(meta)),
		file("bundle.tar", string(app)),
	)
	if gz {
		return gzipOf(t, outer)
	}
	return outer
}

func TestExtractColconV1(t *testing.T) {
	for _, gz := range []bool{true, false} {
		t.Run(map[bool]string{true: "tar_gz", false: "tar"}[gz], func(t *testing.T) {
			base := t.TempDir()
			src := writeBundle(t, base, v1Bundle(t, gz))
			dst := filepath.Join(base, "app")
			got, err := Extract(t.Context(), src, dst, filepath.Join(base, "cache"), Limits{})
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if got.Format != FormatColconV1 || !slices.Equal(got.Overlays, []string{dst}) {
				t.Errorf("Extract = %+v, want colcon-v1 with Overlays [%s]", got, dst)
			}
			if s := readFile(t, filepath.Join(dst, "setup.sh")); s != "export BUNDLE=1\n" {
				t.Errorf("setup.sh = %q", s)
			}
			readFile(t, filepath.Join(dst, "installers.json"))
			wantMode(t, filepath.Join(dst, "opt/install/lib/pkg/node"), 0o755)
			for _, n := range []string{"version", "bundle.tar", "metadata.tar"} {
				if _, err := os.Lstat(filepath.Join(dst, n)); err == nil {
					t.Errorf("%s was extracted as a file", n)
				}
			}
		})
	}
}

// blob is a named overlay archive.
type blob struct {
	name string
	data []byte
}

func (b blob) sum() string {
	s := sha256.Sum256(b.data)
	return hex.EncodeToString(s[:])
}

func overlayBlob(t testing.TB, name string, entries ...tent) blob {
	return blob{name: name, data: gzipOf(t, tarOf(t, entries...))}
}

// v2Bundle lays out a colcon v2 bundle exactly as colcon-bundle writes it
// (see bundletest.ColconV2); colcon uses region = 4 MiB.
func v2Bundle(t testing.TB, region int64, overlays ...blob) []byte {
	t.Helper()
	ovs := make([]bundletest.Overlay, len(overlays))
	for i, o := range overlays {
		ovs[i] = bundletest.Overlay{Name: o.name, Data: o.data}
	}
	b, _, err := bundletest.ColconV2(region, ovs, func(index []bundletest.IndexEntry) []byte {
		return gzipOf(t, tarOf(t, file("overlays.json", string(bundletest.IndexJSON(index))), file("installers.json", "{}")))
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func depsOverlay(t testing.TB) blob {
	return overlayBlob(t, "dependencies.tar.gz",
		file("setup.sh", "export DEPS=1\n"),
		file("usr/lib/libdep.so.1", "dep"),
		symlink("usr/lib/libdep.so", "libdep.so.1"),
	)
}

func workspaceOverlay(t testing.TB, version string) blob {
	return overlayBlob(t, "workspace.tar.gz",
		file("setup.sh", "export WS="+version+"\n"),
		exe("opt/built_workspace/pkg/lib/pkg/node", "#!/bin/sh\necho "+version+"\n"),
	)
}

// maxReaderAt records the furthest byte read.
type maxReaderAt struct {
	r   io.ReaderAt
	max atomic.Int64
}

func (m *maxReaderAt) ReadAt(b []byte, off int64) (int, error) {
	n, err := m.r.ReadAt(b, off)
	if end := off + int64(n); end > m.max.Load() {
		m.max.Store(end)
	}
	return n, err
}

func TestExtractColconV2(t *testing.T) {
	const region = maxMetadataSize // as colcon-bundle writes it
	base := t.TempDir()
	cache := filepath.Join(base, "cache")
	deps, ws1 := depsOverlay(t), workspaceOverlay(t, "1")
	b1 := v2Bundle(t, region, deps, ws1)

	// The index, read without touching the overlays.
	m := &maxReaderAt{r: bytes.NewReader(b1)}
	version, ovs, err := V2Overlays(m, int64(len(b1)))
	if err != nil || version != 2 {
		t.Fatalf("V2Overlays = %d, %v, %v", version, ovs, err)
	}
	want := []Overlay{
		{Name: "dependencies.tar.gz", Offset: region + 512, Size: int64(len(deps.data)), SHA256: deps.sum()},
		{Name: "workspace.tar.gz", Offset: region + 512 + (int64(len(deps.data))+511)/512*512 + 512, Size: int64(len(ws1.data)), SHA256: ws1.sum()},
	}
	if !slices.Equal(ovs, want) {
		t.Errorf("V2Overlays overlays = %+v, want %+v", ovs, want)
	}
	if got := m.max.Load(); got > 64<<10 {
		t.Errorf("V2Overlays read up to byte %d, want only the start of the metadata region", got)
	}

	dst1 := filepath.Join(base, "d1")
	got, err := Extract(t.Context(), writeBundle(t, t.TempDir(), b1), dst1, cache, Limits{})
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	depsDir, ws1Dir := filepath.Join(cache, deps.sum()), filepath.Join(cache, ws1.sum())
	if got.Format != FormatColconV2 || got.Root != dst1 || !slices.Equal(got.Overlays, []string{depsDir, ws1Dir}) ||
		got.DownloadedOverlays != 2 || got.ReusedOverlays != 0 {
		t.Errorf("Extract = %+v", got)
	}
	for _, d := range got.Overlays {
		readFile(t, filepath.Join(d, "setup.sh"))
	}
	if s := readFile(t, filepath.Join(depsDir, "usr/lib/libdep.so")); s != "dep" {
		t.Errorf("libdep.so = %q", s)
	}
	wantMode(t, filepath.Join(ws1Dir, "opt/built_workspace/pkg/lib/pkg/node"), 0o755)
	readFile(t, filepath.Join(dst1, "overlays.json")) // metadata in the root

	// A new version sharing the dependencies overlay reuses the cache, even
	// when those bytes were never downloaded (a hole in the file).
	ws2 := workspaceOverlay(t, "2")
	b2 := v2Bundle(t, region, deps, ws2)
	_, ovs2, err := V2Overlays(bytes.NewReader(b2), int64(len(b2)))
	if err != nil {
		t.Fatal(err)
	}
	clear(b2[ovs2[0].Offset : ovs2[0].Offset+ovs2[0].Size])
	dst2 := filepath.Join(base, "d2")
	got, err = Extract(t.Context(), writeBundle(t, t.TempDir(), b2), dst2, cache, Limits{})
	if err != nil {
		t.Fatalf("Extract second bundle: %v", err)
	}
	if got.ReusedOverlays != 1 || got.DownloadedOverlays != 1 ||
		!slices.Equal(got.Overlays, []string{depsDir, filepath.Join(cache, ws2.sum())}) {
		t.Errorf("second Extract = %+v, want deps reused and ws2 extracted", got)
	}
	if s := readFile(t, filepath.Join(cache, ws2.sum(), "setup.sh")); s != "export WS=2\n" {
		t.Errorf("ws2 setup.sh = %q", s)
	}

	// A corrupted overlay (its bytes no longer match the index) is refused
	// and leaves nothing in the cache.
	ws3 := workspaceOverlay(t, "3")
	b3 := v2Bundle(t, region, deps, ws3)
	_, ovs3, _ := V2Overlays(bytes.NewReader(b3), int64(len(b3)))
	b3[ovs3[1].Offset+ovs3[1].Size/2] ^= 0xff
	_, err = Extract(t.Context(), writeBundle(t, t.TempDir(), b3), filepath.Join(base, "d3"), cache, Limits{})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("Extract corrupted overlay = %v, want ErrInvalid sha256 mismatch", err)
	}
	entries, _ := os.ReadDir(cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	wantNames := []string{deps.sum(), ws1.sum(), ws2.sum()}
	slices.Sort(wantNames)
	if !slices.Equal(names, wantNames) {
		t.Errorf("cache holds %v, want %v", names, wantNames)
	}
	if _, err := os.Lstat(filepath.Join(base, "d3")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("failed extraction left its destination: %v", err)
	}
}

func TestV2OverlaysOtherFormats(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want int
	}{
		{"plain_tar", tarOf(t, file("a", "1")), 0},
		{"plain_tar_gz", gzipOf(t, tarOf(t, file("a", "1"))), 0},
		{"colcon_v1", v1Bundle(t, true), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ovs, err := V2Overlays(bytes.NewReader(tc.b), int64(len(tc.b)))
			if err != nil || v != tc.want || ovs != nil {
				t.Errorf("V2Overlays = %d, %v, %v, want %d, nil, nil", v, ovs, err, tc.want)
			}
		})
	}
	junk := []byte("definitely not an archive, just some text that is long enough to fill a tar header block maybe")
	if _, _, err := V2Overlays(bytes.NewReader(junk), int64(len(junk))); !errors.Is(err, ErrInvalid) || errors.Is(err, ErrUnsafe) {
		t.Errorf("V2Overlays(junk) = %v, want ErrInvalid (never \"unsafe\")", err)
	}
}

// hostileEnv lays out base/sentinel (must stay empty), base/a/dst (so
// "../../sentinel" from the root of dst is the sentinel) and base/cache.
type hostileEnv struct {
	base, sentinel, dst, cache string
}

func newHostileEnv(t *testing.T) hostileEnv {
	base := t.TempDir()
	e := hostileEnv{
		base:     base,
		sentinel: filepath.Join(base, "sentinel"),
		dst:      filepath.Join(base, "a", "dst"),
		cache:    filepath.Join(base, "cache"),
	}
	if err := os.Mkdir(e.sentinel, 0o755); err != nil {
		t.Fatal(err)
	}
	return e
}

var payloadNames = []string{"evil", "x", "pwned", "passwd", "y", "e"}

// check asserts that nothing was written outside dst and the cache: the
// sentinel is empty, no payload-named file exists anywhere in base outside
// dst and the cache, and "/abs" was not created.
func (e hostileEnv) check(t *testing.T) {
	t.Helper()
	if ents, err := os.ReadDir(e.sentinel); err != nil || len(ents) != 0 {
		t.Errorf("sentinel dir: %d entries, %v; want empty", len(ents), err)
	}
	_ = filepath.WalkDir(e.base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == e.dst || p == e.cache {
			return filepath.SkipDir
		}
		if slices.Contains(payloadNames, d.Name()) {
			t.Errorf("payload %s written outside the destination", p)
		}
		return nil
	})
	if _, err := os.Lstat("/abs"); err == nil {
		t.Errorf("/abs exists")
	}
}

func TestExtractHostile(t *testing.T) {
	small := Limits{MaxBytes: 1 << 20, MaxFiles: 10, MaxFileBytes: 1 << 10}
	validTgz := func(t *testing.T) []byte {
		return gzipOf(t, tarOf(t, dir("d/"), file("d/f", strings.Repeat("data ", 100)), file("d/g", "x")))
	}
	for _, tc := range []struct {
		name  string
		build func(t *testing.T, e hostileEnv) []byte
		lim   Limits
		msg   string
		kind  error // ErrUnsafe if nil
	}{
		{name: "dotdot", msg: "escapes", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, file("ok", "1"), file("../evil", "pwned"))
		}},
		{name: "dotdot_in_middle", msg: "escapes", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, file("a/../../evil", "pwned"))
		}},
		{name: "dotdot_to_sentinel", msg: "escapes", build: func(t *testing.T, _ hostileEnv) []byte {
			return gzipOf(t, tarOf(t, file("../../sentinel/evil", "pwned")))
		}},
		{name: "absolute", msg: "absolute", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, file("/abs/evil", "pwned"))
		}},
		{name: "absolute_to_sentinel", msg: "absolute", build: func(t *testing.T, e hostileEnv) []byte {
			return tarOf(t, file(filepath.Join(e.sentinel, "evil"), "pwned"))
		}},
		{name: "symlink_escape_then_write", msg: "through symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, symlink("link", "../../sentinel"), file("link/x", "pwned"))
		}},
		{name: "symlink_escape_deep_then_write", msg: "through symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, dir("d/"), symlink("d/link", "../../../sentinel"), file("d/link/evil", "pwned"))
		}},
		{name: "symlink_escape_then_dir", msg: "through symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, symlink("link", "../../sentinel"), dir("link/sub/"))
		}},
		{name: "symlink_escape_then_hardlink", msg: "not a regular file", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, symlink("link", "../../sentinel/x"), hardlink("h", "link"))
		}},
		{name: "symlink_escape_then_hardlink_through", msg: "through symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, file("f", "1"), symlink("link", "../../sentinel"), hardlink("link/h", "f"))
		}},
		{name: "symlink_absolute_then_write", msg: "through symbolic link", build: func(t *testing.T, e hostileEnv) []byte {
			return tarOf(t, symlink("link", e.sentinel), file("link/pwned", "pwned"))
		}},
		{name: "symlink_dotdot_after_link", msg: "through symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			// s -> . is inside; e -> s/.. is "." lexically but the kernel
			// resolves it to the parent of the root.
			return tarOf(t, symlink("s", "."), symlink("e", "s/.."), file("e/sentinel/evil", "pwned"))
		}},
		{name: "symlink_created_through_link", msg: "symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			// s/e would really be created in the root, where its "../"
			// (fine at depth 1, as its name suggests) leaves the root.
			return tarOf(t, symlink("s", "."), symlink("s/e", "../sentinel"))
		}},
		{name: "write_through_internal_link", msg: "symbolic link", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, dir("d/"), symlink("s", "d"), file("s/x", "pwned"))
		}},
		{name: "hardlink_etc_passwd", msg: "absolute", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, hardlink("passwd", "/etc/passwd"))
		}},
		{name: "hardlink_dotdot", msg: "escapes", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, hardlink("y", "../x"))
		}},
		{name: "hardlink_to_symlink", msg: "not a regular file", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, symlink("l", "whatever"), hardlink("y", "l"))
		}},
		{name: "hardlink_to_missing", msg: "not a regular file", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, hardlink("y", "etc/shadow"))
		}},
		{name: "char_device", msg: "device", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, tent{name: "x", typ: tar.TypeChar, mode: 0o666})
		}},
		{name: "block_device", msg: "device", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, tent{name: "x", typ: tar.TypeBlock, mode: 0o666})
		}},
		{name: "fifo", msg: "FIFO", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, tent{name: "x", typ: tar.TypeFifo, mode: 0o666})
		}},
		{name: "socket_mode", msg: "socket", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, tent{name: "x", typ: tar.TypeReg, mode: 0o140644})
		}},
		{name: "unknown_type", kind: ErrInvalid, msg: "unsupported", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, tent{name: "x", typ: 'V', mode: 0o644})
		}},
		{name: "too_many_files", kind: ErrTooLarge, lim: small, msg: "too many entries", build: func(t *testing.T, _ hostileEnv) []byte {
			var es []tent
			for i := range 20 {
				es = append(es, file("f"+strings.Repeat("i", i), "x"))
			}
			return gzipOf(t, tarOf(t, es...))
		}},
		{name: "headers_that_create_nothing", kind: ErrTooLarge, lim: small, msg: "too many archive entries", build: func(t *testing.T, _ hostileEnv) []byte {
			var es []tent
			for range 25 { // one directory, then the same again
				es = append(es, dir("d/"))
			}
			return gzipOf(t, tarOf(t, es...))
		}},
		{name: "headers_at_the_limit_then_corrupt", kind: ErrInvalid, lim: small, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			var es []tent
			for range 21 { // the first, then 2 × MaxFiles more, then a block that is none
				es = append(es, dir("d/"))
			}
			b := tarOf(t, es...)
			b = b[:21*512]
			return append(b, bytes.Repeat([]byte{0xff}, 512)...)
		}},
		{name: "long_names", kind: ErrTooLarge, lim: Limits{MaxNameBytes: 4 << 10}, msg: "entry names total more than", build: func(t *testing.T, _ hostileEnv) []byte {
			var es []tent
			for i := range 40 { // 40 names of about 200 bytes
				es = append(es, file(fmt.Sprintf("%03d%s", i, strings.Repeat("n", 200)), "x"))
			}
			return gzipOf(t, tarOf(t, es...))
		}},
		{name: "file_too_large", kind: ErrTooLarge, lim: small, msg: "exceeds the limit", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, file("x", strings.Repeat("a", 2<<10)))
		}},
		{name: "truncated_gzip_half", kind: ErrInvalid, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			b := validTgz(t)
			return b[:len(b)/2]
		}},
		{name: "truncated_gzip_trailer", kind: ErrInvalid, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			b := validTgz(t)
			return b[:len(b)-4]
		}},
		{name: "truncated_tar", kind: ErrInvalid, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			b := tarOf(t, file("x", strings.Repeat("a", 3000)))
			return b[:1500]
		}},
		{name: "not_an_archive", kind: ErrInvalid, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			return bytes.Repeat([]byte("garbage!"), 200)
		}},
		{name: "gzip_of_text", kind: ErrInvalid, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			return gzipOf(t, bytes.Repeat([]byte("garbage!"), 200))
		}},
		{name: "empty_file", kind: ErrInvalid, msg: "corrupt archive", build: func(t *testing.T, _ hostileEnv) []byte {
			return nil
		}},
		{name: "colcon_unknown_version", kind: ErrInvalid, msg: "unknown colcon bundle version", build: func(t *testing.T, _ hostileEnv) []byte {
			return tarOf(t, file("version", "3"), file("x", "1"))
		}},
		{name: "colcon_v1_nested_escape", msg: "escapes", build: func(t *testing.T, _ hostileEnv) []byte {
			inner := tarOf(t, file("../../sentinel/evil", "pwned"))
			return gzipOf(t, tarOf(t, file("version", "1"), file("bundle.tar", string(inner))))
		}},
		{name: "colcon_v2_gzipped", kind: ErrInvalid, msg: "uncompressed", build: func(t *testing.T, _ hostileEnv) []byte {
			return gzipOf(t, v2Bundle(t, 16<<10, depsOverlay(t)))
		}},
		{name: "colcon_v2_sha_path", kind: ErrInvalid, msg: "invalid sha256", build: func(t *testing.T, _ hostileEnv) []byte {
			b := v2Bundle(t, 16<<10, depsOverlay(t))
			return rewriteIndex(t, b, func(o map[string]any) { o["sha256"] = "../../sentinel/evil" })
		}},
		{name: "colcon_v2_range_outside", kind: ErrInvalid, msg: "outside", build: func(t *testing.T, _ hostileEnv) []byte {
			b := v2Bundle(t, 16<<10, depsOverlay(t))
			return rewriteIndex(t, b, func(o map[string]any) { o["size"] = 1 << 40 })
		}},
		{name: "colcon_v2_overlay_escape", msg: "escapes", build: func(t *testing.T, _ hostileEnv) []byte {
			return v2Bundle(t, 16<<10, depsOverlay(t), overlayBlob(t, "w.tar.gz", file("../../sentinel/evil", "pwned")))
		}},
		{name: "colcon_v2_overlay_symlink", msg: "through symbolic link", build: func(t *testing.T, e hostileEnv) []byte {
			return v2Bundle(t, 16<<10, overlayBlob(t, "w.tar.gz", symlink("l", e.sentinel), file("l/evil", "x")))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newHostileEnv(t)
			src := writeBundle(t, e.base, tc.build(t, e))
			got, err := Extract(t.Context(), src, e.dst, e.cache, tc.lim)
			want := tc.kind
			if want == nil {
				want = ErrUnsafe
			}
			if !errors.Is(err, want) {
				t.Fatalf("Extract = %+v, %v; want %v", got, err, want)
			}
			// "unsafe" is for escape attempts only.
			if want != ErrUnsafe && strings.Contains(err.Error(), "unsafe") {
				t.Errorf("error %q says unsafe for a bundle that is only %v", err, want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			t.Logf("refused: %v", err)
			e.check(t)
			if _, err := os.Lstat(e.dst); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("destination left after a refusal: %v", err)
			}
			// Overlays completed before the refusal may stay; nothing else.
			ents, _ := os.ReadDir(e.cache)
			for _, d := range ents {
				if _, err := hex.DecodeString(d.Name()); err != nil || len(d.Name()) != 64 {
					t.Errorf("cache holds %s after a refusal", d.Name())
				}
			}
		})
	}
}

// rewriteIndex edits the first overlay record of a v2 bundle built with a
// small region, keeping the layout.
func rewriteIndex(t *testing.T, b []byte, edit func(map[string]any)) []byte {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	tr.Next()
	tr.Next()
	meta, _ := io.ReadAll(tr)
	zr, err := gzip.NewReader(bytes.NewReader(meta))
	if err != nil {
		t.Fatal(err)
	}
	mtr := tar.NewReader(zr)
	mtr.Next()
	var idx map[string][]map[string]any
	if err := json.NewDecoder(mtr).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	edit(idx["overlays"][0])
	js, _ := json.Marshal(idx)
	newMeta := gzipOf(t, tarOf(t, file("overlays.json", string(js))))
	// Rebuild: version, new metadata, then the old bytes from the pad on,
	// with the pad adjusted so the overlays stay where they were.
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tw.WriteHeader(&tar.Header{Name: "version", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("2"))
	tw.WriteHeader(&tar.Header{Name: "metadata.tar.gz", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(newMeta))})
	tw.Write(newMeta)
	tw.Flush()
	const region = 16 << 10
	pad := region - int64(out.Len()) - 512
	tw.WriteHeader(&tar.Header{Name: "pad", Typeflag: tar.TypeReg, Mode: 0o644, Size: pad})
	tw.Write(make([]byte, pad))
	tw.Flush()
	if out.Len() != region {
		t.Fatalf("rebuilt region is %d bytes", out.Len())
	}
	out.Write(b[region:])
	return out.Bytes()
}

var (
	bombOnce sync.Once
	bombs    map[string][]byte
)

// tarHeader returns the header block(s) tar.Writer writes for hdr.
func tarHeader(t testing.TB, hdr *tar.Header) []byte {
	var b bytes.Buffer
	if err := tar.NewWriter(&b).WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// gzipBombs builds, once, archives that expand to 1 GiB or more of zeros
// from about a megabyte each. They are multi-member gzip streams (valid
// gzip, which gzip -d and Go read as one stream) repeating one compressed
// 4 MiB block of zeros, so building them is cheap.
func gzipBombs(t *testing.T) map[string][]byte {
	bombOnce.Do(func() {
		const zchunk = 4 << 20
		z := gzipOf(t, make([]byte, zchunk))
		zeros := func(b *bytes.Buffer, n int64) {
			for ; n >= zchunk; n -= zchunk {
				b.Write(z)
			}
			if n > 0 {
				b.Write(gzipOf(t, make([]byte, n)))
			}
		}
		member := func(b *bytes.Buffer, p []byte) { b.Write(gzipOf(t, p)) }
		reg := func(name string, size int64) *tar.Header {
			return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}
		}
		bombs = map[string][]byte{}

		var b bytes.Buffer
		member(&b, tarHeader(t, reg("zeros", 1<<30)))
		zeros(&b, 1<<30+1024) // data, then the end-of-archive blocks
		bombs["one_huge_file"] = bytes.Clone(b.Bytes())

		b.Reset()
		for i := range 64 {
			member(&b, tarHeader(t, reg("z/"+strings.Repeat("z", i+1), 16<<20)))
			zeros(&b, 16<<20)
		}
		zeros(&b, 1024)
		bombs["many_big_files"] = bytes.Clone(b.Bytes())

		b.Reset()
		member(&b, tarOf(t, file("ok", "fine")))
		zeros(&b, 1<<30)
		bombs["zeros_after_tar_end"] = bytes.Clone(b.Bytes())

		b.Reset()
		head := tarHeader(t, reg("version", 1))
		head = append(head, '1')
		head = append(head, make([]byte, 511)...)
		head = append(head, tarHeader(t, reg("bundle.tar", 512+1<<30+1024))...)
		head = append(head, tarHeader(t, reg("zeros", 1<<30))...)
		member(&b, head)
		zeros(&b, 1<<30+1024+1024) // inner data and end, outer end
		bombs["v1_nested"] = bytes.Clone(b.Bytes())
	})
	return bombs
}

func TestExtractGzipBomb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 1 GiB archives")
	}
	lim := Limits{MaxBytes: 32 << 20, MaxFiles: 1000, MaxFileBytes: 20 << 20}
	for name, b := range gzipBombs(t) {
		t.Run(name, func(t *testing.T) {
			if len(b) > 4<<20 {
				t.Fatalf("bomb is %d bytes compressed", len(b))
			}
			e := newHostileEnv(t)
			src := writeBundle(t, e.base, b)
			start := time.Now()
			_, err := Extract(t.Context(), src, e.dst, e.cache, lim)
			took := time.Since(start)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Extract = %v, want ErrTooLarge", err)
			}
			// What matters is that nothing past the limits was written
			// (e.check); the time is logged, not asserted.
			t.Logf("%d-byte bomb refused in %v: %v", len(b), took, err)
			e.check(t)
		})
	}
}

// TestCopyCountsBytes checks that the byte limits hold while copying, even
// when the data is longer than its header says.
func TestCopyCountsBytes(t *testing.T) {
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	x := &extraction{ctx: t.Context(), lim: Limits{MaxBytes: 1 << 20, MaxFiles: 10, MaxFileBytes: 1000}.withDefaults(), buf: make([]byte, 512)}
	tr := x.newTree(root)
	hdr := &tar.Header{Name: "liar", Typeflag: tar.TypeReg, Mode: 0o644, Size: 10}
	err = tr.file(hdr, "liar", io.LimitReader(zeroReader{}, 1<<20))
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Fatalf("file with a lying header = %v, want ErrTooLarge size limit", err)
	}
	if x.bytes > 1000+512 {
		t.Errorf("copied %d bytes before stopping", x.bytes)
	}
}

// countdownCtx is cancelled after n calls to Err.
type countdownCtx struct {
	context.Context
	n atomic.Int32
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestExtractCancel(t *testing.T) {
	base := t.TempDir()
	var es []tent
	for i := range 100 {
		es = append(es, file("f/"+strings.Repeat("n", i+1), "data"))
	}
	src := writeBundle(t, base, gzipOf(t, tarOf(t, es...)))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Extract(ctx, src, filepath.Join(base, "d0"), "", Limits{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Extract with a cancelled context = %v", err)
	}
	cd := &countdownCtx{Context: t.Context()}
	cd.n.Store(50)
	dst := filepath.Join(base, "d1")
	if _, err := Extract(cd, src, dst, "", Limits{}); !errors.Is(err, context.Canceled) || Refused(err) {
		t.Errorf("Extract cancelled midway = %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("cancelled extraction left its destination: %v", err)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(tarOf(f, appTree()...))
	f.Add(gzipOf(f, tarOf(f, appTree()...)))
	f.Add(v1Bundle(f, false))
	f.Add(v1Bundle(f, true))
	f.Add(v2Bundle(f, 3<<10, depsOverlay(f), workspaceOverlay(f, "1")))
	f.Add(tarOf(f, file("../evil", "x")))
	f.Add(tarOf(f, symlink("link", "../../sentinel"), file("link/x", "pwned")))
	f.Add(tarOf(f, symlink("s", "."), symlink("e", "s/.."), hardlink("h", "s")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		sentinel := filepath.Join(base, "sentinel")
		if err := os.Mkdir(sentinel, 0o755); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(base, "bundle")
		if err := os.WriteFile(src, data, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(base, "a", "dst")
		cache := filepath.Join(base, "cache")
		res, err := Extract(context.Background(), src, dst, cache,
			Limits{MaxBytes: 4 << 20, MaxFiles: 500, MaxFileBytes: 1 << 20})
		if err != nil && !Refused(err) {
			var pe *fs.PathError
			var le *os.LinkError
			if !errors.As(err, &pe) && !errors.As(err, &le) {
				t.Fatalf("Extract error is neither a refusal nor a file system error: %v", err)
			}
		}
		if ents, _ := os.ReadDir(sentinel); len(ents) != 0 {
			t.Fatalf("sentinel written: %v", ents)
		}
		_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, werr error) error {
			switch {
			case werr != nil:
				return nil
			case p == base || p == src || p == sentinel || p == filepath.Dir(dst):
				return nil
			case p == dst || p == cache:
				// Links inside may point anywhere (real bundles' do);
				// what matters is that nothing was written through one,
				// which the sentinel and this walk check.
				return filepath.SkipDir
			}
			t.Fatalf("unexpected path %s outside the destination and cache", p)
			return nil
		})
		_ = res
	})
}

// TestExtractRealBundleLinks extracts the link shapes real colcon bundles
// hold (issue 12): relative links out of the root with one ".." too many
// (colcon-bundle's rewrite of Debian's absolute links), absolute links into
// /lib (kept by colcon-bundle for libc6-dev), chains of links, a hard link;
// each is created exactly as the archive gives it, and reading through the
// inside ones works.
func TestExtractRealBundleLinks(t *testing.T) {
	entries := []tent{
		dir("usr/lib/python3.11/"),
		symlink("usr/lib/python3.11/sitecustomize.py", "../../../../etc/python3.11/sitecustomize.py"),
		dir("usr/lib/x86_64-linux-gnu/"),
		symlink("usr/lib/x86_64-linux-gnu/libBrokenLocale.so", "/lib/x86_64-linux-gnu/libBrokenLocale.so.1"),
		file("usr/lib/x86_64-linux-gnu/libz.so.1.2.13", "ELF"),
		symlink("usr/lib/x86_64-linux-gnu/libz.so.1", "libz.so.1.2.13"),
		symlink("usr/lib/x86_64-linux-gnu/libz.so", "libz.so.1"),
		symlink("usr/bin/python3", "python3.11"),
		exe("usr/bin/python3.11", "#!/bin/sh\n"),
		symlink("usr/bin/dangling", "../../../nowhere/at/all"),
		hardlink("usr/lib/x86_64-linux-gnu/libz-copy.so", "usr/lib/x86_64-linux-gnu/libz.so.1.2.13"),
		symlink("usr/lib/x86_64-linux-gnu/libz.so", "libz.so.1.2.13"), // a later entry replaces an earlier link
	}
	for _, tc := range []struct {
		name string
		b    func(t *testing.T) []byte
		root func(x Extracted) string
	}{
		{"tar", func(t *testing.T) []byte { return tarOf(t, entries...) }, func(x Extracted) string { return x.Root }},
		{"colcon_v1", func(t *testing.T) []byte {
			return gzipOf(t, tarOf(t, file("version", "1"),
				file("metadata.tar", string(tarOf(t, file("installers.json", "{}")))),
				file("bundle.tar", string(tarOf(t, entries...)))))
		}, func(x Extracted) string { return x.Root }},
		{"colcon_v2", func(t *testing.T) []byte {
			return v2Bundle(t, 16<<10, overlayBlob(t, "dependencies.tar.gz", entries...))
		}, func(x Extracted) string { return x.Overlays[0] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newHostileEnv(t)
			x, err := Extract(t.Context(), writeBundle(t, e.base, tc.b(t)), e.dst, e.cache, Limits{})
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			root := tc.root(x)
			for name, want := range map[string]string{
				"usr/lib/python3.11/sitecustomize.py":         "../../../../etc/python3.11/sitecustomize.py",
				"usr/lib/x86_64-linux-gnu/libBrokenLocale.so": "/lib/x86_64-linux-gnu/libBrokenLocale.so.1",
				"usr/lib/x86_64-linux-gnu/libz.so":            "libz.so.1.2.13",
				"usr/bin/dangling":                            "../../../nowhere/at/all",
			} {
				if got, err := os.Readlink(filepath.Join(root, name)); err != nil || got != want {
					t.Errorf("Readlink(%s) = %q, %v; want %q", name, got, err, want)
				}
			}
			if s := readFile(t, filepath.Join(root, "usr/lib/x86_64-linux-gnu/libz.so")); s != "ELF" {
				t.Errorf("libz.so through its link chain = %q", s)
			}
			if s := readFile(t, filepath.Join(root, "usr/lib/x86_64-linux-gnu/libz-copy.so")); s != "ELF" {
				t.Errorf("hard link = %q", s)
			}
			e.check(t)
		})
	}
}

// TestV2HeadSize checks that the head size V2HeadSize computes from the
// first MinV2Head bytes is exactly what V2Overlays needs: the index reads
// from that many bytes and not from one fewer.
func TestV2HeadSize(t *testing.T) {
	b := v2Bundle(t, bundletest.Region, depsOverlay(t), workspaceOverlay(t, "1"))
	v, n, err := V2HeadSize(b[:MinV2Head])
	if err != nil || v != 2 {
		t.Fatalf("V2HeadSize = %d, %d, %v", v, n, err)
	}
	if n <= 1024 || n > 8<<10 {
		t.Fatalf("head size %d: want the version entry and a small metadata.tar.gz", n)
	}
	if _, ovs, err := V2Overlays(bytes.NewReader(b[:n]), int64(len(b))); err != nil || len(ovs) != 2 {
		t.Errorf("V2Overlays(first %d bytes) = %v, %v", n, ovs, err)
	}
	if _, _, err := V2Overlays(bytes.NewReader(b[:n-1]), int64(len(b))); err == nil {
		t.Errorf("V2Overlays(first %d bytes) succeeded: the head size is larger than needed", n-1)
	}
	t.Logf("a colcon v2 bundle of %d bytes: the index needs its first %d bytes (colcon-bundle's region: %d)", len(b), n, bundletest.Region)
	for _, c := range []struct {
		name string
		b    []byte
		want int
	}{{"tar", tarOf(t, file("a", "1")), 0}, {"v1", v1Bundle(t, true), 1}} {
		if v, n, err := V2HeadSize(c.b); err != nil || v != c.want || n != 0 {
			t.Errorf("%s: V2HeadSize = %d, %d, %v", c.name, v, n, err)
		}
	}
	if _, _, err := V2HeadSize([]byte("not a bundle at all, nothing like a tar header")); !errors.Is(err, ErrInvalid) {
		t.Errorf("V2HeadSize(junk) = %v, want ErrInvalid", err)
	}
}
