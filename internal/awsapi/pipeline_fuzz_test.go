package awsapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws/credentials"
	v4 "github.com/aws/aws-sdk-go/aws/signer/v4"

	"github.com/fleetsync/fleetsync/internal/awsapi"
	"github.com/fleetsync/fleetsync/internal/awsapi/model"
	"github.com/fleetsync/fleetsync/internal/blob/fsblob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/registry"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// FuzzAPIPipeline drives the whole request pipeline (SigV4 → decode →
// validate → bind → the real domain services on a real SQLite file and
// file bundle store) with any method, path and body, correctly signed: the
// answer is never a 5xx, and every error is in the AWS envelope.
func FuzzAPIPipeline(f *testing.F) {
	send, _ := newPipeline(f)
	fleetARN := "arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/f/1700000000000"
	appARN := "arn:aws:robomaker:us-east-1:123456789012:robot-application/a/1700000000000"
	bodies := map[string]string{
		"CreateFleet":                   `{"name":"f","tags":{"k":"v"}}`,
		"CreateRobot":                   `{"name":"r","architecture":"X86_64","greengrassGroupId":"g"}`,
		"CreateRobotApplication":        `{"name":"a","robotSoftwareSuite":{"name":"General"},"sources":[{"s3Bucket":"apps","s3Key":"a.tar","architecture":"X86_64"}]}`,
		"CreateRobotApplicationVersion": `{"application":"` + appARN + `"}`,
		"CreateDeploymentJob": `{"fleet":"` + fleetARN + `","clientRequestToken":"t","deploymentApplicationConfigs":[{"application":"` + appARN +
			`","applicationVersion":"1","launchConfig":{"packageName":"p","launchFile":"l","environmentVariables":{"A":"b"}}}]}`,
		"ListFleets":    `{"maxResults":2,"nextToken":"x.y","filters":[{"name":"name","values":["f"]}]}`,
		"ListRobots":    `{"filters":[{"name":"fleetName","values":["f"]}]}`,
		"RegisterRobot": `{"fleet":"` + fleetARN + `","robot":"arn:aws:robomaker:us-east-1:123456789012:robot/r/1"}`,
	}
	for _, op := range model.Operations() {
		if _, ok := model.Lookup(op.Name); !ok {
			continue
		}
		target := strings.ReplaceAll(op.RequestURI, "{resourceArn}", url.PathEscape(fleetARN))
		body := bodies[op.Name]
		if body == "" {
			body = `{}`
		}
		f.Add(op.Method, target, []byte(body))
	}
	f.Add("GET", "/fleetsync/v1/fleets/"+url.PathEscape(fleetARN)+"/drift", []byte(nil))
	f.Add("DELETE", "/tags/"+url.PathEscape(fleetARN)+"?tagKeys=k&tagKeys=%FF", []byte(nil))
	f.Add("POST", "/createFleet", []byte(`{"name":"a\ud800"}`))
	f.Add("POST", "/createSimulationJob", []byte(`{}`))

	f.Fuzz(func(t *testing.T, method, target string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || u.Opaque != "" || !strings.HasPrefix(target, "/") || !validMethod(method) || len(body) > 1<<16 {
			return // Go's server refuses these before any handler
		}
		rec := send(method, u, body)
		if rec == nil {
			return
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, target, body, rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			var env map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env["__type"] == "" ||
				env["__type"] != rec.Header().Get("x-amzn-ErrorType") || env["message"] == "" {
				t.Fatalf("%s %s %q: %d without the AWS envelope: %s", method, target, body, rec.Code, rec.Body)
			}
		}
	})
}

// sender sends one correctly signed request (nil when the signer refuses it).
type sender func(method string, u *url.URL, body []byte) *httptest.ResponseRecorder

// newPipeline serves the whole API on a real SQLite file and file bundle
// store (bucket "apps" holds a.tar), and returns how to send it a request
// and the store under it.
func newPipeline(tb testing.TB) (sender, *sqlstore.Store) {
	dir := tb.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "fleetsync.db"), log)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := os.MkdirAll(filepath.Join(dir, "bundles", "apps"), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bundles", "apps", "a.tar"), []byte("bundle"), 0o644); err != nil {
		tb.Fatal(err)
	}
	bundles, err := fsblob.OpenFileStore(filepath.Join(dir, "bundles"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { bundles.Close() })
	const keyID, secret, account = "AKFSFUZZ000000000000", "fuzz-secret", "123456789012"
	// The install's first credential: its account holds every bucket.
	if err := st.CreateCredential(context.Background(), store.Credential{AccessKeyID: keyID, Account: account, SecretSealed: []byte{1}}); err != nil {
		tb.Fatal(err)
	}
	api := awsapi.New(awsapi.Config{
		Registry: &registry.Service{Store: st, Bundles: &tenancy.Bundles{Store: bundles, Grants: st}, Region: "us-east-1", Limits: registry.DefaultLimits()},
		Deploy:   &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 100},
		Evidence: &deploy.Evidence{Store: st},
		Credentials: func(_ context.Context, id string) (string, string, bool, error) {
			return secret, account, id == keyID, nil
		},
		Region: "us-east-1", TokenKey: []byte("fuzz-token-key"), RatePerSecond: 1e9, Burst: 1 << 30, Logger: log,
	})
	signer := v4.NewSigner(credentials.NewStaticCredentials(keyID, secret, ""))
	return func(method string, u *url.URL, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "http://fleetsync.test/", nil)
		req.Method, req.URL, req.RequestURI = method, u, u.RequestURI()
		req.Host = "fleetsync.test"
		if _, err := signer.Sign(req, bytes.NewReader(body), "robomaker", "us-east-1", time.Now()); err != nil {
			return nil
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		return rec
	}, st
}

// validMethod reports whether m is an HTTP token, as Go's server requires.
func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for _, c := range []byte(m) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
