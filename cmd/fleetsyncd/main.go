// Command fleetsyncd is the fleetsync control plane: the AWS
// RoboMaker-compatible API, served on the embedded defaults (SQLite and a
// bundle directory under ./fleetsync-data) unless told otherwise.
//
//	fleetsyncd [--listen 127.0.0.1:8080] [--data-dir ./fleetsync-data] [--database URL] [--bundles URL] [--region us-east-1]
//	fleetsyncd credentials create [--account 123456789012] | list | revoke KEYID
//	fleetsyncd buckets grant|revoke --account N BUCKET | list [--account N]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
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
	if len(args) > 0 && args[0] == "credentials" {
		return credentials(cfg, args[1:])
	}
	if len(args) > 0 && args[0] == "buckets" {
		return buckets(cfg, args[1:])
	}
	fs := flag.NewFlagSet("fleetsyncd", flag.ContinueOnError)
	cfg.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return server.Run(ctx, cfg, os.Stdout, log)
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
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
	log, err := newLogger("warn")
	if err != nil {
		return err
	}
	ctx := context.Background()
	d, err := server.Open(ctx, cfg, log)
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
