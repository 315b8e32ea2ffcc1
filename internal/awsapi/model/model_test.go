package model

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestOperations(t *testing.T) {
	want := []struct{ name, method, uri string }{
		{"CreateFleet", "POST", "/createFleet"},
		{"DeleteFleet", "POST", "/deleteFleet"},
		{"DescribeFleet", "POST", "/describeFleet"},
		{"ListFleets", "POST", "/listFleets"},
		{"CreateRobot", "POST", "/createRobot"},
		{"DeleteRobot", "POST", "/deleteRobot"},
		{"DescribeRobot", "POST", "/describeRobot"},
		{"ListRobots", "POST", "/listRobots"},
		{"RegisterRobot", "POST", "/registerRobot"},
		{"DeregisterRobot", "POST", "/deregisterRobot"},
		{"CreateRobotApplication", "POST", "/createRobotApplication"},
		{"CreateRobotApplicationVersion", "POST", "/createRobotApplicationVersion"},
		{"UpdateRobotApplication", "POST", "/updateRobotApplication"},
		{"DescribeRobotApplication", "POST", "/describeRobotApplication"},
		{"ListRobotApplications", "POST", "/listRobotApplications"},
		{"DeleteRobotApplication", "POST", "/deleteRobotApplication"},
		{"CreateDeploymentJob", "POST", "/createDeploymentJob"},
		{"DescribeDeploymentJob", "POST", "/describeDeploymentJob"},
		{"ListDeploymentJobs", "POST", "/listDeploymentJobs"},
		{"CancelDeploymentJob", "POST", "/cancelDeploymentJob"},
		{"SyncDeploymentJob", "POST", "/syncDeploymentJob"},
		{"TagResource", "POST", "/tags/{resourceArn}"},
		{"UntagResource", "DELETE", "/tags/{resourceArn}"},
		{"ListTagsForResource", "GET", "/tags/{resourceArn}"},
	}
	ops := Operations()
	if len(ops) != len(want) {
		t.Errorf("Operations() has %d operations, want %d", len(ops), len(want))
	}
	if !sort.SliceIsSorted(ops, func(i, j int) bool { return ops[i].Name < ops[j].Name }) {
		t.Error("Operations() is not sorted by name")
	}
	for _, w := range want {
		op, ok := Lookup(w.name)
		if !ok {
			t.Errorf("Lookup(%q): not found", w.name)
			continue
		}
		if op.Name != w.name || op.Method != w.method || op.RequestURI != w.uri {
			t.Errorf("Lookup(%q) = %s %s %s, want %s %s %s", w.name, op.Name, op.Method, op.RequestURI, w.name, w.method, w.uri)
		}
		if op.Input != w.name+"Request" || op.Output != w.name+"Response" {
			t.Errorf("%s: input/output shapes %s/%s", w.name, op.Input, op.Output)
		}
		if len(op.Errors) == 0 {
			t.Errorf("%s: no errors", w.name)
		}
		for _, e := range op.Errors {
			if !strings.HasSuffix(e, "Exception") {
				t.Errorf("%s: odd error shape %q", w.name, e)
			}
			if _, ok := loaded().shapes[e]; !ok {
				t.Errorf("%s: error shape %s not in model", w.name, e)
			}
		}
	}
	if _, ok := Lookup("CreateSimulationJob"); ok {
		t.Error("Lookup(CreateSimulationJob) found an operation the model should not hold")
	}
}

func TestOperationErrors(t *testing.T) {
	op, _ := Lookup("CreateRobot")
	want := []string{"InvalidParameterException", "InternalServerException", "ThrottlingException", "LimitExceededException", "ResourceAlreadyExistsException"}
	if !reflect.DeepEqual(op.Errors, want) {
		t.Errorf("CreateRobot errors = %v, want %v", op.Errors, want)
	}
	// Results are copies: changing them does not change the model.
	op.Errors[0] = "changed"
	Operations()[0].Errors[0] = "changed"
	if again, _ := Lookup("CreateRobot"); again.Errors[0] != want[0] {
		t.Error("Lookup result shares its Errors slice with the model")
	}
	if ops := Operations(); ops[0].Errors[0] == "changed" {
		t.Error("Operations result shares its Errors slice with the model")
	}
}

func TestBindings(t *testing.T) {
	tests := map[string][]Binding{
		"TagResource":         {{Member: "resourceArn", Location: "uri", LocationName: "resourceArn"}},
		"ListTagsForResource": {{Member: "resourceArn", Location: "uri", LocationName: "resourceArn"}},
		"UntagResource": {
			{Member: "resourceArn", Location: "uri", LocationName: "resourceArn"},
			{Member: "tagKeys", Location: "querystring", LocationName: "tagKeys", List: true},
		},
		"CreateFleet": nil,
	}
	for name, want := range tests {
		op, _ := Lookup(name)
		if !reflect.DeepEqual(op.Bindings, want) {
			t.Errorf("%s bindings = %+v, want %+v", name, op.Bindings, want)
		}
	}
}

// TestPatternsCompile compiles every pattern of the embedded model, read
// independently of the parser.
func TestPatternsCompile(t *testing.T) {
	var raw struct {
		Shapes map[string]struct {
			Pattern *string `json:"pattern"`
		} `json:"shapes"`
	}
	if err := json.Unmarshal(modelJSON, &raw); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, s := range raw.Shapes {
		if s.Pattern == nil {
			continue
		}
		n++
		if _, err := compilePattern(*s.Pattern); err != nil {
			t.Errorf("shape %s: pattern %q: %v", name, *s.Pattern, err)
		}
		if got := loaded().shapes[name]; got.re == nil || got.pattern != *s.Pattern {
			t.Errorf("shape %s: pattern not loaded", name)
		}
	}
	if n < 10 {
		t.Errorf("only %d patterns in the model", n)
	}
}

// TestPatternSemantics checks that patterns match whole values, as Java's
// Matcher.matches does.
func TestPatternSemantics(t *testing.T) {
	tests := []struct {
		shape, value string
		match        bool
	}{
		{"Arn", "arn:aws:robomaker:us-east-1:1:fleet/f/1", true},
		{"Arn", "xarn:", false},
		{"Name", "my_fleet-1", true},
		{"Name", "bad name!", false},
		{"Version", "$LATEST", true},
		{"Version", "12", true},
		{"Version", "$LATEST1", false},
		{"Version", "v1", false},
		{"VersionQualifier", "ALL", true},
		{"VersionQualifier", "ALLX", false},
		{"TagKey", "a b_.-/+=:", true},
		{"EnvironmentVariableKey", "_A1", true},
		{"EnvironmentVariableKey", "1A", false},
		{"S3Bucket", "my.bucket-1", true},
		{"S3Bucket", "-bucket", false},
		{"ImageDigest", "sha256:" + strings.Repeat("ab", 32), true},
		{"ImageDigest", "", false},
	}
	for _, tt := range tests {
		s := loaded().shapes[tt.shape]
		if s == nil || s.re == nil {
			t.Fatalf("shape %s has no pattern", tt.shape)
		}
		if got := s.re.MatchString(tt.value); got != tt.match {
			t.Errorf("%s pattern %q on %q = %v, want %v", tt.shape, s.pattern, tt.value, got, tt.match)
		}
	}
}

// TestModelTrimmed checks that the embedded model holds exactly the
// operations and the shapes they reach, and that member order survives.
func TestModelTrimmed(t *testing.T) {
	var raw struct {
		Metadata   map[string]any             `json:"metadata"`
		Operations map[string]json.RawMessage `json:"operations"`
		Shapes     map[string]json.RawMessage `json:"shapes"`
	}
	if err := json.Unmarshal(modelJSON, &raw); err != nil {
		t.Fatal(err)
	}
	if raw.Metadata["protocol"] != "rest-json" || raw.Metadata["uid"] != "robomaker-2018-06-29" {
		t.Errorf("metadata = %v", raw.Metadata)
	}
	if len(raw.Operations) != 24 {
		t.Errorf("%d operations, want 24", len(raw.Operations))
	}
	m := loaded()
	reached := map[string]bool{}
	var visit func(s *shape)
	visit = func(s *shape) {
		if s == nil || reached[s.name] {
			return
		}
		reached[s.name] = true
		for _, mem := range s.members {
			visit(mem.shape)
		}
		visit(s.member)
		visit(s.key)
		visit(s.value)
	}
	for _, op := range m.ops {
		for _, n := range append([]string{op.Input, op.Output}, op.Errors...) {
			visit(m.shapes[n])
		}
	}
	for name := range raw.Shapes {
		if !reached[name] {
			t.Errorf("shape %s is not reachable from any operation", name)
		}
	}
	var names []string
	for _, mem := range m.shapes["CreateDeploymentJobRequest"].members {
		names = append(names, mem.name)
	}
	want := []string{"deploymentConfig", "clientRequestToken", "fleet", "deploymentApplicationConfigs", "tags"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("CreateDeploymentJobRequest members = %v, want model order %v", names, want)
	}
}

func TestParseModelErrors(t *testing.T) {
	bad := map[string]string{
		"syntax":          `{`,
		"unknown member":  `{"shapes":{"S":{"type":"structure","members":{"a":{"shape":"Missing"}}}}}`,
		"unknown list":    `{"shapes":{"L":{"type":"list","member":{"shape":"Missing"}}}}`,
		"missing key":     `{"shapes":{"M":{"type":"map","value":{"shape":"M"}}}}`,
		"bad pattern":     `{"shapes":{"S":{"type":"string","pattern":"(("}}}`,
		"bad bound":       `{"shapes":{"S":{"type":"string","min":"x"}}}`,
		"unknown input":   `{"operations":{"Op":{"name":"Op","input":{"shape":"Missing"}}},"shapes":{}}`,
		"unknown error":   `{"operations":{"Op":{"name":"Op","errors":[{"shape":"Missing"}]}},"shapes":{}}`,
		"required absent": `{"shapes":{"S":{"type":"structure","required":["x"],"members":{}}}}`,
	}
	for name, data := range bad {
		if _, err := parseModel([]byte(data)); err == nil {
			t.Errorf("%s: parseModel succeeded", name)
		}
	}
}

// TestGeneratedUpToDate regenerates robomaker.json from the aws-sdk-go
// module and compares it with the embedded copy. It is skipped when the Go
// command or the module is unavailable.
func TestGeneratedUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	dir, err := exec.Command(goCmd, "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go").Output()
	if err != nil || len(bytes.TrimSpace(dir)) == 0 {
		t.Skip("aws-sdk-go module not available")
	}
	out := filepath.Join(t.TempDir(), "robomaker.json")
	cmd := exec.Command(goCmd, "run", "gen/main.go", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go run gen/main.go: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, modelJSON) {
		t.Error("robomaker.json is stale: run go generate ./internal/awsapi/model")
	}
}
