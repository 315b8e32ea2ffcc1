package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/awsutil"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// ---------------------------------------------------------------------------
// helpers

// opResult is a call's value and error: opTry(c.Op(...)).must(t) is the
// value, or the test fails.
type opResult[T any] struct {
	v   T
	err error
}

func opTry[T any](v T, err error) opResult[T] { return opResult[T]{v, err} }

func (r opResult[T]) must(t testing.TB) T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.v
}

// opWaitFor polls cond until it holds or timeout passes.
func opWaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// opErrCode is the AWS error code of err ("" if none).
func opErrCode(err error) string {
	var ae awserr.Error
	if errors.As(err, &ae) {
		return ae.Code()
	}
	return ""
}

// opMakeTarGz builds a real gzip-compressed tar of the given files, all
// executable.
func opMakeTarGz(t testing.TB, files map[string]string) []byte {
	t.Helper()
	entries := make(map[string]bundleFile, len(files))
	for n, body := range files {
		entries[n] = bundleFile{body: body, mode: 0o755}
	}
	return tarGz(t, entries)
}

// opWriteBundle writes content as object s3://BUCKET/KEY of the server's file
// bundle store and returns the ETag S3 would give it.
func opWriteBundle(t testing.TB, s *testenv.Server, bucket, key string, content []byte) string {
	t.Helper()
	p := filepath.Join(s.BundleDir, bucket, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(content)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

// opHermeticEnv is the test process's environment without any FLEETSYNC_*
// setting, plus extra.
func opHermeticEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FLEETSYNC_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// opBootstrapEnv is the bootstrap credential as testenv gives it.
func opBootstrapEnv() []string {
	return []string{
		"FLEETSYNC_BOOTSTRAP_ACCESS_KEY_ID=" + testenv.KeyID,
		"FLEETSYNC_BOOTSTRAP_SECRET_ACCESS_KEY=" + testenv.Secret,
		"FLEETSYNC_BOOTSTRAP_ACCOUNT=" + testenv.Account,
	}
}

// opRunFleetsyncd runs fleetsyncd to completion (at most 30 s) with a hermetic
// environment plus env, and returns its output and exit status.
func opRunFleetsyncd(t testing.TB, env []string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Binary(t, "fleetsyncd"), args...)
	cmd.Env = opHermeticEnv(env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("fleetsyncd %s: still running after 30s (killed)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), out.String(), errb.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		exit = ee.ExitCode()
	default:
		t.Fatalf("fleetsyncd %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), exit
}

// opCredentialsCmd runs `fleetsyncd credentials ARGS --data-dir DIR`.
func opCredentialsCmd(t testing.TB, dataDir string, args ...string) (stdout, stderr string, exit int) {
	t.Helper()
	full := append([]string{"credentials"}, args[0], "--data-dir", dataDir)
	return opRunFleetsyncd(t, nil, append(full, args[1:]...)...)
}

// opStartFleetsyncd starts fleetsyncd in dir with a hermetic environment plus
// env, through testenv's launcher (args or env say where it listens; port 0
// is read back from its address file), and waits until it is ready; it is
// killed when the test ends.
func opStartFleetsyncd(t testing.TB, dir string, env []string, args ...string) *testenv.Process {
	t.Helper()
	p, err := testenv.Launch(testenv.LaunchOptions{Binary: testenv.Binary(t, "fleetsyncd"), Args: args,
		Env: opHermeticEnv(env...), Dir: dir, ListenFromEnv: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("fleetsyncd stderr:\n%s", p.Stderr())
		}
	})
	return p
}

// opTerminate sends SIGTERM and expects exit status 0 within timeout.
func opTerminate(t testing.TB, p *testenv.Process, timeout time.Duration) {
	t.Helper()
	if err := p.Terminate(timeout); err != nil {
		t.Errorf("after SIGTERM: %v:\n%s", err, p.Stderr())
	}
}

// opClientAt is a RoboMaker client for an endpoint and region.
func opClientAt(url, region, keyID, secret string) *robomaker.RoboMaker {
	return opQuiet(robomaker.New(session.Must(session.NewSession(&aws.Config{
		Endpoint:    aws.String(url),
		Region:      aws.String(region),
		Credentials: credentials.NewStaticCredentials(keyID, secret, ""),
		MaxRetries:  aws.Int(0),
		HTTPClient:  &http.Client{Timeout: 60 * time.Second},
	}))))
}

// opQuiet drops the SDK's "This operation, X, has been deprecated" log
// lines (the model marks the fleet and robot operations deprecated).
func opQuiet(c *robomaker.RoboMaker) *robomaker.RoboMaker {
	c.Config.Logger = aws.LoggerFunc(func(...any) {})
	return c
}

// opServerPID finds the pid of the fleetsyncd testenv runs on dataDir.
func opServerPID(t testing.TB, dataDir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := "\x00--data-dir\x00" + dataDir + "\x00"
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		argv0, _, _ := strings.Cut(string(cmdline), "\x00")
		if filepath.Base(argv0) == "fleetsyncd" && strings.Contains(string(cmdline), want) {
			return pid
		}
	}
	t.Fatalf("no fleetsyncd process with --data-dir %s", dataDir)
	return 0
}

// opHasOpen reports whether process pid has path open.
func opHasOpen(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

var opExportLine = regexp.MustCompile(`(?m)^export AWS_ACCESS_KEY_ID=(\S+) AWS_SECRET_ACCESS_KEY=(\S+)$`)

// opParseExport returns the one credential printed as an export line.
func opParseExport(t testing.TB, out string) (keyID, secret string) {
	t.Helper()
	m := opExportLine.FindAllStringSubmatch(out, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one `export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…` line, got %d in:\n%s", len(m), out)
	}
	return m[0][1], m[0][2]
}

// ---------------------------------------------------------------------------
// restart after SIGKILL

// opSnapshot is every read the API offers on a set of resources, rendered.
type opSnapshot struct {
	keys   []string
	values map[string]string
}

func (s *opSnapshot) put(key string, v any) {
	s.keys = append(s.keys, key)
	s.values[key] = opRender(v)
}

// opRender renders an SDK value deterministically (map keys sorted, unlike
// awsutil.Prettify).
func opRender(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("unrenderable %T: %v", v, err)
	}
	return string(b)
}

func opTakeSnapshot(t *testing.T, ctx context.Context, c *robomaker.RoboMaker, fleets, robots []string, app string) *opSnapshot {
	t.Helper()
	s := &opSnapshot{values: map[string]string{}}
	for _, f := range fleets {
		s.put("DescribeFleet "+f, opTry(c.DescribeFleetWithContext(ctx, &robomaker.DescribeFleetInput{Fleet: aws.String(f)})).must(t))
		s.put("ListTagsForResource "+f, opTry(c.ListTagsForResourceWithContext(ctx, &robomaker.ListTagsForResourceInput{ResourceArn: aws.String(f)})).must(t))
	}
	for _, r := range robots {
		s.put("DescribeRobot "+r, opTry(c.DescribeRobotWithContext(ctx, &robomaker.DescribeRobotInput{Robot: aws.String(r)})).must(t))
		s.put("ListTagsForResource "+r, opTry(c.ListTagsForResourceWithContext(ctx, &robomaker.ListTagsForResourceInput{ResourceArn: aws.String(r)})).must(t))
	}
	s.put("DescribeRobotApplication $LATEST", opTry(c.DescribeRobotApplicationWithContext(ctx, &robomaker.DescribeRobotApplicationInput{Application: aws.String(app)})).must(t))
	for _, v := range []string{"1", "2"} {
		s.put("DescribeRobotApplication "+v, opTry(c.DescribeRobotApplicationWithContext(ctx, &robomaker.DescribeRobotApplicationInput{Application: aws.String(app), ApplicationVersion: aws.String(v)})).must(t))
	}
	s.put("ListTagsForResource "+app, opTry(c.ListTagsForResourceWithContext(ctx, &robomaker.ListTagsForResourceInput{ResourceArn: aws.String(app)})).must(t))

	// Lists, two per page so the cursors are exercised.
	var fl []*robomaker.Fleet
	if err := c.ListFleetsPagesWithContext(ctx, &robomaker.ListFleetsInput{MaxResults: aws.Int64(2)}, func(p *robomaker.ListFleetsOutput, _ bool) bool {
		fl = append(fl, p.FleetDetails...)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	s.put("ListFleets", fl)
	for _, filter := range []string{"", "kill-fleet-1"} {
		in := &robomaker.ListRobotsInput{MaxResults: aws.Int64(2)}
		if filter != "" {
			in.Filters = []*robomaker.Filter{{Name: aws.String("fleetName"), Values: aws.StringSlice([]string{filter})}}
		}
		var rl []*robomaker.Robot
		if err := c.ListRobotsPagesWithContext(ctx, in, func(p *robomaker.ListRobotsOutput, _ bool) bool {
			rl = append(rl, p.Robots...)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		s.put("ListRobots fleetName="+filter, rl)
	}
	for _, q := range []string{"", "ALL"} {
		in := &robomaker.ListRobotApplicationsInput{MaxResults: aws.Int64(2)}
		if q != "" {
			in.VersionQualifier = aws.String(q)
		}
		var al []*robomaker.RobotApplicationSummary
		if err := c.ListRobotApplicationsPagesWithContext(ctx, in, func(p *robomaker.ListRobotApplicationsOutput, _ bool) bool {
			al = append(al, p.RobotApplicationSummaries...)
			return true
		}); err != nil {
			t.Fatal(err)
		}
		s.put("ListRobotApplications versionQualifier="+q, al)
	}
	return s
}

func TestRestartAfterSIGKILL(t *testing.T) {
	s := testenv.Start(t, testenv.Options{Args: []string{"--rate-limit", "100000", "--rate-burst", "100000"}})
	ctx := testenv.Context(t)
	c := opQuiet(s.Client())

	// Fleets, robots (three registered, one not), an application with two
	// versions of two different bundles, tags set and removed.
	var fleets, robots []string
	for i := 1; i <= 3; i++ {
		in := &robomaker.CreateFleetInput{Name: aws.String(fmt.Sprintf("kill-fleet-%d", i))}
		if i == 1 {
			in.Tags = aws.StringMap(map[string]string{"env": "prod"})
		}
		fleets = append(fleets, aws.StringValue(opTry(c.CreateFleetWithContext(ctx, in)).must(t).Arn))
	}
	for i, arch := range []string{"X86_64", "ARM64", "ARMHF", "X86_64"} {
		out := opTry(c.CreateRobotWithContext(ctx, &robomaker.CreateRobotInput{
			Name: aws.String(fmt.Sprintf("kill-robot-%d", i+1)), Architecture: aws.String(arch),
			GreengrassGroupId: aws.String(fmt.Sprintf("kill-agent-%d", i+1)),
			Tags:              aws.StringMap(map[string]string{"slot": fmt.Sprint(i + 1)}),
		})).must(t)
		robots = append(robots, aws.StringValue(out.Arn))
	}
	for i, f := range []string{fleets[0], fleets[0], fleets[1]} {
		opTry(c.RegisterRobotWithContext(ctx, &robomaker.RegisterRobotInput{Fleet: aws.String(f), Robot: aws.String(robots[i])})).must(t)
	}
	etagA := opWriteBundle(t, s, "demo", "nav/app.tar.gz", opMakeTarGz(t, map[string]string{"run.sh": "#!/bin/sh\necho A\n"}))
	app := opTry(c.CreateRobotApplicationWithContext(ctx, &robomaker.CreateRobotApplicationInput{
		Name:               aws.String("kill-app"),
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("demo"), S3Key: aws.String("nav/app.tar.gz"), Architecture: aws.String("X86_64")}},
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("ROS2"), Version: aws.String("Foxy")},
		Tags:               aws.StringMap(map[string]string{"team": "nav"}),
	})).must(t)
	appARN := aws.StringValue(app.Arn)
	v1 := opTry(c.CreateRobotApplicationVersionWithContext(ctx, &robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})).must(t)
	etagB := opWriteBundle(t, s, "demo", "nav/app.tar.gz", opMakeTarGz(t, map[string]string{"run.sh": "#!/bin/sh\necho B\n"}))
	v2 := opTry(c.CreateRobotApplicationVersionWithContext(ctx, &robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})).must(t)
	if got := []string{aws.StringValue(v1.Version), aws.StringValue(v1.Sources[0].Etag), aws.StringValue(v2.Version), aws.StringValue(v2.Sources[0].Etag)}; !slices.Equal(got, []string{"1", etagA, "2", etagB}) {
		t.Fatalf("versions (number, etag) = %v, want [1 %s 2 %s]", got, etagA, etagB)
	}
	opTry(c.TagResourceWithContext(ctx, &robomaker.TagResourceInput{ResourceArn: aws.String(fleets[1]), Tags: aws.StringMap(map[string]string{"a": "1", "b": "2"})})).must(t)
	opTry(c.UntagResourceWithContext(ctx, &robomaker.UntagResourceInput{ResourceArn: aws.String(fleets[1]), TagKeys: aws.StringSlice([]string{"b"})})).must(t)
	opTry(c.TagResourceWithContext(ctx, &robomaker.TagResourceInput{ResourceArn: app.Arn, Tags: aws.StringMap(map[string]string{"stage": "beta"})})).must(t)

	before := opTakeSnapshot(t, ctx, c, fleets, robots, appARN)
	page1 := opTry(c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{MaxResults: aws.Int64(2)})).must(t)
	if page1.NextToken == nil {
		t.Fatal("ListFleets maxResults=2 over 3 fleets: no nextToken")
	}
	page2 := opTry(c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{MaxResults: aws.Int64(2), NextToken: page1.NextToken})).must(t)

	s.Kill()
	s.Restart()
	c = opQuiet(s.Client())

	t.Run("state identical", func(t *testing.T) {
		after := opTakeSnapshot(t, ctx, c, fleets, robots, appARN)
		if !slices.Equal(before.keys, after.keys) {
			t.Fatalf("opSnapshot keys differ:\n%v\n%v", before.keys, after.keys)
		}
		for _, k := range before.keys {
			if before.values[k] != after.values[k] {
				t.Errorf("%s before SIGKILL:\n%s\nafter restart:\n%s", k, before.values[k], after.values[k])
			}
		}
		// The content that matters, spelled out (an empty opSnapshot would
		// compare equal too).
		d := opTry(c.DescribeRobotWithContext(ctx, &robomaker.DescribeRobotInput{Robot: aws.String(robots[0])})).must(t)
		if aws.StringValue(d.Status) != "Registered" || aws.StringValue(d.FleetArn) != fleets[0] {
			t.Errorf("robot 1 after restart: status %q fleet %q, want Registered in %s", aws.StringValue(d.Status), aws.StringValue(d.FleetArn), fleets[0])
		}
		f := opTry(c.DescribeFleetWithContext(ctx, &robomaker.DescribeFleetInput{Fleet: aws.String(fleets[0])})).must(t)
		if len(f.Robots) != 2 || aws.StringValue(f.Tags["env"]) != "prod" {
			t.Errorf("fleet 1 after restart: %d robots, tags %v; want 2 robots and env=prod", len(f.Robots), aws.StringValueMap(f.Tags))
		}
		for _, v := range []struct{ version, etag string }{{"1", etagA}, {"2", etagB}} {
			a := opTry(c.DescribeRobotApplicationWithContext(ctx, &robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String(v.version)})).must(t)
			if got := aws.StringValue(a.Sources[0].Etag); got != v.etag {
				t.Errorf("version %s etag after restart = %s, want %s", v.version, got, v.etag)
			}
		}
		tags := opTry(c.ListTagsForResourceWithContext(ctx, &robomaker.ListTagsForResourceInput{ResourceArn: aws.String(fleets[1])})).must(t)
		if got := aws.StringValueMap(tags.Tags); len(got) != 1 || got["a"] != "1" {
			t.Errorf("fleet 2 tags after restart = %v, want map[a:1]", got)
		}
	})

	t.Run("nextToken from before the kill", func(t *testing.T) {
		got := opTry(c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{MaxResults: aws.Int64(2), NextToken: page1.NextToken})).must(t)
		if opRender(got) != opRender(page2) {
			t.Errorf("page 2 by the pre-kill nextToken:\n%s\nwant, as before the kill:\n%s", opRender(got), opRender(page2))
		}
	})

	t.Run("writes after restart", func(t *testing.T) {
		f4 := opTry(c.CreateFleetWithContext(ctx, &robomaker.CreateFleetInput{Name: aws.String("kill-fleet-4")})).must(t)
		opTry(c.RegisterRobotWithContext(ctx, &robomaker.RegisterRobotInput{Fleet: f4.Arn, Robot: aws.String(robots[3])})).must(t)
		if d := opTry(c.DescribeRobotWithContext(ctx, &robomaker.DescribeRobotInput{Robot: aws.String(robots[3])})).must(t); aws.StringValue(d.Status) != "Registered" || aws.StringValue(d.FleetArn) != aws.StringValue(f4.Arn) {
			t.Errorf("robot 4 after RegisterRobot: status %q fleet %q", aws.StringValue(d.Status), aws.StringValue(d.FleetArn))
		}
		var names []string
		if err := c.ListFleetsPagesWithContext(ctx, &robomaker.ListFleetsInput{}, func(p *robomaker.ListFleetsOutput, _ bool) bool {
			for _, f := range p.FleetDetails {
				names = append(names, aws.StringValue(f.Name))
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"kill-fleet-1", "kill-fleet-2", "kill-fleet-3", "kill-fleet-4"}; !slices.Equal(names, want) {
			t.Errorf("ListFleets after restart = %v, want %v", names, want)
		}
		v3 := opTry(c.CreateRobotApplicationVersionWithContext(ctx, &robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})).must(t)
		if aws.StringValue(v3.Version) != "3" || aws.StringValue(v3.Sources[0].Etag) != etagB {
			t.Errorf("first version after restart = %s (etag %s), want 3 (%s)", aws.StringValue(v3.Version), aws.StringValue(v3.Sources[0].Etag), etagB)
		}
		// Version numbers are never reused, across a restart too.
		opTry(c.DeleteRobotApplicationWithContext(ctx, &robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("3")})).must(t)
		if v4 := opTry(c.CreateRobotApplicationVersionWithContext(ctx, &robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})).must(t); aws.StringValue(v4.Version) != "4" {
			t.Errorf("version after deleting 3 = %s, want 4 (numbers are never reused)", aws.StringValue(v4.Version))
		}
		opTry(c.TagResourceWithContext(ctx, &robomaker.TagResourceInput{ResourceArn: aws.String(robots[1]), Tags: aws.StringMap(map[string]string{"after": "restart"})})).must(t)
		if tags := aws.StringValueMap(opTry(c.ListTagsForResourceWithContext(ctx, &robomaker.ListTagsForResourceInput{ResourceArn: aws.String(robots[1])})).must(t).Tags); tags["after"] != "restart" || tags["slot"] != "2" {
			t.Errorf("robot 2 tags = %v, want slot=2 and after=restart", tags)
		}
		// Unique names still hold.
		_, err := c.CreateRobotWithContext(ctx, &robomaker.CreateRobotInput{Name: aws.String("kill-robot-1"), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String("kill-agent-new")})
		if opErrCode(err) != robomaker.ErrCodeResourceAlreadyExistsException {
			t.Errorf("CreateRobot with a pre-kill name: %v, want %s", err, robomaker.ErrCodeResourceAlreadyExistsException)
		}
	})

	t.Run("acknowledged writes survive a kill under load", func(t *testing.T) {
		var (
			killed   atomic.Bool
			acked    sync.Map // robot ARN → name
			nAcked   atomic.Int64
			mu       sync.Mutex
			failures []string
			wg       sync.WaitGroup
			stop     = make(chan struct{})
			halt     = sync.OnceFunc(func() { close(stop) })
		)
		t.Cleanup(halt) // the workers end even if the test stops early
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					name := fmt.Sprintf("load-%d-%d", w, n)
					out, err := c.CreateRobotWithContext(ctx, &robomaker.CreateRobotInput{Name: aws.String(name), Architecture: aws.String("ARM64"), GreengrassGroupId: aws.String("agent-" + name)})
					if err == nil {
						acked.Store(aws.StringValue(out.Arn), name)
						nAcked.Add(1)
						continue
					}
					if !killed.Load() {
						mu.Lock()
						failures = append(failures, fmt.Sprintf("CreateRobot %s before the kill: %v", name, err))
						mu.Unlock()
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
		}
		opWaitFor(t, 30*time.Second, "200 acknowledged CreateRobot calls", func() bool { return nAcked.Load() >= 200 })
		killed.Store(true)
		s.Kill()
		halt()
		wg.Wait()
		for _, f := range failures {
			t.Error(f)
		}
		s.Restart()
		c := opQuiet(s.Client())
		have := map[string]string{}
		if err := c.ListRobotsPagesWithContext(ctx, &robomaker.ListRobotsInput{}, func(p *robomaker.ListRobotsOutput, _ bool) bool {
			for _, r := range p.Robots {
				have[aws.StringValue(r.Arn)] = aws.StringValue(r.Name)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		missing := 0
		acked.Range(func(k, v any) bool {
			if have[k.(string)] != v.(string) {
				missing++
				if missing <= 5 {
					t.Errorf("robot %s (%s) was acknowledged before SIGKILL but is gone after restart", v, k)
				}
			}
			return true
		})
		if missing > 0 {
			t.Errorf("%d of %d acknowledged robots lost", missing, nAcked.Load())
		}
		t.Logf("%d robots acknowledged before SIGKILL, %d listed after restart", nAcked.Load(), len(have))
		// Still writable.
		opTry(c.CreateRobotWithContext(ctx, &robomaker.CreateRobotInput{Name: aws.String("after-load-kill"), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String("agent-after-load-kill")})).must(t)
	})
}

// ---------------------------------------------------------------------------
// graceful shutdown

// TestGracefulShutdown sends SIGTERM while a slow request (a version of a
// 256 MiB bundle, hashed inside the request) and a flood of small requests are
// in flight: the slow one completes, every request that got a response got a
// complete and valid one, the process exits 0 within seconds, and what was
// acknowledged is there after a restart.
func TestGracefulShutdown(t *testing.T) {
	s := testenv.Start(t, testenv.Options{Args: []string{"--rate-limit", "100000", "--rate-burst", "100000"}})
	ctx := testenv.Context(t)
	c := opQuiet(s.Client())

	// The application exists before its object, so nothing has hashed the
	// object when the version request starts.
	bucketDir := filepath.Join(s.DataDir, "bundles", "demo")
	if err := os.MkdirAll(bucketDir, 0o755); err != nil {
		t.Fatal(err)
	}
	app := opTry(c.CreateRobotApplicationWithContext(ctx, &robomaker.CreateRobotApplicationInput{
		Name:               aws.String("big-app"),
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("demo"), S3Key: aws.String("big.bin"), Architecture: aws.String("X86_64")}},
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
	})).must(t)
	const bigSize = 256 << 20
	big := filepath.Join(bucketDir, "big.bin")
	f := opTry(os.Create(big)).must(t)
	if err := f.Truncate(bigSize); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	f.Close()
	if p, err := filepath.EvalSymlinks(big); err == nil {
		big = p
	}
	h := md5.New()
	if _, err := io.CopyN(h, opZeroReader{}, bigSize); err != nil {
		t.Fatal(err)
	}
	wantETag := `"` + hex.EncodeToString(h.Sum(nil)) + `"`
	pid := opServerPID(t, s.DataDir)

	// The flood: robots created and read back by 16 workers.
	var (
		terminated atomic.Bool
		responses  atomic.Int64
		mu         sync.Mutex
		problems   []string
		created    []string
		wg         sync.WaitGroup
		stop       = make(chan struct{})
		halt       = sync.OnceFunc(func() { close(stop) })
	)
	t.Cleanup(halt) // the workers end even if the test stops early
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("flood-%d-%d", w, n)
				req, out := c.CreateRobotRequest(&robomaker.CreateRobotInput{Name: aws.String(name), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String("agent-" + name)})
				req.SetContext(ctx)
				err := req.Send()
				answered := req.HTTPResponse != nil && req.HTTPResponse.StatusCode != 0
				switch {
				case answered && err != nil:
					problem("CreateRobot %s: the server answered %d with %v", name, req.HTTPResponse.StatusCode, err)
					return
				case err != nil && !terminated.Load():
					problem("CreateRobot %s before SIGTERM: %v", name, err)
					return
				case err != nil: // no answer after SIGTERM: refused or closed, fine
					time.Sleep(time.Millisecond)
					continue
				}
				responses.Add(1)
				if aws.StringValue(out.Name) != name || !strings.Contains(aws.StringValue(out.Arn), ":robot/"+name+"/") || out.CreatedAt == nil {
					problem("CreateRobot %s: incomplete answer %s", name, awsutil.Prettify(out))
					return
				}
				mu.Lock()
				created = append(created, aws.StringValue(out.Arn))
				mu.Unlock()

				dreq, dout := c.DescribeRobotRequest(&robomaker.DescribeRobotInput{Robot: out.Arn})
				dreq.SetContext(ctx)
				err = dreq.Send()
				answered = dreq.HTTPResponse != nil && dreq.HTTPResponse.StatusCode != 0
				switch {
				case answered && err != nil:
					problem("DescribeRobot %s: the server answered %d with %v", name, dreq.HTTPResponse.StatusCode, err)
					return
				case err != nil && !terminated.Load():
					problem("DescribeRobot %s before SIGTERM: %v", name, err)
					return
				case err != nil:
					continue
				}
				responses.Add(1)
				if aws.StringValue(dout.Arn) != aws.StringValue(out.Arn) || aws.StringValue(dout.Status) != "Available" {
					problem("DescribeRobot %s: incomplete answer %s", name, awsutil.Prettify(dout))
					return
				}
			}
		}()
	}
	opWaitFor(t, 30*time.Second, "the flood to get 100 answers", func() bool { return responses.Load() >= 100 })

	type result struct {
		out *robomaker.CreateRobotApplicationVersionOutput
		err error
	}
	slow := make(chan result, 1)
	go func() {
		out, err := c.CreateRobotApplicationVersionWithContext(ctx, &robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		slow <- result{out, err}
	}()
	// The server has the bundle open: the slow request is inside its handler.
	opWaitFor(t, 30*time.Second, "fleetsyncd to open the 256 MiB bundle", func() bool {
		select {
		case r := <-slow:
			t.Fatalf("the slow request finished before SIGTERM could be sent: %v %v", r.out, r.err)
		default:
		}
		return opHasOpen(pid, big)
	})
	atSIGTERM := responses.Load()
	terminated.Store(true)
	start := time.Now()
	err := s.Terminate(20 * time.Second)
	elapsed := time.Since(start)
	halt()
	wg.Wait()
	if err != nil {
		t.Fatalf("after SIGTERM: %v", err)
	}
	t.Logf("exit 0 %v after SIGTERM; %d answers before SIGTERM, %d after", elapsed.Round(time.Millisecond), atSIGTERM, responses.Load()-atSIGTERM)
	if elapsed > 10*time.Second {
		t.Errorf("exit took %v after SIGTERM, want a few seconds", elapsed)
	}
	for _, p := range problems {
		t.Error(p)
	}

	select {
	case r := <-slow:
		if r.err != nil {
			t.Fatalf("the request in flight at SIGTERM failed: %v", r.err)
		}
		if aws.StringValue(r.out.Version) != "1" || len(r.out.Sources) != 1 || aws.StringValue(r.out.Sources[0].Etag) != wantETag {
			t.Fatalf("the request in flight at SIGTERM answered %s, want version 1 with etag %s", awsutil.Prettify(r.out), wantETag)
		}
	default:
		t.Fatal("the process exited but the request in flight at SIGTERM has no answer")
	}
	for _, msg := range []string{"shutting down", "stopped"} {
		if !strings.Contains(s.Stderr(), msg) {
			t.Errorf("the log lacks %q:\n%s", msg, s.Stderr())
		}
	}

	// What was acknowledged during the shutdown is there after a restart.
	s.Restart()
	c = opQuiet(s.Client())
	v := opTry(c.DescribeRobotApplicationWithContext(ctx, &robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("1")})).must(t)
	if aws.StringValue(v.Sources[0].Etag) != wantETag {
		t.Errorf("version 1 after restart: etag %s, want %s", aws.StringValue(v.Sources[0].Etag), wantETag)
	}
	have := map[string]bool{}
	if err := c.ListRobotsPagesWithContext(ctx, &robomaker.ListRobotsInput{}, func(p *robomaker.ListRobotsOutput, _ bool) bool {
		for _, r := range p.Robots {
			have[aws.StringValue(r.Arn)] = true
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, arn := range created {
		if !have[arn] {
			t.Errorf("robot %s was acknowledged but is gone after the graceful restart", arn)
		}
	}
}

type opZeroReader struct{}

func (opZeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// ---------------------------------------------------------------------------
// credentials

func TestFirstStartPrintsCredentialOnce(t *testing.T) {
	s := testenv.Start(t, testenv.Options{NoBootstrap: true})
	ctx := testenv.Context(t)
	stdout := s.Stdout()
	keyID, secret := opParseExport(t, stdout)
	if n := strings.Count(stdout, "AWS_SECRET_ACCESS_KEY"); n != 1 {
		t.Errorf("stdout names AWS_SECRET_ACCESS_KEY %d times, want once:\n%s", n, stdout)
	}

	t.Run("the credential works", func(t *testing.T) {
		out := opTry(opQuiet(s.ClientFor(keyID, secret)).CreateFleetWithContext(ctx, &robomaker.CreateFleetInput{Name: aws.String("first")})).must(t)
		if arn := aws.StringValue(out.Arn); !strings.HasPrefix(arn, "arn:aws:robomaker:"+testenv.Region+":"+testenv.Account+":deployment-fleet/first/") {
			t.Errorf("fleet ARN %s, want the default account %s", arn, testenv.Account)
		}
	})

	t.Run("stdout is shell-evaluable", func(t *testing.T) {
		cmd := exec.Command("sh", "-c", `eval "$1"; printf '%s %s' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY"`, "sh", stdout)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out := opTry(cmd.Output()).must(t)
		if string(out) != keyID+" "+secret {
			t.Errorf("eval of stdout sets %q, want %q", out, keyID+" "+secret)
		}
	})

	t.Run("the secret is not logged or stored in clear", func(t *testing.T) {
		if strings.Contains(s.Stderr(), secret) {
			t.Errorf("the log contains the secret:\n%s", s.Stderr())
		}
		err := filepath.WalkDir(s.DataDir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains the secret in clear", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("master.key is 0600", func(t *testing.T) {
		fi := opTry(os.Stat(filepath.Join(s.DataDir, "master.key"))).must(t)
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("master.key mode %v, want 0600", fi.Mode().Perm())
		}
	})

	t.Run("nothing printed after a restart", func(t *testing.T) {
		if err := s.Terminate(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		s.Restart()
		if out := s.Stdout(); strings.Contains(out, "AWS_") {
			t.Errorf("the restart printed a credential again:\n%s", out)
		}
		opTry(opQuiet(s.ClientFor(keyID, secret)).ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})).must(t)
		list, _, exit := opCredentialsCmd(t, s.DataDir, "list")
		if exit != 0 || strings.Count(list, "AKFS") != 1 {
			t.Errorf("credentials list after restart (exit %d), want the one credential:\n%s", exit, list)
		}
	})
}

// opListLine returns the `credentials list` line of keyID, split in fields.
func opListLine(list, keyID string) []string {
	for _, line := range strings.Split(list, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == keyID {
			return f
		}
	}
	return nil
}

func TestCredentialsCommands(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	ctx := testenv.Context(t)
	const account = "210987654321"

	// Created while the server runs, used at once.
	stdout, stderr, exit := opCredentialsCmd(t, s.DataDir, "create", "--account", account)
	if exit != 0 {
		t.Fatalf("credentials create: exit %d\n%s", exit, stderr)
	}
	keyID, secret := opParseExport(t, stdout)
	c := opQuiet(s.ClientFor(keyID, secret))

	t.Run("create", func(t *testing.T) {
		out := opTry(c.CreateFleetWithContext(ctx, &robomaker.CreateFleetInput{Name: aws.String("other-account")})).must(t)
		if arn := aws.StringValue(out.Arn); !strings.HasPrefix(arn, "arn:aws:robomaker:"+testenv.Region+":"+account+":deployment-fleet/other-account/") {
			t.Errorf("fleet ARN %s, want account %s", arn, account)
		}
		// The bootstrap account does not see it.
		l := opTry(opQuiet(s.Client()).ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})).must(t)
		if len(l.FleetDetails) != 0 {
			t.Errorf("account %s sees the fleets of %s: %s", testenv.Account, account, awsutil.Prettify(l))
		}
		if strings.Contains(stderr, secret) {
			t.Errorf("credentials create logged the secret:\n%s", stderr)
		}
	})

	t.Run("list", func(t *testing.T) {
		list, lerr, exit := opCredentialsCmd(t, s.DataDir, "list")
		if exit != 0 {
			t.Fatalf("credentials list: exit %d\n%s", exit, lerr)
		}
		if f := opListLine(list, keyID); len(f) < 4 || f[1] != account || f[3] != "active" {
			t.Errorf("credentials list: line of %s = %v, want account %s, status active:\n%s", keyID, f, account, list)
		}
		if f := opListLine(list, testenv.KeyID); len(f) < 4 || f[1] != testenv.Account || f[3] != "active" {
			t.Errorf("credentials list: line of the bootstrap key = %v:\n%s", f, list)
		}
		for _, sec := range []string{secret, testenv.Secret} {
			if strings.Contains(list+lerr, sec) {
				t.Errorf("credentials list prints a secret:\n%s", list)
			}
		}
	})

	t.Run("revoke", func(t *testing.T) {
		out, rerr, exit := opCredentialsCmd(t, s.DataDir, "revoke", keyID)
		if exit != 0 {
			t.Fatalf("credentials revoke: exit %d\n%s%s", exit, out, rerr)
		}
		_, err := c.ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})
		if opErrCode(err) != "UnrecognizedClientException" {
			t.Errorf("a call with the revoked key: %v, want UnrecognizedClientException", err)
		}
		var rf awserr.RequestFailure
		if errors.As(err, &rf) && rf.StatusCode() != http.StatusForbidden {
			t.Errorf("a call with the revoked key: status %d, want 403", rf.StatusCode())
		}
		list, _, _ := opCredentialsCmd(t, s.DataDir, "list")
		if f := opListLine(list, keyID); len(f) < 4 || f[3] != "revoked" {
			t.Errorf("credentials list after revoke: line of %s = %v, want status revoked:\n%s", keyID, f, list)
		}
		// The other credential is untouched.
		opTry(opQuiet(s.Client()).ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})).must(t)
	})

	t.Run("revoke unknown key", func(t *testing.T) {
		_, rerr, exit := opCredentialsCmd(t, s.DataDir, "revoke", "AKFSNOSUCHKEY0000000")
		if exit == 0 || !strings.Contains(rerr, "AKFSNOSUCHKEY0000000") {
			t.Errorf("credentials revoke of an unknown key: exit %d, stderr %q; want non-zero naming the key", exit, rerr)
		}
	})

	t.Run("bad account", func(t *testing.T) {
		out, berr, exit := opCredentialsCmd(t, s.DataDir, "create", "--account", "12")
		if exit == 0 {
			t.Fatalf("credentials create --account 12 succeeded:\n%s", out)
		}
		if !strings.Contains(berr, `"12"`) || !strings.Contains(berr, "account") {
			t.Errorf("credentials create --account 12: stderr %q, want a message naming account \"12\"", berr)
		}
		if strings.Contains(out, "AWS_SECRET_ACCESS_KEY") {
			t.Errorf("credentials create --account 12 printed a credential:\n%s", out)
		}
	})
}

func TestBootstrapMismatch(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	if err := s.Terminate(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, secret, account string }{
		{"another secret", "another-secret-access-key-987654", testenv.Account},
		{"another account", testenv.Secret, "999999999999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, exit := opRunFleetsyncd(t, []string{
				"FLEETSYNC_BOOTSTRAP_ACCESS_KEY_ID=" + testenv.KeyID,
				"FLEETSYNC_BOOTSTRAP_SECRET_ACCESS_KEY=" + tc.secret,
				"FLEETSYNC_BOOTSTRAP_ACCOUNT=" + tc.account,
			}, "--listen", "127.0.0.1:0", "--data-dir", s.DataDir, "--region", testenv.Region)
			if exit == 0 {
				t.Fatalf("fleetsyncd started with a changed bootstrap credential:\n%s", stderr)
			}
			if !strings.Contains(stderr, testenv.KeyID) || !strings.Contains(stderr, "exists with another") {
				t.Errorf("stderr %q, want it to say %s exists with another secret/account", stderr, testenv.KeyID)
			}
			for _, sec := range []string{testenv.Secret, tc.secret} {
				if strings.Contains(stderr, sec) {
					t.Errorf("stderr shows a secret: %q", stderr)
				}
			}
		})
	}
	// The right credential still starts it, and works.
	s.Restart()
	opTry(opQuiet(s.Client()).ListFleetsWithContext(testenv.Context(t), &robomaker.ListFleetsInput{})).must(t)
}

// ---------------------------------------------------------------------------
// operations

func TestHealthAndReady(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			resp := opTry(http.Get(s.URL + path)).must(t) // no credential needed
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d %q, want 200", path, resp.StatusCode, body)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   []string
		args  []string
		names []string // the message names one of these
	}{
		// An unreachable PostgreSQL: the operator must learn which setting.
		{"--database postgres", nil, []string{"--database", "postgres://x"}, []string{"--database"}},
		{"--database mysql", nil, []string{"--database", "mysql://x"}, []string{"--database"}},
		{"--bundles s3", nil, []string{"--bundles", "s3://x"}, []string{"--bundles"}},
		{"--log-level nope", nil, []string{"--log-level", "nope"}, []string{"--log-level"}},
		{"--job-lease-ttl shorter than two ticks", nil, []string{"--job-lease-ttl", "1s", "--engine-tick", "1s"}, []string{"--job-lease-ttl"}},
		{"FLEETSYNC_JOB_LEASE_TTL nope", []string{"FLEETSYNC_JOB_LEASE_TTL=nope"}, nil, []string{"--job-lease-ttl"}},
		{"--db-max-conns 0", nil, []string{"--db-max-conns", "0"}, []string{"--db-max-conns"}},
		{"FLEETSYNC_DATABASE postgres", []string{"FLEETSYNC_DATABASE=postgres://x"}, nil, []string{"--database", "FLEETSYNC_DATABASE"}},
		{"FLEETSYNC_BUNDLES s3", []string{"FLEETSYNC_BUNDLES=s3://x"}, nil, []string{"--bundles", "FLEETSYNC_BUNDLES"}},
		{"FLEETSYNC_LOG_LEVEL nope", []string{"FLEETSYNC_LOG_LEVEL=nope"}, nil, []string{"--log-level", "FLEETSYNC_LOG_LEVEL"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, tc.args...)
			_, stderr, exit := opRunFleetsyncd(t, append(opBootstrapEnv(), tc.env...), args...)
			if exit == 0 {
				t.Fatalf("fleetsyncd exited 0:\n%s", stderr)
			}
			if !slices.ContainsFunc(tc.names, func(n string) bool { return strings.Contains(stderr, n) }) {
				t.Errorf("stderr %q names none of %v", stderr, tc.names)
			}
		})
	}
}

func TestEnvFlags(t *testing.T) {
	t.Run("FLEETSYNC_LISTEN, FLEETSYNC_DATA_DIR, FLEETSYNC_REGION", func(t *testing.T) {
		dataDir, cwd := filepath.Join(t.TempDir(), "data"), t.TempDir()
		p := opStartFleetsyncd(t, cwd, append(opBootstrapEnv(),
			"FLEETSYNC_LISTEN=127.0.0.1:0", "FLEETSYNC_DATA_DIR="+dataDir, "FLEETSYNC_REGION=eu-west-1"))
		url := p.URL
		ctx := testenv.Context(t)

		out := opTry(opClientAt(url, "eu-west-1", testenv.KeyID, testenv.Secret).CreateFleetWithContext(ctx, &robomaker.CreateFleetInput{Name: aws.String("env")})).must(t)
		if arn := aws.StringValue(out.Arn); !strings.HasPrefix(arn, "arn:aws:robomaker:eu-west-1:"+testenv.Account+":deployment-fleet/env/") {
			t.Errorf("fleet ARN %s, want region eu-west-1", arn)
		}
		// Requests signed for another region are refused.
		_, err := opClientAt(url, "us-east-1", testenv.KeyID, testenv.Secret).ListFleetsWithContext(ctx, &robomaker.ListFleetsInput{})
		var rf awserr.RequestFailure
		if !errors.As(err, &rf) || rf.StatusCode() != http.StatusForbidden {
			t.Errorf("a request signed for us-east-1 on an eu-west-1 server: %v, want 403", err)
		}
		for _, f := range []string{"master.key", "fleetsync.db"} {
			if _, err := os.Stat(filepath.Join(dataDir, f)); err != nil {
				t.Errorf("FLEETSYNC_DATA_DIR not used: %v", err)
			}
		}
		if _, err := os.Stat(filepath.Join(cwd, "fleetsync-data")); err == nil {
			t.Errorf("the default ./fleetsync-data was created although FLEETSYNC_DATA_DIR is set")
		}
		opTerminate(t, p, 10*time.Second)
	})

	t.Run("a flag wins over its variable", func(t *testing.T) {
		p := opStartFleetsyncd(t, t.TempDir(), append(opBootstrapEnv(), "FLEETSYNC_REGION=eu-west-1", "FLEETSYNC_LISTEN=127.0.0.1:1"),
			"--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--region", "ap-southeast-2")
		url := p.URL
		out := opTry(opClientAt(url, "ap-southeast-2", testenv.KeyID, testenv.Secret).CreateFleetWithContext(testenv.Context(t), &robomaker.CreateFleetInput{Name: aws.String("flag")})).must(t)
		if arn := aws.StringValue(out.Arn); !strings.HasPrefix(arn, "arn:aws:robomaker:ap-southeast-2:") {
			t.Errorf("fleet ARN %s, want region ap-southeast-2 from --region", arn)
		}
		opTerminate(t, p, 10*time.Second)
	})
}
