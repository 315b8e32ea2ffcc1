package server

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/selfsigned"
)

// inProcess is the whole server built and served in the test process on
// port 0, with an SDK client of its bootstrap credential.
type inProcess struct {
	cfg config.Config
	url string
	sdk *robomaker.RoboMaker
	// roots are what a client trusts of a server on HTTPS (withTLS); nil
	// on plain HTTP.
	roots *x509.CertPool
	// stop ends Serve and returns what it returned (an error when it did
	// not return within 30 s); it also runs when the test ends.
	stop func() error
}

// serveInProcess builds and serves a server with options o (Stdout
// discarded unless set), its configuration changed by tweaks.
func serveInProcess(t *testing.T, o Options, tweaks ...func(*testing.T, *config.Config)) *inProcess {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.BootstrapKeyID, cfg.BootstrapSecret = "AKSERVERTEST00000001", "server-test-secret-0123456789"
	for _, tweak := range tweaks {
		tweak(t, &cfg)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := New(ctx, cfg, o)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	var once sync.Once
	var served error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case served = <-done:
			case <-time.After(30 * time.Second):
				served = errors.New("Serve did not return within 30 s after its context ended")
			}
		})
		return served
	}
	t.Cleanup(func() { stop() })
	p := &inProcess{cfg: cfg, url: "http://" + s.Addr().String(), stop: stop}
	var opts session.Options
	if cfg.TLSCert != "" {
		pem, err := os.ReadFile(cfg.TLSCert)
		if err != nil {
			t.Fatal(err)
		}
		p.roots = x509.NewCertPool()
		p.roots.AppendCertsFromPEM(pem)
		p.url = "https://" + s.Addr().String()
		// The SDK's own way (AWS_CA_BUNDLE, if set, would replace a
		// client's roots).
		opts.CustomCABundle = bytes.NewReader(pem)
	}
	opts.Config = aws.Config{
		Endpoint: aws.String(p.url), Region: aws.String(cfg.Region), MaxRetries: aws.Int(0),
		Credentials: credentials.NewStaticCredentials(cfg.BootstrapKeyID, cfg.BootstrapSecret, ""),
	}
	p.sdk = robomaker.New(session.Must(session.NewSessionWithOptions(opts)))
	return p
}

// withTLS serves HTTPS with a self-signed certificate for 127.0.0.1
// (inProcess.roots trusts it).
func withTLS(t *testing.T, cfg *config.Config) {
	var err error
	if cfg.TLSCert, cfg.TLSKey, _, err = selfsigned.Write(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}

// TestNewServeInProcess builds the whole server in the test process on
// port 0, serves it, drives it with the real SDK, and shuts it down.
func TestNewServeInProcess(t *testing.T) {
	p := serveInProcess(t, Options{})
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(p.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d", path, resp.StatusCode)
		}
	}
	f, err := p.sdk.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("in-process")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.sdk.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: f.Arn})
	if err != nil || aws.StringValue(got.Name) != "in-process" {
		t.Fatalf("DescribeFleet = %v, %v", got, err)
	}

	if err := p.stop(); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := http.Get(p.url + "/healthz"); err == nil {
		t.Error("still serving after Serve returned")
	}
}

// TestOptionsNowIsEveryComponentsClock: a server given a clock stamps
// resources with it (the ARN's millisecond epoch and createdAt), and checks
// signatures against it (a request signed 5 minutes away from it is inside
// the 15-minute skew allowed).
func TestOptionsNowIsEveryComponentsClock(t *testing.T) {
	fixed := time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	p := serveInProcess(t, Options{Now: func() time.Time { return fixed }})
	f, err := p.sdk.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("clock")})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("/clock/%d", fixed.UnixMilli()); !strings.HasSuffix(aws.StringValue(f.Arn), want) {
		t.Errorf("fleet ARN %s, want it to end in %s (the server's clock)", aws.StringValue(f.Arn), want)
	}
	if got := aws.TimeValue(f.CreatedAt); !got.Equal(fixed) {
		t.Errorf("createdAt %v, want %v", got, fixed)
	}
}

// TestNewFailsCleanly: a configuration that cannot open returns an error
// from New, before anything listens.
func TestNewFailsCleanly(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Bundles = "ftp://nowhere"
	if _, err := New(context.Background(), cfg, Options{Stdout: io.Discard}); err == nil {
		t.Fatal("New accepted --bundles ftp://nowhere")
	}
}
