package runner_test

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEnvWithNULFailsDeployment: an environment value with a NUL (which the
// API now refuses, but a job from an older server or another client may
// still carry) used to be dropped by the agent, which reported Finished.
// The real agent, against the real agent endpoint in this process, fails
// the deployment at Validating with EnvironmentSetupError naming the
// variable, and never launches the application.
func TestEnvWithNULFailsDeployment(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "launched")
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	script := "#!/bin/sh\ntouch " + marker + "\nexec sleep 60\n"
	must(t, tw.WriteHeader(&tar.Header{Name: "p/run.sh", Mode: 0o755, Size: int64(len(script)), Typeflag: tar.TypeReg}))
	_, err := tw.Write([]byte(script))
	must(t, err)
	must(t, tw.Close())
	h := newHarness(t, tb.Bytes())
	row := h.finished(h.deploy(map[string]string{"GOOD": "1", "BAD_VAR": "a\x00b"}))
	if row.Status != fleet.RobotFailed || row.FailureCode != proto.FailureEnvironmentSetup || !strings.Contains(row.FailureReason, "BAD_VAR") {
		t.Fatalf("robot row %+v, want Failed with EnvironmentSetupError naming BAD_VAR", row)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the application was launched without its variable")
	}
}
