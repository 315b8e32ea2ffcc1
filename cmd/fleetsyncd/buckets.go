package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

const bucketsUsage = "usage: fleetsyncd buckets grant --account N BUCKET | revoke --account N BUCKET | list [--account N] (BUCKET '*' is every bucket)"

// buckets runs `buckets grant|revoke|list` on the same data directory and
// database flags as the server: which buckets of the bundle store each
// account may name (package tenancy).
func buckets(cfg config.Config, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%s", bucketsUsage)
	}
	verb := args[0]
	fs := flag.NewFlagSet("fleetsyncd buckets "+verb, flag.ContinueOnError)
	cfg.Register(fs)
	account := fs.String("account", "", "12-digit account")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	want, known := map[string]int{"grant": 1, "revoke": 1, "list": 0}[verb]
	if !known {
		return fmt.Errorf("unknown buckets command %q: want grant, revoke or list", verb)
	}
	if len(pos) != want || (want == 1 && *account == "") {
		return fmt.Errorf("%s: got arguments %q", bucketsUsage, pos)
	}
	ctx := context.Background()
	d, err := openQuietly(ctx, cfg)
	if err != nil {
		return err
	}
	defer d.Store.Close()
	b := &tenancy.Bundles{Grants: d.Store}
	switch verb {
	case "grant":
		if err := b.Grant(ctx, *account, pos[0], time.Now().UnixMilli()); err != nil {
			return err
		}
		fmt.Printf("granted %s to account %s\n", pos[0], *account)
	case "revoke":
		if err := b.Revoke(ctx, *account, pos[0]); err != nil {
			return err
		}
		fmt.Printf("revoked %s from account %s\n", pos[0], *account)
	case "list":
		list, err := b.List(ctx, *account)
		if err != nil {
			return err
		}
		fmt.Printf("%-12s %-20s %s\n", "ACCOUNT", "GRANTED", "BUCKET")
		for _, g := range list {
			when := "at upgrade"
			if g.CreatedMs != 0 {
				when = time.UnixMilli(g.CreatedMs).UTC().Format(time.RFC3339)
			}
			name := g.Bucket
			if name == store.AllBuckets {
				name = "* (every bucket)"
			}
			fmt.Printf("%-12s %-20s %s\n", g.Account, when, name)
		}
	}
	return nil
}
