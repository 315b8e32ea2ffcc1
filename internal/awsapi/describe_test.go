package awsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws/credentials"
	v4 "github.com/aws/aws-sdk-go/aws/signer/v4"

	"github.com/fleetsync/fleetsync/internal/awsapi"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/registry"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
)

// describeHarness is the API over the real domain services and a real
// SQLite file, with two accounts' credentials.
type describeHarness struct {
	t      testing.TB
	st     *sqlstore.Store
	api    *awsapi.API
	newAPI func() *awsapi.API
}

const describeAccount, describeStranger = "123456789012", "210987654321"

func newDescribeHarness(t testing.TB) *describeHarness {
	log := slog.New(slog.DiscardHandler)
	st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "fleetsync.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &describeHarness{t: t, st: st}
	h.newAPI = func() *awsapi.API {
		return awsapi.New(awsapi.Config{
			Registry: &registry.Service{Store: st, Region: "us-east-1", Limits: registry.DefaultLimits()},
			Deploy:   &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 100},
			Credentials: func(_ context.Context, id string) (string, string, bool, error) {
				switch id {
				case "AKOWNER":
					return "owner-secret", describeAccount, true, nil
				case "AKSTRANGER":
					return "stranger-secret", describeStranger, true, nil
				}
				return "", "", false, nil
			},
			Region: "us-east-1", TokenKey: []byte("k"), RatePerSecond: 1e9, Burst: 1 << 30, Logger: log,
		})
	}
	h.api = h.newAPI()
	return h
}

// serve calls DescribeDeploymentJob on api as the key's account.
func (h *describeHarness) serve(api *awsapi.API, key, secret, job string) *httptest.ResponseRecorder {
	h.t.Helper()
	body := []byte(`{"job":"` + job + `"}`)
	req := httptest.NewRequest(http.MethodPost, "http://fleetsync.test/describeDeploymentJob", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if _, err := v4.NewSigner(credentials.NewStaticCredentials(key, secret, "")).Sign(req, bytes.NewReader(body), "robomaker", "us-east-1", time.Now()); err != nil {
		h.t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, req)
	if cl := rec.Header().Get("Content-Length"); rec.Code == http.StatusOK && cl != fmt.Sprint(rec.Body.Len()) {
		h.t.Errorf("Content-Length %s for a body of %d bytes", cl, rec.Body.Len())
	}
	return rec
}

// describe is serve with the status and the decoded body.
func (h *describeHarness) describe(api *awsapi.API, key, secret, job string) (int, map[string]any) {
	h.t.Helper()
	rec := h.serve(api, key, secret, job)
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		h.t.Fatalf("DescribeDeploymentJob answered %d with no JSON: %v: %s", rec.Code, err, rec.Body)
	}
	return rec.Code, out
}

// arn is an ARN of the owner's account.
func (h *describeHarness) arn(typ fleet.ResourceType, name string, ms int64) string {
	return fleet.ARN{Region: "us-east-1", Account: describeAccount, Type: typ, Name: name, CreatedMs: ms}.String()
}

// pendingJob stores a fleet of n robots and a Pending job over it.
func (h *describeHarness) pendingJob(ctx context.Context, n int) (string, []string) {
	t := h.t
	f := fleet.Fleet{ARN: h.arn(fleet.TypeFleet, "f", 1), Account: describeAccount, Name: "f", CreatedMs: 1, Tags: fleet.Tags{}}
	must(t, h.st.CreateFleet(ctx, f, 10))
	var robots []string
	for i := range n {
		name := fmt.Sprintf("r%05d", i)
		r := fleet.Robot{ARN: h.arn(fleet.TypeRobot, name, int64(10+i)), Account: describeAccount, Name: name,
			Architecture: fleet.X86_64, AgentID: "fsa1-" + name, Status: fleet.RobotAvailable, CreatedMs: int64(10 + i), Tags: fleet.Tags{}}
		must(t, h.st.CreateRobot(ctx, r, 1<<30))
		must(t, h.st.RegisterRobot(ctx, describeAccount, f.ARN, r.ARN, 1<<30))
		robots = append(robots, r.ARN)
	}
	job := h.arn(fleet.TypeDeploymentJob, "j", 100)
	spec := fleet.JobSpec{
		Apps:   []fleet.AppConfig{{Application: h.arn(fleet.TypeRobotApplication, "a", 2), ApplicationVersion: "1", LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "l"}}},
		Config: fleet.DeploymentConfig{ConcurrentPercent: 100, FailureThresholdPercent: 50, RobotTimeoutSeconds: 60},
	}
	must(t, h.st.CreateJob(ctx, store.NewJob{Job: fleet.Job{ARN: job, Account: describeAccount, Fleet: f.ARN, Status: fleet.JobPending, Spec: spec,
		CreatedMs: 100, Operation: fleet.OpCreateDeploymentJob, Tags: fleet.Tags{"k": "v"}}, Operation: fleet.OpCreateDeploymentJob, ClientToken: "t", ParamsHash: "h"}, 10))
	return job, robots
}

// deployingJob is pendingJob prepared, with every robot started.
func (h *describeHarness) deployingJob(ctx context.Context, n int) (string, []string) {
	job, robots := h.pendingJob(ctx, n)
	h.prepare(ctx, job, robots)
	must(h.t, h.st.Apply(ctx, job, store.Step{Start: robots}, 300))
	return job, robots
}

// prepare gives the job its rows, the robots in reverse start order.
func (h *describeHarness) prepare(ctx context.Context, job string, robots []string) {
	must(h.t, h.st.StartPreparing(ctx, job))
	var rows []fleet.RobotDeployment
	for i, r := range robots {
		rows = append(rows, fleet.RobotDeployment{Robot: r, Seq: len(robots) - 1 - i, Status: fleet.RobotPendingNewDeployment})
	}
	must(h.t, h.st.Prepare(ctx, job, rows, store.JobOutcome{}, 200))
}

// check describes the job through the API that keeps its encoded rows and
// through a new API (a first Describe: every row read and encoded), and
// wants the same answer.
func (h *describeHarness) check(job, after string) map[string]any {
	h.t.Helper()
	code, got := h.describe(h.api, "AKOWNER", "owner-secret", job)
	_, want := h.describe(h.newAPI(), "AKOWNER", "owner-secret", job)
	if code != http.StatusOK || !reflect.DeepEqual(got, want) {
		h.t.Fatalf("after %s: Describe = %d %v\nwant (every row read anew) %v", after, code, got, want)
	}
	return got
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDescribeFromCacheEqualsAFullRead follows a job through its
// rollout with repeated Describes: each answer is the one a Describe reading
// every row gives, another account is refused, and a job gone is gone.
func TestDescribeFromCacheEqualsAFullRead(t *testing.T) {
	h := newDescribeHarness(t)
	ctx := t.Context()
	job, robots := h.pendingJob(ctx, 5)
	if d := h.check(job, "create"); len(d["robotDeploymentSummary"].([]any)) != 0 || d["status"] != "Pending" {
		t.Fatalf("a Pending job's Describe = %v", d)
	}
	h.prepare(ctx, job, robots)
	d := h.check(job, "prepare")
	if s := d["robotDeploymentSummary"].([]any); len(s) != 5 || s[0].(map[string]any)["arn"] != robots[4] {
		t.Fatalf("prepared job's summary = %v, want 5 rows in start order, %s first", s, robots[4])
	}
	must(t, h.st.Apply(ctx, job, store.Step{Start: robots[:3]}, 300))
	h.check(job, "start")
	pct := 25.0
	for _, r := range robots[:2] {
		if _, err := h.st.RecordProgress(ctx, job, r, "DownloadingExtracting", &pct, nil); err != nil {
			t.Fatal(err)
		}
	}
	must(t, h.st.FlushProgress(ctx))
	h.check(job, "progress")
	if _, err := h.st.RecordResult(ctx, job, robots[0], store.Result{Success: true, NowMs: 400}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.RecordResult(ctx, job, robots[1], store.Result{Code: "PostLaunchFileFailure", Reason: `exit 3 <"quoted">`, NowMs: 410}); err != nil {
		t.Fatal(err)
	}
	h.check(job, "results")

	code, out := h.describe(h.api, "AKSTRANGER", "stranger-secret", job)
	if code != http.StatusBadRequest || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("another account's Describe = %d %v, want 400 ResourceNotFoundException", code, out)
	}
	h.check(job, "a stranger's Describe")

	must(t, h.st.CancelJob(ctx, describeAccount, job, "RobotDeploymentAborted", "canceled", 500))
	if d := h.check(job, "cancel"); d["status"] != "Canceled" {
		t.Errorf("canceled job's Describe = %v", d)
	}
	if n, err := h.st.DeleteJobsFinishedBefore(ctx, 501); err != nil || n != 1 {
		t.Fatalf("retention = %d, %v", n, err)
	}
	if code, out := h.describe(h.api, "AKOWNER", "owner-secret", job); code != http.StatusBadRequest || out["__type"] != "ResourceNotFoundException" {
		t.Errorf("Describe of a job retention deleted = %d %v, want 400 ResourceNotFoundException", code, out)
	}
}

// BenchmarkDescribeDeploymentJob is DescribeDeploymentJob of a job of
// 10,000 deploying robots through the whole API: a first Describe (every
// row read and encoded, as every Describe did before the cache), one with
// nothing changed since the last, and one with 1 % of the rows changed.
// Run: go test -run '^$' -bench DescribeDeploymentJob ./internal/awsapi/
func BenchmarkDescribeDeploymentJob(b *testing.B) {
	h := newDescribeHarness(b)
	ctx := b.Context()
	job, robots := h.deployingJob(ctx, 10_000)
	pct := 50.0
	for _, c := range []struct {
		name    string
		api     func() *awsapi.API
		changed int
	}{{"first", h.newAPI, 0}, {"unchanged", func() *awsapi.API { return h.api }, 0}, {"1% changed", func() *awsapi.API { return h.api }, 100}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			h.serve(h.api, "AKOWNER", "owner-secret", job)
			for b.Loop() {
				b.StopTimer()
				api := c.api()
				for _, r := range robots[:c.changed] {
					pct++
					if _, err := h.st.RecordProgress(ctx, job, r, "Launching", &pct, nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := h.st.FlushProgress(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if rec := h.serve(api, "AKOWNER", "owner-secret", job); rec.Code != http.StatusOK || rec.Body.Len() < 100*len(robots) {
					b.Fatalf("Describe = %d, %d bytes", rec.Code, rec.Body.Len())
				}
			}
		})
	}
}

// TestDescribeConcurrentWithWrites: Describes of one job from several
// clients at once, while its rows change, all succeed, and once the writes
// stop the cached answer is a full read's (run under -race in CI).
func TestDescribeConcurrentWithWrites(t *testing.T) {
	h := newDescribeHarness(t)
	ctx := t.Context()
	job, robots := h.deployingJob(ctx, 40)
	done := make(chan struct{})
	errs := make(chan error, 8)
	go func() {
		defer close(done)
		for i, r := range robots {
			pct := float64(i)
			if _, err := h.st.RecordProgress(ctx, job, r, "Launching", &pct, nil); err != nil {
				errs <- err
				return
			}
			if i%5 == 0 {
				if err := h.st.FlushProgress(ctx); err != nil {
					errs <- err
					return
				}
			}
			if i%2 == 0 {
				if _, err := h.st.RecordResult(ctx, job, r, store.Result{Success: true, NowMs: int64(400 + i)}); err != nil {
					errs <- err
					return
				}
			}
		}
		errs <- h.st.FlushProgress(ctx)
	}()
	var wg sync.WaitGroup
	var calls atomic.Int64
	for range 4 {
		wg.Go(func() {
			for {
				if rec := h.serve(h.api, "AKOWNER", "owner-secret", job); rec.Code != http.StatusOK {
					errs <- fmt.Errorf("Describe during writes = %d %s", rec.Code, rec.Body)
					return
				}
				calls.Add(1)
				select {
				case <-done:
					return
				default:
				}
			}
		})
	}
	wg.Wait()
	<-done
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d Describes during the writes", calls.Load())
	d := h.check(job, "concurrent Describes and writes")
	inSync := 0
	for _, r := range d["robotDeploymentSummary"].([]any) {
		if r.(map[string]any)["status"] == "InSync" {
			inSync++
		}
	}
	if inSync != len(robots)/2 {
		t.Errorf("%d rows InSync after the writes, want %d", inSync, len(robots)/2)
	}
}
