package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	arn    = "arn:aws:robomaker:us-east-1:123456789012:fleet/f/1"
	appArn = "arn:aws:robomaker:us-east-1:123456789012:robot-application/app/1"
)

// decode decodes a JSON object the way the server does.
func decode(t testing.TB, body string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return m
}

// messages returns the violation messages of Validate's result.
func messages(t *testing.T, op string, input map[string]any) []string {
	t.Helper()
	err := Validate(op, input)
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate(%s) = %T %v, want *ValidationError", op, err, err)
	}
	var msgs []string
	for _, v := range ve.Violations {
		if !strings.Contains(v.Message, " at '"+v.Path+"' failed to satisfy constraint: ") {
			t.Errorf("message %q does not name path %q", v.Message, v.Path)
		}
		msgs = append(msgs, v.Message)
	}
	return msgs
}

func msg(value, path, constraint string) string {
	return fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, path, constraint)
}

func null(path string) string {
	return fmt.Sprintf("Value null at '%s' failed to satisfy constraint: Member must not be null", path)
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// deploymentJob returns a valid CreateDeploymentJob body with edit applied
// to its decoded form.
func deploymentJob(t *testing.T, edit func(in map[string]any)) map[string]any {
	t.Helper()
	in := decode(t, `{
		"clientRequestToken": "token-1",
		"fleet": "`+arn+`",
		"deploymentConfig": {
			"concurrentDeploymentPercentage": 20,
			"failureThresholdPercentage": 25,
			"robotDeploymentTimeoutInSeconds": 3600,
			"downloadConditionFile": {"bucket": "my-bucket", "key": "cond.sh", "etag": "x"}
		},
		"deploymentApplicationConfigs": [{
			"application": "`+appArn+`",
			"applicationVersion": "1",
			"launchConfig": {
				"packageName": "pkg",
				"launchFile": "main.launch",
				"preLaunchFile": "pre.sh",
				"environmentVariables": {"ROS_DOMAIN": "1"}
			}
		}],
		"tags": {"env": "prod"}
	}`)
	if edit != nil {
		edit(in)
	}
	return in
}

func dig(in map[string]any, path ...any) map[string]any {
	var cur any = in
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur.(map[string]any)
}

func TestValidInputs(t *testing.T) {
	valid := map[string]string{
		"CreateFleet":                   `{"name": "fleet_1", "tags": {"a": "b", "k:x/y": ""}}`,
		"DeleteFleet":                   `{"fleet": "` + arn + `"}`,
		"DescribeFleet":                 `{"fleet": "` + arn + `"}`,
		"ListFleets":                    `{"maxResults": 10, "nextToken": "abc+/=", "filters": [{"name": "name", "values": ["fleet_1"]}]}`,
		"CreateRobot":                   `{"name": "r", "architecture": "ARMHF", "greengrassGroupId": "gg-1"}`,
		"DeleteRobot":                   `{"robot": "` + arn + `"}`,
		"DescribeRobot":                 `{"robot": "` + arn + `"}`,
		"ListRobots":                    `{}`,
		"RegisterRobot":                 `{"fleet": "` + arn + `", "robot": "` + arn + `"}`,
		"DeregisterRobot":               `{"fleet": "` + arn + `", "robot": "` + arn + `"}`,
		"CreateRobotApplication":        `{"name": "app", "robotSoftwareSuite": {"name": "ROS2", "version": "Foxy"}, "sources": [{"s3Bucket": "bkt", "s3Key": "k", "architecture": "X86_64"}], "environment": {"uri": "123.dkr.ecr/x:1"}, "tags": {}}`,
		"CreateRobotApplicationVersion": `{"application": "` + appArn + `", "currentRevisionId": "rev-1", "s3Etags": ["e1", "e2"], "imageDigest": "sha256:` + strings.Repeat("0f", 32) + `"}`,
		"UpdateRobotApplication":        `{"application": "` + appArn + `", "robotSoftwareSuite": {"name": "General"}, "currentRevisionId": "r"}`,
		"DescribeRobotApplication":      `{"application": "` + appArn + `", "applicationVersion": "$LATEST"}`,
		"ListRobotApplications":         `{"versionQualifier": "ALL", "maxResults": 100}`,
		"DeleteRobotApplication":        `{"application": "` + appArn + `", "applicationVersion": "3"}`,
		"DescribeDeploymentJob":         `{"job": "` + arn + `"}`,
		"ListDeploymentJobs":            `{"filters": [{"name": "status", "values": ["Pending"]}]}`,
		"CancelDeploymentJob":           `{"job": "` + arn + `"}`,
		"SyncDeploymentJob":             `{"clientRequestToken": "t=", "fleet": "` + arn + `"}`,
		"TagResource":                   `{"resourceArn": "` + arn + `", "tags": {"a": "b"}}`,
		"UntagResource":                 `{"resourceArn": "` + arn + `", "tagKeys": ["a", "b"]}`,
		"ListTagsForResource":           `{"resourceArn": "` + arn + `", "unknownMember": {"ignored": [1, 2]}}`,
	}
	for _, op := range Operations() {
		body, ok := valid[op.Name]
		if op.Name == "CreateDeploymentJob" {
			if err := Validate(op.Name, deploymentJob(t, nil)); err != nil {
				t.Errorf("%s: %v", op.Name, err)
			}
			continue
		}
		if !ok {
			t.Errorf("no valid input for %s", op.Name)
			continue
		}
		if err := Validate(op.Name, decode(t, body)); err != nil {
			t.Errorf("%s: %v", op.Name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	manyEnv := map[string]any{}
	for i := 0; i < 21; i++ {
		manyEnv[fmt.Sprintf("V%02d", i)] = "x"
	}
	manyTags := map[string]any{}
	for i := 0; i < 51; i++ {
		manyTags[fmt.Sprintf("t%02d", i)] = "v"
	}
	twoConfigs := deploymentJob(t, nil)["deploymentApplicationConfigs"].([]any)
	twoConfigs = append(twoConfigs, twoConfigs[0])
	// TagKey and TagValue share this pattern.
	tagPattern := `Member must satisfy regular expression pattern: [a-zA-Z0-9 _.\-\/+=:]*`

	tests := []struct {
		name string
		op   string
		in   map[string]any
		want []string
	}{
		// Required members.
		{"required missing", "CreateFleet", decode(t, `{}`), []string{null("name")}},
		{"required null", "CreateFleet", decode(t, `{"name": null}`), []string{null("name")}},
		{"optional null ignored", "CreateFleet", decode(t, `{"name": "n", "tags": null}`), nil},
		{"required in model order", "CreateRobot", decode(t, `{}`),
			[]string{null("name"), null("architecture"), null("greengrassGroupId")}},
		{"unknown members ignored", "CreateFleet", decode(t, `{"name": "n", "Name": 5, "extra": {"a": [null]}}`), nil},

		// String length and pattern.
		{"name too short", "CreateFleet", decode(t, `{"name": ""}`),
			[]string{msg("", "name", "Member must have length greater than or equal to 1")}},
		{"name 255 ok", "CreateFleet", map[string]any{"name": long(255)}, nil},
		{"name too long", "CreateFleet", map[string]any{"name": long(256)},
			[]string{msg(long(256), "name", "Member must have length less than or equal to 255")}},
		{"name pattern", "CreateFleet", decode(t, `{"name": "bad name!"}`),
			[]string{msg("bad name!", "name", `Member must satisfy regular expression pattern: [a-zA-Z0-9_\-]*`)}},
		{"length counts characters", "CreateFleet", map[string]any{"name": strings.Repeat("é", 255)},
			[]string{msg(strings.Repeat("é", 255), "name", `Member must satisfy regular expression pattern: [a-zA-Z0-9_\-]*`)}},
		{"arn pattern", "DeleteFleet", decode(t, `{"fleet": "x y"}`),
			[]string{msg("x y", "fleet", "Member must satisfy regular expression pattern: arn:.*")}},
		{"arn empty: length and pattern", "DescribeRobot", decode(t, `{"robot": ""}`),
			[]string{
				msg("", "robot", "Member must have length greater than or equal to 1"),
				msg("", "robot", "Member must satisfy regular expression pattern: arn:.*"),
			}},
		{"version pattern", "DescribeRobotApplication", decode(t, `{"application": "`+appArn+`", "applicationVersion": "v1"}`),
			[]string{msg("v1", "applicationVersion", `Member must satisfy regular expression pattern: (\$LATEST)|[0-9]*`)}},
		{"image digest min 0 but pattern", "CreateRobotApplicationVersion", decode(t, `{"application": "`+appArn+`", "imageDigest": ""}`),
			[]string{msg("", "imageDigest", "Member must satisfy regular expression pattern: [Ss][Hh][Aa]256:[0-9a-fA-F]{64}")}},
		{"versionQualifier ok", "ListRobotApplications", decode(t, `{"versionQualifier": "ALL"}`), nil},
		{"versionQualifier pattern", "ListRobotApplications", decode(t, `{"versionQualifier": "LATEST"}`),
			[]string{msg("LATEST", "versionQualifier", "Member must satisfy regular expression pattern: ALL")}},
		{"versionQualifier empty", "ListRobotApplications", decode(t, `{"versionQualifier": ""}`),
			[]string{
				msg("", "versionQualifier", "Member must have length greater than or equal to 1"),
				msg("", "versionQualifier", "Member must satisfy regular expression pattern: ALL"),
			}},

		// Enums.
		{"architecture enum", "CreateRobot", decode(t, `{"name": "r", "architecture": "X", "greengrassGroupId": "g"}`),
			[]string{msg("X", "architecture", "Member must satisfy enum value set: [X86_64, ARM64, ARMHF]")}},
		{"enum is case sensitive", "CreateRobot", decode(t, `{"name": "r", "architecture": "arm64", "greengrassGroupId": "g"}`),
			[]string{msg("arm64", "architecture", "Member must satisfy enum value set: [X86_64, ARM64, ARMHF]")}},
		{"nested enums", "CreateRobotApplication", decode(t, `{"name": "a", "robotSoftwareSuite": {"name": "ROS3", "version": "Humble"}}`),
			[]string{
				msg("ROS3", "robotSoftwareSuite.name", "Member must satisfy enum value set: [ROS, ROS2, General]"),
				msg("Humble", "robotSoftwareSuite.version", "Member must satisfy enum value set: [Kinetic, Melodic, Dashing, Foxy]"),
			}},
		{"enum in list", "UpdateRobotApplication", decode(t, `{"application": "`+appArn+`", "robotSoftwareSuite": {}, "sources": [{"architecture": "ARM64"}, {"architecture": "MIPS"}]}`),
			[]string{msg("MIPS", "sources.2.member.architecture", "Member must satisfy enum value set: [X86_64, ARM64, ARMHF]")}},

		// Integer ranges and types.
		{"percentage too high", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["concurrentDeploymentPercentage"] = json.Number("101")
		}), []string{msg("101", "deploymentConfig.concurrentDeploymentPercentage", "Member must have value less than or equal to 100")}},
		{"percentage too low", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["failureThresholdPercentage"] = json.Number("0")
		}), []string{msg("0", "deploymentConfig.failureThresholdPercentage", "Member must have value greater than or equal to 1")}},
		{"percentage bounds ok", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["concurrentDeploymentPercentage"] = json.Number("1")
			dig(in, "deploymentConfig")["failureThresholdPercentage"] = json.Number("100")
		}), nil},
		{"percentage not an integer", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["concurrentDeploymentPercentage"] = "abc"
			dig(in, "deploymentConfig")["failureThresholdPercentage"] = json.Number("1.5")
		}), []string{
			msg("abc", "deploymentConfig.concurrentDeploymentPercentage", "Member must be an integer"),
			msg("1.5", "deploymentConfig.failureThresholdPercentage", "Member must be an integer"),
		}},
		{"exponent is not an integer literal", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["concurrentDeploymentPercentage"] = json.Number("1e1")
		}), []string{msg("1e1", "deploymentConfig.concurrentDeploymentPercentage", "Member must be an integer")}},
		// DeploymentTimeout is a long without range traits in the model:
		// only its type is checked.
		{"timeout max ok", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["robotDeploymentTimeoutInSeconds"] = json.Number("604800")
		}), nil},
		{"timeout over spec range", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["robotDeploymentTimeoutInSeconds"] = json.Number("604801")
		}), []string{msg("604801", "deploymentConfig.robotDeploymentTimeoutInSeconds", "Member must have value less than or equal to 604800")}},
		{"timeout under spec range", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["robotDeploymentTimeoutInSeconds"] = json.Number("59")
		}), []string{msg("59", "deploymentConfig.robotDeploymentTimeoutInSeconds", "Member must have value greater than or equal to 60")}},
		{"timeout overflows long", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["robotDeploymentTimeoutInSeconds"] = json.Number("9223372036854775808")
		}), []string{msg("9223372036854775808", "deploymentConfig.robotDeploymentTimeoutInSeconds", "Member must be an integer")}},
		{"timeout wrong type", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["robotDeploymentTimeoutInSeconds"] = true
		}), []string{msg("true", "deploymentConfig.robotDeploymentTimeoutInSeconds", "Member must be an integer")}},
		{"maxResults string", "ListFleets", decode(t, `{"maxResults": "10"}`),
			[]string{msg("10", "maxResults", "Member must be an integer")}},
		{"maxResults fraction", "ListFleets", decode(t, `{"maxResults": 1.5}`),
			[]string{msg("1.5", "maxResults", "Member must be an integer")}},
		{"maxResults int32 max", "ListFleets", decode(t, `{"maxResults": 2147483647}`), nil},
		{"maxResults overflows integer", "ListFleets", decode(t, `{"maxResults": 2147483648}`),
			[]string{msg("2147483648", "maxResults", "Member must be an integer")}},
		{"maxResults Go int", "ListRobots", map[string]any{"maxResults": 5}, nil},
		{"maxResults Go float", "ListRobots", map[string]any{"maxResults": 5.5},
			[]string{msg("5.5", "maxResults", "Member must be an integer")}},

		// Lists.
		{"configs empty", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			in["deploymentApplicationConfigs"] = []any{}
		}), []string{msg("[]", "deploymentApplicationConfigs", "Member must have length greater than or equal to 1")}},
		{"configs two", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			in["deploymentApplicationConfigs"] = twoConfigs
		}), []string{msg(shorten(jsonOf(twoConfigs)), "deploymentApplicationConfigs", "Member must have length less than or equal to 1")}},
		{"configs not a list", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			in["deploymentApplicationConfigs"] = map[string]any{"a": "b"}
		}), []string{msg(`{"a":"b"}`, "deploymentApplicationConfigs", "Member must be a list")}},
		{"nested required", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			delete(dig(in, "deploymentApplicationConfigs", 0, "launchConfig"), "packageName")
			dig(in, "deploymentApplicationConfigs", 0, "launchConfig")["launchFile"] = nil
		}), []string{
			null("deploymentApplicationConfigs.1.member.launchConfig.packageName"),
			null("deploymentApplicationConfigs.1.member.launchConfig.launchFile"),
		}},
		{"nested string constraints", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentApplicationConfigs", 0, "launchConfig")["packageName"] = "my pkg"
			dig(in, "deploymentApplicationConfigs", 0)["applicationVersion"] = "$LATEST"
		}), []string{
			msg("$LATEST", "deploymentApplicationConfigs.1.member.applicationVersion", "Member must satisfy regular expression pattern: [0-9]*"+
				" (deployments name a numbered version, not $LATEST: create one with CreateRobotApplicationVersion first and deploy the version number it returns)"),
			msg("my pkg", "deploymentApplicationConfigs.1.member.launchConfig.packageName", `Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]*`),
		}},
		{"list element not a structure", "ListFleets", decode(t, `{"filters": ["name"]}`),
			[]string{msg("name", "filters.1.member", "Member must be a structure")}},
		{"filters empty", "ListFleets", decode(t, `{"filters": []}`),
			[]string{msg("[]", "filters", "Member must have length greater than or equal to 1")}},
		{"filters three ok", "ListFleets", decode(t, `{"filters": [{"name": "a", "values": ["x"]}, {"name": "b", "values": ["y"]}, {"name": "c", "values": ["z"]}]}`), nil},
		{"filters four", "ListFleets", decode(t, `{"filters": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]}`),
			[]string{msg(`[{"name":"a"},{"name":"b"},{"name":"c"},{"name":"d"}]`, "filters", "Member must have length less than or equal to 3")}},
		{"filter values", "ListFleets", decode(t, `{"filters": [{"name": "bad name", "values": []}]}`),
			[]string{
				msg("bad name", "filters.1.member.name", `Member must satisfy regular expression pattern: [a-zA-Z0-9_\-]*`),
				msg("[]", "filters.1.member.values", "Member must have length greater than or equal to 1"),
			}},
		{"filters object", "ListDeploymentJobs", decode(t, `{"filters": {"name": "status"}}`),
			[]string{msg(`{"name":"status"}`, "filters", "Member must be a list")}},

		// URI and query string members.
		{"untag ok []string", "UntagResource", map[string]any{"resourceArn": arn, "tagKeys": []string{"a"}}, nil},
		{"untag empty list allowed", "UntagResource", map[string]any{"resourceArn": arn, "tagKeys": []any{}}, nil},
		{"untag missing", "UntagResource", map[string]any{}, []string{null("resourceArn"), null("tagKeys")}},
		{"untag keys", "UntagResource", map[string]any{"resourceArn": "bad", "tagKeys": []any{"ok", "", long(129), nil, json.Number("1")}},
			[]string{
				msg("bad", "resourceArn", "Member must satisfy regular expression pattern: arn:.*"),
				msg("", "tagKeys.2.member", "Member must have length greater than or equal to 1"),
				msg(long(129), "tagKeys.3.member", "Member must have length less than or equal to 128"),
				null("tagKeys.4.member"),
				msg("1", "tagKeys.5.member", "Member must be a string"),
			}},
		{"untag keys not a list", "UntagResource", map[string]any{"resourceArn": arn, "tagKeys": "a"},
			[]string{msg("a", "tagKeys", "Member must be a list")}},

		// Maps.
		{"tags key too long", "TagResource", map[string]any{"resourceArn": arn, "tags": map[string]any{long(129): "v"}},
			[]string{msg(long(129), "tags", "Map keys must satisfy constraint: [Member must have length less than or equal to 128]")}},
		{"tags key empty and bad", "CreateFleet", map[string]any{"name": "f", "tags": map[string]any{"": "v", "a!": "v"}},
			[]string{
				msg("", "tags", "Map keys must satisfy constraint: [Member must have length greater than or equal to 1]"),
				msg("a!", "tags", "Map keys must satisfy constraint: ["+tagPattern+"]"),
			}},
		{"tags key long and bad", "CreateFleet", map[string]any{"name": "f", "tags": map[string]any{long(128) + "!": "v"}},
			[]string{msg(long(128)+"!", "tags", "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "+tagPattern+"]")}},
		{"tags value too long", "TagResource", map[string]any{"resourceArn": arn, "tags": map[string]any{"k": long(257)}},
			[]string{msg(long(256)+"...", "tags.k", "Member must have length less than or equal to 256")}},
		{"tags value 256 and empty ok", "TagResource", map[string]any{"resourceArn": arn, "tags": map[string]any{"k": long(256), "e": ""}}, nil},
		{"tags value bad", "TagResource", map[string]any{"resourceArn": arn, "tags": map[string]any{"k": "a;b", "n": json.Number("5"), "z": nil}},
			[]string{
				msg("a;b", "tags.k", tagPattern),
				msg("5", "tags.n", "Member must be a string"),
				null("tags.z"),
			}},
		{"tags 50 ok", "TagResource", map[string]any{"resourceArn": arn, "tags": func() map[string]any {
			m := map[string]any{}
			for i := 0; i < 50; i++ {
				m[fmt.Sprint("k", i)] = "v"
			}
			return m
		}()}, nil},
		{"tags 51", "TagResource", map[string]any{"resourceArn": arn, "tags": manyTags},
			[]string{msg(shorten(jsonOf(manyTags)), "tags", "Member must have length less than or equal to 50")}},
		{"tags map[string]string", "CreateFleet", map[string]any{"name": "f", "tags": map[string]string{"k": long(257)}},
			[]string{msg(long(256)+"...", "tags.k", "Member must have length less than or equal to 256")}},
		{"tags not a map", "CreateFleet", decode(t, `{"name": "f", "tags": [["k", "v"]]}`),
			[]string{msg(`[["k","v"]]`, "tags", "Member must be a map")}},
		{"env too many", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentApplicationConfigs", 0, "launchConfig")["environmentVariables"] = manyEnv
		}), []string{msg(shorten(jsonOf(manyEnv)), "deploymentApplicationConfigs.1.member.launchConfig.environmentVariables", "Member must have length less than or equal to 20")}},
		{"env bad key and value", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentApplicationConfigs", 0, "launchConfig")["environmentVariables"] = map[string]any{"bad-key": "v", "GOOD": ""}
		}), []string{
			msg("", "deploymentApplicationConfigs.1.member.launchConfig.environmentVariables.GOOD", "Member must have length greater than or equal to 1"),
			msg("bad-key", "deploymentApplicationConfigs.1.member.launchConfig.environmentVariables", "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [A-Z_][A-Z0-9_]*]"),
		}},

		// Structures.
		{"structure expected", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			in["deploymentConfig"] = "fast"
		}), []string{msg("fast", "deploymentConfig", "Member must be a structure")}},
		{"nested structure required and length", "CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
			dig(in, "deploymentConfig")["downloadConditionFile"] = map[string]any{"bucket": "AB", "etag": 7}
		}), []string{
			msg("AB", "deploymentConfig.downloadConditionFile.bucket", "Member must have length greater than or equal to 3"),
			msg("AB", "deploymentConfig.downloadConditionFile.bucket", `Member must satisfy regular expression pattern: [a-z0-9][a-z0-9.\-]*[a-z0-9]`),
			null("deploymentConfig.downloadConditionFile.key"),
			msg("7", "deploymentConfig.downloadConditionFile.etag", "Member must be a string"),
		}},
		{"string expected got object", "CreateFleet", decode(t, `{"name": {"first": "a"}}`),
			[]string{msg(`{"first":"a"}`, "name", "Member must be a string")}},
		{"string expected got bool", "CreateFleet", decode(t, `{"name": false}`),
			[]string{msg("false", "name", "Member must be a string")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messages(t, tt.op, tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate(%s):\n got %q\nwant %q", tt.op, got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	err := Validate("CreateFleet", decode(t, `{"name": "bad name!"}`))
	want := `1 validation error detected: Value 'bad name!' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_\-]*`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}

	err = Validate("CreateDeploymentJob", deploymentJob(t, func(in map[string]any) {
		dig(in, "deploymentConfig")["concurrentDeploymentPercentage"] = json.Number("101")
		delete(in, "fleet")
	}))
	want = "2 validation errors detected: " +
		"Value '101' at 'deploymentConfig.concurrentDeploymentPercentage' failed to satisfy constraint: Member must have value less than or equal to 100; " +
		"Value null at 'fleet' failed to satisfy constraint: Member must not be null"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}

	err = Validate("CreateRobot", decode(t, `{"architecture": "X"}`))
	want = "3 validation errors detected: " +
		"Value null at 'name' failed to satisfy constraint: Member must not be null; " +
		"Value 'X' at 'architecture' failed to satisfy constraint: Member must satisfy enum value set: [X86_64, ARM64, ARMHF]; " +
		"Value null at 'greengrassGroupId' failed to satisfy constraint: Member must not be null"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}

	if got := (&ValidationError{}).Error(); got != "0 validation errors detected: " {
		t.Errorf("empty ValidationError = %q", got)
	}
}

func TestValidateDeterministic(t *testing.T) {
	body := func() map[string]any {
		tags := map[string]any{}
		for i := 0; i < 60; i++ {
			tags[fmt.Sprintf("bad key %d!", i)] = strings.Repeat("v", 300)
		}
		return map[string]any{"name": "bad name", "tags": tags}
	}
	first := Validate("CreateFleet", body()).Error()
	for i := 0; i < 20; i++ {
		if got := Validate("CreateFleet", body()).Error(); got != first {
			t.Fatal("Validate is not deterministic")
		}
	}
	var ve *ValidationError
	errors.As(Validate("CreateFleet", body()), &ve)
	if n := len(ve.Violations); n != 1+1+60*2 {
		t.Errorf("%d violations, want %d", n, 1+1+60*2)
	}
	if !strings.HasPrefix(ve.Error(), "122 validation errors detected: ") {
		t.Errorf("error starts %q", ve.Error()[:40])
	}
}

func TestValidateUnknownOperation(t *testing.T) {
	err := Validate("CreateSimulationJob", map[string]any{})
	if !errors.Is(err, ErrUnknownOperation) {
		t.Errorf("Validate(unknown) = %v, want ErrUnknownOperation", err)
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		t.Error("unknown operation reported as a ValidationError")
	}
	if err := Validate("ListRobots", nil); err != nil {
		t.Errorf("Validate(ListRobots, nil) = %v", err)
	}
	if err := Validate("CreateFleet", nil); err == nil {
		t.Error("Validate(CreateFleet, nil) = nil, want name required")
	}
}

// TestScalarTypes covers shape types the operation inputs of this model do
// not use (float, boolean, timestamp, blob) on hand-made and output shapes.
func TestScalarTypes(t *testing.T) {
	m := loaded()
	floatShape := m.shapes["PercentDone"] // float, 0.0..100.0
	ts := m.shapes["CreatedAt"]
	boolean := &shape{name: "B", typ: "boolean"}
	blob := &shape{name: "Blob", typ: "blob", max: &bound{text: "2", i: 2, isInt: true, f: 2}}
	tests := []struct {
		s    *shape
		v    any
		want []string
	}{
		{floatShape, json.Number("99.5"), nil},
		{floatShape, json.Number("100"), nil},
		{floatShape, json.Number("100.5"), []string{msg("100.5", "p", "Member must have value less than or equal to 100.0")}},
		{floatShape, json.Number("-1"), []string{msg("-1", "p", "Member must have value greater than or equal to 0.0")}},
		{floatShape, json.Number("1e999"), []string{msg("1e999", "p", "Member must be a number")}},
		{floatShape, "1", []string{msg("1", "p", "Member must be a number")}},
		{floatShape, 3, nil},
		{ts, json.Number("1700000000.5"), nil},
		{ts, "2024-01-02T03:04:05Z", nil},
		{ts, time.Now(), nil},
		{ts, "yesterday", []string{msg("yesterday", "p", "Member must be a timestamp")}},
		{ts, true, []string{msg("true", "p", "Member must be a timestamp")}},
		{boolean, true, nil},
		{boolean, "true", []string{msg("true", "p", "Member must be a boolean")}},
		{boolean, json.Number("1"), []string{msg("1", "p", "Member must be a boolean")}},
		{blob, "AAA=", nil},
		{blob, "AAAA", []string{msg("AAAA", "p", "Member must have length less than or equal to 2")}},
		{blob, "!!", []string{msg("!!", "p", "Member must be a blob")}},
		{blob, 5, []string{msg("5", "p", "Member must be a blob")}},
	}
	for _, tt := range tests {
		var c checker
		c.value(tt.s, "p", tt.v)
		var got []string
		for _, v := range c.violations {
			got = append(got, v.Message)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %#v:\n got %q\nwant %q", tt.s.name, tt.v, got, tt.want)
		}
	}
}

func TestDisplay(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"plain", "plain"},
		{json.Number("1.50"), "1.50"},
		{true, "true"},
		{[]any{"a", json.Number("1"), nil, map[string]any{"z": 1, "a": "<&>"}}, `["a",1,null,{"a":"<&>","z":1}]`},
		{[]string{"x"}, `["x"]`},
		{map[string]string{"k": "v"}, `{"k":"v"}`},
		{2.5, "2.5"},
		{int64(-3), "-3"},
		{strings.Repeat("é", 256), strings.Repeat("é", 256)},
		{strings.Repeat("é", 257), strings.Repeat("é", 256) + "..."},
		{[]any{strings.Repeat("x", 10000)}, `["` + strings.Repeat("x", 254) + "..."},
	}
	for _, tt := range tests {
		if got := display(tt.v); got != tt.want {
			t.Errorf("display(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
	// Huge values are not rendered in full.
	big := make([]any, 100000)
	for i := range big {
		big[i] = map[string]any{"k": strings.Repeat("v", 100)}
	}
	if got := display(big); len(got) > 4*maxShown+8 || !strings.HasSuffix(got, "...") {
		t.Errorf("display(big) has %d bytes", len(got))
	}
}

func FuzzValidate(f *testing.F) {
	seeds := []string{
		`{}`,
		`{"name": "x", "tags": {"a": "b"}}`,
		`{"name": null, "tags": {"": null}}`,
		`{"maxResults": 1e400, "filters": [{"name": [], "values": [1, null, {}]}]}`,
		`{"resourceArn": 5, "tagKeys": [null, "", "a"], "tags": []}`,
		`{"clientRequestToken": "t", "fleet": "arn:x", "deploymentConfig": {"concurrentDeploymentPercentage": -1, "robotDeploymentTimeoutInSeconds": "x", "downloadConditionFile": []}, "deploymentApplicationConfigs": [{"launchConfig": {"environmentVariables": {"A": 1, "b": null}}}, 7]}`,
		`{"robotSoftwareSuite": {"name": "ROS", "version": 3}, "sources": [{"s3Bucket": "ab", "architecture": null}], "environment": "e"}`,
		`{"applicationVersion": "$LATEST", "versionQualifier": "ALL", "imageDigest": "sha256:", "s3Etags": [[]]}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	ops := Operations()
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		var in map[string]any
		if err := dec.Decode(&in); err != nil {
			return
		}
		for _, op := range ops {
			err := Validate(op.Name, in)
			if err == nil {
				continue
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Violations) == 0 {
				t.Fatalf("%s: unexpected error %T %v", op.Name, err, err)
			}
			for _, v := range ve.Violations {
				if !strings.HasPrefix(v.Message, "Value ") || !strings.Contains(v.Message, " at '"+v.Path+"' failed to satisfy constraint: ") {
					t.Fatalf("%s: malformed message %q", op.Name, v.Message)
				}
			}
			if again := Validate(op.Name, in); again.Error() != err.Error() {
				t.Fatalf("%s: not deterministic", op.Name)
			}
		}
	})
}
