package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/testenv"
	"github.com/fleetsync/fleetsync/internal/testskip"
)

// awsCLIv2 returns the AWS CLI v2 the session script will use ($AWS, default
// /usr/bin/aws). Without one the test fails in CI (CI=true) and is skipped
// elsewhere, saying what is missing.
func awsCLIv2(t *testing.T) string {
	t.Helper()
	cli := os.Getenv("AWS")
	if cli == "" {
		cli = "/usr/bin/aws"
	}
	out, err := exec.Command(cli, "--version").CombinedOutput()
	version := strings.TrimSpace(string(out))
	if err == nil && strings.HasPrefix(version, "aws-cli/2.") {
		return cli
	}
	msg := "AWS CLI v2 not available at " + cli
	if err != nil {
		msg += ": " + err.Error()
	} else {
		msg += ": it says " + version
	}
	testskip.Missing(t, "AWS CLI tests", msg, "scripts/test (installs Debian's awscli 2.9), or apt-get install awscli, or export AWS=/path/to/aws-v2")
	return ""
}

// TestAWSCLISession runs scripts/awscli-session.sh — the real AWS CLI v2
// creating fleets, robots, a robot application from a real bundle, versions,
// tags, paginated lists and an error — against a real fleetsyncd.
func TestAWSCLISession(t *testing.T) {
	cli := awsCLIv2(t)
	s := testenv.Start(t, testenv.Options{})

	script, err := filepath.Abs(filepath.Join("..", "scripts", "awscli-session.sh"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Env = append(os.Environ(),
		"AWS="+cli,
		"FLEETSYNC_ENDPOINT="+s.URL,
		"FLEETSYNC_BUNDLE_ROOT="+filepath.Join(s.DataDir, "bundles"),
		"AWS_ACCESS_KEY_ID="+testenv.KeyID,
		"AWS_SECRET_ACCESS_KEY="+testenv.Secret,
		"AWS_DEFAULT_REGION="+testenv.Region,
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("awscli-session.sh (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("awscli-session.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^awscli-session: [1-9][0-9]* passed, 0 failed$`).MatchString(last) {
		t.Errorf("last line = %q, want \"awscli-session: N passed, 0 failed\"", last)
	}
	// Nothing the CLI did may have been a server fault.
	if strings.Contains(s.Stderr(), "level=ERROR") {
		t.Errorf("the server logged errors during the session:\n%s", s.Stderr())
	}
}
