// What the web console's pages say, over plain HTTP against a real
// fleetsyncd with simulated robots: the version a robot runs after a failed
// (rolled back) deployment and during one, job lists with their application
// and version, a job's summary, times and durations, a threshold breach
// after every robot started, application versions with their own creation
// time, and GET / leading a browser to the console.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// cell returns the text of the td of class cls in the table row carrying
// data-KEY="value" (tags stripped, entities decoded), "" with ok false if none.
func cell(body, key, value, cls string) (string, bool) {
	rows := regexp.MustCompile(`(?s)<tr[^>]*data-`+key+`="`+regexp.QuoteMeta(value)+`"[^>]*>(.*?)</tr>`).FindAllStringSubmatch(body, -1)
	for _, row := range rows { // the first row (of any table) that has such a cell
		td := regexp.MustCompile(`(?s)<td class="` + cls + `"[^>]*>(.*?)</td>`).FindStringSubmatch(row[1])
		if td != nil {
			return strings.TrimSpace(html.UnescapeString(regexp.MustCompile(`<[^>]+>`).ReplaceAllString(td[1], ""))), true
		}
	}
	return "", false
}

func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := startEngine(t)
	r := newRollout(t, s, 2)
	c := newConsoleClient(t, s)
	if code, _, _ := c.signIn(testenv.KeyID, testenv.Secret); code != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", code)
	}
	appName := arnName(t, r.app)
	good, bad := r.robots[0], r.robots[1]

	first := r.createVersion("1", 100, 100)
	if d, _ := r.wait(first, time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v1 job = %v", d)
	}
	_, err := r.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(r.app)})
	must(t, err)
	// v2 fails on bad at Launching (its agent restores v1) and hangs on good
	// until released, so the page is read while good deploys.
	bad.SetBehavior(sim.Behavior{FailAt: proto.StepLaunching, FailCode: "PostLaunchFileFailure"})
	good.SetBehavior(sim.Behavior{Hang: true})
	second := r.createVersion("2", 100, 100)
	r.waitRobot(good.ARN, "Deploying", time.Minute)
	r.waitRobot(bad.ARN, "Failed", time.Minute)
	_, _, page := c.get(fleetPath(r.fleet))
	for _, rb := range []*simRobot{good, bad} {
		if got, _ := cell(page, "robot", rb.ARN, "current"); got != appName+" v1" {
			t.Errorf("current version of %s while v2 deploys or failed = %q, want %q", rb.Name, got, appName+" v1")
		}
	}
	good.SetBehavior(sim.Behavior{})
	if d, _ := r.wait(second, time.Minute); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("v2 job = %v (one failure of two is under the 100%% threshold)", d)
	}
	_, _, page = c.get(fleetPath(r.fleet))
	if got, _ := cell(page, "robot", good.ARN, "current"); got != appName+" v2" {
		t.Errorf("current version of %s after v2 = %q, want %q", good.Name, got, appName+" v2")
	}
	if got, _ := cell(page, "robot", bad.ARN, "current"); got != appName+" v1" {
		t.Errorf("current version of %s after its v2 failed (rolled back) = %q, want %q", bad.Name, got, appName+" v1")
	}
	for job, want := range map[string]string{first: appName + " v1", second: appName + " v2"} {
		if got, _ := cell(page, "job", job, "apps"); got != want {
			t.Errorf("job list: application of %s = %q, want %q", job, got, want)
		}
	}
	if strings.Contains(page, ">"+second+"<") {
		t.Errorf("fleet page shows the job's full ARN as a link text, want its id")
	}

	// The job page: summary, end time, every robot's times, no progress
	// figure left on finished robots, names for robots.
	jobPage := "/console/jobs/" + url.PathEscape(second)
	_, _, page = c.get(jobPage)
	for _, want := range []string{"1 of 2 InSync", `data-status="InSync">InSync <b>1</b>`, `data-status="Failed">Failed <b>1</b>`, "took "} {
		if !strings.Contains(page, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="job-finished">not yet`) {
		t.Errorf("finished job page has no end time")
	}
	clock := regexp.MustCompile(`^\d\d:\d\d:\d\d$`)
	for _, rb := range []*simRobot{good, bad} {
		name, _ := cell(page, "robot", rb.ARN, "name")
		started, _ := cell(page, "robot", rb.ARN, "started")
		finished, _ := cell(page, "robot", rb.ARN, "finished")
		dur, _ := cell(page, "robot", rb.ARN, "duration")
		pct, _ := cell(page, "robot", rb.ARN, "percent")
		if name != rb.Name || !clock.MatchString(started) || !clock.MatchString(finished) || !regexp.MustCompile(`^\d+(\.\d)?s$`).MatchString(dur) || pct != "" {
			t.Errorf("job page row of %s: name %q started %q finished %q duration %q progress %q", rb.Name, name, started, finished, dur, pct)
		}
	}

	// A threshold reached once every robot had started does not claim
	// robots were left unstarted.
	third := r.createVersion("2", 100, 50)
	d, _ := r.wait(third, time.Minute)
	if aws.StringValue(d.Status) != "Failed" || aws.StringValue(d.FailureCode) != "FailureThresholdBreached" ||
		strings.Contains(aws.StringValue(d.FailureReason), "left as they were") {
		t.Errorf("threshold job = %s %s %q, want Failed FailureThresholdBreached without 'left as they were'",
			aws.StringValue(d.Status), aws.StringValue(d.FailureCode), aws.StringValue(d.FailureReason))
	}

	// Application versions: each with its own creation time and its
	// sources' ETag and SHA-256. The second between creating the
	// application and its version makes the two times differ on the page.
	makeBucket(t, s, "pages")
	putObject(t, s, "pages", "b.tar", []byte("bundle"))
	app, err := r.c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("pages")),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("pages"), S3Key: aws.String("b.tar"), Architecture: aws.String("X86_64")}}})
	must(t, err)
	time.Sleep(1100 * time.Millisecond)
	v1, err := r.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
	must(t, err)
	_, _, page = c.get("/console/applications")
	rows := regexp.MustCompile(`(?s)<tr class="version" data-app="` + regexp.QuoteMeta(aws.StringValue(app.Arn)) + `" data-version="1">(.*?)</tr>`).FindStringSubmatch(page)
	if rows == nil {
		t.Fatalf("applications page has no version 1 row of %s", aws.StringValue(app.Name))
	}
	want := aws.TimeValue(v1.LastUpdatedAt).UTC().Format("2006-01-02 15:04:05 UTC")
	if !strings.Contains(rows[1], `<td class="created time">`+want+`</td>`) ||
		aws.TimeValue(v1.LastUpdatedAt).Unix() == aws.TimeValue(app.LastUpdatedAt).Unix() {
		t.Errorf("version 1 row = %q, want its own creation time %s, not the application's %s", rows[1], want,
			aws.TimeValue(app.LastUpdatedAt).UTC().Format(time.DateTime))
	}
	if !strings.Contains(rows[1], "ETag <code") || !strings.Contains(rows[1], "SHA-256 <code") || !strings.Contains(rows[1], "s3://pages/b.tar") {
		t.Errorf("version 1 row lacks its source's location, ETag and SHA-256: %s", rows[1])
	}

	// GET / takes a browser to the console; an API client still gets JSON.
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	resp, err := c.http.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/" {
		t.Errorf("browser GET / = %d → %q, want 303 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = c.http.Get(s.URL + "/")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode == http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("GET / without Accept: text/html = %d %s, want the API's JSON answer", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// arnName is the name embedded in a RoboMaker ARN.
func arnName(t *testing.T, arn string) string {
	t.Helper()
	parts := strings.Split(arn, "/")
	if len(parts) < 2 {
		t.Fatalf("%q is not a named resource ARN", arn)
	}
	return parts[1]
}
