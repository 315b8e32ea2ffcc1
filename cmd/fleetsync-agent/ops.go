package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/version"
)

// transportFlags are `run`'s flags on whom the agent trusts.
type transportFlags struct {
	caFile       string
	caOnly       bool
	pins         string
	insecureHTTP bool
	http1        bool
	logFormat    string
}

func (t *transportFlags) register(flags *flag.FlagSet) {
	flags.StringVar(&t.caFile, "ca-file", "", "PEM bundle of CA certificates trusted for the server, added to the system roots")
	flags.BoolVar(&t.caOnly, "ca-only", false, "trust only --ca-file, not the system roots")
	flags.StringVar(&t.pins, "pin-sha256", "", "comma-separated base64 SHA-256 hashes of public keys (SPKI), one of which the server's verified chain must hold")
	flags.BoolVar(&t.insecureHTTP, "insecure-http", false, "allow plain http:// to a server, or a download URL, that is not on loopback (unencrypted: trusted networks only)")
	flags.BoolVar(&t.http1, "http1", false, "speak HTTP/1.1 over TLS instead of HTTP/2: the server then holds this robot's idle poll at about a third of the memory (no HTTP/2 state, no goroutine)")
	flags.StringVar(&t.logFormat, "log-format", "text", "log format: text or json")
}

// httpClient checks --server and builds the agent's HTTP client.
func (t *transportFlags) httpClient(server string) (*http.Client, error) {
	if err := client.CheckServerURL(server, t.insecureHTTP); err != nil {
		return nil, err
	}
	var pins []string
	for _, p := range strings.Split(t.pins, ",") {
		if p = strings.TrimSpace(p); p != "" {
			pins = append(pins, p)
		}
	}
	// The pins are the server's: presigned bundle URLs of another host are
	// checked against the roots alone.
	pinHost := ""
	if u, err := url.Parse(server); err == nil {
		pinHost = u.Hostname()
	}
	tr, err := client.NewTransport(client.TLSOptions{CAFile: t.caFile, CAOnly: t.caOnly, PinSHA256: pins, PinHost: pinHost, InsecureHTTP: t.insecureHTTP, HTTP1: t.http1})
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: tr}, nil
}

// newLogger builds the agent's logger: text (the default, as fleetsyncd's)
// or JSON lines.
func newLogger(w io.Writer, level slog.Level, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

func cmdVersion(stdout io.Writer) error {
	fmt.Fprintln(stdout, version.Get().String("fleetsync-agent"))
	return nil
}
