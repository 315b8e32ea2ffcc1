// Tenancy, as an attacker with a second account sees it (SPEC §3, issue
// 13): two accounts on one real fleetsyncd — and on two PostgreSQL replicas,
// A on one and B on the other — on the file store and on the S3 store
// (versitygw, robots on presigned URLs and through fleetsyncd). Account A is
// the install's first account (every bucket); B is granted its own bucket
// only, with `fleetsyncd buckets grant`.
//
// B cannot create or update an application on A's bucket, cannot snapshot a
// version of it, deploy it or download it once its grant is gone, cannot
// name A's object as a download condition, and cannot tell which of A's keys
// or buckets exist: every answer is byte-identical to the answer for a key
// or bucket that does not exist, apart from the names B sent. B cannot
// deploy to A's robot, cannot enrol A's agent (its id is bound to A), and
// cannot block A from enrolling it; A's own flow keeps working throughout.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
	"github.com/aws/aws-sdk-go/service/s3"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/s3test"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// accountB is the attacker's account.
const accountB = "210987654321"

// Buckets of the tenancy tests: A's (reached through A's grant of every
// bucket) and B's (granted to B).
const (
	bucketA = "tenant-a"
	bucketB = "tenant-b"
)

// tenancyEnv is one deployment of fleetsyncd (one process, or replicas of
// one database) with accounts A and B.
type tenancyEnv struct {
	name    string
	servers []*testenv.Server
	objects objectStore
	// presigned: robots download from the store, not from fleetsyncd.
	presigned bool
	a, b      *robomaker.RoboMaker
	// sa and sb are the servers A and B talk to.
	sa, sb *testenv.Server
}

// bucketsCmd runs `fleetsyncd buckets ARGS` on s's data dir and database.
func bucketsCmd(t *testing.T, s *testenv.Server, args ...string) string {
	t.Helper()
	args = append(append([]string{"buckets"}, args...), append([]string{"--data-dir", s.DataDir}, s.DatabaseArgs()...)...)
	out, err := exec.Command(testenv.Binary(t, "fleetsyncd"), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("fleetsyncd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tenancyEnvs starts the file store, S3 with presigned URLs and S3 through
// fleetsyncd, each with `replicas` processes (more than one: PostgreSQL).
func tenancyEnvs(t *testing.T, replicas int) []*tenancyEnv {
	t.Helper()
	start := func(o testenv.Options) []*testenv.Server {
		o.Args = append(append([]string{}, engineArgs...), o.Args...)
		if replicas > 1 {
			pgtest.Require(t)
			return testenv.StartReplicas(t, replicas, o)
		}
		return []*testenv.Server{testenv.Start(t, o)}
	}
	var envs []*tenancyEnv
	file := start(testenv.Options{BundleDir: t.TempDir()})
	for _, b := range []string{bucketA, bucketB} {
		makeBucket(t, file[0], b)
	}
	envs = append(envs, &tenancyEnv{name: "file", servers: file, objects: fileObjects{file[0]}})

	gw := s3test.Start(t)
	c := gw.Client()
	for _, b := range []string{bucketA, bucketB} {
		_, err := c.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String(b)})
		must(t, err)
	}
	for _, presign := range []bool{true, false} {
		url := gw.BundlesURL("buckets="+bucketA+","+bucketB, "presign="+strconv.FormatBool(presign))
		srv := start(testenv.Options{Args: []string{"--bundles", url}, Env: gw.Env()})
		name := "s3-proxied"
		if presign {
			name = "s3-presigned"
		}
		envs = append(envs, &tenancyEnv{name: name, servers: srv, objects: s3Objects{c}, presigned: presign})
	}
	for _, e := range envs {
		e.sa, e.sb = e.servers[0], e.servers[len(e.servers)-1]
		e.a = quiet(e.sa.Client())
		keyB, secretB := newAccount(t, e.sa, accountB)
		e.b = quiet(e.sb.ClientFor(keyB, secretB))
		// A fresh install's first account holds every bucket; B only what
		// it is granted.
		if out := bucketsCmd(t, e.sa, "list"); !strings.Contains(out, testenv.Account) || strings.Contains(out, accountB) {
			t.Fatalf("%s: grants before any grant step:\n%s", e.name, out)
		}
		bucketsCmd(t, e.sa, "grant", "--account", accountB, bucketB)
	}
	return envs
}

// answer is a refused call's answer as the caller sees it on the wire,
// apart from what differs on every request (request id, date).
type answer struct {
	status int
	code   string
	body   string
}

func answerOf(w wireResponse) answer {
	return answer{w.Status, w.Header.Get("x-amzn-ErrorType"), string(w.Body)}
}

// sameAnswer asserts that got equals want once the names in replace
// (got's name → want's name) are swapped.
func sameAnswer(t *testing.T, what string, got, want answer, replace ...string) {
	t.Helper()
	got.body = strings.NewReplacer(replace...).Replace(got.body)
	if got != want {
		t.Errorf("%s: answers differ (a leak):\n  got  %d %s %s\n  want %d %s %s", what, got.status, got.code, got.body, want.status, want.code, want.body)
	}
}

// createAppAs calls CreateRobotApplication of one X86_64 source and returns
// the answer on the wire with the output.
func createAppAs(c *robomaker.RoboMaker, name, bucket, key string) (answer, *robomaker.CreateRobotApplicationOutput, error) {
	rec := record(c)
	out, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
		Name: aws.String(name), RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String(bucket), S3Key: aws.String(key), Architecture: aws.String("X86_64")}},
	})
	return answerOf(rec.Last()), out, err
}

func TestAPITenancy(t *testing.T) {
	t.Parallel()
	for _, e := range tenancyEnvs(t, 1) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			tenancyCases(t, e)
		})
	}
}

func TestReplicaTenancy(t *testing.T) {
	t.Parallel()
	for _, e := range tenancyEnvs(t, 2) {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			tenancyCases(t, e)
		})
	}
}

// tenancyCases runs every case on one environment.
func tenancyCases(t *testing.T, e *tenancyEnv) {
	appA := uniq("a/app") + ".tar"
	condA := uniq("a/cond") + ".sh"
	appB := uniq("b/app") + ".tar"
	e.objects.put(t, bucketA, appA, []byte("A's bundle "+appA))
	e.objects.put(t, bucketA, condA, []byte("#!/bin/sh\nexit 0\n"))
	etagB := e.objects.put(t, bucketB, appB, []byte("B's bundle "+appB))
	missing := uniq("a/missing") + ".tar"
	noBucket := uniq("no-bucket")

	t.Run("CreateApplication", func(t *testing.T) {
		name := uniq("probe")
		onA, _, err := createAppAs(e.b, name, bucketA, appA)
		wantErr(t, err, "InvalidParameterException", `"`+bucketA+`"`)
		sameAnswer(t, "A's existing key vs a missing key of A's bucket", onA, refused2(createAppAs(e.b, name, bucketA, missing)))
		sameAnswer(t, "A's bucket vs a bucket that does not exist", onA, refused2(createAppAs(e.b, name, noBucket, appA)), bucketA, noBucket)
		// B's own bucket and A's whole flow work.
		if _, _, err := createAppAs(e.b, uniq("b-app"), bucketB, appB); err != nil {
			t.Errorf("B on its own bucket: %v", err)
		}
		if _, _, err := createAppAs(e.a, uniq("a-app"), bucketA, appA); err != nil {
			t.Errorf("A on its own bucket: %v", err)
		}
	})

	t.Run("UpdateApplication", func(t *testing.T) {
		_, app, err := createAppAs(e.b, uniq("b-app"), bucketB, appB)
		must(t, err)
		update := func(bucket, key string) (answer, error) {
			rec := record(e.b)
			_, err := e.b.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn,
				RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
				Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String(bucket), S3Key: aws.String(key), Architecture: aws.String("X86_64")}}})
			return answerOf(rec.Last()), err
		}
		onA, err := update(bucketA, appA)
		wantErr(t, err, "InvalidParameterException", `"`+bucketA+`"`)
		sameAnswer(t, "update: A's key vs a missing key", onA, refused(update(bucketA, missing)))
		sameAnswer(t, "update: A's bucket vs no bucket", onA, refused(update(noBucket, appA)), bucketA, noBucket)
		d, err := e.b.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn})
		must(t, err)
		if got := aws.StringValue(d.Sources[0].S3Bucket); got != bucketB || aws.StringValue(d.Sources[0].Etag) != etagB {
			t.Errorf("B's application after the refused updates: %v", d.Sources)
		}
	})

	t.Run("GrantRevoked", func(t *testing.T) {
		// An operator grants B A's bucket by mistake and takes it back: from
		// then on B's application on it finds nothing there, exactly as if
		// the object had never existed.
		bucketsCmd(t, e.sa, "grant", "--account", accountB, bucketA)
		_, real, err := createAppAs(e.b, uniq("b-on-a"), bucketA, appA)
		must(t, err)
		_, ghost, err := createAppAs(e.b, uniq("b-on-a-missing"), bucketA, missing)
		must(t, err)
		v1, err := e.b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: real.Arn})
		must(t, err)
		bucketsCmd(t, e.sa, "revoke", "--account", accountB, bucketA)

		describe := func(app *robomaker.CreateRobotApplicationOutput) *robomaker.DescribeRobotApplicationOutput {
			d, err := e.b.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn})
			must(t, err)
			return d
		}
		if d := describe(real); d.Sources[0].Etag != nil {
			t.Errorf("$LATEST on a revoked bucket shows ETag %s", aws.StringValue(d.Sources[0].Etag))
		}
		version := func(app *robomaker.CreateRobotApplicationOutput) (answer, error) {
			rec := record(e.b)
			_, err := e.b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
			return answerOf(rec.Last()), err
		}
		got, err := version(real)
		wantErr(t, err, "InvalidParameterException", "does not exist")
		sameAnswer(t, "version of A's object vs of a missing key", got, refused(version(ghost)), appA, missing)

		// The version B made while granted is not deployed either: the
		// engine's ETag check finds no object.
		r := &rollout{t: t, s: e.sb, c: e.b, app: aws.StringValue(real.Arn), account: accountB}
		f, err := e.b.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("b-fleet"))})
		must(t, err)
		r.fleet = aws.StringValue(f.Arn)
		robots := r.addRobots(1)
		robots[0].SetBehavior(sim.Behavior{Download: true})
		if aws.StringValue(v1.Version) != "1" {
			t.Fatalf("version %s", aws.StringValue(v1.Version))
		}
		d, _ := r.wait(r.create(jobConfig{}), time.Minute)
		row := rows(d)[robots[0].ARN]
		if row == nil || aws.StringValue(row.FailureCode) != "ResourceNotFound" ||
			aws.StringValue(row.FailureReason) != "The object s3://"+bucketA+"/"+appA+" no longer exists." {
			t.Errorf("deploying a version on a revoked bucket: %v", row)
		}
		if got := robots[0].Started(); len(got) != 0 {
			t.Errorf("B's robot was given A's object: %v", got)
		}
	})

	t.Run("DownloadCondition", func(t *testing.T) {
		_, app, err := createAppAs(e.b, uniq("b-app"), bucketB, appB)
		must(t, err)
		_, err = e.b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		must(t, err)
		r := &rollout{t: t, s: e.sb, c: e.b, app: aws.StringValue(app.Arn), account: accountB}
		f, err := e.b.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("b-fleet"))})
		must(t, err)
		r.fleet = aws.StringValue(f.Arn)
		robots := r.addRobots(1)
		robots[0].SetBehavior(sim.Behavior{Download: true})
		deploy := func(key string) *robomaker.RobotDeployment {
			out, err := e.b.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: f.Arn,
				DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: app.Arn, ApplicationVersion: aws.String("1"),
					LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}},
				DeploymentConfig: &robomaker.DeploymentConfig{DownloadConditionFile: &robomaker.S3Object{Bucket: aws.String(bucketA), Key: aws.String(key)}}})
			must(t, err)
			d, _ := r.wait(aws.StringValue(out.Arn), time.Minute)
			return rows(d)[robots[0].ARN]
		}
		onA, none := deploy(condA), deploy(missing)
		if onA == nil || none == nil || aws.StringValue(onA.FailureCode) != "ResourceNotFound" ||
			aws.StringValue(onA.FailureCode) != aws.StringValue(none.FailureCode) ||
			strings.ReplaceAll(aws.StringValue(onA.FailureReason), condA, missing) != aws.StringValue(none.FailureReason) {
			t.Errorf("A's object as B's download condition: %v; a missing one: %v", onA, none)
		}
		if got := robots[0].Started(); len(got) != 0 {
			t.Errorf("B's robot was given A's condition file: %v", got)
		}
	})

	t.Run("Robots", func(t *testing.T) {
		// A's robot, a simulated agent bound to A, in A's fleet.
		ra := &rollout{t: t, s: e.sa, c: e.a}
		_, appOfA, err := createAppAs(e.a, uniq("a-app"), bucketA, appA)
		must(t, err)
		_, err = e.a.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: appOfA.Arn})
		must(t, err)
		ra.app = aws.StringValue(appOfA.Arn)
		fa, err := e.a.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("a-fleet"))})
		must(t, err)
		ra.fleet = aws.StringValue(fa.Arn)
		fleetA := sim.New(e.sa.URL, 1, sim.Options{PollWait: time.Second, RetryBase: 20 * time.Millisecond, NamePrefix: uniq("a-sim") + "-"})
		robotA := fleetA.Robots()[0]
		robotA.SetBehavior(sim.Behavior{Download: true})
		agentKey, err := proto.ParseAgentID(robotA.AgentID)
		must(t, err)

		// B knows A's agent id and tries every way to enrol it.
		enrol := func(id string) (answer, *robomaker.CreateRobotOutput, error) {
			rec := record(e.b)
			out, err := e.b.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("claim"), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(id)})
			return answerOf(rec.Last()), out, err
		}
		got, _, err := enrol(robotA.AgentID)
		wantErr(t, err, "InvalidParameterException", "bound to account "+testenv.Account)
		pub, _, _ := ed25519.GenerateKey(rand.Reader)
		stranger := proto.BoundAgentID(testenv.Account, pub)
		sameAnswer(t, "enrolling A's agent vs an id A never enrolled", got, refused2(enrol(stranger)), robotA.AgentID, stranger)
		_, _, err = enrol(proto.AgentID(agentKey.Key))
		wantErr(t, err, "InvalidParameterException", "not bound to an account")
		// B may create a robot with A's key bound to B (it cannot know the
		// key is real): that robot is never served, and it blocks nothing.
		_, decoy, err := enrol(proto.BoundAgentID(accountB, agentKey.Key))
		must(t, err)
		fb, err := e.b.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("b-fleet"))})
		must(t, err)
		_, err = e.b.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fb.Arn, Robot: decoy.Arn})
		must(t, err)
		_, bApp, err := createAppAs(e.b, uniq("b-app"), bucketB, appB)
		must(t, err)
		_, err = e.b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: bApp.Arn})
		must(t, err)
		rb := &rollout{t: t, s: e.sb, c: e.b, app: aws.StringValue(bApp.Arn), fleet: aws.StringValue(fb.Arn)}
		jobB := rb.create(jobConfig{timeout: 60})

		// A enrols its agent after all that, and deploys to it.
		added := ra.register(fleetA)
		jobA := ra.create(jobConfig{})
		d, _ := ra.wait(jobA, time.Minute)
		if aws.StringValue(d.Status) != "Succeeded" || aws.StringValue(rows(d)[added[0].ARN].Status) != "InSync" {
			t.Errorf("A's deployment to its own robot: %v", d)
		}
		if got := robotA.Started(); len(got) != 1 || got[0] != jobA {
			t.Errorf("A's agent ran %v, want only A's job %s", got, jobA)
		}
		db, err := e.b.DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(jobB)})
		must(t, err)
		if s := aws.StringValue(db.RobotDeploymentSummary[0].Status); s == "Succeeded" || s == "InSync" {
			t.Errorf("B's job on the decoy robot: %s", s)
		}
		_, err = e.b.CancelDeploymentJob(&robomaker.CancelDeploymentJobInput{Job: aws.String(jobB)})
		must(t, err)

		// Nothing of A's robots is B's to deploy to or register.
		_, err = e.b.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: fa.Arn,
			DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: bApp.Arn, ApplicationVersion: aws.String("1"),
				LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}}})
		wantErr(t, err, "ResourceNotFoundException")
		_, err = e.b.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fb.Arn, Robot: aws.String(added[0].ARN)})
		wantErr(t, err, "ResourceNotFoundException")
		_, err = e.b.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: fa.Arn})
		wantErr(t, err, "ResourceNotFoundException")
	})

	if !e.presigned {
		t.Run("BundleURL", func(t *testing.T) { bundleURLAfterRevoke(t, e, appA) })
	}
}

// bundleURLAfterRevoke: a download URL fleetsyncd issued to B's robot while
// B held a grant of A's bucket serves nothing once the grant is revoked,
// exactly as for an object that no longer exists.
func bundleURLAfterRevoke(t *testing.T, e *tenancyEnv, key string) {
	bucketsCmd(t, e.sa, "grant", "--account", accountB, bucketA)
	f, err := e.b.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("b-fleet"))})
	must(t, err)
	ag := newHandAgentOf(t, e.sb, e.b, accountB, aws.StringValue(f.Arn))
	_, app, err := createAppAs(e.b, uniq("b-on-a"), bucketA, key)
	must(t, err)
	_, err = e.b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
	must(t, err)
	_, err = e.b.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: f.Arn,
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: app.Arn, ApplicationVersion: aws.String("1"),
			LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}}})
	must(t, err)
	asg := ag.assignment(t)
	if code, _ := ag.get(t, asg.Bundle.URL, "bytes=0-3", true); code != http.StatusPartialContent {
		t.Fatalf("the URL while granted: HTTP %d", code)
	}
	bucketsCmd(t, e.sa, "revoke", "--account", accountB, bucketA)
	code, body := ag.get(t, asg.Bundle.URL, "", true)
	want := `{"code":"ResourceNotFound","message":"The object s3://` + bucketA + `/` + key + ` no longer exists."}`
	if code != http.StatusNotFound || strings.TrimSpace(string(body)) != want {
		t.Errorf("the URL after the revoke: HTTP %d %s, want 404 %s", code, body, want)
	}
	if bytes.Contains(body, []byte("A's bundle")) {
		t.Error("A's content served")
	}
}

// newHandAgentOf is newHandAgent for a robot of account (c's account),
// bound to it.
func newHandAgentOf(t *testing.T, s *testenv.Server, c *robomaker.RoboMaker, account, fleet string) handAgent {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	cl := &client.Client{Server: s.URL, Key: priv, Account: account, HTTP: &http.Client{Transport: &http.Transport{}}}
	out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("robot")), Architecture: aws.String("X86_64"),
		GreengrassGroupId: aws.String(cl.AgentID())})
	must(t, err)
	_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(fleet), Robot: out.Arn})
	must(t, err)
	return handAgent{cl, aws.StringValue(out.Arn)}
}

// refused is the answer of a call expected to fail (its error is checked
// by the caller on the first call of a comparison).
func refused[T any](a T, _ error) T { return a }

// refused2 is refused for calls that also return an output.
func refused2[T, U any](a T, _ U, _ error) T { return a }

// TestBucketsCommand: `fleetsyncd buckets` lists the first account's grant
// of every bucket on a fresh install, refuses bad usage without changing
// anything, and its grants and revocations reach a running server at once.
func TestBucketsCommand(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	keyB, secretB := newAccount(t, s, accountB)
	b := quiet(s.ClientFor(keyB, secretB))
	makeBucket(t, s, "anything")
	putObject(t, s, "anything", "x.tar", []byte("x"))
	if out := bucketsCmd(t, s, "list"); !strings.Contains(out, testenv.Account) || !strings.Contains(out, "* (every bucket)") {
		t.Errorf("list on a fresh install:\n%s", out)
	}
	fails := func(args ...string) string {
		t.Helper()
		args = append(append([]string{"buckets"}, args...), append([]string{"--data-dir", s.DataDir}, s.DatabaseArgs()...)...)
		out, err := exec.Command(testenv.Binary(t, "fleetsyncd"), args...).CombinedOutput()
		if err == nil {
			t.Errorf("fleetsyncd %v succeeded:\n%s", args, out)
		}
		return string(out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"grant", "anything"}, "usage"},
		{[]string{"grant", "--account", accountB}, "usage"},
		{[]string{"grant", "--account", accountB, "a", "b"}, "usage"},
		{[]string{"grant", "--account", "12", "anything"}, "12-digit"},
		{[]string{"grant", "--account", accountB, "Not_A_Bucket"}, "S3 bucket name"},
		{[]string{"revoke", "--account", accountB, "anything"}, "has no grant"},
		{[]string{"frobnicate"}, "unknown buckets command"},
	} {
		if out := fails(c.args...); !strings.Contains(out, c.want) {
			t.Errorf("buckets %v: %s, want %q", c.args, out, c.want)
		}
	}
	if _, _, err := createAppAs(b, uniq("app"), "anything", "x.tar"); errCode(err) != "InvalidParameterException" {
		t.Fatalf("B before any grant: %v", err)
	}
	bucketsCmd(t, s, "grant", "--account", accountB, "*")
	if _, _, err := createAppAs(b, uniq("app"), "anything", "x.tar"); err != nil {
		t.Errorf("B with every bucket: %v", err)
	}
	if out := bucketsCmd(t, s, "list", "--account", accountB); !strings.Contains(out, accountB) || strings.Contains(out, testenv.Account) {
		t.Errorf("list --account B:\n%s", out)
	}
	// Flags may follow the bucket.
	bucketsCmd(t, s, "revoke", "*", "--account", accountB)
	if _, _, err := createAppAs(b, uniq("app"), "anything", "x.tar"); errCode(err) != "InvalidParameterException" {
		t.Errorf("B after the revoke of every bucket: %v", err)
	}
}
