// `fleetsyncd backup` taken while a rollout runs, restored as
// docs/operations.md says (the copy as <data-dir>/fleetsync.db, plus
// master.key, plus the file bundle store), and a server started on it.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestBackupDuringRolloutAndRestore(t *testing.T) {
	if testenv.Postgres() {
		t.Skip("SQLite backup: PostgreSQL servers are backed up with pg_dump")
	}
	// A short lease: the restored server has a new node id, and takes over
	// the job the backup shows as driven by the old process once its lease
	// (as recorded in the copy) has run out.
	s := startEngine(t, "--job-lease-ttl", "2s")
	f := newAgentFleet(t, s, "General")
	for _, n := range []string{"b1", "b2"} {
		f.addAgent(n, s.URL, nil)
	}
	started := filepath.Join(f.out, "pre-started")
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755},
		"pre.sh": {"#!/bin/sh\ntouch " + started + "\nsleep 3\n", 0o755}}))
	job := f.deploy(v1, deployOpts{pre: "pre.sh"})
	eventually(t, 30*time.Second, "the rollout under way", func() bool { _, err := os.Stat(started); return err == nil })

	backup := filepath.Join(t.TempDir(), "fleetsync-backup.db")
	out, err := exec.Command(testenv.Binary(t, "fleetsyncd"), "backup", "--data-dir", s.DataDir, "--to", backup).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "integrity ok") || !strings.Contains(string(out), "master.key") {
		t.Fatalf("fleetsyncd backup: %v\n%s", err, out)
	}
	d, err := f.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
	must(t, err)
	if st := aws.StringValue(d.Status); st != "InProgress" {
		t.Fatalf("job %s when the backup finished; the test wants it mid-rollout", st)
	}
	// A second backup to the same file is refused (never overwritten).
	if out, err := exec.Command(testenv.Binary(t, "fleetsyncd"), "backup", "--data-dir", s.DataDir, "--to", backup).CombinedOutput(); err == nil {
		t.Fatalf("backup over an existing file succeeded:\n%s", out)
	}

	// The machine is lost: the server dies, its data directory is gone.
	// Restore into a fresh directory at the same place (the address and
	// flags stay, as on a replacement machine): the backup, master.key, and
	// the file bundle store (which lives under the data dir by default).
	s.Kill()
	lost := s.DataDir + ".lost"
	must(t, os.Rename(s.DataDir, lost))
	must(t, os.MkdirAll(s.DataDir, 0o700))
	copyFile(t, backup, filepath.Join(s.DataDir, "fleetsync.db"))
	copyFile(t, filepath.Join(lost, "master.key"), filepath.Join(s.DataDir, "master.key"))
	if out, err := exec.Command("cp", "-a", filepath.Join(lost, "bundles"), filepath.Join(s.DataDir, "bundles")).CombinedOutput(); err != nil {
		t.Fatalf("cp bundles: %v\n%s", err, out)
	}
	s.Restart()

	// Everything is listed: the fleet, both robots, the application and
	// its version, the job.
	fleets, err := f.c.ListFleets(&robomaker.ListFleetsInput{})
	must(t, err)
	robots, err := f.c.ListRobots(&robomaker.ListRobotsInput{})
	must(t, err)
	apps, err := f.c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(f.app), ApplicationVersion: aws.String(v1)})
	must(t, err)
	jobs, err := f.c.ListDeploymentJobs(&robomaker.ListDeploymentJobsInput{})
	must(t, err)
	if len(fleets.FleetDetails) != 1 || len(robots.Robots) != 2 || aws.StringValue(apps.Version) != v1 || len(jobs.DeploymentJobs) != 1 {
		t.Fatalf("restored server lists %d fleets, %d robots, app version %q, %d jobs", len(fleets.FleetDetails), len(robots.Robots),
			aws.StringValue(apps.Version), len(jobs.DeploymentJobs))
	}
	// The job, restored mid-rollout, finishes: the agents (which finished
	// while the server was down or told the lost one) are asked again and
	// answer, or time out into a reported state; here they answer.
	d = f.wait(job)
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("restored job ended %s: %v", aws.StringValue(d.Status), d)
	}
	for _, n := range []string{"b1", "b2"} {
		if st := aws.StringValue(rows(d)[f.arns[n]].Status); st != "InSync" {
			t.Errorf("robot %s is %s after the restore, want InSync", n, st)
		}
		if f.read(n, "version") != "v1" || !processAlive(f.pid(n)) {
			t.Errorf("robot %s does not run v1", n)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	must(t, err)
	must(t, os.WriteFile(to, b, 0o600))
}
