package model

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// decodeLikeAPI decodes a body as the API does (UseNumber).
func decodeLikeAPI(t *testing.T, body []byte) map[string]any {
	t.Helper()
	in := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return in
}

// TestStrictStrings: invalid UTF-8, a lone surrogate escape and NUL are
// refused in strings whose model pattern lets them through (s3Key is ".*"),
// naming the member; a genuine U+FFFD in a clean body is kept.
func TestStrictStrings(t *testing.T) {
	const pre = `{"name":"app","robotSoftwareSuite":{"name":"General"},"sources":[{"s3Bucket":"bkt","architecture":"X86_64","s3Key":"`
	for _, tc := range []struct {
		key, want string
	}{
		{"a\xffb", notUTF8},
		{`a\ud800b`, notUTF8},
		{`a\udc00b`, notUTF8},
		{`a\ud800\u0041`, notUTF8},
		{`a\u0000b`, hasNUL},
	} {
		body := []byte(pre + tc.key + `"}]}`)
		err := ValidateBody("CreateRobotApplication", decodeLikeAPI(t, body), body)
		if err == nil || !strings.Contains(err.Error(), "at 'sources.1.member.s3Key' failed to satisfy constraint: "+tc.want) {
			t.Errorf("s3Key %q: %v, want %q at sources.1.member.s3Key", tc.key, err, tc.want)
		}
	}
	for _, key := range []string{`a\ud83d\ude00b`, "a\ufffdb", `a\ufffdb`, `a\\ud800b`} {
		body := []byte(pre + key + `"}]}`)
		if err := ValidateBody("CreateRobotApplication", decodeLikeAPI(t, body), body); err != nil {
			t.Errorf("s3Key %q (valid): %v", key, err)
		}
	}
	// Environment variable values; URI members added after decoding.
	env := []byte(`{"fleet":"arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/f/1","clientRequestToken":"t",` +
		`"deploymentApplicationConfigs":[{"application":"arn:aws:robomaker:us-east-1:123456789012:robot-application/a/1","applicationVersion":"1",` +
		`"launchConfig":{"packageName":"p","launchFile":"f","environmentVariables":{"V":"x\u0000y"}}}]}`)
	if err := ValidateBody("CreateDeploymentJob", decodeLikeAPI(t, env), env); err == nil ||
		!strings.Contains(err.Error(), "launchConfig.environmentVariables.V' failed to satisfy constraint: "+hasNUL) {
		t.Errorf("env value with NUL: %v", err)
	}
	in := map[string]any{"resourceArn": "arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/f\xff/1", "tagKeys": []any{"k"}}
	if err := Validate("UntagResource", in); err == nil {
		t.Errorf("resourceArn with an invalid byte accepted")
	}
}

func TestHasLoneSurrogate(t *testing.T) {
	for b, want := range map[string]bool{
		`"\ud800"`: true, `"\udfff"`: true, `"\ud800\u0041"`: true, `"\ud800x"`: true, `"\uD83D\uDE00"`: false,
		`"\\ud800"`: false, `"\u0041"`: false, `"ud800"`: false, `{"\ud800":1}`: true, `"\ud800\"`: true,
	} {
		if got := HasLoneSurrogate([]byte(b)); got != want {
			t.Errorf("HasLoneSurrogate(%s) = %v, want %v", b, got, want)
		}
	}
}
