package runner_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle/bundletest"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// TestSparseFetchVerifiesTheHead: a robot holding one of a colcon v2
// bundle's overlays fetches only the head and the overlay it lacks, so
// the bundle's SHA-256 is not checked on that path. A bundle store that
// serves other bytes under the recorded ETag (here: the file store's
// object rewritten in place with its size and time kept) with an index of
// its own, whose overlays agree with it, used to be deployed as it came.
// The head is now verified by the digest recorded with the version: the
// agent downloads the bundle whole, which fails on its SHA-256, and the
// installed version runs on.
func TestSparseFetchVerifiesTheHead(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "running")
	plainTar := func(files map[string]string) []byte {
		b, err := bundletest.Tar(files, 0o755)
		must(t, err)
		return b
	}
	deps := bundletest.Overlay{Name: "dependencies.tar", Data: plainTar(map[string]string{"setup.sh": "DEPS=1; export DEPS\n"})}
	// Three workspaces of one size: the tampered bundle is as long as the
	// version's.
	build := func(ws string) []byte {
		work := bundletest.Overlay{Name: "workspace.tar", Data: plainTar(map[string]string{
			"setup.sh": "WS=1; export WS\n", // each overlay's, sourced before the launch
			"p/run.sh": "#!/bin/sh\necho " + ws + " > " + marker + "\nexec sleep 60\n"})}
		b, _, err := bundletest.ColconV2(bundletest.Region, []bundletest.Overlay{deps, work}, func(index []bundletest.IndexEntry) []byte {
			var gz bytes.Buffer
			zw := gzip.NewWriter(&gz)
			zw.Write(plainTar(map[string]string{"overlays.json": string(bundletest.IndexJSON(index)), "installers.json": "{}"}))
			must(t, zw.Close())
			return gz.Bytes()
		})
		must(t, err)
		return b
	}
	h := newHarness(t, build("one"))
	if row := h.finished(h.deploy(nil)); row.Status != fleet.RobotInSync {
		t.Fatalf("v1: %+v", row)
	}
	running := func() string {
		b, _ := os.ReadFile(marker)
		return strings.TrimSpace(string(b))
	}
	for running() != "one" { // launched without a settle time: InSync may come first
		select {
		case <-h.ctx.Done():
			t.Fatalf("v1 runs %q", running())
		case <-time.After(20 * time.Millisecond):
		}
	}

	h.putBundle(build("two"))
	v2, err := h.reg.CreateApplicationVersion(h.ctx, acct, h.app.ARN, nil, nil)
	must(t, err)
	if s := v2.Sources[0]; s.HeadSHA256 == "" || s.HeadSize <= 0 || s.HeadSize >= int64(bundletest.Region) {
		t.Fatalf("version 2's source records no head digest: %+v", s)
	}
	// The store now serves another bundle under version 2's ETag.
	fi, err := os.Stat(h.bundlePath())
	must(t, err)
	evil := build("EVL")
	if int64(len(evil)) != fi.Size() {
		t.Fatalf("the tampered bundle is %d bytes, the version's %d", len(evil), fi.Size())
	}
	h.putBundle(evil)
	must(t, os.Chtimes(h.bundlePath(), fi.ModTime(), fi.ModTime()))

	row := h.finished(h.deployVersion(v2.Version, nil))
	if row.Status != fleet.RobotFailed {
		t.Errorf("the tampered bundle's deployment: %+v, want Failed", row)
	}
	time.Sleep(200 * time.Millisecond) // a launch of the tampered workspace would have written by now
	if got := running(); got != "one" {
		t.Errorf("the robot runs %q, want the installed one", got)
	}
}
