package sim

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// fakeAPI is a small in-test agent endpoint: it verifies signatures, hands
// each robot the assignments queued for it one at a time (at most window
// robots deploying at once when window > 0; an assignment is sent again
// until a report shows the robot got it), records reports, and aborts jobs
// on demand.
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	bundle []byte

	// hold is how long a poll with no work is held (at most WaitSeconds).
	hold time.Duration

	mu       sync.Mutex
	waiting  []*fakeRobot // robots with work whose poll waits for a slot, FIFO
	robots   map[string]*fakeRobot
	window   int
	active   int
	canceled map[string]bool
}

type fakeRobot struct {
	queue    []*proto.Assignment
	running  string            // job assigned and not finished
	assigned *proto.Assignment // its assignment
	acked    bool              // a report for it came: the robot has it
	abort    string
	reports  []proto.Report
	current  *proto.Current // last Current seen
	polls    int
	unauth   int // 401 answers
	disabled bool
	wake     chan struct{} // closed to wake the robot's held poll
}

func newFakeAPI(t *testing.T, h2c bool) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, hold: 50 * time.Millisecond, robots: map[string]*fakeRobot{}, canceled: map[string]bool{}}
	f.bundle = make([]byte, 1<<20)
	rand.Read(f.bundle)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+proto.PathPoll, f.poll)
	mux.HandleFunc("POST "+proto.PathReport, f.report)
	mux.HandleFunc("GET "+proto.PathBundle+"b.tar", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "b.tar", time.Time{}, bytes.NewReader(f.bundle))
	})
	f.srv = httptest.NewUnstartedServer(mux)
	if h2c {
		f.srv.Config.Protocols = new(http.Protocols)
		f.srv.Config.Protocols.SetHTTP1(true)
		f.srv.Config.Protocols.SetUnencryptedHTTP2(true)
		f.srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 1000}
	}
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// add registers a robot with the assignments to hand it.
func (f *fakeAPI) add(agentID string, jobs ...*proto.Assignment) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.robots[agentID] = &fakeRobot{queue: jobs}
}

// wakeUp ends rb's held poll, if any, to answer it anew.
func (rb *fakeRobot) wakeUp() {
	if rb.wake != nil {
		close(rb.wake)
		rb.wake = nil
	}
}

// release frees a deployment slot and wakes the first robot waiting for one.
func (f *fakeAPI) release() {
	f.active--
	for len(f.waiting) > 0 {
		w := f.waiting[0]
		f.waiting = f.waiting[1:]
		if w.wake != nil {
			w.wakeUp()
			return
		}
	}
}

// cancel aborts job on every robot running it (by poll for a robot that
// polls, by report answer otherwise).
func (f *fakeAPI) cancel(job string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.canceled[job] = true
	for _, r := range f.robots {
		if r.running == job {
			r.abort = job
			r.wakeUp()
		}
	}
}

func (f *fakeAPI) robot(agentID string) fakeRobot {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := *f.robots[agentID]
	r.reports = slices.Clone(r.reports)
	return r
}

func (f *fakeAPI) auth(w http.ResponseWriter, r *http.Request) (*fakeRobot, []byte, bool) {
	body, _ := io.ReadAll(r.Body)
	v, err := proto.Verify(r, body, time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	var rb *fakeRobot
	if err == nil {
		if rb = f.robots[v.AgentID]; rb == nil || rb.disabled {
			err = errors.New("unknown agent")
		}
	}
	if err != nil {
		if rb != nil {
			rb.unauth++
		}
		writeJSON(w, http.StatusUnauthorized, proto.Error{Code: "Unauthorized", Message: err.Error()})
		return nil, nil, false
	}
	return rb, body, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) poll(w http.ResponseWriter, r *http.Request) {
	rb, body, ok := f.auth(w, r)
	if !ok {
		return
	}
	var req proto.PollRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, proto.Error{Code: "BadRequest", Message: err.Error()})
		return
	}
	f.mu.Lock()
	rb.polls++
	if req.Current != nil {
		c := *req.Current
		rb.current = &c
	}
	f.mu.Unlock()
	deadline := time.NewTimer(min(time.Duration(req.WaitSeconds)*time.Second, f.hold))
	defer deadline.Stop()
	for {
		f.mu.Lock()
		resp := proto.PollResponse{PollIntervalSeconds: 1}
		if rb.abort != "" {
			resp.Abort, rb.abort = rb.abort, ""
			if rb.running == resp.Abort {
				rb.running = ""
				f.release()
			}
		}
		switch {
		case rb.running != "" && !rb.acked:
			// Not heard of since assigned: the answer that carried it may
			// have been lost (a poll the agent gave up on), so send it again.
			resp.Assignment = rb.assigned
		case rb.running == "" && len(rb.queue) > 0 && (f.window == 0 || f.active < f.window):
			resp.Assignment = rb.queue[0]
			rb.queue = rb.queue[1:]
			rb.running, rb.assigned, rb.acked = resp.Assignment.DeploymentJob, resp.Assignment, false
			f.active++
		}
		if resp.Assignment != nil || resp.Abort != "" {
			f.mu.Unlock()
			writeJSON(w, http.StatusOK, resp)
			return
		}
		wake := make(chan struct{})
		rb.wake = wake
		if rb.running == "" && len(rb.queue) > 0 {
			f.waiting = append(f.waiting, rb)
		}
		f.mu.Unlock()
		select {
		case <-wake:
			continue
		case <-r.Context().Done():
		case <-deadline.C:
		}
		f.mu.Lock()
		if rb.wake == wake {
			rb.wake = nil
		}
		f.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
}

func (f *fakeAPI) report(w http.ResponseWriter, r *http.Request) {
	rb, body, ok := f.auth(w, r)
	if !ok {
		return
	}
	var rep proto.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		writeJSON(w, http.StatusBadRequest, proto.Error{Code: "BadRequest", Message: err.Error()})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rb.running != rep.DeploymentJob {
		writeJSON(w, http.StatusConflict, proto.Error{Code: "NotAssigned", Message: "not assigned " + rep.DeploymentJob})
		return
	}
	rb.reports = append(rb.reports, rep)
	rb.acked = true
	if f.canceled[rep.DeploymentJob] {
		rb.running, rb.abort = "", ""
		f.release()
		writeJSON(w, http.StatusOK, proto.ReportResponse{Abort: true})
		return
	}
	if rep.Result != "" {
		rb.running = ""
		f.release()
	}
	writeJSON(w, http.StatusOK, proto.ReportResponse{})
}

func (f *fakeAPI) assignment(job string) *proto.Assignment {
	sum := sha256.Sum256(f.bundle)
	return &proto.Assignment{
		DeploymentJob: job,
		Application:   "arn:aws:robomaker:us-east-1:123456789012:robot-application/app/1",
		SoftwareSuite: "General",
		LaunchConfig:  proto.LaunchConfig{PackageName: "pkg", LaunchFile: "run.sh"},
		Bundle: proto.Object{URL: f.srv.URL + proto.PathBundle + "b.tar", Size: int64(len(f.bundle)),
			SHA256: hex.EncodeToString(sum[:])},
		TimeoutSeconds: 60,
	}
}

// newFleet makes a fleet of n robots registered with f, each to receive
// the assignments jobs returns for it; Stop runs at cleanup.
func newFleet(t *testing.T, f *fakeAPI, n int, jobs func(i int) []*proto.Assignment) *Fleet {
	t.Helper()
	return newFleetWith(t, f, n, Options{}, jobs)
}

// newFleetWith is newFleet with more options (the test's poll wait, retry
// base and download directory are set on o).
func newFleetWith(t *testing.T, f *fakeAPI, n int, o Options, jobs func(i int) []*proto.Assignment) *Fleet {
	t.Helper()
	o.PollWait, o.RetryBase, o.DownloadDir = time.Second, 5*time.Millisecond, t.TempDir()
	fl := New(f.srv.URL, n, o)
	for i, r := range fl.Robots() {
		f.add(r.AgentID, jobs(i)...)
	}
	t.Cleanup(fl.Stop)
	return fl
}

func start(t *testing.T, fl *Fleet) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	fl.Start(ctx)
}

// eventually fails the test unless cond becomes true within 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// steps renders reports as "Step[/pct][:Result[/Code]]".
func steps(reps []proto.Report) []string {
	var out []string
	for _, r := range reps {
		s := string(r.Step)
		if r.PercentDone != nil {
			s += fmt.Sprintf("/%g", *r.PercentDone)
		}
		if r.Result != "" {
			s += ":" + r.Result
		}
		if r.FailureCode != "" {
			s += "/" + r.FailureCode
		}
		out = append(out, s)
	}
	return out
}

func TestStepOrderAndCompleted(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 2, func(i int) []*proto.Assignment {
		a := f.assignment(fmt.Sprintf("job-%d", i))
		if i == 0 {
			a.DownloadCondition = &proto.Object{URL: f.srv.URL + proto.PathBundle + "b.tar"}
			a.LaunchConfig.PreLaunchFile = "pre.sh"
			a.LaunchConfig.PostLaunchFile = "post.sh"
		}
		return []*proto.Assignment{a}
	})
	robots := fl.Robots()
	if robots[0].Name != "sim-robot-0" || robots[0].AgentID == robots[1].AgentID || !strings.HasPrefix(robots[0].AgentID, proto.BoundAgentIDPrefix+DefaultAccount+"-") {
		t.Fatalf("robots %q %q / %q %q", robots[0].Name, robots[0].AgentID, robots[1].Name, robots[1].AgentID)
	}
	start(t, fl)
	for i, r := range robots {
		job := fmt.Sprintf("job-%d", i)
		eventually(t, r.Name+" completes", func() bool { return len(r.Completed()) == 1 })
		// Its next poll carries Current.
		eventually(t, r.Name+" sends Current", func() bool {
			c := f.robot(r.AgentID).current
			return c != nil && c.DeploymentJob == job && c.Finished
		})
		if got := r.Completed(); !slices.Equal(got, []string{job}) {
			t.Errorf("%s Completed = %q", r.Name, got)
		}
		if got := r.Started(); !slices.Equal(got, []string{job}) {
			t.Errorf("%s Started = %q", r.Name, got)
		}
		if r.Current() != job || len(r.Failed()) != 0 || len(r.Aborted()) != 0 {
			t.Errorf("%s Current %q Failed %q Aborted %q", r.Name, r.Current(), r.Failed(), r.Aborted())
		}
	}
	want := [][]string{
		{"Validating", "ExecutingDownloadCondition", "DownloadingExtracting/0", "DownloadingExtracting/100",
			"ExecutingPreLaunch", "Launching", "ExecutingPostLaunch", "Finished:Succeeded"},
		{"Validating", "DownloadingExtracting/0", "DownloadingExtracting/100", "Launching", "Finished:Succeeded"},
	}
	for i, r := range robots {
		if got := steps(f.robot(r.AgentID).reports); !slices.Equal(got, want[i]) {
			t.Errorf("%s reported\n%q\nwant\n%q", r.Name, got, want[i])
		}
	}
	if s := fl.Stats(); s.Polls < 2 || s.Reports != int64(len(want[0])+len(want[1])) || s.Deploying != 0 || s.MaxConcurrentDeploying < 1 {
		t.Errorf("stats %+v", s)
	}
}

// With Coalesce a robot reports as the real agent's heartbeat does: the
// steps it passes without waiting are superseded by the latest, which is
// sent before it waits or before its result.
func TestCoalesce(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleetWith(t, f, 4, Options{Coalesce: true}, func(i int) []*proto.Assignment {
		a := f.assignment(fmt.Sprintf("job-%d", i))
		if i%2 == 1 {
			a.LaunchConfig.PreLaunchFile = "pre.sh"
			a.LaunchConfig.PostLaunchFile = "post.sh"
		}
		return []*proto.Assignment{a}
	})
	robots := fl.Robots()
	robots[2].SetBehavior(Behavior{Delay: 40 * time.Millisecond}) // every step but the last waits
	robots[3].SetBehavior(Behavior{FailAt: proto.StepExecutingPreLaunch})
	start(t, fl)
	want := [][]string{
		{"Validating", "Launching", "Finished:Succeeded"},
		{"Validating", "ExecutingPostLaunch", "Finished:Succeeded"},
		// 100 % is superseded by Launching, entered without a wait.
		{"Validating", "DownloadingExtracting/0", "Launching", "Finished:Succeeded"},
		{"Validating", "ExecutingPreLaunch", "ExecutingPreLaunch:Failed/PreLaunchFileFailure"},
	}
	for i, r := range robots {
		eventually(t, r.Name+" reports its result", func() bool {
			reps := f.robot(r.AgentID).reports
			return len(reps) > 0 && reps[len(reps)-1].Result != ""
		})
		if got := steps(f.robot(r.AgentID).reports); !slices.Equal(got, want[i]) {
			t.Errorf("%s reported\n%q\nwant\n%q", r.Name, got, want[i])
		}
	}
}

func TestFailAt(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 2, func(i int) []*proto.Assignment {
		a := f.assignment("job-1")
		a.LaunchConfig.PreLaunchFile = "pre.sh"
		return []*proto.Assignment{a}
	})
	r0, r1 := fl.Robots()[0], fl.Robots()[1]
	r0.SetBehavior(Behavior{FailAt: proto.StepExecutingPreLaunch})
	r1.SetBehavior(Behavior{FailAt: proto.StepLaunching, FailCode: "BadPermissionError"})
	start(t, fl)
	for _, r := range fl.Robots() {
		eventually(t, r.Name+" fails", func() bool {
			reps := f.robot(r.AgentID).reports
			return len(r.Failed()) == 1 && len(reps) > 0 && reps[len(reps)-1].Result != ""
		})
		if len(r.Completed()) != 0 || r.Current() != "" {
			t.Errorf("%s Completed %q Current %q", r.Name, r.Completed(), r.Current())
		}
	}
	want0 := []string{"Validating", "DownloadingExtracting/0", "DownloadingExtracting/100", "ExecutingPreLaunch",
		"ExecutingPreLaunch:Failed/PreLaunchFileFailure"}
	if got := steps(f.robot(r0.AgentID).reports); !slices.Equal(got, want0) {
		t.Errorf("reported %q, want %q", got, want0)
	}
	reps := f.robot(r1.AgentID).reports
	if last := reps[len(reps)-1]; last.Step != proto.StepLaunching || last.Result != proto.ResultFailed ||
		last.FailureCode != "BadPermissionError" || last.FailureReason == "" {
		t.Errorf("last report %+v", last)
	}
	// The failure is no Current: polls carry none.
	eventually(t, "a poll after the failure", func() bool { return f.robot(r0.AgentID).polls >= 2 })
	if c := f.robot(r0.AgentID).current; c != nil {
		t.Errorf("Current after a failure = %+v", c)
	}
}

func TestHangThenAbort(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 2, func(i int) []*proto.Assignment {
		return []*proto.Assignment{f.assignment(fmt.Sprintf("job-%d", i))}
	})
	hung, resumed := fl.Robots()[0], fl.Robots()[1]
	hung.SetBehavior(Behavior{Hang: true})
	resumed.SetBehavior(Behavior{Hang: true})
	start(t, fl)
	for _, r := range fl.Robots() {
		eventually(t, r.Name+" reports Validating and polls again", func() bool {
			fr := f.robot(r.AgentID)
			return len(fr.reports) == 1 && fr.polls >= 2
		})
	}
	if s := fl.Stats(); s.Deploying != 2 {
		t.Fatalf("Deploying = %d while hanging, want 2", s.Deploying)
	}
	f.cancel("job-0")
	eventually(t, "the abort", func() bool { return len(hung.Aborted()) == 1 })
	if got := hung.Aborted(); got[0] != "job-0" || len(hung.Completed())+len(hung.Failed()) != 0 || hung.Current() != "" {
		t.Fatalf("Aborted %q Completed %q Failed %q", got, hung.Completed(), hung.Failed())
	}
	// Clearing Hang ends the other robot's wait at once (no long-poll
	// wait) and it carries on.
	resumed.SetBehavior(Behavior{})
	eventually(t, "the resumed robot completes", func() bool { return len(resumed.Completed()) == 1 })
	// Clearing Hang on the aborted robot sends nothing more for its job.
	hung.SetBehavior(Behavior{})
	polls := f.robot(hung.AgentID).polls
	eventually(t, "more polls", func() bool { return f.robot(hung.AgentID).polls >= polls+2 })
	if got := steps(f.robot(hung.AgentID).reports); !slices.Equal(got, []string{"Validating"}) {
		t.Fatalf("aborted robot reported %q", got)
	}
	eventually(t, "no robot deploying", func() bool { return fl.Stats().Deploying == 0 })
}

func TestAbortInReportAnswer(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 1, func(int) []*proto.Assignment { return []*proto.Assignment{f.assignment("job-1")} })
	r := fl.Robots()[0]
	r.SetBehavior(Behavior{Delay: 200 * time.Millisecond})
	start(t, fl)
	eventually(t, "Validating", func() bool { return len(f.robot(r.AgentID).reports) >= 1 })
	f.cancel("job-1")
	eventually(t, "the abort", func() bool { return len(r.Aborted()) == 1 })
	n := len(f.robot(r.AgentID).reports)
	time.Sleep(150 * time.Millisecond)
	if got := f.robot(r.AgentID).reports; len(got) != n || len(r.Completed()) != 0 {
		t.Fatalf("reports after the abort: %q", steps(got[n:]))
	}
}

func TestOffline(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 2, func(i int) []*proto.Assignment {
		return []*proto.Assignment{f.assignment(fmt.Sprintf("job-%d", i))}
	})
	off, on := fl.Robots()[0], fl.Robots()[1]
	off.SetBehavior(Behavior{Offline: true})
	start(t, fl)
	eventually(t, "the online robot completes and polls on", func() bool {
		return len(on.Completed()) == 1 && f.robot(on.AgentID).polls >= 4
	})
	if p := f.robot(off.AgentID).polls; p != 0 {
		t.Fatalf("offline robot polled %d times", p)
	}
	off.SetBehavior(Behavior{})
	eventually(t, "the robot back online completes", func() bool { return len(off.Completed()) == 1 })
}

func TestOfflineMidDeployment(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 1, func(int) []*proto.Assignment { return []*proto.Assignment{f.assignment("job-1")} })
	r := fl.Robots()[0]
	r.SetBehavior(Behavior{Delay: 100 * time.Millisecond})
	start(t, fl)
	eventually(t, "Validating", func() bool { return len(f.robot(r.AgentID).reports) >= 1 })
	r.SetBehavior(Behavior{Delay: 100 * time.Millisecond, Offline: true})
	// The robot finishes on its own, unheard.
	eventually(t, "local completion", func() bool { return len(r.Completed()) == 1 })
	n := len(f.robot(r.AgentID).reports)
	if s := fl.Stats(); s.Deploying != 1 {
		t.Fatalf("Deploying = %d with the final report undelivered, want 1", s.Deploying)
	}
	time.Sleep(50 * time.Millisecond)
	if fr := f.robot(r.AgentID); len(fr.reports) != n || fr.reports[len(fr.reports)-1].Result != "" {
		t.Fatalf("offline robot reported %q", steps(fr.reports))
	}
	r.SetBehavior(Behavior{})
	eventually(t, "the final report", func() bool {
		reps := f.robot(r.AgentID).reports
		return reps[len(reps)-1].Result == proto.ResultSucceeded
	})
	eventually(t, "Current", func() bool {
		c := f.robot(r.AgentID).current
		return c != nil && c.DeploymentJob == "job-1"
	})
	if s := fl.Stats(); s.Deploying != 0 {
		t.Fatalf("Deploying = %d at the end", s.Deploying)
	}
}

func TestConcurrencyWindow(t *testing.T) {
	f := newFakeAPI(t, false)
	f.hold = time.Second
	f.window = 3
	fl := newFleet(t, f, 20, func(int) []*proto.Assignment { return []*proto.Assignment{f.assignment("job-1")} })
	for _, r := range fl.Robots() {
		r.SetBehavior(Behavior{Delay: 20 * time.Millisecond})
	}
	start(t, fl)
	for _, r := range fl.Robots() {
		eventually(t, r.Name+" completes", func() bool { return len(r.Completed()) == 1 })
	}
	if m := fl.MaxConcurrentDeploying(); m > 3 || m < 2 {
		t.Fatalf("MaxConcurrentDeploying = %d, want 2..3 (window 3)", m)
	}
	fl.ResetMaxConcurrentDeploying()
	if m := fl.MaxConcurrentDeploying(); m != 0 {
		t.Fatalf("after reset: %d", m)
	}
}

func TestDownload(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 2, func(i int) []*proto.Assignment {
		a := f.assignment("job-1")
		if i == 1 {
			a.Bundle.SHA256 = strings.Repeat("00", 32)
		}
		return []*proto.Assignment{a}
	})
	good, bad := fl.Robots()[0], fl.Robots()[1]
	good.SetBehavior(Behavior{Download: true})
	bad.SetBehavior(Behavior{Download: true})
	start(t, fl)
	eventually(t, "download and completion", func() bool { return len(good.Completed()) == 1 })
	got := steps(f.robot(good.AgentID).reports)
	var pcts []string
	for _, s := range got {
		if strings.HasPrefix(s, "DownloadingExtracting/") {
			pcts = append(pcts, s)
		}
	}
	if len(pcts) < 3 || pcts[0] != "DownloadingExtracting/0" || pcts[len(pcts)-1] != "DownloadingExtracting/100" {
		t.Fatalf("download progress %q", pcts)
	}
	eventually(t, "the failure", func() bool {
		reps := f.robot(bad.AgentID).reports
		return len(bad.Failed()) == 1 && len(reps) > 0 && reps[len(reps)-1].Result != ""
	})
	reps := f.robot(bad.AgentID).reports
	if last := reps[len(reps)-1]; last.Step != proto.StepDownloadingExtracting || last.FailureCode != proto.FailureEtagMismatch {
		t.Fatalf("last report %+v", last)
	}
	entries, _ := os.ReadDir(fl.opts.DownloadDir)
	if len(entries) != 0 {
		t.Fatalf("%d temporary files left", len(entries))
	}
}

func TestUnknownAgentRetries(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 1, func(int) []*proto.Assignment { return []*proto.Assignment{f.assignment("job-1")} })
	r := fl.Robots()[0]
	f.mu.Lock()
	f.robots[r.AgentID].disabled = true
	f.mu.Unlock()
	start(t, fl)
	eventually(t, "401 answers", func() bool { return f.robot(r.AgentID).unauth >= 3 })
	f.mu.Lock()
	f.robots[r.AgentID].disabled = false
	f.mu.Unlock()
	eventually(t, "completion once registered", func() bool { return len(r.Completed()) == 1 })
	if s := fl.Stats(); s.Errors < 3 {
		t.Fatalf("Errors = %d", s.Errors)
	}
}

func TestStopAndRestartResumes(t *testing.T) {
	f := newFakeAPI(t, false)
	fl := newFleet(t, f, 1, func(int) []*proto.Assignment {
		return []*proto.Assignment{f.assignment("job-1"), f.assignment("job-2")}
	})
	r := fl.Robots()[0]
	r.SetBehavior(Behavior{Hang: true})
	start(t, fl)
	eventually(t, "Validating", func() bool { return len(f.robot(r.AgentID).reports) == 1 })
	fl.Stop()
	fl.Stop() // no-op
	r.SetBehavior(Behavior{})
	start(t, fl)
	eventually(t, "both jobs", func() bool { return len(r.Completed()) == 2 })
	if got := r.Completed(); !slices.Equal(got, []string{"job-1", "job-2"}) {
		t.Fatalf("Completed = %q", got)
	}
	if got := r.Started(); !slices.Equal(got, []string{"job-1", "job-2"}) {
		t.Fatalf("Started = %q", got)
	}
}

func TestStartTwicePanics(t *testing.T) {
	fl := New("http://127.0.0.1:1", 1, Options{RetryBase: time.Millisecond})
	fl.Robots()[0].SetBehavior(Behavior{Offline: true})
	start(t, fl)
	defer fl.Stop()
	defer func() {
		if recover() == nil {
			t.Fatal("second Start did not panic")
		}
	}()
	fl.Start(context.Background())
}

// TestManyRobots runs a fleet large enough to show the shared client and
// the long poll at work (10,000 robots without the race detector when
// FLEETSYNC_SIM_ROBOTS asks for it; the race detector caps goroutines).
func TestManyRobots(t *testing.T) {
	n := 200
	if raceEnabled {
		n = 100
	}
	if s := os.Getenv("FLEETSYNC_SIM_ROBOTS"); s != "" && !raceEnabled {
		fmt.Sscan(s, &n)
	}
	h2c := n > 2000
	f := newFakeAPI(t, h2c)
	f.hold = 5 * time.Second
	f.window = max(n/5, 1)
	fl := New(f.srv.URL, n, Options{PollWait: 5 * time.Second, RetryBase: 10 * time.Millisecond, H2C: h2c})
	for _, r := range fl.Robots() {
		f.add(r.AgentID, f.assignment("job-1"))
	}
	t.Cleanup(fl.Stop)
	t0 := time.Now()
	start(t, fl)
	deadline := time.Now().Add(30*time.Second + time.Duration(n)*time.Millisecond)
	for _, r := range fl.Robots() {
		for len(r.Completed()) != 1 {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not complete; stats %+v; started %q", r.Name, fl.Stats(), r.Started())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	s := fl.Stats()
	t.Logf("%d robots deployed in %s; stats %+v", n, time.Since(t0), s)
	if s.MaxConcurrentDeploying > f.window {
		t.Fatalf("MaxConcurrentDeploying %d > window %d", s.MaxConcurrentDeploying, f.window)
	}
}
