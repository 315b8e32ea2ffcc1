// Bundle store and delivery tests over a real fleetsyncd, for each store: the
// file tree, and a real S3-compatible server (versitygw, package s3test)
// whose robots download either from presigned URLs or through fleetsyncd.
// Objects are uploaded with the AWS SDK (s3manager: single-part and
// multipart); simulated robots really download and verify them.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
	"github.com/aws/aws-sdk-go/service/s3"
	"github.com/aws/aws-sdk-go/service/s3/s3manager"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/s3test"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// partSize is the multipart upload part size (S3's minimum).
const partSize = 5 << 20

// objectStore is where a test puts and deletes bundles.
type objectStore interface {
	// put writes the object (multipart when larger than partSize, where the
	// store has parts) and returns the ETag S3 gives it.
	put(t *testing.T, bucket, key string, content []byte) string
	del(t *testing.T, bucket, key string)
}

// fileObjects writes into a fleetsyncd's file bundle store.
type fileObjects struct{ s *testenv.Server }

func (f fileObjects) put(t *testing.T, bucket, key string, content []byte) string {
	return putObject(t, f.s, bucket, key, content)
}

func (f fileObjects) del(t *testing.T, bucket, key string) {
	must(t, os.Remove(filepath.Join(f.s.DataDir, "bundles", bucket, filepath.FromSlash(key))))
}

// s3Objects uploads with the AWS SDK's s3manager, as users do.
type s3Objects struct{ c *s3.S3 }

func (o s3Objects) put(t *testing.T, bucket, key string, content []byte) string {
	t.Helper()
	up := s3manager.NewUploaderWithClient(o.c, func(u *s3manager.Uploader) { u.PartSize = partSize })
	_, err := up.Upload(&s3manager.UploadInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(content)})
	must(t, err)
	return s3ETag(content)
}

func (o s3Objects) del(t *testing.T, bucket, key string) {
	_, err := o.c.DeleteObject(&s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	must(t, err)
}

// s3ETag is the ETag S3 gives content uploaded by s3manager in partSize
// parts: the MD5 for one part, else the MD5 of the parts' MD5s and "-N".
func s3ETag(content []byte) string {
	if len(content) <= partSize {
		m := md5.Sum(content)
		return `"` + hex.EncodeToString(m[:]) + `"`
	}
	var sums []byte
	n := 0
	for off := 0; off < len(content); off += partSize {
		m := md5.Sum(content[off:min(off+partSize, len(content))])
		sums = append(sums, m[:]...)
		n++
	}
	m := md5.Sum(sums)
	return `"` + hex.EncodeToString(m[:]) + "-" + strconv.Itoa(n) + `"`
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// bundleEnv is one fleetsyncd with a bundle store and a bucket "bundles".
type bundleEnv struct {
	name    string
	s       *testenv.Server
	objects objectStore
	// presigned: robots download from the store, not from fleetsyncd.
	presigned bool
	// multipart: the store gives multipart ETags to large uploads.
	multipart bool
}

// bundleEnvs starts the three delivery paths, each with extra fleetsyncd
// flags.
func bundleEnvs(t *testing.T, extra ...string) []bundleEnv {
	t.Helper()
	fileSrv := startEngine(t, extra...)
	makeBucket(t, fileSrv, "bundles")
	envs := []bundleEnv{{name: "file", s: fileSrv, objects: fileObjects{fileSrv}}}

	gw := s3test.Start(t)
	c := gw.Client()
	for _, b := range []string{"bundles", "private"} {
		_, err := c.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String(b)})
		must(t, err)
	}
	for _, presign := range []bool{true, false} {
		args := append([]string{"--bundles", gw.BundlesURL("buckets=bundles,missing", "presign="+strconv.FormatBool(presign))}, engineArgs...)
		s := testenv.Start(t, testenv.Options{Args: append(args, extra...), Env: gw.Env()})
		name := "s3-proxied"
		if presign {
			name = "s3-presigned"
		}
		envs = append(envs, bundleEnv{name: name, s: s, objects: s3Objects{c}, presigned: presign, multipart: true})
	}
	return envs
}

// createApp creates an application of one X86_64 source and its version 1.
func createApp(t *testing.T, c *robomaker.RoboMaker, bucket, key string) (arn string, v *robomaker.CreateRobotApplicationVersionOutput) {
	t.Helper()
	app, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
		Name: aws.String(uniq("app")), RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String(bucket), S3Key: aws.String(key), Architecture: aws.String("X86_64")}},
	})
	must(t, err)
	v, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
	must(t, err)
	return aws.StringValue(app.Arn), v
}

func TestBundleStoresDeliverAndVerify(t *testing.T) {
	t.Parallel()
	for _, env := range bundleEnvs(t) {
		t.Run(env.name, func(t *testing.T) {
			t.Parallel()
			c := quiet(env.s.Client())

			// Buckets outside the configuration are refused at create and update.
			for _, bucket := range []string{"nobucket", "private"} {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
					Name: aws.String(uniq("app")), RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
					Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String(bucket), S3Key: aws.String("a.tar"), Architecture: aws.String("X86_64")}},
				})
				wantErr(t, err, "InvalidParameterException", `"`+bucket+`"`)
			}

			sizes := map[string]int{"single": 1<<20 + 3}
			if env.multipart {
				sizes["multipart"] = 2*partSize + 12345
			}
			for kind, size := range sizes {
				t.Run(kind, func(t *testing.T) {
					key := uniq("bundles/"+kind) + ".tar"
					content := randomBytes(size)
					etag := env.objects.put(t, "bundles", key, content)
					if kind == "multipart" && !strings.HasSuffix(etag, `-3"`) {
						t.Fatalf("upload of %d bytes has ETag %s, want a 3-part one", size, etag)
					}
					app, v := createApp(t, c, "bundles", key)
					if got := aws.StringValue(v.Sources[0].Etag); got != etag {
						t.Fatalf("version 1 recorded ETag %s, want S3's %s", got, etag)
					}
					_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{
						Application: aws.String(app), RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
						Sources: []*robomaker.SourceConfig{{S3Bucket: aws.String("private"), S3Key: aws.String(key), Architecture: aws.String("X86_64")}},
					})
					wantErr(t, err, "InvalidParameterException", `"private"`)

					r := &rollout{t: t, s: env.s, c: c, app: app}
					f, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet"))})
					must(t, err)
					r.fleet = aws.StringValue(f.Arn)
					r.addRobots(3)
					for _, sr := range r.robots {
						sr.SetBehavior(sim.Behavior{Download: true})
					}

					// Delivered and verified (SHA-256 recorded at version
					// creation), with a download condition file delivered the
					// same way.
					condKey := uniq("conditions/cond") + ".sh"
					condETag := env.objects.put(t, "bundles", condKey, []byte("#!/bin/sh\nexit 0\n"))
					out, err := c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{
						Fleet: aws.String(r.fleet),
						DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: aws.String(app), ApplicationVersion: aws.String("1"),
							LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}},
						DeploymentConfig: &robomaker.DeploymentConfig{DownloadConditionFile: &robomaker.S3Object{
							Bucket: aws.String("bundles"), Key: aws.String(condKey), Etag: aws.String(condETag)}},
					})
					must(t, err)
					job := aws.StringValue(out.Arn)
					d, _ := r.wait(job, time.Minute)
					if got := aws.StringValue(d.Status); got != "Succeeded" {
						t.Fatalf("first deployment ended %s: %v", got, d)
					}

					// Overwritten while robots wait to download: each robot's
					// download is refused (If-Match) and it fails EtagMismatch.
					for _, sr := range r.robots {
						sr.SetBehavior(sim.Behavior{Download: true, Hang: true})
					}
					job = r.create(jobConfig{concurrent: 100})
					for _, sr := range r.robots {
						waitStarted(t, sr.Robot, job)
					}
					env.objects.put(t, "bundles", key, randomBytes(size))
					for _, sr := range r.robots {
						sr.SetBehavior(sim.Behavior{Download: true})
					}
					d, _ = r.wait(job, time.Minute)
					checkRobotsFailed(t, d, "EtagMismatch")
					for _, sr := range r.robots {
						if count(sr.Failed(), job) != 1 {
							t.Errorf("%s failed %v, want the job (its download refused)", sr.Name, sr.Failed())
						}
					}

					// Overwritten before the deployment: caught when it is prepared.
					job = r.create(jobConfig{})
					d, _ = r.wait(job, time.Minute)
					checkRobotsFailed(t, d, "EtagMismatch")

					// Deleted: ResourceNotFound.
					env.objects.del(t, "bundles", key)
					job = r.create(jobConfig{})
					d, _ = r.wait(job, time.Minute)
					checkRobotsFailed(t, d, "ResourceNotFound")
				})
			}
		})
	}
}

// waitStarted waits until the robot received the job's assignment.
func waitStarted(t *testing.T, r *sim.Robot, job string) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); count(r.Started(), job) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s never received %s", r.Name, job)
		}
	}
}

func checkRobotsFailed(t *testing.T, d *robomaker.DescribeDeploymentJobOutput, code string) {
	t.Helper()
	if got := aws.StringValue(d.Status); got != "Failed" {
		t.Errorf("job ended %s, want Failed: %v", got, d)
	}
	for _, rd := range d.RobotDeploymentSummary {
		if aws.StringValue(rd.Status) != "Failed" || aws.StringValue(rd.FailureCode) != code {
			t.Errorf("robot %s: %s %s (%s), want Failed %s", aws.StringValue(rd.Arn), aws.StringValue(rd.Status),
				aws.StringValue(rd.FailureCode), aws.StringValue(rd.FailureReason), code)
		}
	}
}

// handAgent is a hand-driven agent: a robot of a fleet with its own key.
type handAgent struct {
	*client.Client
	arn string
}

func newHandAgent(t *testing.T, s *testenv.Server, c *robomaker.RoboMaker, fleet string) handAgent {
	t.Helper()
	return newHandAgentOf(t, s, c, testenv.Account, fleet)
}

// assignment polls until the agent has one.
func (a handAgent) assignment(t *testing.T) *proto.Assignment {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := a.Poll(t.Context(), proto.PollRequest{WaitSeconds: 1})
		must(t, err)
		if resp.Assignment != nil {
			return resp.Assignment
		}
		if time.Now().After(deadline) {
			t.Fatal("no assignment within a minute")
		}
	}
}

// get fetches u with a Range header, signed as the agent would sign it for
// its own server's host.
func (a handAgent) get(t *testing.T, u, rng string, sign bool) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	must(t, err)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	if sign {
		proto.SignAs(req, a.Account, a.Key, nil, time.Now())
	}
	resp, err := a.HTTP.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return resp.StatusCode, b
}

// expiry returns when a download URL stops working: X-Amz-Date plus
// X-Amz-Expires for a presigned URL, the token's "e" for fleetsyncd's.
func expiry(t *testing.T, raw string) time.Time {
	t.Helper()
	u, err := url.Parse(raw)
	must(t, err)
	if q := u.Query(); q.Get("X-Amz-Date") != "" {
		start, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		must(t, err)
		secs, err := strconv.Atoi(q.Get("X-Amz-Expires"))
		must(t, err)
		return start.Add(time.Duration(secs) * time.Second)
	}
	tok := strings.TrimPrefix(u.Path, proto.PathBundle)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	must(t, err)
	var claims struct {
		Expires int64 `json:"e"`
	}
	must(t, json.Unmarshal(payload, &claims))
	return time.UnixMilli(claims.Expires)
}

// TestBundleURLs checks the download URL an agent gets: ranges served end
// to end, a fleetsyncd URL refused to another robot and when tampered with,
// a presigned one refused when tampered with, and both refused once
// expired.
func TestBundleURLs(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	for _, env := range bundleEnvs(t, "--bundle-url-ttl", ttl.String()) {
		t.Run(env.name, func(t *testing.T) {
			t.Parallel()
			c := quiet(env.s.Client())
			key := uniq("url") + ".tar"
			content := randomBytes(3*partSize + 99)
			etag := env.objects.put(t, "bundles", key, content)
			app, _ := createApp(t, c, "bundles", key)
			f, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet"))})
			must(t, err)
			a, b := newHandAgent(t, env.s, c, aws.StringValue(f.Arn)), newHandAgent(t, env.s, c, aws.StringValue(f.Arn))
			_, err = c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{
				Fleet: f.Arn,
				DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: aws.String(app), ApplicationVersion: aws.String("1"),
					LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}},
			})
			must(t, err)
			asg := a.assignment(t)
			obj := asg.Bundle
			if obj.ETag != etag || obj.Size != int64(len(content)) || obj.SHA256 == "" {
				t.Fatalf("assignment bundle = %+v, want ETag %s, size %d and a SHA-256", obj, etag, len(content))
			}
			u, err := url.Parse(obj.URL)
			must(t, err)
			onServer := "http://"+u.Host == env.s.URL
			if onServer == env.presigned {
				t.Fatalf("bundle URL host %s; presigned=%v, server %s", u.Host, env.presigned, env.s.URL)
			}

			// A resumed download (the agent's own Range request) and an
			// arbitrary range.
			dst, err := os.CreateTemp(t.TempDir(), "dl")
			must(t, err)
			_, err = dst.Write(content[:partSize+7])
			must(t, err)
			must(t, a.Download(t.Context(), obj, dst, nil))
			got, err := os.ReadFile(dst.Name())
			must(t, err)
			if !bytes.Equal(got, content) {
				t.Fatalf("resumed download: %d bytes differ from the object", len(got))
			}
			if st, body := a.get(t, obj.URL, "bytes=100-199", onServer); st != http.StatusPartialContent || !bytes.Equal(body, content[100:200]) {
				t.Errorf("Range 100-199: %d, %d bytes; want 206 and the 100 bytes", st, len(body))
			}
			if st, body := a.get(t, obj.URL, "bytes=-10", onServer); st != http.StatusPartialContent || !bytes.Equal(body, content[len(content)-10:]) {
				t.Errorf("Range -10: %d, %d bytes; want 206 and the last 10 bytes", st, len(body))
			}

			if onServer { // several ranges: fleetsyncd reopens the store at each (S3 itself serves one range)
				st, body := a.get(t, obj.URL, "bytes=10-19,2000000-2000009", true)
				if st != http.StatusPartialContent || !bytes.Contains(body, content[10:20]) || !bytes.Contains(body, content[2000000:2000010]) {
					t.Errorf("two ranges: %d, %d bytes; want 206 with both ranges", st, len(body))
				}
			}

			// Foreign URLs.
			if onServer {
				if st, body := b.get(t, obj.URL, "", true); st != http.StatusForbidden || !strings.Contains(string(body), "another robot") {
					t.Errorf("robot B with robot A's URL: %d %.200q, want 403 another robot", st, body)
				}
				if st, body := a.get(t, obj.URL, "", false); st != http.StatusUnauthorized {
					t.Errorf("unsigned request: %d %.200q, want 401", st, body)
				}
				tok := strings.TrimPrefix(u.Path, proto.PathBundle)
				payload, mac, _ := strings.Cut(tok, ".")
				raw, _ := base64.RawURLEncoding.DecodeString(payload)
				forged := bytes.Replace(raw, []byte(a.arn), []byte(b.arn), 1)
				forgedURL := env.s.URL + proto.PathBundle + base64.RawURLEncoding.EncodeToString(forged) + "." + mac
				if st, body := b.get(t, forgedURL, "", true); st != http.StatusForbidden || !strings.Contains(string(body), "not issued by this server") {
					t.Errorf("forged URL: %d %.200q, want 403 not issued by this server", st, body)
				}
			} else {
				tampered := strings.Replace(obj.URL, url.QueryEscape(a.arn), url.QueryEscape(b.arn), 1)
				if tampered == obj.URL {
					t.Fatalf("presigned URL %s does not carry the robot", obj.URL)
				}
				if st, body := b.get(t, tampered, "", false); st != http.StatusForbidden {
					t.Errorf("presigned URL re-addressed to robot B: %d %.200q, want 403", st, body)
				}
			}

			// Expired: the URL says when; wait until then (a real clock:
			// the URL is checked by another process).
			time.Sleep(time.Until(expiry(t, obj.URL)) + 1100*time.Millisecond)
			st, body := a.get(t, obj.URL, "", onServer)
			if st != http.StatusForbidden || (onServer && !strings.Contains(string(body), "expired")) {
				t.Errorf("expired URL: %d %.200q, want 403", st, body)
			}
			dst2, err := os.CreateTemp(t.TempDir(), "dl")
			must(t, err)
			if err := a.Download(t.Context(), obj, dst2, nil); !isStatus(err, http.StatusForbidden) {
				t.Errorf("Download with an expired URL = %v, want HTTP 403", err)
			}
		})
	}
}

func isStatus(err error, status int) bool {
	var he *client.HTTPError
	return errors.As(err, &he) && he.Status == status
}

// TestRealAgentsWithS3Store deploys a multipart-uploaded bundle from a real
// S3-compatible store to real fleetsync-agent processes, presigned and
// through fleetsyncd, then sees the overwritten and the deleted object fail
// the robots.
func TestRealAgentsWithS3Store(t *testing.T) {
	t.Parallel()
	gw := s3test.Start(t)
	c3 := gw.Client()
	_, err := c3.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String("apps")})
	must(t, err)
	objects := s3Objects{c3}
	for _, presign := range []bool{true, false} {
		t.Run("presign="+strconv.FormatBool(presign), func(t *testing.T) {
			args := append([]string{"--bundles", gw.BundlesURL("buckets=apps", "presign="+strconv.FormatBool(presign))}, engineArgs...)
			s := testenv.Start(t, testenv.Options{Args: args, Env: gw.Env()})
			f := &agentFleet{t: t, s: s, c: quiet(s.Client()), out: t.TempDir(), agents: map[string]*agentProc{}, arns: map[string]string{}}
			out, err := f.c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet"))})
			must(t, err)
			f.fleet = aws.StringValue(out.Arn)
			// Random padding makes the bundle three parts long.
			bundle := tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755},
				"app/padding.bin": {string(randomBytes(2*partSize + 1000)), 0o644}})
			key := uniq("bundle") + ".tar.gz"
			if etag := objects.put(t, "apps", key, bundle); !strings.HasSuffix(etag, `-3"`) {
				t.Fatalf("bundle ETag %s, want a 3-part upload", etag)
			}
			app, v := createApp(t, f.c, "apps", key)
			f.app = app
			for _, n := range []string{"r1", "r2"} {
				f.addAgent(n, s.URL, nil)
			}
			d := f.wait(f.deploy(aws.StringValue(v.Version), deployOpts{}))
			if got := aws.StringValue(d.Status); got != "Succeeded" {
				t.Fatalf("deployment ended %s: %v", got, d)
			}
			for _, n := range []string{"r1", "r2"} {
				if got := f.read(n, "version"); got != "v1" {
					t.Errorf("robot %s runs %q, want v1", n, got)
				}
			}
			objects.put(t, "apps", key, tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v2"), 0o755}}))
			checkRobotsFailed(t, f.wait(f.deploy(aws.StringValue(v.Version), deployOpts{})), "EtagMismatch")
			objects.del(t, "apps", key)
			checkRobotsFailed(t, f.wait(f.deploy(aws.StringValue(v.Version), deployOpts{})), "ResourceNotFound")
			for _, n := range []string{"r1", "r2"} {
				if got := f.read(n, "version"); got != "v1" {
					t.Errorf("robot %s runs %q after the failed deployments, want v1 still", n, got)
				}
			}
		})
	}
}
