// Command fleetsyncd is the fleetsync control plane: the AWS
// RoboMaker-compatible API, served on the embedded defaults (SQLite and a
// bundle directory under ./fleetsync-data) unless told otherwise.
//
//	fleetsyncd [--listen 127.0.0.1:8080] [--data-dir ./fleetsync-data] [--database URL] [--bundles URL] [--region us-east-1] [--addr-file FILE]
//
// With --listen HOST:0 the system picks the port; --addr-file writes the
// address bound (host:port and a newline) to FILE once the server listens,
// so a launcher never has to guess a free port.
//
//	fleetsyncd credentials create [--account 123456789012] | list | revoke KEYID
//	fleetsyncd buckets grant|revoke --account N BUCKET | list [--account N]
//	fleetsyncd backup --to FILE
//	fleetsyncd healthcheck
//	fleetsyncd version | --version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsyncd:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg := config.Default()
	if len(args) > 0 {
		switch args[0] {
		case "credentials":
			return credentials(cfg, args[1:])
		case "buckets":
			return buckets(cfg, args[1:])
		case "backup":
			return backup(cfg, args[1:], os.Stdout)
		case "healthcheck":
			return healthcheck(cfg, args[1:], os.Stdout)
		case "version", "--version", "-version":
			printVersion(os.Stdout)
			return nil
		}
	}
	fs := flag.NewFlagSet("fleetsyncd", flag.ContinueOnError)
	cfg.Register(fs)
	addrFile := fs.String("addr-file", os.Getenv("FLEETSYNC_ADDR_FILE"), "file to write the bound listen address to once listening (env FLEETSYNC_ADDR_FILE)")
	setUsage(fs)
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// SIGHUP (systemctl reload, cert-manager hooks) re-reads the TLS
	// certificate; subscribing here also stops it ending the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := server.New(ctx, cfg, server.Options{Stdout: os.Stdout, Log: log, Reload: hup})
	if err != nil {
		return err
	}
	if *addrFile != "" {
		if err := writeAddr(*addrFile, s.Addr().String()); err != nil {
			return fmt.Errorf("--addr-file: %w", err)
		}
	}
	return s.Serve(ctx)
}

// writeAddr writes addr to path atomically (a temporary file renamed), so a
// launcher polling for the file never reads half of it.
func writeAddr(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// credentials runs the `credentials create|list|revoke` subcommands on the
// same data directory and database flags as the server.
func credentials(cfg config.Config, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: fleetsyncd credentials create [--account N] | list | revoke KEYID")
	}
	verb := args[0]
	fs := flag.NewFlagSet("fleetsyncd credentials "+verb, flag.ContinueOnError)
	cfg.Register(fs)
	account := fs.String("account", cfg.BootstrapAccount, "12-digit account the new credential belongs to")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	// A stray or missing argument is an error, never ignored: a revoke
	// that did not revoke must not look like one that did.
	if want, known := map[string]int{"create": 0, "list": 0, "revoke": 1}[verb]; known && len(pos) != want {
		return fmt.Errorf("usage: fleetsyncd credentials create [--account N] | list | revoke KEYID (flags before or after KEYID): got arguments %q", pos)
	}
	ctx := context.Background()
	d, err := openQuietly(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Store.Close()
	switch verb {
	case "create":
		keyID, secret, err := d.Credentials.Create(ctx, *account)
		if err != nil {
			return err
		}
		fmt.Printf("export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s\n", keyID, secret)
	case "list":
		list, err := d.Credentials.List(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("%-24s %-12s %-20s %s\n", "ACCESS_KEY_ID", "ACCOUNT", "CREATED", "STATUS")
		for _, c := range list {
			status := "active"
			if c.RevokedMs != 0 {
				status = "revoked " + time.UnixMilli(c.RevokedMs).UTC().Format(time.RFC3339)
			}
			fmt.Printf("%-24s %-12s %-20s %s\n", c.AccessKeyID, c.Account, time.UnixMilli(c.CreatedMs).UTC().Format(time.RFC3339), status)
		}
	case "revoke":
		if err := d.Credentials.Revoke(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Printf("revoked %s\n", pos[0])
	default:
		return fmt.Errorf("unknown credentials command %q: want create, list or revoke", verb)
	}
	return nil
}

// parseInterspersed parses flags anywhere among args (flag.Parse stops at
// the first positional argument, so `revoke KEYID --data-dir X` would leave
// --data-dir unread) and returns the positional arguments in order. A lone
// "--" ends flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag.Parse consumed a "--" terminator when rest is shorter than
		// what follows the last flag: everything left is positional.
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// openQuietly opens the data directory and database for an offline
// subcommand (credentials, buckets), logging warnings only.
func openQuietly(ctx context.Context, cfg config.Config) (*server.Deps, error) {
	log, err := newLogger("warn", cfg.LogFormat)
	if err != nil {
		return nil, err
	}
	return server.Open(ctx, cfg, log)
}
