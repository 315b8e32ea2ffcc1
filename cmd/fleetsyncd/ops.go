package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
	"github.com/fleetsync/fleetsync/internal/version"
)

// printVersion is `fleetsyncd version` and `fleetsyncd --version`.
func printVersion(out io.Writer) {
	fmt.Fprintln(out, version.Get().String("fleetsyncd"))
}

// newLogger builds the process logger: text (the default, as the agent's)
// or JSON lines on stderr.
func newLogger(level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// backup is `fleetsyncd backup --to FILE`: a consistent online copy of the
// SQLite database (the server may be running), integrity-checked.
func backup(cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fleetsyncd backup", flag.ContinueOnError)
	cfg.Register(fs)
	to := fs.String("to", "", "file to write the copy of the database to (must not exist)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *to == "" {
		return fmt.Errorf("usage: fleetsyncd backup --to FILE [--data-dir DIR | --database sqlite:///path]")
	}
	if cfg.Postgres() {
		return fmt.Errorf("--database is PostgreSQL: back it up with pg_dump (see docs/operations.md), and keep %s", filepath.Join(cfg.DataDir, "master.key"))
	}
	path, err := cfg.SQLitePath()
	if err != nil {
		return err
	}
	ctx := context.Background()
	if err := sqlstore.BackupSQLite(ctx, path, *to); err != nil {
		return err
	}
	if err := sqlstore.CheckSQLite(ctx, *to); err != nil {
		return err
	}
	st, err := os.Stat(*to)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes, integrity ok)\n", path, *to, st.Size())
	fmt.Fprintf(stdout, "keep %s with it: without that key the stored credentials cannot be opened\n", filepath.Join(cfg.DataDir, "master.key"))
	return nil
}

// healthcheck is `fleetsyncd healthcheck`: GET /healthz on the configured
// listen address, exit status 0 if it answers 200. It is the container
// image's HEALTHCHECK (the image has no curl). Over TLS it checks liveness,
// not the certificate: it talks to its own process on loopback.
func healthcheck(cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("fleetsyncd healthcheck", flag.ContinueOnError)
	cfg.Register(fs)
	timeout := fs.Duration("timeout", 4*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", cfg.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	tr := &http.Transport{}
	if cfg.TLS() {
		scheme = "https"
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // loopback liveness probe of this very process
	}
	c := &http.Client{Timeout: *timeout, Transport: tr}
	resp, err := c.Get(scheme + "://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/healthz answered %s", resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

// usageHeader is the top of `fleetsyncd --help`, man-page style; the flags
// follow.
const usageHeader = `NAME
    fleetsyncd - fleetsync control plane (AWS RoboMaker-compatible deployments)

SYNOPSIS
    fleetsyncd [FLAGS]                          serve the API, agent endpoint, console, metrics
    fleetsyncd credentials create [--account N] | list | revoke KEYID
    fleetsyncd backup --to FILE                 consistent online copy of the SQLite database
    fleetsyncd healthcheck                      GET /healthz on --listen (exit 0 when healthy)
    fleetsyncd version | --version              version, commit and build date

DESCRIPTION
    Every flag also reads FLEETSYNC_<FLAG> from the environment (--tls-cert:
    FLEETSYNC_TLS_CERT); a flag on the command line wins. SIGTERM drains
    in-flight requests and stops; SIGHUP re-reads the TLS certificate.
    Documentation: docs/operations.md (/usr/share/doc/fleetsyncd/ when packaged).

FLAGS
`

// setUsage makes fs print the man-page-style help.
func setUsage(fs *flag.FlagSet) {
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usageHeader)
		fs.PrintDefaults()
	}
}
