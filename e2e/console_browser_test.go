// The web console in a real headless Chromium driven over the DevTools
// protocol (chromedp) against a real fleetsyncd with simulated robots: sign
// in (a wrong secret is refused), open a fleet, start a Sync, watch a robot's
// row reach InSync through server-sent events without a reload; a job of
// three robots whose summary bar moves live to "3 of 3 InSync"; screenshots
// saved; and a POST without the CSRF token is refused.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
	"github.com/fleetsync/fleetsync/internal/testskip"
)

// chromium returns the browser binary; without one the test is skipped
// locally and fails under CI=true (scripts/test installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testskip.Missing(t, "browser tests", "no chromium on PATH", "scripts/test (installs Debian's chromium), or apt-get install chromium")
	return ""
}

// artifactDir is where tests leave files for people to look at:
// $FLEETSYNC_TEST_ARTIFACTS, or test-artifacts/ at the repository root.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("FLEETSYNC_TEST_ARTIFACTS")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(file), "..", "test-artifacts")
	}
	must(t, os.MkdirAll(dir, 0o755))
	abs, err := filepath.Abs(dir)
	must(t, err)
	return abs
}

// browser starts a headless Chromium with a fresh profile for the test.
func browser(t *testing.T) context.Context {
	t.Helper()
	profile, err := os.MkdirTemp("", "fleetsync-chromium-")
	must(t, err)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900), chromedp.UserDataDir(profile))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
		// Chromium's helper processes may still be writing the profile for
		// a moment after the browser exits.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("browser profile %s left behind", profile)
	})
	return ctx
}

func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// sessionCookie returns the console session cookie the browser holds, nil if none.
func sessionCookie(t *testing.T, ctx context.Context) *network.Cookie {
	t.Helper()
	var cookies []*network.Cookie
	browse(t, ctx, "reading cookies", chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cookies, err = network.GetCookies().Do(ctx)
		return err
	}))
	for _, c := range cookies {
		if c.Name == "fleetsync_session" {
			return c
		}
	}
	return nil
}

// screenshot saves the whole page as a PNG test artifact.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	var png []byte
	browse(t, ctx, "screenshot", chromedp.FullScreenshot(&png, 100))
	path := filepath.Join(artifactDir(t), name)
	must(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot: %s", path)
}

func TestConsoleInBrowser(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	s := startEngine(t)
	r := newRollout(t, s, 2)
	if d, _ := r.wait(r.create(jobConfig{concurrent: 100}), time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("first job = %v", d)
	}
	name := fleetName(t, r)
	newcomer := r.addRobots(1)[0]
	// It holds after Validating until released, so the page is seen showing
	// it Deploying before it finishes: no timing involved.
	newcomer.SetBehavior(sim.Behavior{Hang: true})

	// A wrong secret is refused and leaves no session.
	var msg string
	browse(t, ctx, "sign-in with a wrong secret",
		chromedp.Navigate(s.URL+"/console/"),
		chromedp.WaitVisible("#access_key_id", chromedp.ByID),
		chromedp.SendKeys("#access_key_id", testenv.KeyID, chromedp.ByID),
		chromedp.SendKeys("#secret_access_key", testenv.Secret+"-wrong", chromedp.ByID),
		chromedp.Click("#signin", chromedp.ByID),
		chromedp.WaitVisible("#signin-error", chromedp.ByID),
		chromedp.Text("#signin-error", &msg, chromedp.ByID),
	)
	if !strings.Contains(msg, "wrong") || sessionCookie(t, ctx) != nil {
		t.Fatalf("wrong secret: message %q, session cookie %v", msg, sessionCookie(t, ctx))
	}

	// The right one signs in; the session cookie is HttpOnly and SameSite=Strict.
	browse(t, ctx, "sign-in",
		chromedp.SendKeys("#secret_access_key", testenv.Secret, chromedp.ByID),
		chromedp.Click("#signin", chromedp.ByID),
		chromedp.WaitVisible("#fleets", chromedp.ByID),
	)
	ck := sessionCookie(t, ctx)
	if ck == nil || !ck.HTTPOnly || ck.SameSite != network.CookieSameSiteStrict {
		t.Fatalf("session cookie = %+v, want HttpOnly and SameSite=Strict", ck)
	}

	// Open the fleet: the newcomer is in the drift report as never deployed.
	var reason string
	row := `tr[data-robot="` + newcomer.ARN + `"]`
	browse(t, ctx, "open the fleet",
		chromedp.Click(`//a[@class="fleet-link" and text()="`+name+`"]`, chromedp.BySearch),
		chromedp.WaitVisible("#drift", chromedp.ByID),
		chromedp.Text("#drift "+row+" td.reason", &reason, chromedp.ByQuery),
	)
	if reason != "NeverDeployed" {
		t.Errorf("drift reason shown for the newcomer = %q, want NeverDeployed", reason)
	}
	screenshot(t, ctx, "console-fleet.png")

	// Sync: the job page follows the robot live, without reloading.
	var marker int
	status := "#job-robots " + row + " td.status"
	browse(t, ctx, "start a sync and watch it",
		chromedp.Click("#sync", chromedp.ByID),
		chromedp.WaitVisible("#job-robots", chromedp.ByID),
		chromedp.Evaluate(`window.fleetsyncNoReload = 7; 7`, &marker),
		chromedp.Poll(`(document.querySelector('`+status+`') || {}).textContent === "Deploying"`, nil, chromedp.WithPollingTimeout(time.Minute)),
	)
	newcomer.SetBehavior(sim.Behavior{})
	var step, jobStatus string
	browse(t, ctx, "watch the robot reach InSync",
		chromedp.Poll(`(document.querySelector('`+status+`') || {}).textContent === "InSync"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Poll(`document.getElementById("job-status").textContent === "Succeeded"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate(`window.fleetsyncNoReload`, &marker),
		chromedp.Text("#job-robots "+row+" td.step", &step, chromedp.ByQuery),
		chromedp.Text("#job-status", &jobStatus, chromedp.ByID),
	)
	if marker != 7 {
		t.Errorf("the job page was reloaded (marker %d)", marker)
	}
	if step != "Finished" || jobStatus != "Succeeded" {
		t.Errorf("job page shows step %q and job %q, want Finished and Succeeded", step, jobStatus)
	}
	if got := r.robotStatus(newcomer.ARN); got != "InSync" {
		t.Errorf("newcomer is %s, want InSync", got)
	}
	screenshot(t, ctx, "console-sync-job.png")

	// The same session without the form's CSRF token is refused, and starts nothing.
	before := len(listJobs(t, r))
	post := func(form url.Values) int {
		req, err := http.NewRequest(http.MethodPost, s.URL+"/console/fleets/"+url.PathEscape(r.fleet)+"/sync", strings.NewReader(form.Encode()))
		must(t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
		client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(url.Values{}); code != http.StatusForbidden {
		t.Errorf("POST without a CSRF token = %d, want 403", code)
	}
	if code := post(url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("POST with a forged CSRF token = %d, want 403", code)
	}
	if after := len(listJobs(t, r)); after != before {
		t.Errorf("refused POSTs created jobs: %d → %d", before, after)
	}

	// A job to all three robots, each held after Validating: the summary bar
	// is read while none is InSync, then moves live as they are released
	// one by one, to "3 of 3 InSync".
	for _, rb := range r.robots {
		rb.SetBehavior(sim.Behavior{Hang: true})
	}
	job := r.create(jobConfig{concurrent: 100})
	var insync, counts, elapsed string
	browse(t, ctx, "open the job page",
		chromedp.Navigate(s.URL+"/console/jobs/"+url.PathEscape(job)),
		chromedp.WaitVisible("#summary", chromedp.ByID),
		chromedp.Poll(`document.getElementById("summary-counts").textContent.includes("Deploying 3")`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate(`window.fleetsyncNoReload = 9; 9`, &marker),
		chromedp.Text("#summary-insync", &insync, chromedp.ByID),
	)
	if insync != "0 of 3 InSync" {
		t.Errorf("summary while all deploy = %q, want 0 of 3 InSync", insync)
	}
	screenshot(t, ctx, "console-job-deploying.png")
	for i, rb := range r.robots {
		rb.SetBehavior(sim.Behavior{})
		want := strconv.Itoa(i+1) + " of 3 InSync"
		browse(t, ctx, "watch the summary reach "+want,
			chromedp.Poll(`document.getElementById("summary-insync").textContent === "`+want+`"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		)
		if i == 0 {
			screenshot(t, ctx, "console-job-1-of-3.png")
		}
	}
	var width string
	browse(t, ctx, "the finished job",
		chromedp.Poll(`document.getElementById("job-status").textContent === "Succeeded"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Poll(`document.getElementById("summary-elapsed").textContent.startsWith("took ")`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Evaluate(`window.fleetsyncNoReload`, &marker),
		chromedp.Text("#summary-counts", &counts, chromedp.ByID),
		chromedp.Text("#summary-elapsed", &elapsed, chromedp.ByID),
		chromedp.Evaluate(`document.querySelector("#summary-bar .seg-InSync").style.width`, &width),
	)
	if marker != 9 {
		t.Errorf("the job page was reloaded (marker %d)", marker)
	}
	if strings.TrimSpace(counts) != "InSync 3" || width != "100%" || !regexp.MustCompile(`^took \d+(\.\d)?s$`).MatchString(elapsed) {
		t.Errorf("finished job summary: counts %q, InSync bar width %q, %q", counts, width, elapsed)
	}
	screenshot(t, ctx, "console-job-3-of-3.png")

	// A job in which one robot fails: its row says why, the summary counts it.
	r.robots[0].SetBehavior(sim.Behavior{FailAt: proto.StepDownloadingExtracting})
	failing := r.create(jobConfig{concurrent: 100, threshold: 100})
	var failure string
	browse(t, ctx, "a job with a failed robot",
		chromedp.Navigate(s.URL+"/console/jobs/"+url.PathEscape(failing)),
		chromedp.Poll(`document.getElementById("job-status").textContent === "Succeeded"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Poll(`document.getElementById("summary-insync").textContent === "2 of 3 InSync"`, nil, chromedp.WithPollingTimeout(time.Minute)),
		chromedp.Text(`#job-robots tr[data-robot="`+r.robots[0].ARN+`"] td.failure`, &failure, chromedp.ByQuery),
	)
	if !strings.HasPrefix(failure, "ExtractingBundleFailure: ") {
		t.Errorf("failed robot's row says %q, want its failure code and reason", failure)
	}
	screenshot(t, ctx, "console-job-failed.png")
	browse(t, ctx, "the applications page", chromedp.Navigate(s.URL+"/console/applications"), chromedp.WaitVisible("#applications", chromedp.ByID))
	screenshot(t, ctx, "console-applications.png")
	browse(t, ctx, "the fleet page", chromedp.Navigate(s.URL+fleetPath(r.fleet)), chromedp.WaitVisible("#robots", chromedp.ByID))
	screenshot(t, ctx, "console-fleet-after.png")
}
