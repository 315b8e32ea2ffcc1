// The README's walk-through, run as written: its command blocks, in order,
// in bash, with Debian's AWS CLI v2, curl, a real fleetsyncd it starts
// itself and three real fleetsync-agent processes deploying a real bundle.
// Only the build line (the test has built the binaries) and the port (a free
// one, not 8080) are changed; the checks are the walk-through's own (every
// wait ends in Succeeded or Failed as it says) plus its shown outcomes.
package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// walkthrough returns the shell lines of the README section whose heading
// starts with "## Walk-through": its indented (code block) lines, unindented.
func walkthrough(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	must(t, err)
	text := string(b)
	i := strings.Index(text, "\n## Walk-through")
	if i < 0 {
		t.Fatal("README.md has no \"## Walk-through\" section")
	}
	section := text[i+1:]
	if j := strings.Index(section, "\n## "); j >= 0 {
		section = section[:j]
	}
	var lines []string
	for _, l := range strings.Split(section, "\n") {
		if strings.HasPrefix(l, "    ") {
			lines = append(lines, strings.TrimPrefix(l, "    "))
		}
	}
	return lines
}

func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	cli := awsCLIv2(t)
	curlSigV4(t)
	lines := walkthrough(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	for _, name := range []string{"fleetsyncd", "fleetsync-agent"} {
		must(t, os.Symlink(testenv.Binary(t, name), filepath.Join(bin, name)))
	}
	// The README's commands name a fixed port: the script gets a free one.
	_, port, err := net.SplitHostPort(testenv.FreeAddr(t))
	must(t, err)

	var script strings.Builder
	// Errors stop the script; the background processes it starts are ended
	// when it exits, whatever happens, and waited for (an agent writes its
	// state directory until it has stopped its application).
	script.WriteString("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait' EXIT\n")
	script.WriteString("aws() { " + strconvQuote(cli) + ` "$@"; }` + "\n")
	built := false
	for _, line := range lines {
		if strings.HasPrefix(line, "go build ") {
			built = true
			continue // the binaries are in ./bin already
		}
		script.WriteString(strings.ReplaceAll(line, "127.0.0.1:8080", "127.0.0.1:"+port) + "\n")
	}
	if !built || !strings.Contains(script.String(), "sync-deployment-job") || !strings.Contains(script.String(), "--aws-sigv4") {
		t.Fatalf("the walk-through lost its build line, its sync or its curl:\n%s", script.String())
	}
	script.WriteString(`echo "walkthrough: drift=$(curl -s --aws-sigv4 "aws:amz:us-east-1:robomaker" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$drift")"` + "\n")
	script.WriteString(`echo "walkthrough: bot1=$(fleetsync-agent status --state-dir ./bot1 | grep '^deployed:')"` + "\n")
	must(t, os.WriteFile(filepath.Join(dir, "walkthrough.sh"), []byte(script.String()), 0o644))

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "walkthrough.sh")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+dir) // no ~/.aws of the machine's user
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("walk-through (%v):\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "walk", "fleetsyncd.log"))
		t.Fatalf("walk-through: %v\nfleetsyncd.log:\n%s", err, log)
	}
	text := string(out)
	for _, want := range []string{
		"\nSucceeded\n", // the first job, the sync and version 3
		"robot/bot3/",
		`"reason":"NeverDeployed"`,
		"Failed\tFailureThresholdBreached\tThe failure threshold was reached; robots not yet started were left as they were.",
		"Failed\tExecutingPreLaunch\tPreLaunchFileFailure\tpre-launch hello/pre.sh exited 3: map /etc/hello/map.yaml missing",
		// the failures endpoint, read with curl --aws-sigv4
		`"currentProgress":"ExecutingPreLaunch","failureCode":"PreLaunchFileFailure"`,
		`"output":"checking the map...\nmap /etc/hello/map.yaml missing\n"`,
		"walkthrough: drift=", `"robots":[]`, // after version 3, every robot is on the latest deployment
		"walkthrough: bot1=deployed:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("walk-through output lacks %q", want)
		}
	}
	if !strings.Contains(text, "robot-application/hello/") || !strings.HasSuffix(strings.TrimSpace(text), "version 3") {
		t.Errorf("bot1 does not run version 3 at the end")
	}
}

// strconvQuote quotes s as one POSIX shell word.
func strconvQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
