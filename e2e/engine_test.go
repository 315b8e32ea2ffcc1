// Deployment engine tests over a real fleetsyncd driven through the AWS SDK
// for Go v1, with simulated robots speaking the real agent protocol:
// concurrency window, failure threshold, timeouts and NoResponse → InSync,
// cancel, SyncDeploymentJob targeting, idempotency and concurrency of Sync.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
)

func TestEngineWindowNeverExceeded(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 20)
		for _, sr := range r.robots {
			sr.SetBehavior(sim.Behavior{Delay: 150 * time.Millisecond})
		}
		job := r.create(jobConfig{concurrent: 20}) // window ceil(20 × 20 %) = 4
		d, serverPeak := r.wait(job, time.Minute)
		if got := aws.StringValue(d.Status); got != "Succeeded" {
			t.Fatalf("job ended %s: %v", got, d)
		}
		if serverPeak > 4 || r.maxDeploying() > 4 {
			t.Errorf("window exceeded: server saw %d Deploying, robots saw %d deploying at once; window is 4", serverPeak, r.maxDeploying())
		}
		if r.maxDeploying() < 2 {
			t.Errorf("robots never deployed concurrently (peak %d): the window is not used", r.maxDeploying())
		}
		for _, sr := range r.robots {
			if count(sr.Completed(), job) != 1 {
				t.Errorf("%s completed %v, want the job once", sr.Name, sr.Completed())
			}
			if got := r.robotStatus(sr.ARN); got != "InSync" {
				t.Errorf("%s is %s, want InSync", sr.Name, got)
			}
		}
		for _, rd := range d.RobotDeploymentSummary {
			if aws.StringValue(rd.Status) != "InSync" || rd.DeploymentStartTime == nil || rd.DeploymentFinishTime == nil ||
				aws.StringValue(rd.ProgressDetail.CurrentProgress) != "Finished" || aws.StringValue(rd.ProgressDetail.TargetResource) != job {
				t.Errorf("robot row = %v", rd)
			}
		}
		f, err := r.c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String(r.fleet)})
		must(t, err)
		if aws.StringValue(f.LastDeploymentJob) != job || aws.StringValue(f.LastDeploymentStatus) != "Succeeded" || f.LastDeploymentTime == nil {
			t.Errorf("fleet last deployment = %v", f)
		}
	})
}

func TestEngineThresholdStopLeavesUnstartedRobots(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 10)
		// Window 1: robots start one at a time in creation order; the first two fail.
		r.robots[0].SetBehavior(sim.Behavior{FailAt: proto.StepDownloadingExtracting, FailCode: "ExtractingBundleFailure"})
		r.robots[1].SetBehavior(sim.Behavior{FailAt: proto.StepLaunching})
		job := r.create(jobConfig{concurrent: 10, threshold: 20})
		d, _ := r.wait(job, time.Minute)
		if aws.StringValue(d.Status) != "Failed" || aws.StringValue(d.FailureCode) != "FailureThresholdBreached" {
			t.Fatalf("job = %s/%s, want Failed/FailureThresholdBreached", aws.StringValue(d.Status), aws.StringValue(d.FailureCode))
		}
		byRobot := rows(d)
		for i, sr := range r.robots {
			row := byRobot[sr.ARN]
			switch {
			case i < 2:
				if aws.StringValue(row.Status) != "Failed" || aws.StringValue(row.FailureCode) == "" {
					t.Errorf("robot %d row = %v, want Failed with a code", i, row)
				}
			default:
				if aws.StringValue(row.Status) != "PendingNewDeployment" || len(sr.Started()) != 0 {
					t.Errorf("robot %d: row %v, started %v; want never started", i, row, sr.Started())
				}
				if got := r.robotStatus(sr.ARN); got != "Registered" {
					t.Errorf("unstarted robot %d is %s, want its prior status Registered", i, got)
				}
			}
		}
		if got := aws.StringValue(byRobot[r.robots[0].ARN].FailureCode); got != "ExtractingBundleFailure" {
			t.Errorf("robot 0 failure code = %s", got)
		}
	})
}

func TestEngineSilentRobotNoResponseThenInSync(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 3)
		r.robots[1].SetBehavior(sim.Behavior{Offline: true})
		job := r.create(jobConfig{concurrent: 100, threshold: 100})
		d, _ := r.wait(job, time.Minute)
		if aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("job = %v", d)
		}
		row := rows(d)[r.robots[1].ARN]
		if aws.StringValue(row.Status) != "NoResponse" || aws.StringValue(row.FailureCode) != "RobotDeploymentNoResponse" {
			t.Fatalf("silent robot's row = %v, want NoResponse/RobotDeploymentNoResponse", row)
		}
		if got := r.robotStatus(r.robots[1].ARN); got != "NoResponse" {
			t.Errorf("silent robot is %s", got)
		}
		// It comes back, completes the deployment it missed and is InSync by itself.
		r.robots[1].SetBehavior(sim.Behavior{})
		r.waitRobot(r.robots[1].ARN, "InSync", 30*time.Second)
		if count(r.robots[1].Completed(), job) != 1 {
			t.Errorf("returning robot completed %v", r.robots[1].Completed())
		}
	})
}

// TestEngineRobotTimeout waits out the shortest robot timeout the API
// allows (60 s) on the fake clock of a synctest bubble: the server runs in
// the test process, so the wait takes milliseconds of real time.
func TestEngineRobotTimeout(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		// A one-second tick: the timeout is what is tested, and each tick
		// costs real CPU time even on the fake clock.
		s := startEngineInProcess(t, "--engine-tick", "1s")
		r := newRollout(t, s, 2)
		r.robots[0].SetBehavior(sim.Behavior{Hang: true})
		start := time.Now()
		job := r.create(jobConfig{concurrent: 100, threshold: 100, timeout: 60})
		d, _ := r.wait(job, 2*time.Minute)
		if took := time.Since(start); took < 60*time.Second {
			t.Errorf("job ended after %v, before the 60 s robot timeout", took)
		}
		row := rows(d)[r.robots[0].ARN]
		// The step it hung in stays its currentProgress (SPEC §5: the
		// timeout's status and code, not a step's).
		if aws.StringValue(row.Status) != "NoResponse" || aws.StringValue(row.FailureCode) != "RobotDeploymentNoResponse" ||
			aws.StringValue(row.ProgressDetail.CurrentProgress) != "Validating" {
			t.Fatalf("hung robot's row = %v", row)
		}
		r.robots[0].SetBehavior(sim.Behavior{})
		r.waitRobot(r.robots[0].ARN, "InSync", 30*time.Second)
	})
}

func TestEngineCancelInProgress(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 4)
		for _, sr := range r.robots {
			sr.SetBehavior(sim.Behavior{Hang: true})
		}
		job := r.create(jobConfig{concurrent: 50}) // window 2
		deadline := time.Now().Add(30 * time.Second)
		for r.robots[0].Current() == "" && len(r.robots[0].Started()) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("robot 0 never received the job")
			}
			time.Sleep(20 * time.Millisecond)
		}
		_, err := r.c.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(job)})
		must(t, err)
		d, _ := r.wait(job, 30*time.Second)
		if aws.StringValue(d.Status) != "Canceled" {
			t.Fatalf("job = %s", aws.StringValue(d.Status))
		}
		byRobot := rows(d)
		for i, sr := range r.robots {
			row := byRobot[sr.ARN]
			if i < 2 {
				if aws.StringValue(row.Status) != "Failed" || aws.StringValue(row.FailureCode) != "RobotDeploymentAborted" {
					t.Errorf("deploying robot %d row = %v", i, row)
				}
				deadline := time.Now().Add(10 * time.Second)
				for count(sr.Aborted(), job) == 0 {
					if time.Now().After(deadline) {
						t.Fatalf("robot %d was never told to abort", i)
					}
					time.Sleep(20 * time.Millisecond)
				}
			} else if aws.StringValue(row.Status) != "PendingNewDeployment" || r.robotStatus(sr.ARN) != "Registered" || len(sr.Started()) != 0 {
				t.Errorf("unstarted robot %d: row %v, status %s", i, row, r.robotStatus(sr.ARN))
			}
		}
		_, err = r.c.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(job)})
		wantErr(t, err, "InvalidParameterException", "already finished")
	})
}

func TestSyncTargetsExactlyTheRobotsNotInSync(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 6)
		// 0, 1: succeed; 2: fails; 3: silent (NoResponse); window 1 and
		// threshold 50 % of 6 = 3 failures: 2 and 3 fail, 4 is the third
		// failure and 5 is never reached.
		r.robots[2].SetBehavior(sim.Behavior{FailAt: proto.StepLaunching})
		r.robots[3].SetBehavior(sim.Behavior{Offline: true})
		r.robots[4].SetBehavior(sim.Behavior{FailAt: proto.StepValidating})
		job := r.create(jobConfig{concurrent: 1, threshold: 50})
		d, _ := r.wait(job, time.Minute)
		if aws.StringValue(d.Status) != "Failed" {
			t.Fatalf("source job = %v", d)
		}
		if got := aws.StringValue(rows(d)[r.robots[5].ARN].Status); got != "PendingNewDeployment" {
			t.Fatalf("robot 5 should never have been reached, row status %s", got)
		}
		// Robot 3 stays away; a new robot joins.
		for _, i := range []int{2, 4} {
			r.robots[i].SetBehavior(sim.Behavior{})
		}
		late := r.addRobots(1)[0]
		want := map[string]bool{r.robots[2].ARN: true, r.robots[3].ARN: true, r.robots[4].ARN: true, r.robots[5].ARN: true, late.ARN: true}
		syncJob := r.sync()
		// Robot 3 comes back only once the Sync has targeted it (the
		// engine prepared it): back earlier, it would finish the source
		// deployment it missed by itself (SPEC §5: NoResponse → InSync) and
		// rightly not be a target.
		for {
			d, err := r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(syncJob)})
			must(t, err)
			if st := aws.StringValue(d.Status); st != "Pending" && st != "Preparing" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		r.robots[3].SetBehavior(sim.Behavior{})
		d, _ = r.wait(syncJob, time.Minute)
		if aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("sync job = %v", d)
		}
		got := rows(d)
		if len(got) != len(want) {
			t.Errorf("sync targeted %d robots, want %d: %v", len(got), len(want), d.RobotDeploymentSummary)
		}
		for arn := range want {
			if row, ok := got[arn]; !ok {
				t.Errorf("sync did not target %s: %v", arn, d.RobotDeploymentSummary)
			} else if aws.StringValue(row.Status) != "InSync" {
				t.Errorf("sync row of %s = %v, want InSync", arn, row)
			}
		}
		for _, i := range []int{0, 1} {
			if _, ok := got[r.robots[i].ARN]; ok || count(r.robots[i].Started(), syncJob) != 0 {
				t.Errorf("robot %d was InSync with the source and must be left alone", i)
			}
		}
		// The sync job copied the source's configuration, not its tags.
		if aws.Int64Value(d.DeploymentConfig.FailureThresholdPercentage) != 50 || aws.Int64Value(d.DeploymentConfig.ConcurrentDeploymentPercentage) != 1 {
			t.Errorf("sync job config = %v", d.DeploymentConfig)
		}
		// Everything in sync now: a second Sync succeeds with no robots.
		again := r.sync()
		d, _ = r.wait(again, 30*time.Second)
		if aws.StringValue(d.Status) != "Succeeded" || len(d.RobotDeploymentSummary) != 0 {
			t.Errorf("sync of an in-sync fleet = %v", d)
		}
	})
}

func TestSyncWithoutDeployment(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 1)
		_, err := r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
		wantErr(t, err, "ResourceNotFoundException", "no deployment to synchronize to")
		_, err = r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet + "0")})
		wantErr(t, err, "ResourceNotFoundException")
	})
}

func TestSyncConcurrentCalls(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 3)
		d, _ := r.wait(r.create(jobConfig{concurrent: 100}), time.Minute)
		if aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("first job = %v", d)
		}
		for _, sr := range r.robots {
			sr.SetBehavior(sim.Behavior{Hang: true}) // keep the sync job active
		}
		r.addRobots(1)[0].SetBehavior(sim.Behavior{Hang: true})

		// 50 identical calls (one token): one job, every call answers it.
		var wg sync.WaitGroup
		arns := make([]string, 50)
		errs := make([]error, 50)
		for i := range 50 {
			wg.Go(func() {
				out, err := r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet), ClientRequestToken: aws.String("same-token")})
				errs[i] = err
				if err == nil {
					arns[i] = aws.StringValue(out.Arn)
				}
			})
		}
		wg.Wait()
		for i := range 50 {
			if errs[i] != nil || arns[i] != arns[0] {
				t.Fatalf("identical call %d = %q, %v; want %q", i, arns[i], errs[i], arns[0])
			}
		}
		// 50 calls with different tokens while that job is active: all refused.
		conflicts := 0
		for i := range 50 {
			wg.Go(func() {
				_, err := r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
				errs[i] = err
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil && errCode(err) == "ConcurrentDeploymentException" {
				conflicts++
			} else {
				t.Errorf("different-token call = %v, want ConcurrentDeploymentException", err)
			}
		}
		if conflicts != 50 {
			t.Errorf("%d of 50 different-token calls conflicted", conflicts)
		}
		jobs, err := r.c.ListDeploymentJobs(&robomaker.ListDeploymentJobsInput{})
		must(t, err)
		if len(jobs.DeploymentJobs) != 2 {
			t.Errorf("%d jobs exist, want 2 (the first and one sync)", len(jobs.DeploymentJobs))
		}
		// Same token, other parameters.
		_, err = r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet + "0"), ClientRequestToken: aws.String("same-token")})
		wantErr(t, err, "IdempotentParameterMismatchException")
	})
}

// TestSyncRaceDifferentTokens has 50 different-token Syncs race on an idle
// fleet: exactly one creates a job, 49 get ConcurrentDeploymentException.
func TestSyncRaceDifferentTokens(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 2)
		d, _ := r.wait(r.create(jobConfig{concurrent: 100}), time.Minute)
		if aws.StringValue(d.Status) != "Succeeded" {
			t.Fatalf("first job = %v", d)
		}
		for _, sr := range r.robots {
			sr.SetBehavior(sim.Behavior{Hang: true})
		}
		r.addRobots(1)[0].SetBehavior(sim.Behavior{Hang: true})
		var wg sync.WaitGroup
		errs := make([]error, 50)
		for i := range 50 {
			wg.Go(func() {
				_, errs[i] = r.c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: aws.String(r.fleet)})
			})
		}
		wg.Wait()
		ok, conflict := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errCode(err) == "ConcurrentDeploymentException":
				conflict++
			default:
				t.Errorf("racing sync: %v", err)
			}
		}
		if ok != 1 || conflict != 49 {
			t.Errorf("racing syncs: %d created, %d conflicted; want 1 and 49", ok, conflict)
		}
	})
}

func TestCreateDeploymentJobIdempotencyAndErrors(t *testing.T) {
	t.Parallel()
	inBubble(t, func(t *testing.T) {
		s := startEngineInProcess(t)
		r := newRollout(t, s, 1)
		in := &robomaker.CreateDeploymentJobInput{
			Fleet: aws.String(r.fleet), ClientRequestToken: aws.String("tok-1"),
			DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{
				Application: aws.String(r.app), ApplicationVersion: aws.String("1"),
				LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")},
			}},
			Tags: map[string]*string{"team": aws.String("a")},
		}
		first, err := r.c.CreateDeploymentJob(in)
		must(t, err)
		if aws.StringValue(first.Status) != "Pending" || aws.Int64Value(first.DeploymentConfig.ConcurrentDeploymentPercentage) != 20 ||
			aws.Int64Value(first.DeploymentConfig.FailureThresholdPercentage) != 25 || aws.Int64Value(first.DeploymentConfig.RobotDeploymentTimeoutInSeconds) != 18000 {
			t.Errorf("created job does not echo the defaults: %v", first)
		}
		again, err := r.c.CreateDeploymentJob(in)
		must(t, err)
		if aws.StringValue(again.Arn) != aws.StringValue(first.Arn) {
			t.Errorf("replay made another job: %s vs %s", aws.StringValue(again.Arn), aws.StringValue(first.Arn))
		}
		in.Tags = map[string]*string{"team": aws.String("b")}
		_, err = r.c.CreateDeploymentJob(in)
		wantErr(t, err, "IdempotentParameterMismatchException")
		r.wait(aws.StringValue(first.Arn), time.Minute)

		in.ClientRequestToken = aws.String("tok-2")
		in.DeploymentApplicationConfigs[0].ApplicationVersion = aws.String("$LATEST")
		_, err = r.c.CreateDeploymentJob(in)
		wantErr(t, err, "InvalidParameterException", "applicationVersion", "create one with CreateRobotApplicationVersion first")
		in.DeploymentApplicationConfigs[0].ApplicationVersion = aws.String("9")
		_, err = r.c.CreateDeploymentJob(in)
		wantErr(t, err, "ResourceNotFoundException", "version 9")
		in.DeploymentApplicationConfigs[0].ApplicationVersion = aws.String("1")
		in.DeploymentConfig = &robomaker.DeploymentConfig{ConcurrentDeploymentPercentage: aws.Int64(101)}
		_, err = r.c.CreateDeploymentJob(in)
		wantErr(t, err, "InvalidParameterException", "deploymentConfig.concurrentDeploymentPercentage")
		in.DeploymentConfig = &robomaker.DeploymentConfig{RobotDeploymentTimeoutInSeconds: aws.Int64(59)}
		_, err = r.c.CreateDeploymentJob(in)
		wantErr(t, err, "InvalidParameterException", "robotDeploymentTimeoutInSeconds")
		in.DeploymentConfig = nil
		in.Fleet = aws.String(r.fleet + "0")
		_, err = r.c.CreateDeploymentJob(in)
		wantErr(t, err, "ResourceNotFoundException")

		// Tags and listing of jobs.
		tags, err := r.c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: first.Arn})
		must(t, err)
		if aws.StringValue(tags.Tags["team"]) != "a" {
			t.Errorf("job tags = %v", tags.Tags)
		}
		fleetName := r.fleet[len("arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/"):]
		fleetName = fleetName[:strings.LastIndexByte(fleetName, '/')] // "<name>/<ms-epoch>"
		list, err := r.c.ListDeploymentJobs(&robomaker.ListDeploymentJobsInput{Filters: []*robomaker.Filter{
			{Name: aws.String("fleetName"), Values: []*string{aws.String(fleetName)}},
			{Name: aws.String("status"), Values: []*string{aws.String("Succeeded")}},
		}})
		must(t, err)
		if len(list.DeploymentJobs) != 1 || aws.StringValue(list.DeploymentJobs[0].Arn) != aws.StringValue(first.Arn) {
			t.Errorf("ListDeploymentJobs(fleetName, Succeeded) = %v", list)
		}
		_, err = r.c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String("arn:aws:robomaker:us-east-1:123456789012:deployment-job/deployment-000000000000")})
		wantErr(t, err, "ResourceNotFoundException")
	})
}
