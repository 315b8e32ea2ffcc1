package server

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/config"
)

// TestNewServeInProcess builds the whole server in the test process on
// port 0, serves it, drives it with the real SDK, and shuts it down.
func TestNewServeInProcess(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.BootstrapKeyID, cfg.BootstrapSecret = "AKSERVERTEST00000001", "server-test-secret-0123456789"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, cfg, Options{Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + s.Addr().String()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()

	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s = %d", path, resp.StatusCode)
		}
	}
	c := robomaker.New(session.Must(session.NewSession(&aws.Config{
		Endpoint: aws.String(url), Region: aws.String(cfg.Region), MaxRetries: aws.Int(0),
		Credentials: credentials.NewStaticCredentials(cfg.BootstrapKeyID, cfg.BootstrapSecret, ""),
	})))
	f, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("in-process")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: f.Arn})
	if err != nil || aws.StringValue(got.Name) != "in-process" {
		t.Fatalf("DescribeFleet = %v, %v", got, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after Serve returned")
	}
}

// TestOptionsNowIsEveryComponentsClock: a server given a clock stamps
// resources with it (the ARN's millisecond epoch and createdAt), and checks
// signatures against it (a request signed 5 minutes away from it is inside
// the 15-minute skew allowed).
func TestOptionsNowIsEveryComponentsClock(t *testing.T) {
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.BootstrapKeyID, cfg.BootstrapSecret = "AKSERVERTEST00000001", "server-test-secret-0123456789"
	fixed := time.Now().Add(-5 * time.Minute).Truncate(time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := New(ctx, cfg, Options{Stdout: io.Discard, Now: func() time.Time { return fixed }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	defer func() { cancel(); <-done }()
	c := robomaker.New(session.Must(session.NewSession(&aws.Config{
		Endpoint: aws.String("http://" + s.Addr().String()), Region: aws.String(cfg.Region), MaxRetries: aws.Int(0),
		Credentials: credentials.NewStaticCredentials(cfg.BootstrapKeyID, cfg.BootstrapSecret, ""),
	})))
	f, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("clock")})
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
