// The health gate (issue 16) with real fleetsync-agent processes running
// real scripts: an application that dies 5 s after launch passes the launch
// settle but not a 10 s health period, and is rolled back; a health command
// that fails rolls back too; a healthy one is InSync only after the period.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
)

// dyingApp records its start like appScript, then exits with status 3
// after secs seconds.
func dyingApp(version, secs string) string {
	return `#!/bin/sh
name="$AWS_ROBOMAKER_ROBOT_TAG_KEY_name"
echo "` + version + ` $$" >> "$OUT/$name.runs"
sleep ` + secs + `
exit 3
`
}

func TestHealthGateRollsBackAppThatDiesAfterSettle(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	f := newAgentFleet(t, s, "General")
	// Today's default launch settle (2 s), not the tests' quick one.
	f.addAgent("r1", s.URL, nil, "--launch-settle", "2s")
	r := &rollout{t: t, s: s, c: f.c}

	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	d := f.wait(f.deploy(v1, deployOpts{}))
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1: %v", d)
	}

	// Without a gate, the dying application passes today's settle check:
	// the gate is what catches it (checked first, so the test cannot pass
	// for a settle that got longer).
	v2 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {dyingApp("v2", "5"), 0o755}}))
	ungated := f.deploy(v2, deployOpts{})
	d = f.wait(ungated)
	if row := rows(d)[f.arns["r1"]]; aws.StringValue(d.Status) != "Succeeded" || aws.StringValue(row.Status) != "InSync" {
		t.Fatalf("ungated dying application: job %s row %v, want it InSync after the settle", aws.StringValue(d.Status), row)
	}
	// Back to v1 for the gated attempt.
	d = f.wait(f.deploy(v1, deployOpts{}))
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1 again: %v", d)
	}
	eventually(t, 10*time.Second, "v1 running again", func() bool { return f.read("r1", "version") == "v1" && processAlive(f.pid("r1")) })
	v1pid := f.pid("r1")

	// The fleet's tag sets the gate for jobs without their own.
	_, err := f.c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(f.fleet),
		Tags: map[string]*string{"fleetsync:healthSeconds": aws.String("10")}})
	must(t, err)
	began := time.Now()
	job := f.deploy(v2, deployOpts{})
	if c := r.control(job, ""); c.HealthSeconds == nil || *c.HealthSeconds != 10 || c.HealthFrom != "fleet" {
		t.Errorf("job view = %+v, want the fleet's 10 s gate", c)
	}
	d = f.wait(job)
	took := time.Since(began)
	row := rows(d)[f.arns["r1"]]
	if aws.StringValue(row.Status) != "Failed" || aws.StringValue(row.FailureCode) != "EnvironmentSetupError" ||
		!strings.Contains(aws.StringValue(row.FailureReason), "health gate failed") ||
		!strings.Contains(aws.StringValue(row.FailureReason), "exited (status 3)") ||
		!strings.Contains(aws.StringValue(row.FailureReason), "10s health period") {
		t.Fatalf("gated dying application: row %v", row)
	}
	if took < 5*time.Second {
		t.Errorf("the gate failed the robot %v after the job began; its application ran 5 s", took)
	}
	if got := r.robotStatus(f.arns["r1"]); got != "Failed" {
		t.Errorf("robot status = %s, want Failed", got)
	}
	// The previous application runs again (a new process of v1).
	eventually(t, 10*time.Second, "v1 restored", func() bool {
		return f.read("r1", "version") == "v1" && f.pid("r1") != v1pid && processAlive(f.pid("r1"))
	})
	if st := f.agents["r1"].Status(); st.Current == nil || st.Current.ApplicationVersion != v1 {
		t.Errorf("agent's current application = %+v, want version %s", st.Current, v1)
	}

	t.Run("failing health command", func(t *testing.T) {
		v3 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v3"), 0o755},
			"health.sh": {"#!/bin/sh\necho unhealthy: no map loaded\nexit 4\n", 0o755}}))
		job := f.deploy(v3, deployOpts{env: map[string]string{"FLEETSYNC_HEALTH_COMMAND": "health.sh"},
			tags: map[string]string{"fleetsync:healthSeconds": "1"}})
		if c := r.control(job, ""); c.HealthSeconds == nil || *c.HealthSeconds != 1 || c.HealthFrom != "job" {
			t.Errorf("job view = %+v, want the job's own 1 s gate", c)
		}
		d := f.wait(job)
		row := rows(d)[f.arns["r1"]]
		if aws.StringValue(row.FailureCode) != "EnvironmentSetupError" || !strings.Contains(aws.StringValue(row.FailureReason), "health gate failed: health command health.sh") {
			t.Fatalf("failing health command: row %v", row)
		}
		eventually(t, 10*time.Second, "v1 restored", func() bool { return f.read("r1", "version") == "v1" && processAlive(f.pid("r1")) })
	})

	t.Run("healthy application is InSync only after the period", func(t *testing.T) {
		v4 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v4"), 0o755},
			"health.sh": {"#!/bin/sh\ntest -s \"$OUT/$AWS_ROBOMAKER_ROBOT_TAG_KEY_name.pid\"\n", 0o755}}))
		job := f.deploy(v4, deployOpts{env: map[string]string{"FLEETSYNC_HEALTH_COMMAND": "health.sh"},
			tags: map[string]string{"fleetsync:healthSeconds": "4"}})
		var launched time.Time
		eventually(t, 30*time.Second, "v4 launched", func() bool {
			if f.read("r1", "version") == "v4" {
				launched = time.Now()
				return true
			}
			return false
		})
		d := f.wait(job)
		if row := rows(d)[f.arns["r1"]]; aws.StringValue(d.Status) != "Succeeded" || aws.StringValue(row.Status) != "InSync" {
			t.Fatalf("healthy application: job %s row %v", aws.StringValue(d.Status), row)
		}
		if held := time.Since(launched); held < 3500*time.Millisecond {
			t.Errorf("InSync %v after launch, before the 4 s health period ended", held)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		m := scrape(t, s)
		if m[`fleetsync_health_gate_total{outcome="failed"}`] != 2 || m[`fleetsync_health_gate_total{outcome="passed"}`] != 1 ||
			m[`fleetsync_health_gate_total{outcome="ungated"}`] != 0 {
			t.Errorf("health gate metrics = failed %v passed %v ungated %v, want 2, 1, 0", m[`fleetsync_health_gate_total{outcome="failed"}`],
				m[`fleetsync_health_gate_total{outcome="passed"}`], m[`fleetsync_health_gate_total{outcome="ungated"}`])
		}
	})

	t.Run("bad tag values are refused", func(t *testing.T) {
		for _, v := range []string{"ten", "-1", "86401"} {
			_, err := f.c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(f.fleet),
				Tags: map[string]*string{"fleetsync:healthSeconds": aws.String(v)}})
			wantErr(t, err, "InvalidParameterException", "fleetsync:healthSeconds")
		}
		resp := signedDo(t, s, http.MethodGet, jobPath(job), nil)
		if resp.Status != http.StatusOK {
			t.Errorf("job view after refused tags = HTTP %d", resp.Status)
		}
	})
}
