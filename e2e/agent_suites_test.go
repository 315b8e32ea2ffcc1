package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"

	"github.com/fleetsync/fleetsync/internal/agent/bundle/bundletest"
)

// fakeLauncher stands in for roslaunch and ros2 on the robot's PATH: it
// records its command line and what the overlays' setup.sh exported.
const fakeLauncher = `#!/bin/sh
{
  echo "argv=$(basename "$0") $*"
  echo "order=$ORDER"
  echo "prefixes=$PREFIXES"
} > "$OUT/launcher-$RUN_TAG"
while :; do sleep 0.1; done
`

// suiteSetup records its overlay's name and both prefix variables.
func suiteSetup(name string) string {
	return `ORDER="$ORDER:` + name + `"; PREFIXES="$PREFIXES:$BUNDLE_CURRENT_PREFIX=$COLCON_BUNDLE_PREFIX"; export ORDER PREFIXES` + "\n"
}

const suitePre = "opt/built_workspace/app/share/app/pre.sh"

// TestAgentSuitesByFormat deploys the same application as a plain tar.gz,
// a colcon v1 and a colcon v2 bundle with the ROS and ROS2 suites (fake
// launchers on PATH; the real roslaunch is in agent_ros_test.go): each gets
// `roslaunch P F` / `ros2 launch P F` after every overlay's setup.sh, with
// both prefix variables, and the pre-launch file is found inside the
// bundle's workspace.
func TestAgentSuitesByFormat(t *testing.T) {
	s := startEngine(t)
	bin := t.TempDir()
	for _, l := range []string{"roslaunch", "ros2"} {
		must(t, os.WriteFile(filepath.Join(bin, l), []byte(fakeLauncher), 0o755))
	}
	pre := "#!/bin/sh\necho \"$0\" > \"$OUT/pre-$RUN_TAG\"\n"
	ws := map[string]bundleFile{
		"setup.sh": {body: suiteSetup("ws")},
		"opt/built_workspace/app/share/app/launch/run.launch": {body: "<launch/>\n"},
		suitePre: {body: pre, mode: 0o755},
	}
	deps := map[string]bundleFile{"setup.sh": {body: suiteSetup("deps")}, "usr/lib/libdep.so": {body: "ELF"}}
	formats := map[string]func() []byte{
		"tar": func() []byte { return tarGz(t, ws) },
		"v1": func() []byte {
			merged := map[string]bundleFile{}
			for k, v := range deps {
				merged[k] = v
			}
			for k, v := range ws {
				merged[k] = v
			}
			merged["setup.sh"] = bundleFile{body: suiteSetup("v1")}
			inner := plainTar(t, merged)
			var outer bytes.Buffer
			zw := gzip.NewWriter(&outer)
			tw := tar.NewWriter(zw)
			for _, e := range []struct {
				name string
				body []byte
			}{{"version", []byte("1")}, {"metadata.tar", plainTar(t, map[string]bundleFile{"installers.json": {body: "{}"}})}, {"bundle.tar", inner}} {
				must(t, tw.WriteHeader(&tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}))
				_, err := tw.Write(e.body)
				must(t, err)
			}
			must(t, tw.Close())
			must(t, zw.Close())
			return outer.Bytes()
		},
		"v2": func() []byte {
			b, _, err := bundletest.ColconV2(bundletest.Region, []bundletest.Overlay{
				{Name: "dependencies.tar.gz", Data: tarGz(t, deps)}, {Name: "workspace.tar.gz", Data: tarGz(t, ws)},
			}, func(index []bundletest.IndexEntry) []byte {
				return tarGz(t, map[string]bundleFile{"overlays.json": {body: string(bundletest.IndexJSON(index))}})
			})
			must(t, err)
			return b
		},
	}
	for _, suite := range []string{"ROS", "ROS2"} {
		f := newAgentFleet(t, s, suite)
		a := f.addAgent(strings.ToLower(suite), s.URL, []string{"PATH=" + bin + ":" + os.Getenv("PATH")})
		for _, format := range []string{"tar", "v1", "v2"} {
			tag := suite + "-" + format
			job := f.deployLaunch(f.version(formats[format]()), "app", "run.launch", deployOpts{pre: suitePre, env: map[string]string{"RUN_TAG": tag}})
			if d := f.wait(job); aws.StringValue(d.Status) != "Succeeded" {
				t.Fatalf("%s: %v", tag, d)
			}
			var rec string
			eventually(t, 20*time.Second, tag+" launcher to run", func() bool { rec = f.readOut("launcher-" + tag); return rec != "" })
			want := map[string]string{"ROS": "argv=roslaunch app run.launch", "ROS2": "argv=ros2 launch app run.launch"}[suite]
			order := map[string]string{"tar": "order=:ws", "v1": "order=:v1", "v2": "order=:deps:ws"}[format]
			if !strings.Contains(rec, want+"\n") || !strings.Contains(rec, order+"\n") {
				t.Errorf("%s recorded:\n%s\nwant %q and %q", tag, rec, want, order)
			}
			for _, l := range strings.Split(rec, "\n") {
				if p, ok := strings.CutPrefix(l, "prefixes=:"); ok {
					for _, pair := range strings.Split(p, ":") {
						if b, c, _ := strings.Cut(pair, "="); b == "" || b != c {
							t.Errorf("%s: BUNDLE_CURRENT_PREFIX and COLCON_BUNDLE_PREFIX differ: %q", tag, pair)
						}
					}
				}
			}
			where := filepath.Join(a.StateDir, "deployments")
			if format == "v2" {
				where = filepath.Join(a.StateDir, "overlays")
			}
			if got := f.readOut("pre-" + tag); !strings.HasPrefix(got, where) || !strings.HasSuffix(got, suitePre) {
				t.Errorf("%s: pre-launch ran from %q, want %s/…/%s", tag, got, where, suitePre)
			}
		}
	}
}

// plainTar builds an uncompressed tar.
func plainTar(t *testing.T, files map[string]bundleFile) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tarGz(t, files)))
	must(t, err)
	var b bytes.Buffer
	_, err = b.ReadFrom(zr)
	must(t, err)
	return b.Bytes()
}
