package bundler

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
)

// installSpace writes a small colcon-like install space with a program, a
// relative link, an absolute link into the space and a hard link.
func installSpace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(rel, body string, mode os.FileMode) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("local_setup.sh", "APP_SETUP=\"$COLCON_CURRENT_PREFIX\"; export APP_SETUP\n", 0o644)
	write("app/lib/app/run.sh", "#!/bin/sh\necho run\n", 0o755)
	write("app/share/app/data.txt", "data\n", 0o600)
	must(t, os.Symlink("run.sh", filepath.Join(dir, "app/lib/app/run")))
	must(t, os.Symlink(filepath.Join(dir, "app/share/app/data.txt"), filepath.Join(dir, "app/lib/app/abs-data")))
	must(t, os.Symlink("/etc/hostname", filepath.Join(dir, "app/lib/app/robot-hostname")))
	must(t, os.Link(filepath.Join(dir, "app/lib/app/run.sh"), filepath.Join(dir, "app/lib/app/run-hard.sh")))
	return dir
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBuildDeterministicAndReadable builds v2 and v1 bundles of the same
// install space twice (at different times, from copies with other mtimes):
// the bytes are the same, and the agent's extractor reads them, with links
// and the setup scripts where the format puts them.
func TestBuildDeterministicAndReadable(t *testing.T) {
	src := installSpace(t)
	for _, v := range []int{2, 1} {
		out1 := filepath.Join(t.TempDir(), "b1")
		r1, err := Build(t.Context(), Options{InstallSpace: src, Version: v}, out1)
		if err != nil {
			t.Fatalf("v%d: %v", v, err)
		}
		// Touch everything: mtimes must not matter.
		_ = filepath.Walk(src, func(p string, _ os.FileInfo, _ error) error {
			_ = os.Chtimes(p, time.Unix(1234567890, 0), time.Unix(1234567890, 0))
			return nil
		})
		out2 := filepath.Join(t.TempDir(), "b2")
		r2, err := Build(t.Context(), Options{InstallSpace: src, Version: v}, out2)
		if err != nil {
			t.Fatal(err)
		}
		b1, _ := os.ReadFile(out1)
		b2, _ := os.ReadFile(out2)
		if !bytes.Equal(b1, b2) || r1.SHA256 != r2.SHA256 {
			t.Errorf("v%d: two builds differ (%s, %s)", v, r1.SHA256, r2.SHA256)
		}
		dst := filepath.Join(t.TempDir(), "x")
		cache := filepath.Join(t.TempDir(), "cache")
		x, err := bundle.Extract(t.Context(), out1, dst, cache, bundle.Limits{})
		if err != nil {
			t.Fatalf("v%d: agent cannot extract: %v", v, err)
		}
		ws := x.Root
		want := bundle.FormatColconV1
		if v == 2 {
			want = bundle.FormatColconV2
			if len(x.Overlays) != 2 {
				t.Fatalf("v2 overlays %v", x.Overlays)
			}
			ws = x.Overlays[1]
			if _, err := os.Stat(filepath.Join(x.Overlays[0], "setup.sh")); err != nil {
				t.Errorf("dependencies overlay has no setup.sh: %v", err)
			}
			for _, f := range []string{"overlays.json", "installer_metadata.json"} {
				if _, err := os.Stat(filepath.Join(x.Root, f)); err != nil {
					t.Errorf("v2 root: %v", err)
				}
			}
		}
		if x.Format != want {
			t.Errorf("format %s, want %s", x.Format, want)
		}
		app := filepath.Join(ws, WorkspaceDir, "app/lib/app")
		for name, target := range map[string]string{"run": "run.sh", "abs-data": "../../share/app/data.txt", "robot-hostname": "/etc/hostname"} {
			if got, err := os.Readlink(filepath.Join(app, name)); err != nil || got != target {
				t.Errorf("v%d: link %s -> %q, %v; want %q", v, name, got, err, target)
			}
		}
		if fi, err := os.Stat(filepath.Join(app, "run-hard.sh")); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("v%d: hard link: %v %v", v, fi, err)
		}
		if b, err := os.ReadFile(filepath.Join(ws, "setup.sh")); err != nil || !bytes.Contains(b, []byte("local_setup.sh")) {
			t.Errorf("v%d: workspace setup.sh: %v", v, err)
		}
		t.Logf("v%d bundle: %d bytes, sha256 %s", v, r1.Size, r1.SHA256)
	}
}

// TestUpload copies a bundle into a file store as BUCKET/KEY, with the
// ETag the store will give it, and refuses keys leaving the store.
func TestUpload(t *testing.T) {
	out := filepath.Join(t.TempDir(), "b.tar")
	r, err := Build(t.Context(), Options{InstallSpace: installSpace(t)}, out)
	must(t, err)
	store := t.TempDir()
	dst, err := Upload(r, store, "apps", "robot/app.tar")
	must(t, err)
	if dst != filepath.Join(store, "apps", "robot", "app.tar") {
		t.Errorf("uploaded to %s", dst)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(dst)
	if !bytes.Equal(a, b) || len(r.ETag) != 34 {
		t.Errorf("upload differs from the bundle, or ETag %q", r.ETag)
	}
	for _, bad := range [][2]string{{"apps", "../x"}, {"a/b", "k"}, {"", "k"}, {"apps", "/etc/x"}} {
		if _, err := Upload(r, store, bad[0], bad[1]); err == nil {
			t.Errorf("Upload(%q, %q) succeeded", bad[0], bad[1])
		}
	}
}

// TestResolveRefusesOptionLikeNames: a dependency name from package.xml or
// the command line that is no Debian package name never reaches apt, where
// "-o…" would be an option.
func TestResolveRefusesOptionLikeNames(t *testing.T) {
	for _, n := range []string{"-oDir::Etc=/tmp/evil", "--help", "Python3", "a", "zlib1g dev", ""} {
		if _, err := Resolve(context.Background(), []string{n}, nil, true); err == nil || !strings.Contains(err.Error(), "not a Debian package name") {
			t.Errorf("Resolve(%q) = %v, want the name refused", n, err)
		}
	}
}
