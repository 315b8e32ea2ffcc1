package awsapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// TestHostileInputRefused sends input a stranger could send, each once
// panicking a handler, holding the store's writer or reaching PostgreSQL as
// an error, and wants the AWS 4xx that names the problem.
func TestHostileInputRefused(t *testing.T) {
	send, _ := newPipeline(t)
	do, _ := caller(t, send)
	code, out := do("POST", "/createFleet", `{"name":"hostile"}`)
	if code != http.StatusOK {
		t.Fatalf("CreateFleet: %d %v", code, out)
	}
	fleetARN, _ := out["arn"].(string)
	tags := "/tags/" + url.PathEscape(fleetARN)
	if code, out := do("POST", tags, `{"tags":{"keep":"v"}}`); code != http.StatusOK {
		t.Fatalf("TagResource: %d %v", code, out)
	}
	keys := func(n, distinct int) string {
		q := url.Values{}
		for i := range n {
			q.Add("tagKeys", fmt.Sprintf("k%d", i%distinct))
		}
		return q.Encode()
	}
	nulJob := "arn:aws:robomaker:us-east-1:123456789012:deployment-job/a\x00b"
	for _, c := range []struct {
		name, method, target, body string
		status                     int
		typ, says                  string
	}{
		{"a null body on a route with an ARN in its path", "POST", tags, `null`, 400, "InvalidParameterException", "not a JSON object"},
		{"a null body on a fleetsync route", "GET", "/fleetsync/v1/fleets/" + url.PathEscape(fleetARN) + "/drift", `null`, 400, "InvalidParameterException", "not a JSON object"},
		{"a NUL in a job ARN of a fleetsync route", "GET", "/fleetsync/v1/jobs/" + url.PathEscape(nulJob) + "/failures", ``, 400, "InvalidParameterException", "without NUL"},
		{"a NUL in a fleet ARN of a fleetsync route", "GET", "/fleetsync/v1/fleets/" + url.PathEscape(strings.Replace(fleetARN, "hostile", "a\x00b", 1)) + "/drift", ``, 400, "InvalidParameterException", "is not a deployment-fleet ARN"},
		// Binding the input to its type makes invalid UTF-8 U+FFFD: a name
		// no resource has.
		{"invalid UTF-8 in a fleet ARN of a fleetsync route", "GET", "/fleetsync/v1/fleets/" + url.PathEscape(strings.Replace(fleetARN, "hostile", "a\xffb", 1)) + "/drift", ``, 400, "ResourceNotFoundException", "does not exist"},
		{"more distinct tag keys than a resource can hold", "DELETE", tags + "?" + keys(51, 51), ``, 400, "InvalidParameterException", "tagKeys"},
		{"repeats of a key count once", "DELETE", tags + "?" + keys(5000, 50), ``, 200, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out := do(c.method, c.target, c.body)
			if code != c.status {
				t.Fatalf("%s %.120s: %d %v, want %d", c.method, c.target, code, out, c.status)
			}
			if c.typ == "" {
				return
			}
			if msg, _ := out["message"].(string); out["__type"] != c.typ || !strings.Contains(msg, c.says) {
				t.Errorf("%s: %v, want %s saying %q", c.name, out, c.typ, c.says)
			}
		})
	}
	// The refused untag removed nothing; the allowed one left "keep".
	if code, out := do("GET", tags, ``); code != http.StatusOK || fmt.Sprint(out["tags"]) != "map[keep:v]" {
		t.Errorf("ListTagsForResource after the untags: %d %v", code, out)
	}
}

// TestJobFailuresPaged reads a job's failed robots a page at a time, as a
// client of a 100,000-robot job must: maxResults and the nextToken it is
// given, bound to the job.
func TestJobFailuresPaged(t *testing.T) {
	send, st := newPipeline(t)
	ctx := t.Context()
	do, ok := caller(t, send)
	_, job, robots := jobOf(ok, 5, "")
	// The engine's part, done on the store: every robot starts, all but
	// r2 fail, each with its output.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.StartPreparing(ctx, job))
	var rows []fleet.RobotDeployment
	for i, r := range robots {
		rows = append(rows, fleet.RobotDeployment{Job: job, Robot: r, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(st.Prepare(ctx, job, rows, store.JobOutcome{}, 100))
	must(st.Apply(ctx, job, store.Step{Start: robots}, 200))
	for i, r := range robots {
		res := store.Result{Status: fleet.RobotFailed, Code: "PreLaunchFileFailure", Reason: "boom", Output: "out " + r, NowMs: 300}
		if i == 2 {
			res = store.Result{Success: true, NowMs: 300}
		}
		_, err := st.RecordResult(ctx, job, r, res)
		must(err)
	}
	failures := "/fleetsync/v1/jobs/" + url.PathEscape(job) + "/failures"
	arns := func(out map[string]any) (got []string) {
		list, _ := out["robots"].([]any)
		for _, e := range list {
			m := e.(map[string]any)
			if m["output"] != "out "+m["arn"].(string) {
				t.Errorf("robot %v output %q", m["arn"], m["output"])
			}
			got = append(got, m["arn"].(string))
		}
		return got
	}
	want := []string{robots[0], robots[1], robots[3], robots[4]}
	if all := ok("GET", failures, ""); fmt.Sprint(arns(all)) != fmt.Sprint(want) || all["nextToken"] != nil {
		t.Errorf("one page: %v", all)
	}
	first := ok("GET", failures+"?maxResults=3", "")
	token, _ := first["nextToken"].(string)
	if fmt.Sprint(arns(first)) != fmt.Sprint(want[:3]) || token == "" {
		t.Fatalf("first page of 3: %v", first)
	}
	rest := ok("GET", failures+"?maxResults=3&nextToken="+url.QueryEscape(token), "")
	if fmt.Sprint(arns(rest)) != fmt.Sprint(want[3:]) || rest["nextToken"] != nil {
		t.Errorf("second page: %v", rest)
	}
	other := "/fleetsync/v1/jobs/" + url.PathEscape(job+"0") + "/failures"
	for _, target := range []string{
		other + "?nextToken=" + url.QueryEscape(token),                   // another job's token
		failures + "?nextToken=" + url.QueryEscape(token[:len(token)-2]), // edited
		failures + "?maxResults=0", failures + "?maxResults=101", failures + "?maxResults=many",
	} {
		if code, out := do("GET", target, ""); code != http.StatusBadRequest || out["__type"] != "InvalidParameterException" {
			t.Errorf("GET %s: %d %v, want 400 InvalidParameterException", target, code, out)
		}
	}
}

// caller returns do, which sends a request and returns its status and
// decoded answer, and ok, which also wants a 200.
func caller(t *testing.T, send sender) (do func(method, target, body string) (int, map[string]any), ok func(method, target, body string) map[string]any) {
	do = func(method, target, body string) (int, map[string]any) {
		t.Helper()
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatal(err)
		}
		rec := send(method, u, []byte(body))
		var out map[string]any
		json.Unmarshal(rec.Body.Bytes(), &out)
		return rec.Code, out
	}
	ok = func(method, target, body string) map[string]any {
		t.Helper()
		code, out := do(method, target, body)
		if code != http.StatusOK {
			t.Fatalf("%s %s: %d %v", method, target, code, out)
		}
		return out
	}
	return do, ok
}

// jobOf creates, through the API, a fleet of n robots, an application
// version of s3://apps/a.tar and a deployment job of it with tags (a JSON
// object, "" for none); it returns the fleet's and the job's ARNs and the
// robots'.
func jobOf(ok func(method, target, body string) map[string]any, n int, tags string) (fleetARN, job string, robots []string) {
	fleetARN = ok("POST", "/createFleet", `{"name":"f"}`)["arn"].(string)
	for i := range n {
		r := ok("POST", "/createRobot", fmt.Sprintf(`{"name":"r%d","architecture":"X86_64","greengrassGroupId":"g%d"}`, i, i))["arn"].(string)
		ok("POST", "/registerRobot", `{"fleet":"`+fleetARN+`","robot":"`+r+`"}`)
		robots = append(robots, r)
	}
	app := ok("POST", "/createRobotApplication", `{"name":"a","robotSoftwareSuite":{"name":"General"},"sources":[{"s3Bucket":"apps","s3Key":"a.tar","architecture":"X86_64"}]}`)["arn"].(string)
	ok("POST", "/createRobotApplicationVersion", `{"application":"`+app+`"}`)
	body := `{"fleet":"` + fleetARN + `","clientRequestToken":"t","deploymentApplicationConfigs":[{"application":"` + app +
		`","applicationVersion":"1","launchConfig":{"packageName":"p","launchFile":"l"}}]`
	if tags != "" {
		body += `,"tags":` + tags
	}
	job = ok("POST", "/createDeploymentJob", body+"}")["arn"].(string)
	return fleetARN, job, robots
}

// TestJobControlTagsFixedAfterCreate: a job's canary and health period are
// set with CreateDeploymentJob; TagResource and UntagResource refuse to
// change them on the job (the planner reads the canary every pass, so a
// change mid-job applied to part of it), and leave its other tags and the
// fleet's controls alone.
func TestJobControlTagsFixedAfterCreate(t *testing.T) {
	send, _ := newPipeline(t)
	do, ok := caller(t, send)
	fleetARN, job, _ := jobOf(ok, 2, `{"fleetsync:canary":"1"}`)
	jobTags := "/tags/" + url.PathEscape(job)
	for _, c := range []struct{ method, target, body string }{
		{"POST", jobTags, `{"tags":{"fleetsync:canary":"2"}}`},
		{"POST", jobTags, `{"tags":{"FLEETSYNC:healthSeconds":"5","team":"a"}}`},
		{"DELETE", jobTags + "?tagKeys=fleetsync%3Acanary", ``},
	} {
		code, out := do(c.method, c.target, c.body)
		if msg, _ := out["message"].(string); code != http.StatusBadRequest || out["__type"] != "InvalidParameterException" || !strings.Contains(msg, "cannot be changed") {
			t.Errorf("%s %s %s: %d %v, want InvalidParameterException", c.method, c.target, c.body, code, out)
		}
	}
	ok("POST", jobTags, `{"tags":{"team":"a"}}`)
	ok("POST", "/tags/"+url.PathEscape(fleetARN), `{"tags":{"fleetsync:healthSeconds":"5"}}`)
	if got := fmt.Sprint(ok("GET", jobTags, ``)["tags"]); got != "map[fleetsync:canary:1 team:a]" {
		t.Errorf("the job's tags = %s, want its canary as created and team", got)
	}
}
