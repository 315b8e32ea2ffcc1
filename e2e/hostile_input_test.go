package e2e

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
)

// TestStrictStrings: invalid UTF-8, lone surrogate escapes and NUL in
// strings the model's patterns let through (s3Key, environment variable
// values, URI members) get a 400 naming the member, instead of being stored
// as U+FFFD or accepted then answered 503 (NUL in s3Key) or dropped by the
// agent (NUL in an environment value).
func TestStrictStrings(t *testing.T) {
	s := startAPI(t)
	f := fixture{s, quiet(s.Client())}
	makeBucket(t, s, "apps")
	app := `{"name":"%s","robotSoftwareSuite":{"name":"General"},"sources":[{"s3Bucket":"apps","architecture":"X86_64","s3Key":"KEY"}]}`
	for _, key := range []string{"a\xffb.tar", `a\ud800b.tar`, `a\udc00.tar`, `a\u0000b.tar`} {
		body := strings.Replace(strings.Replace(app, "%s", uniq("strict"), 1), "KEY", key, 1)
		w := signedDo(t, s, "POST", "/createRobotApplication", []byte(body))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		if !strings.Contains(string(w.Body), "sources.1.member.s3Key") {
			t.Errorf("s3Key %q: %s; want a message naming sources.1.member.s3Key", key, w.Body)
		}
	}
	// A genuine U+FFFD, sent as valid UTF-8, is kept as sent.
	body := strings.Replace(strings.Replace(app, "%s", uniq("strict"), 1), "KEY", "a\ufffdb.tar", 1)
	if w := signedDo(t, s, "POST", "/createRobotApplication", []byte(body)); w.Status != 200 || !strings.Contains(string(w.Body), "a\ufffdb.tar") {
		t.Errorf("s3Key with a real U+FFFD: %d %s", w.Status, w.Body)
	}

	fl := f.fleet(t, uniq("strict"))
	a := f.app(t, uniq("strict"))
	_, err := f.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: a.Arn})
	must(t, err)
	job := `{"fleet":"` + aws.StringValue(fl.Arn) + `","clientRequestToken":"` + uniq("tok") + `","deploymentApplicationConfigs":[{"application":"` +
		aws.StringValue(a.Arn) + `","applicationVersion":"1","launchConfig":{"packageName":"p","launchFile":"f","environmentVariables":{"V":"VALUE"}}}]}`
	for _, v := range []string{`x\u0000y`, "x\xc3", `\udbff`} {
		w := signedDo(t, s, "POST", "/createDeploymentJob", []byte(strings.Replace(job, "VALUE", v, 1)))
		checkErrorEnvelope(t, w, "InvalidParameterException")
		if !strings.Contains(string(w.Body), "launchConfig.environmentVariables.V") {
			t.Errorf("environment value %q: %s; want a message naming it", v, w.Body)
		}
	}
	// URI members are checked too: a resourceArn with an invalid byte.
	w := signedDo(t, s, "GET", "/tags/"+escapeARN(aws.StringValue(fl.Arn)+"\xff"), nil)
	checkErrorEnvelope(t, w, "InvalidParameterException")
}
