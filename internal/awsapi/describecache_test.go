package awsapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// describeOnce is one Describe's use of the cache for job: its rows merged
// and the entry kept.
func describeOnce(t *testing.T, c *describeCache, job string, rows []fleet.RobotDeployment) *describedJob {
	t.Helper()
	e := c.entry(job)
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.merge(rows, job); err != nil {
		t.Fatal(err)
	}
	c.done(job, e)
	return e
}

func robotRows(n int, status fleet.RobotStatus) []fleet.RobotDeployment {
	var rows []fleet.RobotDeployment
	for i := range n {
		rows = append(rows, fleet.RobotDeployment{Robot: fmt.Sprintf("arn:robot/%02d", i), Seq: i, Status: status})
	}
	return rows
}

// TestDescribeCacheEvictsTheLeastRecentlyDescribed: the cache holds at
// most its bytes, dropping the job described longest ago.
func TestDescribeCacheEvictsTheLeastRecentlyDescribed(t *testing.T) {
	one := describeOnce(t, newDescribeCache(1<<20, 10), "probe", robotRows(10, fleet.RobotDeploying)).size
	c := newDescribeCache(2*one+one/2, 10) // room for two jobs of 10 rows
	describeOnce(t, c, "a", robotRows(10, fleet.RobotDeploying))
	describeOnce(t, c, "b", robotRows(10, fleet.RobotDeploying))
	describeOnce(t, c, "a", nil) // a is now the more recent
	describeOnce(t, c, "c", robotRows(10, fleet.RobotDeploying))
	if _, ok := c.jobs["b"]; ok || len(c.jobs) != 2 || c.jobs["a"] == nil || c.jobs["c"] == nil {
		t.Errorf("cache holds %v, want a and c (b described longest ago)", keys(c.jobs))
	}
	sum := 0
	for _, e := range c.jobs {
		sum += e.held
	}
	if c.total != sum || c.total > c.maxBytes {
		t.Errorf("total %d, held %d, bound %d", c.total, sum, c.maxBytes)
	}
	// A row that grows is accounted.
	grown := robotRows(1, fleet.RobotFailed)
	grown[0].FailureReason = string(make([]byte, 100))
	before := c.jobs["c"].held
	describeOnce(t, c, "c", grown)
	if c.jobs["c"].held <= before {
		t.Errorf("c held %d after a row grew, %d before", c.jobs["c"].held, before)
	}
	// A job larger than the whole cache is not kept, and evicts nothing.
	kept := len(c.jobs)
	describeOnce(t, c, "huge", robotRows(40, fleet.RobotDeploying))
	if _, ok := c.jobs["huge"]; ok || len(c.jobs) != kept || c.total > c.maxBytes {
		t.Errorf("after a job larger than the cache: it holds %v (total %d, bound %d), want the %d before", keys(c.jobs), c.total, c.maxBytes, kept)
	}
}

// TestDescribeCacheResponse: rows added later take their place in start
// order, and the response is the job with every row, as encoding/json
// would write the whole output.
func TestDescribeCacheResponse(t *testing.T) {
	c := newDescribeCache(1<<20, 10)
	rows := robotRows(4, fleet.RobotPendingNewDeployment)
	describeOnce(t, c, "j", []fleet.RobotDeployment{rows[3], rows[1]})
	rows[1].Status, rows[1].Step = fleet.RobotDeploying, "Launching"
	e := describeOnce(t, c, "j", []fleet.RobotDeployment{rows[0], rows[1], rows[2]})
	job := wireJob{ARN: "j", Status: "InProgress", Tags: &fleet.Tags{"k": "v"}}
	got, err := e.response(job)
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, p := range got {
		body = append(body, p...)
	}
	summary := make([]wireRobotDeploy, len(rows))
	for i, r := range rows {
		summary[i] = toWireRobotDeploy(r, "j")
	}
	job.RobotDeploymentSummary = &summary
	want, _ := json.Marshal(job)
	var g, w any
	if err := json.Unmarshal(body, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, body)
	}
	json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("response\n%s\nwant\n%s", body, want)
	}
}

// TestDescribeCacheBoundsItsJobs: past its count of jobs the cache evicts
// the least recently described, however small.
func TestDescribeCacheBoundsItsJobs(t *testing.T) {
	c := newDescribeCache(1<<30, 3)
	for _, j := range []string{"a", "b", "c", "a", "d"} {
		describeOnce(t, c, j, nil)
	}
	if len(c.jobs) != 3 || c.jobs["b"] != nil || c.jobs["a"] == nil || c.jobs["d"] == nil {
		t.Errorf("cache holds %v, want a, c and d (b described longest ago)", keys(c.jobs))
	}
}

func keys(m map[string]*describedJob) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestEncodedJSONWrite: the parts are written whole and in order, across
// chunk boundaries and with parts larger than a chunk.
func TestEncodedJSONWrite(t *testing.T) {
	var p encodedJSON
	var want []byte
	for i := range 3000 {
		n := 1 + i%300
		if i == 1500 {
			n = 200 << 10 // larger than a chunk
		}
		b := bytes.Repeat([]byte{byte('a' + i%26)}, n)
		p = append(p, b)
		want = append(want, b...)
	}
	rec := httptest.NewRecorder()
	p.write(rec, http.StatusOK)
	if !bytes.Equal(rec.Body.Bytes(), want) {
		t.Errorf("wrote %d bytes, want the %d of the parts in order", rec.Body.Len(), len(want))
	}
	if cl := rec.Header().Get("Content-Length"); cl != strconv.Itoa(len(want)) || rec.Code != http.StatusOK {
		t.Errorf("status %d, Content-Length %s, want 200 and %d", rec.Code, cl, len(want))
	}
}
