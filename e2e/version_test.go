package e2e

import (
	"os/exec"
	"regexp"
	"testing"

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
