package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// TestAgentImpersonationRefused checks that a robot can act only for
// itself: a request signed by robot A's key but naming robot B, a report by
// A on a deployment that is only B's, a replayed request and an unknown key
// are all refused, and B's deployment is untouched by them.
func TestAgentImpersonationRefused(t *testing.T) {
	s := startEngine(t)
	c := quiet(s.Client())
	newKey := func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		must(t, err)
		return k
	}
	keyA, keyB := newKey(), newKey()
	agentA := &client.Client{Server: s.URL, Key: keyA, Account: testenv.Account}
	agentB := &client.Client{Server: s.URL, Key: keyB, Account: testenv.Account}

	fl, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet"))})
	must(t, err)
	robot := func(name string, k *client.Client) string {
		out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq(name)), Architecture: aws.String("X86_64"),
			GreengrassGroupId: aws.String(k.AgentID())})
		must(t, err)
		return aws.StringValue(out.Arn)
	}
	robotA, robotB := robot("a", agentA), robot("b", agentB)
	// Only B is in the fleet, so the job is B's alone.
	_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: aws.String(robotB)})
	must(t, err)
	makeBucket(t, s, "auth")
	putObject(t, s, "auth", "app.tar", []byte("bundle"))
	app, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("app")),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("auth"), S3Key: aws.String("app.tar"), Architecture: aws.String("X86_64")}}})
	must(t, err)
	_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
	must(t, err)
	job, err := c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: fl.Arn,
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: app.Arn, ApplicationVersion: aws.String("1"),
			LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}}})
	must(t, err)
	jobARN := aws.StringValue(job.Arn)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// B receives its assignment and starts it.
	var asg *proto.Assignment
	for asg == nil {
		resp, err := agentB.Poll(ctx, proto.PollRequest{WaitSeconds: 1})
		must(t, err)
		asg = resp.Assignment
	}
	if asg.DeploymentJob != jobARN {
		t.Fatalf("B was assigned %s, want %s", asg.DeploymentJob, jobARN)
	}
	_, err = agentB.Report(ctx, proto.Report{DeploymentJob: jobARN, Step: proto.StepValidating})
	must(t, err)

	failB := proto.Report{DeploymentJob: jobARN, Step: proto.StepLaunching, Result: proto.ResultFailed,
		FailureCode: proto.FailurePreLaunchFile, FailureReason: "forged"}
	body, err := json.Marshal(failB)
	must(t, err)
	send := func(r *http.Request) (int, string) {
		resp, err := http.DefaultClient.Do(r)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	signed := func(k ed25519.PrivateKey) *http.Request {
		r, err := http.NewRequest(http.MethodPost, s.URL+proto.PathReport, bytes.NewReader(body))
		must(t, err)
		r.Header.Set("Content-Type", "application/json")
		proto.SignAs(r, testenv.Account, k, body, time.Now())
		return r
	}

	t.Run("A signs a report and claims to be B", func(t *testing.T) {
		r := signed(keyA)
		r.Header.Set(proto.HeaderAgent, agentB.AgentID())
		if code, msg := send(r); code != http.StatusUnauthorized {
			t.Fatalf("forged agent id: HTTP %d %s, want 401", code, msg)
		}
	})
	t.Run("A reports on B's deployment with its own identity", func(t *testing.T) {
		// The signature names A, so the report is about A's deployment in
		// that job, which does not exist: the server tells A to drop it
		// (docs/agent-protocol.md) and changes nothing.
		code, msg := send(signed(keyA))
		var resp proto.ReportResponse
		if code != http.StatusOK || json.Unmarshal([]byte(msg), &resp) != nil || !resp.Abort {
			t.Fatalf("A's report on a job not its own: HTTP %d %s, want 200 {\"abort\":true}", code, msg)
		}
	})
	t.Run("a replayed request", func(t *testing.T) {
		progress, _ := json.Marshal(proto.Report{DeploymentJob: jobARN, Step: proto.StepDownloadingExtracting})
		r, err := http.NewRequest(http.MethodPost, s.URL+proto.PathReport, bytes.NewReader(progress))
		must(t, err)
		proto.SignAs(r, testenv.Account, keyB, progress, time.Now())
		replay := r.Clone(context.Background())
		replay.Body = io.NopCloser(bytes.NewReader(progress))
		if code, msg := send(r); code != http.StatusOK {
			t.Fatalf("original request: HTTP %d %s", code, msg)
		}
		if code, msg := send(replay); code != http.StatusUnauthorized {
			t.Fatalf("replay: HTTP %d %s, want 401", code, msg)
		}
	})
	t.Run("an unknown key", func(t *testing.T) {
		stranger := &client.Client{Server: s.URL, Key: newKey()}
		if _, err := stranger.Poll(ctx, proto.PollRequest{}); err == nil || !isUnauthorized(err) {
			t.Fatalf("unknown agent's poll: %v, want 401", err)
		}
		if code, msg := send(signed(stranger.Key)); code != http.StatusUnauthorized {
			t.Fatalf("unknown agent's report: HTTP %d %s, want 401", code, msg)
		}
	})
	t.Run("a tampered body", func(t *testing.T) {
		r := signed(keyB)
		tampered := bytes.Replace(body, []byte("forged"), []byte("FORGED"), 1)
		r.Body = io.NopCloser(bytes.NewReader(tampered))
		r.ContentLength = int64(len(tampered))
		if code, msg := send(r); code != http.StatusUnauthorized {
			t.Fatalf("tampered body: HTTP %d %s, want 401", code, msg)
		}
	})

	// None of it touched B's deployment, and A never got anything.
	d, err := c.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: job.Arn})
	must(t, err)
	row := rows(d)[robotB]
	if row == nil || aws.StringValue(row.Status) != "Deploying" || aws.StringValue(row.FailureCode) != "" {
		t.Fatalf("B's deployment after the forgeries: %v", row)
	}
	if rows(d)[robotA] != nil {
		t.Fatalf("A appears in B's job: %v", d)
	}
	resp, err := agentA.Poll(ctx, proto.PollRequest{})
	must(t, err)
	if resp.Assignment != nil {
		t.Fatalf("A was given B's assignment: %+v", resp.Assignment)
	}
}

func isUnauthorized(err error) bool { return errors.Is(err, client.ErrUnauthorized) }
