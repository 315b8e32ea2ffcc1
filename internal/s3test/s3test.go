// Package s3test gives tests a real S3-compatible server: a versitygw
// process (github.com/versity/versitygw) with a POSIX backend in a temp
// directory, on a free loopback port, for one test. The binary is named by
// FLEETSYNC_TEST_VERSITYGW (scripts/test installs it and sets it). Without it the
// test is skipped locally and fails under CI=true, so CI can never pass
// without the S3 store having been exercised.
package s3test

import (
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/s3"

	"github.com/fleetsync/fleetsync/internal/syncbuf"
	"github.com/fleetsync/fleetsync/internal/testskip"
)

// EnvBinary names the variable holding the versitygw binary's path.
const EnvBinary = "FLEETSYNC_TEST_VERSITYGW"

// Credentials of every test server (versitygw's root account).
const (
	AccessKey = "FSTESTS3ROOT00000001"
	SecretKey = "fleetsync-test-s3-root-secret-0123456789"
	Region    = "us-east-1"
)

// Server is a running versitygw.
type Server struct {
	// Endpoint is its base URL, such as "http://127.0.0.1:41234".
	Endpoint string
	// Dir is the POSIX backend's directory: bucket B is the directory Dir/B.
	Dir string
}

// Require returns the versitygw binary, or skips (fails under CI) the test.
func Require(t testing.TB) string {
	t.Helper()
	bin := os.Getenv(EnvBinary)
	if bin == "" {
		testskip.Missing(t, "S3 bundle store tests", EnvBinary+" is not set",
			"scripts/test (builds versitygw and sets it), or: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0 and export "+EnvBinary+"=$(go env GOPATH)/bin/versitygw")
	}
	return bin
}

// Start runs versitygw for the test; it is killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartBinary(t, Require(t), t.TempDir())
}

// StartBinary runs the versitygw binary bin with its POSIX backend in dir
// and waits until it answers.
func StartBinary(t testing.TB, bin, dir string) *Server {
	t.Helper()
	cmd, s, err := Launch(bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return s
}

// Launch starts versitygw outside a test (the bundle benchmark uses it) and
// waits until it answers; the caller kills the process.
func Launch(bin, dir string) (*exec.Cmd, *Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "--port", addr, "posix", dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	log := syncbuf.Buffer{Max: 1 << 20}
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	s := &Server{Endpoint: "http://" + addr, Dir: dir}
	probe := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, err := probe.Get(s.Endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return cmd, s, nil // any answer (403 unsigned) means it serves
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, nil, &startError{log: log.String()}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type startError struct{ log string }

func (e *startError) Error() string { return "versitygw did not answer within 30s:\n" + e.log }

// Env is the environment fleetsyncd needs to use the server (the standard
// AWS variables; the SDK's chain reads them).
func (s *Server) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + AccessKey, "AWS_SECRET_ACCESS_KEY=" + SecretKey, "AWS_REGION=" + Region,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_EC2_METADATA_DISABLED=true"}
}

// BundlesURL is the --bundles URL of the server, with extra query
// parameters (such as "buckets=a,b" or "presign=false").
func (s *Server) BundlesURL(extra ...string) string {
	u := "s3://?endpoint=" + s.Endpoint + "&region=" + Region + "&path_style=true"
	for _, e := range extra {
		u += "&" + e
	}
	return u
}

// Client returns an AWS SDK v1 S3 client for the server, path-style.
func (s *Server) Client() *s3.S3 {
	sess := session.Must(session.NewSession(&aws.Config{
		Endpoint: aws.String(s.Endpoint), Region: aws.String(Region), S3ForcePathStyle: aws.Bool(true),
		Credentials: credentials.NewStaticCredentials(AccessKey, SecretKey, ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Minute},
	}))
	return s3.New(sess)
}
