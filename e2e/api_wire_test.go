// API conformance of the wire format over raw HTTP signed with the SDK's
// SigV4 signer: 200 with Content-Type application/json and a UUID
// x-amzn-RequestId; {} for every empty output; GET and DELETE tag calls
// with an empty body or {} and the whole ARN percent-encoded in one path
// segment; member spellings (greenGrassGroupId in Robot objects,
// greengrassGroupId in CreateRobot/DescribeRobot); unset members omitted and
// tags {}; timestamps as JSON numbers equal to the ARN epoch / 1000; the
// error envelope; and simulation operations answered InvalidParameterException
// naming the operation.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// checkSuccess asserts the success form of SPEC §3 and decodes the body.
func checkSuccess(t *testing.T, w wireResponse) map[string]any {
	t.Helper()
	if w.Status != http.StatusOK {
		t.Fatalf("status %d, body %s; want 200", w.Status, w.Body)
	}
	if ct := w.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if id := w.Header.Get("x-amzn-RequestId"); !uuidRe.MatchString(id) {
		t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
	}
	if w.Header.Get("x-amzn-ErrorType") != "" {
		t.Errorf("success carries x-amzn-ErrorType %q", w.Header.Get("x-amzn-ErrorType"))
	}
	return decodeNumbers(t, w.Body)
}

// checkEmpty asserts an empty output is exactly {}.
func checkEmpty(t *testing.T, w wireResponse) {
	t.Helper()
	checkSuccess(t, w)
	if got := strings.TrimSpace(string(w.Body)); got != "{}" {
		t.Errorf("empty output body = %q, want {}", got)
	}
}

// checkEpoch asserts a timestamp member is a JSON number equal to ms/1000.
func checkEpoch(t *testing.T, m map[string]any, member string, ms int64) {
	t.Helper()
	v, ok := m[member]
	if !ok {
		t.Errorf("%s is missing", member)
		return
	}
	if _, isNum := v.(json.Number); !isNum {
		t.Errorf("%s = %v (%T), want a JSON number of epoch seconds", member, v, v)
		return
	}
	if got := epochMillis(t, v); got != ms {
		t.Errorf("%s = %v, want %d/1000 (the ARN's epoch)", member, v, ms)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// checkMembers asserts m has exactly the members want.
func checkMembers(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	if len(m) != len(want) {
		t.Errorf("%s members = %v, want exactly %v", what, keys(m), want)
		return
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s members = %v, want exactly %v", what, keys(m), want)
			return
		}
	}
}

func TestAPIWire(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	f := fixture{s, c}
	post := func(t *testing.T, op string, body string) map[string]any {
		t.Helper()
		return checkSuccess(t, signedDo(t, s, "POST", "/"+op, []byte(body)))
	}

	var fleetARN, robotARN string
	t.Run("CreateFleetMembers", func(t *testing.T) {
		m := post(t, "createFleet", `{"name":"wire-fleet"}`)
		checkMembers(t, "CreateFleet", m, "arn", "name", "createdAt", "tags")
		fleetARN, _ = m["arn"].(string)
		checkEpoch(t, m, "createdAt", arnMillis(t, fleetARN))
		if tags, ok := m["tags"].(map[string]any); !ok || len(tags) != 0 {
			t.Errorf("tags = %v, want {}", m["tags"])
		}
		d := post(t, "describeFleet", `{"fleet":"`+fleetARN+`"}`)
		// No deployment yet: lastDeployment* omitted, robots [] and tags {}.
		checkMembers(t, "DescribeFleet", d, "name", "arn", "createdAt", "robots", "tags")
		checkEpoch(t, d, "createdAt", arnMillis(t, fleetARN))
	})

	t.Run("RobotSpellings", func(t *testing.T) {
		m := post(t, "createRobot", `{"name":"wire-robot","architecture":"ARM64","greengrassGroupId":"agent-wire"}`)
		checkMembers(t, "CreateRobot", m, "arn", "name", "createdAt", "greengrassGroupId", "architecture", "tags")
		robotARN, _ = m["arn"].(string)
		checkEpoch(t, m, "createdAt", arnMillis(t, robotARN))
		d := post(t, "describeRobot", `{"robot":"`+robotARN+`"}`)
		// Available: no fleetArn, no lastDeployment*.
		checkMembers(t, "DescribeRobot", d, "arn", "name", "status", "greengrassGroupId", "createdAt", "architecture", "tags")
		if d["greengrassGroupId"] != "agent-wire" {
			t.Errorf("DescribeRobot greengrassGroupId = %v", d["greengrassGroupId"])
		}
		checkEpoch(t, d, "createdAt", arnMillis(t, robotARN))

		reg := post(t, "registerRobot", `{"fleet":"`+fleetARN+`","robot":"`+robotARN+`"}`)
		checkMembers(t, "RegisterRobot", reg, "fleet", "robot")
		df := post(t, "describeFleet", `{"fleet":"`+fleetARN+`"}`)
		robots, _ := df["robots"].([]any)
		if len(robots) != 1 {
			t.Fatalf("DescribeFleet robots = %v", df["robots"])
		}
		r, _ := robots[0].(map[string]any)
		checkMembers(t, "DescribeFleet.robots[0]", r, "arn", "name", "fleetArn", "status", "greenGrassGroupId", "createdAt", "architecture")
		if r["greenGrassGroupId"] != "agent-wire" || r["status"] != "Registered" || r["fleetArn"] != fleetARN {
			t.Errorf("DescribeFleet.robots[0] = %v", r)
		}
		checkEpoch(t, r, "createdAt", arnMillis(t, robotARN))
		lr := post(t, "listRobots", `{"filters":[{"name":"fleetName","values":["wire-fleet"]}]}`)
		checkMembers(t, "ListRobots", lr, "robots") // one page: no nextToken
		robots, _ = lr["robots"].([]any)
		if len(robots) != 1 {
			t.Fatalf("ListRobots robots = %v", lr["robots"])
		}
		r, _ = robots[0].(map[string]any)
		if _, ok := r["greenGrassGroupId"]; !ok {
			t.Errorf("ListRobots item lacks greenGrassGroupId: %v", r)
		}
		if _, ok := r["greengrassGroupId"]; ok {
			t.Errorf("ListRobots item spells greengrassGroupId: %v", r)
		}
		dereg := post(t, "deregisterRobot", `{"fleet":"`+fleetARN+`","robot":"`+robotARN+`"}`)
		checkMembers(t, "DeregisterRobot", dereg, "fleet", "robot")
		d = post(t, "describeRobot", `{"robot":"`+robotARN+`"}`)
		if _, ok := d["fleetArn"]; ok {
			t.Errorf("deregistered robot still has fleetArn: %v", d)
		}
	})

	t.Run("ListFleetsMembers", func(t *testing.T) {
		l := post(t, "listFleets", `{"maxResults":1}`)
		checkMembers(t, "ListFleets", l, "fleetDetails")
		items, _ := l["fleetDetails"].([]any)
		if len(items) != 1 {
			t.Fatalf("fleetDetails = %v", l["fleetDetails"])
		}
		fd, _ := items[0].(map[string]any)
		checkMembers(t, "fleetDetails[0]", fd, "name", "arn", "createdAt")
		checkEpoch(t, fd, "createdAt", arnMillis(t, fleetARN))

		f.fleet(t, uniq("wire-more"))
		l = post(t, "listFleets", `{"maxResults":1}`)
		checkMembers(t, "ListFleets page 1 of 2", l, "fleetDetails", "nextToken")
		if tok, _ := l["nextToken"].(string); tok == "" || len(tok) > 2048 {
			t.Errorf("nextToken = %q", tok)
		}
	})

	t.Run("ApplicationMembers", func(t *testing.T) {
		makeBucket(t, s, "wire-bucket")
		etag := putObject(t, s, "wire-bucket", "dir/app.tar", []byte("wire bundle"))
		m := post(t, "createRobotApplication", `{"name":"wire-app","robotSoftwareSuite":{"name":"General"},
			"sources":[{"s3Bucket":"wire-bucket","s3Key":"dir/app.tar","architecture":"X86_64"}]}`)
		checkMembers(t, "CreateRobotApplication", m, "arn", "name", "version", "sources", "robotSoftwareSuite", "lastUpdatedAt", "revisionId", "tags")
		arn, _ := m["arn"].(string)
		checkEpoch(t, m, "lastUpdatedAt", arnMillis(t, arn))
		srcs, _ := m["sources"].([]any)
		src, _ := srcs[0].(map[string]any)
		checkMembers(t, "sources[0]", src, "s3Bucket", "s3Key", "etag", "architecture")
		if src["etag"] != etag {
			t.Errorf("etag = %v, want %s", src["etag"], etag)
		}
		suite, _ := m["robotSoftwareSuite"].(map[string]any)
		checkMembers(t, "robotSoftwareSuite", suite, "name") // no version for General

		v := post(t, "createRobotApplicationVersion", `{"application":"`+arn+`"}`)
		checkMembers(t, "CreateRobotApplicationVersion", v, "arn", "name", "version", "sources", "robotSoftwareSuite", "lastUpdatedAt", "revisionId")
		if v["version"] != "1" {
			t.Errorf("version = %v (%T), want the string \"1\"", v["version"], v["version"])
		}
		if _, isNum := v["lastUpdatedAt"].(json.Number); !isNum {
			t.Errorf("lastUpdatedAt = %v, want a JSON number", v["lastUpdatedAt"])
		}
		d := post(t, "describeRobotApplication", `{"application":"`+arn+`","applicationVersion":"1"}`)
		checkMembers(t, "DescribeRobotApplication", d, "arn", "name", "version", "sources", "robotSoftwareSuite", "revisionId", "lastUpdatedAt", "tags")
		u := post(t, "updateRobotApplication", `{"application":"`+arn+`","robotSoftwareSuite":{"name":"General"},
			"sources":[{"s3Bucket":"wire-bucket","s3Key":"dir/app.tar","architecture":"ARMHF"}]}`)
		checkMembers(t, "UpdateRobotApplication", u, "arn", "name", "version", "sources", "robotSoftwareSuite", "lastUpdatedAt", "revisionId")
		l := post(t, "listRobotApplications", `{"versionQualifier":"ALL"}`)
		checkMembers(t, "ListRobotApplications", l, "robotApplicationSummaries")
		sums, _ := l["robotApplicationSummaries"].([]any)
		if len(sums) != 2 {
			t.Fatalf("summaries = %v", sums)
		}
		sum, _ := sums[0].(map[string]any)
		checkMembers(t, "robotApplicationSummaries[0]", sum, "name", "arn", "version", "lastUpdatedAt", "robotSoftwareSuite")

		checkEmpty(t, signedDo(t, s, "POST", "/deleteRobotApplication", []byte(`{"application":"`+arn+`","applicationVersion":"1"}`)))
		checkEmpty(t, signedDo(t, s, "POST", "/deleteRobotApplication", []byte(`{"application":"`+arn+`"}`)))
	})

	t.Run("TagCallsOnTheWire", func(t *testing.T) {
		path := "/tags/" + escapeARN(robotARN)
		if strings.Count(path, "/") != 2 || !strings.Contains(path, "%3A") || !strings.Contains(path, "%2F") {
			t.Fatalf("escaped path %s is not one segment", path)
		}
		checkEmpty(t, signedDo(t, s, "POST", path, []byte(`{"tags":{"a":"1","b":"2","c":"3"}}`)))

		// GET with no body at all (as botocore sends) and with {} (as Go v1 does).
		for _, body := range [][]byte{nil, []byte(`{}`), []byte("")} {
			m := checkSuccess(t, signedDo(t, s, "GET", path, body))
			checkMembers(t, "ListTagsForResource", m, "tags")
			if tags, _ := m["tags"].(map[string]any); len(tags) != 3 {
				t.Errorf("GET body %q: tags = %v", body, m["tags"])
			}
		}
		// DELETE with repeated tagKeys and no body, then with {}.
		checkEmpty(t, signedDo(t, s, "DELETE", path+"?tagKeys=a&tagKeys=b", nil))
		checkEmpty(t, signedDo(t, s, "DELETE", path+"?tagKeys=c", []byte(`{}`)))
		m := checkSuccess(t, signedDo(t, s, "GET", path, nil))
		if tags, ok := m["tags"].(map[string]any); !ok || len(tags) != 0 {
			t.Errorf("after untagging everything: %s, want {\"tags\":{}}", m)
		}
		// A key with characters that need escaping in the query.
		checkEmpty(t, signedDo(t, s, "POST", path, []byte(`{"tags":{"a b/c+d=e:f":"x"}}`)))
		checkEmpty(t, signedDo(t, s, "DELETE", path+"?tagKeys="+url.QueryEscape("a b/c+d=e:f"), nil))
		m = checkSuccess(t, signedDo(t, s, "GET", path, nil))
		if tags, _ := m["tags"].(map[string]any); len(tags) != 0 {
			t.Errorf("escaped key not removed: %v", tags)
		}
		// The SDK's request for the same calls works too.
		_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(robotARN), Tags: aws.StringMap(map[string]string{"sdk": "1"})})
		must(t, err)
		_, err = c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(robotARN), TagKeys: aws.StringSlice([]string{"sdk"})})
		must(t, err)
	})

	t.Run("EmptyOutputsAreEmptyObjects", func(t *testing.T) {
		fl := f.fleet(t, uniq("wire-del"))
		r := f.robot(t, uniq("wire-del"))
		checkEmpty(t, signedDo(t, s, "POST", "/deleteRobot", []byte(`{"robot":"`+aws.StringValue(r.Arn)+`"}`)))
		checkEmpty(t, signedDo(t, s, "POST", "/deleteFleet", []byte(`{"fleet":"`+aws.StringValue(fl.Arn)+`"}`)))
	})

	t.Run("RequestIDsDiffer", func(t *testing.T) {
		a := signedDo(t, s, "POST", "/listFleets", []byte(`{}`))
		b := signedDo(t, s, "POST", "/listFleets", []byte(`{}`))
		if a.Header.Get("x-amzn-RequestId") == b.Header.Get("x-amzn-RequestId") {
			t.Errorf("two requests share request id %s", a.Header.Get("x-amzn-RequestId"))
		}
	})

	t.Run("ErrorEnvelope", func(t *testing.T) {
		w := signedDo(t, s, "POST", "/createFleet", []byte(`{"name":"bad name!"}`))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		if !strings.Contains(string(w.Body), `Value 'bad name!' at 'name' failed to satisfy constraint`) {
			t.Errorf("body %s", w.Body)
		}
		w = signedDo(t, s, "POST", "/describeFleet", []byte(`{"fleet":"arn:aws:robomaker:us-east-1:`+testenv.Account+`:deployment-fleet/none/1"}`))
		checkErrorEnvelope(t, w, "ResourceNotFoundException")
		w = signedDo(t, s, "POST", "/createFleet", []byte(`{"name":"wire-fleet"}`))
		checkErrorEnvelope(t, w, "ResourceAlreadyExistsException")
		w = signedDo(t, s, "POST", "/createFleet", []byte(`{"name":`))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		w = signedDo(t, s, "POST", "/createFleet", []byte(`["not an object"]`))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		w = signedDo(t, s, "POST", "/createFleet", []byte(`{"name":42}`))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		if !strings.Contains(string(w.Body), "at 'name'") {
			t.Errorf("wrong-type name: %s", w.Body)
		}
		w = signedDo(t, s, "POST", "/listFleets", []byte(`{"maxResults":"10"}`))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		w = signedDo(t, s, "POST", "/listFleets", []byte(`{"maxResults":1.5}`))
		checkErrorEnvelope(t, w, "InvalidParameterException")
	})

	t.Run("UnknownMembersIgnored", func(t *testing.T) {
		m := post(t, "createFleet", `{"name":"wire-extra","somethingNew":{"x":1}}`)
		if m["name"] != "wire-extra" {
			t.Errorf("createFleet with an unknown member: %v", m)
		}
	})

	t.Run("UnsupportedOperation", func(t *testing.T) {
		for _, op := range []string{"listSimulationJobs", "createSimulationApplication", "describeWorld"} {
			w := signedDo(t, s, "POST", "/"+op, []byte(`{}`))
			checkErrorEnvelope(t, w, "InvalidParameterException")
			name := strings.ToUpper(op[:1]) + op[1:]
			if !strings.Contains(string(w.Body), name) {
				t.Errorf("POST /%s: body %s does not name %s", op, w.Body, name)
			}
		}
		// Unsigned, it still answers in the AWS envelope, never an HTML 404.
		w := do(t, rawRequest(t, s, "POST", "/listSimulationJobs", []byte(`{}`)))
		if w.Status == http.StatusNotFound || !strings.HasPrefix(w.Header.Get("Content-Type"), "application/json") || w.Header.Get("x-amzn-ErrorType") == "" {
			t.Errorf("unsigned unsupported op: %d %q %s", w.Status, w.Header.Get("Content-Type"), w.Body)
		}
	})
}
