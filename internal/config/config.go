// Package config holds fleetsyncd's settings and loads them from flags, each
// of which also reads FLEETSYNC_<FLAG> from the environment (flags win).
package config

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsync/fleetsync/internal/blob/s3blob"
)

// Config is everything fleetsyncd can be told.
type Config struct {
	Listen   string
	DataDir  string
	Database string
	Bundles  string
	Region   string
	LogLevel string
	// DebugListen, when set, serves net/http/pprof there (keep it on loopback).
	DebugListen string

	// AgentPollInterval is the poll interval suggested to agents; an agent
	// silent for 3 intervals plus the long-poll wait makes its robot NoResponse.
	AgentPollInterval time.Duration
	// AgentMaxWait caps an agent's long poll (30 s).
	AgentMaxWait time.Duration
	// AgentIdleWait caps how long the poll of an idle robot that offers an
	// idle wait (proto.PollRequest.IdleWaitSeconds) is held (4 minutes).
	AgentIdleWait time.Duration
	// EngineTick is how often the engine looks at every active job.
	EngineTick time.Duration
	// BundleURLTTL is how long a bundle download URL handed to an agent
	// stays valid (at most 7 days, S3's limit for presigned URLs).
	BundleURLTTL time.Duration
	// JobLeaseTTL is how long a replica's claim to drive a job lasts without
	// renewal (renewed every tick); another replica takes a job over at
	// most this long after its driver died.
	JobLeaseTTL time.Duration

	// DBMaxConns and DBStatementTimeout tune the PostgreSQL pool.
	DBMaxConns         int
	DBStatementTimeout time.Duration

	// RatePerSecond and Burst bound each credential's API request rate.
	RatePerSecond float64
	Burst         int

	// Rollout holds the retry and quarantine settings (rollout.go).
	Rollout Rollout

	// Bootstrap credential (FLEETSYNC_BOOTSTRAP_*), created at start if absent.
	BootstrapKeyID   string
	BootstrapSecret  string
	BootstrapAccount string

	// Limits bound what one client can hold of the listener (limits.go).
	Limits Limits

	Ops
}

// Default returns the embedded defaults: SQLite and a bundle directory under
// ./fleetsync-data, loopback only.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080", DataDir: "./fleetsync-data", Region: "us-east-1", LogLevel: "info",
		RatePerSecond: 200, Burst: 400, BootstrapAccount: "123456789012",
		AgentPollInterval: 10 * time.Second, AgentMaxWait: 30 * time.Second, AgentIdleWait: 4 * time.Minute, EngineTick: time.Second, JobLeaseTTL: 30 * time.Second,
		DBMaxConns: 20, DBStatementTimeout: 30 * time.Second, BundleURLTTL: time.Hour,
		Limits:  DefaultLimits(),
		Ops:     DefaultOps(),
		Rollout: Rollout{MaxAttempts: 3, RetryBackoff: 10 * time.Second, QuarantineAfter: 3},
	}
}

// Register declares the flags on fs, with defaults taken from the environment.
func (c *Config) Register(fs *flag.FlagSet) {
	str := func(p *string, name, usage string) { strEnv(fs, p, name, usage) }
	str(&c.Listen, "listen", "address to serve the API, agent endpoint and console on")
	str(&c.DataDir, "data-dir", "directory for the SQLite database, bundles and keys")
	str(&c.Database, "database", "database URL: sqlite:///path/file.db (default <data-dir>/fleetsync.db)")
	str(&c.Bundles, "bundles", "bundle store URL: file:///dir (default <data-dir>/bundles) or s3://?endpoint=URL&region=R&path_style=true&buckets=a,b&presign=false")
	str(&c.Region, "region", "AWS region requests are signed for and ARNs carry")
	str(&c.LogLevel, "log-level", "debug, info, warn or error")
	str(&c.DebugListen, "debug-listen", "address for the pprof debug endpoints (off when empty)")
	fs.Float64Var(&c.RatePerSecond, "rate-limit", envFloat("rate-limit", c.RatePerSecond), "API requests per second per access key (env FLEETSYNC_RATE_LIMIT)")
	intEnv(fs, &c.Burst, "rate-burst", "API request burst per access key")
	dur := func(p *time.Duration, name, usage string) { durEnv(fs, p, name, usage) }
	dur(&c.AgentPollInterval, "agent-poll-interval", "poll interval suggested to agents")
	dur(&c.AgentMaxWait, "agent-max-wait", "longest an agent's long poll is held")
	dur(&c.AgentIdleWait, "agent-idle-wait", "longest the poll of an idle robot offering an idle wait is held (keep it under the idle timeouts of NATs and proxies between robots and server)")
	dur(&c.EngineTick, "engine-tick", "how often the deployment engine revisits active jobs")
	dur(&c.BundleURLTTL, "bundle-url-ttl", "how long a bundle download URL given to an agent stays valid")
	dur(&c.JobLeaseTTL, "job-lease-ttl", "how long a replica's lease on a job lasts unrenewed (takeover time after it dies)")
	dur(&c.DBStatementTimeout, "db-statement-timeout", "PostgreSQL statement timeout")
	intEnv(fs, &c.DBMaxConns, "db-max-conns", "PostgreSQL connection pool size")
	c.Limits.register(fs)
	c.registerOps(fs)
	c.registerRollout(fs, dur)
	c.BootstrapKeyID = os.Getenv("FLEETSYNC_BOOTSTRAP_ACCESS_KEY_ID")
	c.BootstrapSecret = os.Getenv("FLEETSYNC_BOOTSTRAP_SECRET_ACCESS_KEY")
	if v := os.Getenv("FLEETSYNC_BOOTSTRAP_ACCOUNT"); v != "" {
		c.BootstrapAccount = v
	}
}

func envName(flagName string) string {
	return "FLEETSYNC_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// strEnv declares a string flag defaulting from its FLEETSYNC_* variable.
func strEnv(fs *flag.FlagSet, p *string, name, usage string) {
	fs.StringVar(p, name, env(name, *p), usage+" (env "+envName(name)+")")
}

// durEnv declares a duration flag defaulting from the environment; an
// unparsable variable makes the default -1, which Validate reports.
func durEnv(fs *flag.FlagSet, p *time.Duration, name, usage string) {
	d := *p
	if v, ok := os.LookupEnv(envName(name)); ok {
		if parsed, err := time.ParseDuration(v); err == nil {
			d = parsed
		} else {
			d = -1
		}
	}
	fs.DurationVar(p, name, d, usage+" (env "+envName(name)+")")
}

// intEnv declares an int flag defaulting from the environment; an
// unparsable variable makes the default -1, which Validate reports.
func intEnv(fs *flag.FlagSet, p *int, name, usage string) {
	n := *p
	if v, ok := os.LookupEnv(envName(name)); ok {
		if parsed, err := strconv.Atoi(v); err == nil {
			n = parsed
		} else {
			n = -1
		}
	}
	fs.IntVar(p, name, n, usage+" (env "+envName(name)+")")
}

func env(flagName, def string) string {
	if v, ok := os.LookupEnv(envName(flagName)); ok {
		return v
	}
	return def
}

func envFloat(flagName string, def float64) float64 {
	v, ok := os.LookupEnv(envName(flagName))
	if !ok {
		return def
	}
	var f float64
	if _, err := fmt.Sscan(v, &f); err != nil {
		return -1 // Validate reports it
	}
	return f
}

// Postgres reports whether the database is PostgreSQL.
func (c Config) Postgres() bool {
	u, err := url.Parse(c.Database)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

// SQLitePath returns the SQLite file to use ("" for PostgreSQL), or an error
// for an unsupported database URL.
func (c Config) SQLitePath() (string, error) {
	if c.Database == "" {
		return filepath.Join(c.DataDir, "fleetsync.db"), nil
	}
	u, err := url.Parse(c.Database)
	if err != nil {
		return "", fmt.Errorf("--database %q: %w", c.Database, err)
	}
	switch u.Scheme {
	case "sqlite", "file":
		return u.Path, nil
	case "postgres", "postgresql":
		return "", nil
	}
	return "", fmt.Errorf("--database %q: scheme must be sqlite:// or postgres://", c.Database)
}

// BundleDir returns the file bundle store's root directory, or "" with
// ok=false for an s3:// store (see BundleS3).
func (c Config) BundleDir() (dir string, ok bool, err error) {
	if c.Bundles == "" {
		return filepath.Join(c.DataDir, "bundles"), true, nil
	}
	u, err := url.Parse(c.Bundles)
	if err != nil {
		return "", false, fmt.Errorf("--bundles %q: %w", c.Bundles, err)
	}
	switch {
	case u.Scheme == "s3":
		return "", false, nil
	case u.Scheme != "file" || u.Path == "":
		return "", false, fmt.Errorf("--bundles %q: must be file:///absolute/dir or s3://?endpoint=URL", c.Bundles)
	}
	return u.Path, true, nil
}

// BundleS3 returns the S3 store's options when --bundles is an s3:// URL.
func (c Config) BundleS3() (s3blob.Options, error) {
	return s3blob.ParseURL(c.Bundles)
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("--listen is empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is empty"))
	}
	if c.Region == "" {
		errs = append(errs, errors.New("--region is empty"))
	}
	if c.RatePerSecond <= 0 || c.Burst < 1 {
		errs = append(errs, errors.New("--rate-limit and --rate-burst must be positive"))
	}
	if c.AgentPollInterval <= 0 || c.EngineTick <= 0 || c.AgentMaxWait <= 0 || c.AgentMaxWait > 30*time.Second {
		errs = append(errs, errors.New("--agent-poll-interval and --engine-tick must be positive durations, --agent-max-wait at most 30s"))
	}
	if c.AgentIdleWait <= 0 || c.AgentIdleWait > 30*time.Minute {
		errs = append(errs, errors.New("--agent-idle-wait must be a positive duration of at most 30m"))
	}
	errs = append(errs, c.Rollout.validate()...)
	if c.EngineTick > 0 && c.JobLeaseTTL < 2*c.EngineTick {
		errs = append(errs, errors.New("--job-lease-ttl must be at least twice --engine-tick (leases are renewed every tick)"))
	}
	if c.DBMaxConns < 1 || c.DBStatementTimeout < 0 {
		errs = append(errs, errors.New("--db-max-conns must be positive and --db-statement-timeout a duration (0: none)"))
	}
	if (c.BootstrapKeyID == "") != (c.BootstrapSecret == "") {
		errs = append(errs, errors.New("FLEETSYNC_BOOTSTRAP_ACCESS_KEY_ID and FLEETSYNC_BOOTSTRAP_SECRET_ACCESS_KEY go together"))
	}
	if _, err := c.SQLitePath(); err != nil {
		errs = append(errs, err)
	}
	if _, file, err := c.BundleDir(); err != nil {
		errs = append(errs, err)
	} else if !file {
		if _, err := c.BundleS3(); err != nil {
			errs = append(errs, err)
		}
	}
	if c.BundleURLTTL <= 0 || c.BundleURLTTL > 7*24*time.Hour {
		errs = append(errs, errors.New("--bundle-url-ttl must be a positive duration of at most 7 days (168h)"))
	}
	if err := c.Limits.validate(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, c.validateOps()...)
	return errors.Join(errs...)
}
