// Shared helpers of the API conformance suite (the api_*_test.go files):
// starting a server, minting accounts and bundle objects, checking ARNs and
// timestamps, asserting AWS errors, capturing what the SDK received on the
// wire, and signing raw HTTP requests with the SDK's own SigV4 signer.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	v4 "github.com/aws/aws-sdk-go/aws/signer/v4"
	"github.com/aws/aws-sdk-go/private/protocol/rest"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// ARN shapes of SPEC §3, anchored; the groups are account, name and the
// 13-digit millisecond creation epoch.
var (
	fleetARNRe = regexp.MustCompile(`^arn:aws:robomaker:us-east-1:(\d{12}):deployment-fleet/([a-zA-Z0-9_\-]{1,255})/(\d{13})$`)
	robotARNRe = regexp.MustCompile(`^arn:aws:robomaker:us-east-1:(\d{12}):robot/([a-zA-Z0-9_\-]{1,255})/(\d{13})$`)
	appARNRe   = regexp.MustCompile(`^arn:aws:robomaker:us-east-1:(\d{12}):robot-application/([a-zA-Z0-9_\-]{1,255})/(\d{13})$`)
	uuidRe     = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	revisionRe = regexp.MustCompile(`^[a-zA-Z0-9_.\-]{1,40}$`)
)

// startAPI starts a fleetsyncd for the conformance suite. The per-credential
// rate limit is raised so that bursts of requests never see throttling,
// except in the test that asks for it with its own flags.
func startAPI(t *testing.T, args ...string) *testenv.Server {
	t.Helper()
	if len(args) == 0 {
		args = []string{"--rate-limit", "100000", "--rate-burst", "100000"}
	}
	return testenv.Start(t, testenv.Options{Args: args})
}

// quiet silences the SDK's "This operation, X, has been deprecated" log
// lines (the model marks the fleet and robot operations deprecated).
func quiet(c *robomaker.RoboMaker) *robomaker.RoboMaker {
	c.Config.Logger = aws.LoggerFunc(func(...any) {})
	return c
}

var nameSeq atomic.Int64

// uniq returns a fresh resource name with the given prefix.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, nameSeq.Add(1))
}

// checkARN asserts that arn has the shape re for account and name and
// returns its embedded millisecond epoch.
func checkARN(t *testing.T, re *regexp.Regexp, arn, account, name string) int64 {
	t.Helper()
	m := re.FindStringSubmatch(arn)
	if m == nil {
		t.Fatalf("ARN %q does not match %s", arn, re)
	}
	if m[1] != account || m[2] != name {
		t.Errorf("ARN %q: account %s, name %s; want %s, %s", arn, m[1], m[2], account, name)
	}
	ms, _ := strconv.ParseInt(m[3], 10, 64)
	if d := time.Since(time.UnixMilli(ms)); d < -time.Minute || d > 10*time.Minute {
		t.Errorf("ARN %q: creation epoch %v is not about now", arn, time.UnixMilli(ms))
	}
	return ms
}

// arnMillis returns the millisecond epoch embedded in a named resource's ARN.
func arnMillis(t *testing.T, arn string) int64 {
	t.Helper()
	i := strings.LastIndexByte(arn, '/')
	ms, err := strconv.ParseInt(arn[i+1:], 10, 64)
	if err != nil {
		t.Fatalf("ARN %q has no millisecond epoch", arn)
	}
	return ms
}

// checkTime asserts that a timestamp the SDK parsed is exactly ms
// milliseconds since the epoch (createdAt == ARN millis / 1000).
func checkTime(t *testing.T, what string, got *time.Time, ms int64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s is missing, want %v", what, time.UnixMilli(ms))
		return
	}
	// The SDK keeps milliseconds but may land a nanosecond short of them.
	if g := got.Round(time.Millisecond).UnixMilli(); g != ms {
		t.Errorf("%s = %d ms, want %d ms (the ARN's epoch)", what, g, ms)
	}
}

// checkNoTags asserts tags is {} on the wire: present and empty.
func checkNoTags(t *testing.T, what string, tags map[string]*string) {
	t.Helper()
	if tags == nil || len(tags) != 0 {
		t.Errorf("%s tags = %v, want {} (present and empty)", what, aws.StringValueMap(tags))
	}
}

// checkTags asserts tags equals want.
func checkTags(t *testing.T, what string, tags map[string]*string, want map[string]string) {
	t.Helper()
	got := aws.StringValueMap(tags)
	if tags == nil || len(got) != len(want) {
		t.Errorf("%s tags = %v, want %v", what, got, want)
		return
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s tags = %v, want %v", what, got, want)
			return
		}
	}
}

// statusOf is the HTTP status each AWS error code travels with.
func statusOf(code string) int {
	switch code {
	case "InvalidSignatureException", "UnrecognizedClientException", "MissingAuthenticationTokenException":
		return http.StatusForbidden
	case "InternalServerException":
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

// wantErr asserts err is the AWS error code with its model HTTP status and
// a message containing every substring.
func wantErr(t *testing.T, err error, code string, substrs ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("got success, want %s", code)
		return
	}
	var ae awserr.Error
	if !errors.As(err, &ae) {
		t.Errorf("got %T %v, want an awserr.Error %s", err, err, code)
		return
	}
	if ae.Code() != code {
		t.Errorf("got %s: %s; want %s", ae.Code(), ae.Message(), code)
		return
	}
	var rf awserr.RequestFailure
	if errors.As(err, &rf) && rf.StatusCode() != statusOf(code) {
		t.Errorf("%s came with HTTP %d, want %d", code, rf.StatusCode(), statusOf(code))
	}
	for _, s := range substrs {
		if !strings.Contains(ae.Message(), s) {
			t.Errorf("%s message %q does not contain %q", code, ae.Message(), s)
		}
	}
}

// must fails the test on an unexpected error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newAccount creates a credential in another account with the real binary
// (the server keeps running; SQLite WAL allows it).
func newAccount(t *testing.T, s *testenv.Server, account string) (keyID, secret string) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, "fleetsyncd"), append([]string{"credentials", "create", "--account", account, "--data-dir", s.DataDir}, s.DatabaseArgs()...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("credentials create: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("credentials create printed no export line:\n%s", out)
	}
	return string(m[1]), string(m[2])
}

// makeBucket creates bucket in the server's file bundle store.
func makeBucket(t *testing.T, s *testenv.Server, bucket string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(s.BundleDir, bucket), 0o755))
}

// putObject writes s3://bucket/key and returns the ETag S3 would give it.
func putObject(t *testing.T, s *testenv.Server, bucket, key string, content []byte) string {
	t.Helper()
	p := filepath.Join(s.BundleDir, bucket, filepath.FromSlash(key))
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, content, 0o644))
	sum := md5.Sum(content)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// wireResponse is one HTTP response as it arrived.
type wireResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// recorder keeps the last response a client received, body included.
type recorder struct {
	mu   sync.Mutex
	last wireResponse
}

// record makes c keep a copy of every response it receives.
func record(c *robomaker.RoboMaker) *recorder {
	rec := &recorder{}
	c.Handlers.Send.PushBack(func(r *request.Request) {
		if r.HTTPResponse == nil {
			return
		}
		b, err := io.ReadAll(r.HTTPResponse.Body)
		r.HTTPResponse.Body.Close()
		if err != nil {
			r.Error = err
		}
		r.HTTPResponse.Body = io.NopCloser(bytes.NewReader(b))
		rec.mu.Lock()
		rec.last = wireResponse{r.HTTPResponse.StatusCode, r.HTTPResponse.Header.Clone(), b}
		rec.mu.Unlock()
	})
	return rec
}

// Last returns the last response received.
func (r *recorder) Last() wireResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// checkErrorEnvelope asserts the error form of SPEC §3: the status, the
// x-amzn-ErrorType header and a {"__type","message"} JSON body with the same
// code, plus a request id.
func checkErrorEnvelope(t *testing.T, w wireResponse, code string) {
	t.Helper()
	if w.Status != statusOf(code) {
		t.Errorf("HTTP status %d, want %d", w.Status, statusOf(code))
	}
	if got := w.Header.Get("x-amzn-ErrorType"); got != code {
		t.Errorf("x-amzn-ErrorType = %q, want %q", got, code)
	}
	if ct := w.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q, want application/json", ct)
	}
	if id := w.Header.Get("x-amzn-RequestId"); !uuidRe.MatchString(id) {
		t.Errorf("x-amzn-RequestId = %q, want a UUID", id)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body, &body); err != nil {
		t.Fatalf("error body %q is not JSON: %v", w.Body, err)
	}
	if body["__type"] != code {
		t.Errorf("error body __type = %v, want %s (body %s)", body["__type"], code, w.Body)
	}
	if msg, _ := body["message"].(string); msg == "" {
		t.Errorf("error body has no message: %s", w.Body)
	}
	if len(body) != 2 {
		t.Errorf("error body has members other than __type and message: %s", w.Body)
	}
}

// escapeARN percent-encodes an ARN into one path segment exactly as the SDK
// does for the {resourceArn} label.
func escapeARN(arn string) string { return rest.EscapePath(arn, true) }

// rawRequest builds a request to the server; path is already escaped.
func rawRequest(t *testing.T, s *testenv.Server, method, path string, body []byte) *http.Request {
	t.Helper()
	u, err := url.Parse(s.URL + path)
	must(t, err)
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	must(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// signRaw signs req with the SDK's SigV4 signer as the given credential,
// for region, at signTime.
func signRaw(t *testing.T, req *http.Request, body []byte, keyID, secret, region string, signTime time.Time) {
	t.Helper()
	signer := v4.NewSigner(credentials.NewStaticCredentials(keyID, secret, ""))
	var rs io.ReadSeeker
	if body != nil {
		rs = bytes.NewReader(body)
	}
	_, err := signer.Sign(req, rs, "robomaker", region, signTime)
	must(t, err)
}

// do sends req and reads the whole response.
func do(t *testing.T, req *http.Request) wireResponse {
	t.Helper()
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return wireResponse{resp.StatusCode, resp.Header, b}
}

// signedDo signs a request with the bootstrap credential, now, and sends it.
func signedDo(t *testing.T, s *testenv.Server, method, path string, body []byte) wireResponse {
	t.Helper()
	req := rawRequest(t, s, method, path, body)
	signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now())
	return do(t, req)
}

// decodeNumbers decodes a JSON object keeping numbers as json.Number.
func decodeNumbers(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", b, err)
	}
	return m
}

// epochMillis converts a JSON number of epoch seconds (with an optional
// millisecond fraction) to milliseconds without floating-point rounding.
func epochMillis(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("timestamp %v (%T) is not a JSON number", v, v)
	}
	whole, frac, _ := strings.Cut(n.String(), ".")
	if len(frac) > 3 {
		t.Fatalf("timestamp %s has more than millisecond precision", n)
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	must(t, err)
	ms := int64(0)
	if frac != "" {
		ms, err = strconv.ParseInt((frac + "00")[:3], 10, 64)
		must(t, err)
	}
	return sec*1000 + ms
}

// fixture creates the resources most tests need on one server and client;
// each method takes the calling (sub)test, which it fails on error.
type fixture struct {
	s *testenv.Server
	c *robomaker.RoboMaker
}

func (f fixture) fleet(t *testing.T, name string) *robomaker.CreateFleetOutput {
	t.Helper()
	out, err := f.c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(name)})
	must(t, err)
	return out
}

func (f fixture) robot(t *testing.T, name string) *robomaker.CreateRobotOutput {
	t.Helper()
	out, err := f.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(name),
		Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String("agent-" + name)})
	must(t, err)
	return out
}

// app creates an application with one X86_64 source whose object exists.
func (f fixture) app(t *testing.T, name string) *robomaker.CreateRobotApplicationOutput {
	t.Helper()
	makeBucket(t, f.s, "apps")
	putObject(t, f.s, "apps", name+"/x86.tar", []byte("bundle of "+name))
	out, err := f.c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
		Name:               aws.String(name),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("apps"), S3Key: aws.String(name + "/x86.tar"),
			Architecture: aws.String("X86_64")}},
	})
	must(t, err)
	return out
}
