package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"

	"github.com/fleetsync/fleetsync/internal/agent/bundle/bundletest"
	"github.com/fleetsync/fleetsync/internal/bundler"
)

// shapeDebs are real Debian packages whose links have the shapes that made
// colcon-bundle's bundles fail on fleetsync (issue 12): libpython3.11-minimal's
// usr/lib/python3.11/sitecustomize.py -> /etc/python3.11/sitecustomize.py,
// which colcon-bundle rewrites with one ".." too many (a dangling relative
// link out of the bundle root), and libc6-dev's absolute links into /lib,
// which it keeps absolute.
var shapeDebs = []string{"libpython3.11-minimal", "libc6-dev"}

// colconBundleTree turns a package's data tar into overlay entries the way
// colcon-bundle does: absolute links into /lib kept, other absolute links
// rewritten relative with one ".." too many.
func colconBundleTree(t *testing.T, tw *tar.Writer, data io.Reader) (rewritten, absolute []string) {
	t.Helper()
	tr := tar.NewReader(data)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		must(t, err)
		name := strings.TrimPrefix(path.Clean(hdr.Name), "/")
		if name == "." {
			continue
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeSymlink && strings.HasPrefix(hdr.Linkname, "/") {
			if strings.HasPrefix(hdr.Linkname, "/lib/") {
				absolute = append(absolute, name+" -> "+hdr.Linkname)
			} else {
				depth := strings.Count(name, "/")
				hdr.Linkname = strings.Repeat("../", depth+1) + strings.TrimPrefix(hdr.Linkname, "/")
				rewritten = append(rewritten, name+" -> "+hdr.Linkname)
			}
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = strings.TrimPrefix(path.Clean(hdr.Linkname), "/")
		}
		must(t, tw.WriteHeader(hdr))
		if hdr.Typeflag == tar.TypeReg {
			_, err := io.Copy(tw, tr)
			must(t, err)
		}
	}
}

// shapeProgram records what the overlays' setup.sh files exported (from
// COLCON_BUNDLE_PREFIX, as colcon-bundle's format document has it).
const shapeProgram = `#!/bin/sh
echo "$0|$FIXTURE_DEPS|$FIXTURE_WS" > "$OUT/shape-$RUN_TAG"
while :; do sleep 0.1; done
`

// TestAgentColconRealShapes builds v2 and v1 bundles from real Debian
// package contents with colcon-bundle's link shapes, a pad entry,
// installer_metadata.json, and setup scripts that read only
// COLCON_BUNDLE_PREFIX, and deploys them with the General suite: they
// deploy cleanly, the links are created exactly as archived, and the
// scripts found their prefix.
func TestAgentColconRealShapes(t *testing.T) {
	for _, tool := range []string{"dpkg-deb", "apt-get", "apt-cache"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " is not installed: this test builds its fixtures from real Debian packages")
		}
	}
	pkgs, err := bundler.Resolve(t.Context(), shapeDebs, nil, true)
	must(t, err)
	debs, err := bundler.Fetch(t.Context(), pkgs, filepath.Join(os.TempDir(), "fleetsync-test-debs"))
	must(t, err)

	var depsTar bytes.Buffer
	tw := tar.NewWriter(&depsTar)
	var rewritten, absolute []string
	for _, d := range debs {
		out, err := exec.Command("dpkg-deb", "--fsys-tarfile", d.File).Output()
		must(t, err)
		r, a := colconBundleTree(t, tw, bytes.NewReader(out))
		rewritten, absolute = append(rewritten, r...), append(absolute, a...)
	}
	setupDeps := "FIXTURE_DEPS=\"$COLCON_BUNDLE_PREFIX\"; export FIXTURE_DEPS\n"
	must(t, tw.WriteHeader(&tar.Header{Name: "setup.sh", Mode: 0o644, Size: int64(len(setupDeps)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
	_, err = tw.Write([]byte(setupDeps))
	must(t, err)
	must(t, tw.Close())
	if len(rewritten) == 0 || len(absolute) == 0 {
		t.Fatalf("the packages gave no link of the shapes wanted: rewritten %v, absolute %v", rewritten, absolute)
	}
	t.Logf("colcon-bundle link shapes from %v: %d rewritten out of the root (e.g. %s), %d absolute (e.g. %s)",
		shapeDebs, len(rewritten), rewritten[0], len(absolute), absolute[0])
	var depsGz bytes.Buffer
	zw := gzip.NewWriter(&depsGz)
	_, err = zw.Write(depsTar.Bytes())
	must(t, err)
	must(t, zw.Close())
	ws := map[string]bundleFile{
		"setup.sh":                            {body: "FIXTURE_WS=\"$COLCON_BUNDLE_PREFIX\"; export FIXTURE_WS\n"},
		"opt/built_workspace/app/lib/app/run": {body: shapeProgram, mode: 0o755},
	}
	installer := `{"installers": {"apt": []}}`
	v2, _, err := bundletest.ColconV2(bundletest.Region, []bundletest.Overlay{
		{Name: "dependencies.tar.gz", Data: depsGz.Bytes()},
		{Name: "workspace.tar.gz", Data: tarGz(t, ws)},
	}, func(index []bundletest.IndexEntry) []byte {
		return tarGz(t, map[string]bundleFile{"overlays.json": {body: string(bundletest.IndexJSON(index))}, "installer_metadata.json": {body: installer}})
	})
	must(t, err)

	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("shapes", s.URL, nil)
	job := f.deployLaunch(f.version(v2), "app", "run", deployOpts{env: map[string]string{"RUN_TAG": "v2"}})
	if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v2 bundle with colcon-bundle's shapes: %v", d)
	}
	var rec string
	eventually(t, 20*time.Second, "the program to run", func() bool { rec = f.readOut("shape-v2"); return rec != "" })
	parts := strings.Split(rec, "|")
	cache := filepath.Join(a.StateDir, "overlays")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], cache) || !strings.HasPrefix(parts[1], cache) || !strings.HasPrefix(parts[2], cache) || parts[1] == parts[2] {
		t.Errorf("the program recorded %q: want it and both COLCON_BUNDLE_PREFIX values in the overlay cache %s", rec, cache)
	}
	if len(parts) == 3 {
		for _, l := range append(rewritten[:1], absolute[:1]...) {
			name, target, _ := strings.Cut(l, " -> ")
			if got, err := os.Readlink(filepath.Join(parts[1], name)); err != nil || got != target {
				t.Errorf("link %s in the cached overlay -> %q, %v; want %q", name, got, err, target)
			}
		}
		// The dangling link's target (the overlay cache's parent's etc/ for
		// colcon-bundle's extra "..") was never created through it.
		if _, err := os.Lstat(filepath.Join(filepath.Dir(parts[1]), "etc")); err == nil {
			t.Errorf("a link's target outside the overlay was created")
		}
	}

	// v1: the same tree merged into bundle.tar, with metadata.tar.
	var bundleTar bytes.Buffer
	btw := tar.NewWriter(&bundleTar)
	must(t, copyTar(btw, bytes.NewReader(depsTar.Bytes()), "setup.sh"))
	setupV1 := setupDeps + "FIXTURE_WS=\"$COLCON_BUNDLE_PREFIX\"; export FIXTURE_WS\n"
	for _, e := range []struct {
		name string
		body string
		mode int64
	}{{"setup.sh", setupV1, 0o644}, {"opt/built_workspace/app/lib/app/run", shapeProgram, 0o755}} {
		must(t, btw.WriteHeader(&tar.Header{Name: e.name, Mode: e.mode, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
		_, err := btw.Write([]byte(e.body))
		must(t, err)
	}
	must(t, btw.Close())
	metaTar := tarOfFiles(t, map[string]string{"installer_metadata.json": installer})
	var outer bytes.Buffer
	otw := tar.NewWriter(&outer)
	for _, e := range []struct {
		name string
		body []byte
	}{{"version", []byte("1")}, {"metadata.tar", metaTar}, {"bundle.tar", bundleTar.Bytes()}} {
		must(t, otw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
		_, err := otw.Write(e.body)
		must(t, err)
	}
	must(t, otw.Close())
	var v1 bytes.Buffer
	zw = gzip.NewWriter(&v1)
	_, err = zw.Write(outer.Bytes())
	must(t, err)
	must(t, zw.Close())
	job = f.deployLaunch(f.version(v1.Bytes()), "app", "run", deployOpts{env: map[string]string{"RUN_TAG": "v1"}})
	if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1 bundle with colcon-bundle's shapes: %v", d)
	}
	eventually(t, 20*time.Second, "the v1 program to run", func() bool { rec = f.readOut("shape-v1"); return rec != "" })
	parts = strings.Split(rec, "|")
	deployments := filepath.Join(a.StateDir, "deployments")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], deployments) || parts[1] == "" || parts[1] != parts[2] {
		t.Errorf("the v1 program recorded %q", rec)
	}
	t.Logf("v2 bundle %d bytes, v1 bundle %d bytes, both deployed", len(v2), v1.Len())
}

// copyTar copies every entry of r into tw except the one named skip.
func copyTar(tw *tar.Writer, r io.Reader, skip string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Name == skip {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// tarOfFiles builds an uncompressed tar of regular files.
func tarOfFiles(t *testing.T, files map[string]string) []byte {
	t.Helper()
	b, err := bundletest.Tar(files, 0o644)
	must(t, err)
	return b
}
