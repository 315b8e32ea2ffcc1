package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// TestVersionCommands: `fleetsyncd --version`, `fleetsyncd version` and
// `fleetsync-agent version` print one line with version, commit, build date
// and toolchain. (The release build stamps real values: scripts/test checks
// them on the installed .deb.)
func TestVersionCommands(t *testing.T) {
	line := regexp.MustCompile(`^(fleetsyncd|fleetsync-agent) \S+ \(commit \S+, built \S+, go1\.\d+\S*\)\n$`)
	for _, c := range [][]string{{"fleetsyncd", "--version"}, {"fleetsyncd", "version"}, {"fleetsync-agent", "version"}} {
		out, err := exec.Command(testenv.Binary(t, c[0]), c[1:]...).Output()
		if err != nil || !line.Match(out) {
			t.Errorf("%v: %v %q", c, err, out)
		}
	}
}

// TestHealthcheckCommand: the container image's HEALTHCHECK, over TLS and
// against a port nobody serves.
func TestHealthcheckCommand(t *testing.T) {
	s, _, live := startTLS(t)
	bin := testenv.Binary(t, "fleetsyncd")
	if out, err := exec.Command(bin, "healthcheck", "--listen", s.Addr, "--tls-cert", live[0], "--tls-key", live[1]).CombinedOutput(); err != nil {
		t.Fatalf("healthcheck of a healthy TLS server: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "healthcheck", "--listen", testenv.FreeAddr(t)).CombinedOutput(); err == nil {
		t.Fatalf("healthcheck of nothing succeeded:\n%s", out)
	}
}

// TestSIGHUPWithoutTLS: `systemctl reload` (SIGHUP) of a server without a
// certificate logs and keeps serving instead of ending the process.
func TestSIGHUPWithoutTLS(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	must(t, s.Signal(syscall.SIGHUP))
	eventually(t, 10*time.Second, "the SIGHUP logged", func() bool {
		return strings.Contains(s.Stderr(), "SIGHUP: nothing to reload")
	})
	if _, err := s.Client().ListFleets(&robomaker.ListFleetsInput{}); err != nil {
		t.Fatalf("API after SIGHUP: %v", err)
	}
}
