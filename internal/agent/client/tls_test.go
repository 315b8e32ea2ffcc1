package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckServerURL(t *testing.T) {
	cases := []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://fleet.example.com", false, true},
		{"http://127.0.0.1:8080", false, true},
		{"http://[::1]:8080", false, true},
		{"http://localhost:8080", false, true},
		{"http://fleet.example.com", false, false},
		{"http://10.0.0.5:8080", false, false},
		{"http://10.0.0.5:8080", true, true},
		{"ftp://fleet.example.com", true, false},
		{"fleet.example.com", false, false},
	}
	for _, c := range cases {
		err := CheckServerURL(c.url, c.insecure)
		if (err == nil) != c.ok {
			t.Errorf("CheckServerURL(%q, %v) = %v, want ok=%v", c.url, c.insecure, err, c.ok)
		}
		if err != nil && strings.HasPrefix(c.url, "http://") && !strings.Contains(err.Error(), "--insecure-http") {
			t.Errorf("refusal of %q does not say how to override: %v", c.url, err)
		}
	}
}

// tlsServer is a real TLS server (httptest's own CA) and a PEM file of its
// certificate, which is self-signed and so serves as its CA.
func tlsServer(t *testing.T) (*httptest.Server, string) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return srv, ca
}

func get(t *testing.T, o TLSOptions, url string) error {
	t.Helper()
	tr, err := NewTransport(o)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		return redact(err)
	}
	resp.Body.Close()
	return nil
}

func TestTransportTrust(t *testing.T) {
	srv, ca := tlsServer(t)
	var te *TLSError
	if err := get(t, TLSOptions{}, srv.URL); !errors.As(err, &te) || !strings.Contains(te.Reason, "--ca-file") {
		t.Fatalf("without --ca-file: %v, want a TLSError naming --ca-file", err)
	}
	if err := get(t, TLSOptions{CAFile: ca}, srv.URL); err != nil {
		t.Fatalf("with --ca-file: %v", err)
	}
	if err := get(t, TLSOptions{CAFile: ca, CAOnly: true}, srv.URL); err != nil {
		t.Fatalf("with --ca-file --ca-only: %v", err)
	}
	pin := SPKIPin(srv.Certificate())
	if err := get(t, TLSOptions{CAFile: ca, PinSHA256: []string{"sha256//" + pin}}, srv.URL); err != nil {
		t.Fatalf("with the right pin: %v", err)
	}
	// (httptest's servers all share one key: another key's pin is made up.)
	sum := sha256.Sum256([]byte("some other public key"))
	wrong := base64.StdEncoding.EncodeToString(sum[:])
	if err := get(t, TLSOptions{CAFile: ca, PinSHA256: []string{wrong}}, srv.URL); !errors.As(err, &te) || !strings.Contains(te.Reason, "pinned") {
		t.Fatalf("with a wrong pin: %v, want a pin TLSError", err)
	}
	// Pins are the server's: another host (a presigned S3 URL) is checked
	// against the roots alone; the server's host still against the pins.
	if err := get(t, TLSOptions{CAFile: ca, PinSHA256: []string{wrong}, PinHost: "fleetsync.example"}, srv.URL); err != nil {
		t.Fatalf("another host than the pinned one: %v, want its chain alone checked", err)
	}
	if err := get(t, TLSOptions{CAFile: ca, PinSHA256: []string{wrong}, PinHost: "127.0.0.1"}, srv.URL); !errors.As(err, &te) || !strings.Contains(te.Reason, "pinned") {
		t.Fatalf("the pinned host with a wrong pin: %v, want a pin TLSError", err)
	}
	// A plain HTTP server behind an https:// URL.
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	if err := get(t, TLSOptions{}, strings.Replace(plain.URL, "http://", "https://", 1)); !errors.As(err, &te) || !strings.Contains(te.Reason, "plain HTTP") {
		t.Fatalf("https to a plain HTTP server: %v, want a TLSError saying so", err)
	}
}

func TestTransportOptionErrors(t *testing.T) {
	if _, err := NewTransport(TLSOptions{CAOnly: true}); err == nil {
		t.Error("--ca-only without --ca-file accepted")
	}
	if _, err := NewTransport(TLSOptions{CAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("a missing --ca-file accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(empty, []byte("not a certificate"), 0o600)
	if _, err := NewTransport(TLSOptions{CAFile: empty}); err == nil {
		t.Error("a --ca-file without certificates accepted")
	}
	for _, p := range []string{"", "abc", "sha256//!!!", strings.Repeat("a", 63)} {
		if _, err := NewTransport(TLSOptions{PinSHA256: []string{p}}); err == nil {
			t.Errorf("pin %q accepted", p)
		}
	}
	if _, err := NewTransport(TLSOptions{PinSHA256: []string{strings.Repeat("ab", 32)}}); err != nil {
		t.Errorf("hex pin refused: %v", err)
	}
}

// TestTransportRefusesPlainHTTPOffLoopback: the URLs the server hands out
// (bundles, condition files) get the --server rule too: plain http:// only
// to loopback unless InsecureHTTP. The refusal comes before any dial.
func TestTransportRefusesPlainHTTPOffLoopback(t *testing.T) {
	local := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	t.Cleanup(local.Close)
	if err := get(t, TLSOptions{}, local.URL); err != nil {
		t.Fatalf("plain http to loopback refused: %v", err)
	}
	// 192.0.2.0/24 is TEST-NET-1: nothing answers there.
	const remote = "http://192.0.2.1:9/agent/v1/bundle/x"
	err := getWithin(t, TLSOptions{}, remote)
	if !errors.Is(err, ErrPlainHTTP) || !strings.Contains(err.Error(), "--insecure-http") {
		t.Fatalf("plain http to %s: %v, want the refusal naming --insecure-http", remote, err)
	}
	if err := getWithin(t, TLSOptions{InsecureHTTP: true}, remote); err == nil || errors.Is(err, ErrPlainHTTP) {
		t.Fatalf("with InsecureHTTP the request must be attempted (and fail to connect): %v", err)
	}
}

func getWithin(t *testing.T, o TLSOptions, url string) error {
	t.Helper()
	tr, err := NewTransport(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

// TestTransportHTTP1: the transport speaks HTTP/2 to a server offering it,
// and HTTP/1.1 over TLS with HTTP1 (what lets fleetsyncd park a held poll).
func TestTransportHTTP1(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(r.Proto)) }))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		http1 bool
		want  string
	}{{false, "HTTP/2.0"}, {true, "HTTP/1.1"}} {
		tr, err := NewTransport(TLSOptions{CAFile: ca, HTTP1: tc.http1})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if string(b) != tc.want {
			t.Errorf("HTTP1 %v: the server saw %s, want %s", tc.http1, b, tc.want)
		}
	}
}
