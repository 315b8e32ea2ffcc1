package config

import (
	"flag"
	"strings"
	"testing"
	"time"
)

func TestOpsDefaultsAreSpecs(t *testing.T) {
	c := Default()
	if c.MaxFleets != 1000 || c.MaxRobots != 100000 || c.MaxRobotsPerFleet != 100000 || c.MaxActiveJobs != 100 ||
		c.MaxVersionsPerApp != 40 || c.JobRetention != 90*24*time.Hour || c.FleetTimeout != 30*24*time.Hour || c.LogFormat != "text" {
		t.Fatalf("defaults %+v differ from SPEC §3/§5", c.Ops)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
}

func TestOpsFlagsAndEnv(t *testing.T) {
	t.Setenv("FLEETSYNC_MAX_FLEETS", "7")
	t.Setenv("FLEETSYNC_JOB_RETENTION", "48h")
	t.Setenv("FLEETSYNC_TLS_CERT", "/etc/c.pem")
	c := Default()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Register(fs)
	if err := fs.Parse([]string{"--max-fleets", "9", "--tls-key", "/etc/k.pem", "--trusted-proxies", "10.0.0.0/8, 127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if c.MaxFleets != 9 || c.JobRetention != 48*time.Hour || c.TLSCert != "/etc/c.pem" || c.TLSKey != "/etc/k.pem" || !c.TLS() {
		t.Fatalf("flags/env not applied: %+v", c.Ops)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestOpsValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"cert without key", func(c *Config) { c.TLSCert = "c.pem" }, "--tls-cert and --tls-key go together"},
		{"bad proxy", func(c *Config) { c.TrustedProxies = "10.0.0.0/8,nonsense" }, `"nonsense" is neither`},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"zero quota", func(c *Config) { c.MaxActiveJobs = 0 }, "--max-active-jobs must be a positive integer"},
		{"bad env int", func(c *Config) { c.MaxRobots = -1 }, "--max-robots must be"},
		{"short retention", func(c *Config) { c.JobRetention = time.Minute }, "--job-retention"},
		{"short fleet timeout", func(c *Config) { c.FleetTimeout = time.Second }, "--fleet-timeout"},
		{"reload interval", func(c *Config) { c.TLSReloadInterval = 0 }, "--tls-reload-interval"},
	}
	for _, tc := range cases {
		c := Default()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestOpsBadEnvReported(t *testing.T) {
	t.Setenv("FLEETSYNC_MAX_FLEETS", "lots")
	c := Default()
	c.Register(flag.NewFlagSet("t", flag.ContinueOnError))
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--max-fleets") {
		t.Fatalf("unparsable FLEETSYNC_MAX_FLEETS: Validate() = %v", err)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	p, err := ParseTrustedProxies(" 10.1.2.3/8 ,::1,192.0.2.1")
	if err != nil || len(p) != 3 || p[0].String() != "10.0.0.0/8" || p[1].String() != "::1/128" || p[2].String() != "192.0.2.1/32" {
		t.Fatalf("ParseTrustedProxies = %v, %v", p, err)
	}
	if p, err := ParseTrustedProxies(""); err != nil || len(p) != 0 {
		t.Fatalf("empty list = %v, %v", p, err)
	}
}

// TestIntEnvNotTruncated: every integer setting reads its variable the same
// way, and a fraction is refused rather than silently cut to an integer.
func TestIntEnvNotTruncated(t *testing.T) {
	for _, v := range []struct{ env, flag string }{
		{"FLEETSYNC_RATE_BURST", "--rate-burst"},
		{"FLEETSYNC_DB_MAX_CONNS", "--db-max-conns"},
		{"FLEETSYNC_MAX_CONNS_PER_CLIENT", "--max-conns-per-client"},
		{"FLEETSYNC_MAX_VERSIONS_PER_APP", "--max-versions-per-app"},
	} {
		t.Run(v.env, func(t *testing.T) {
			t.Setenv(v.env, "2.5")
			c := Default()
			c.Register(flag.NewFlagSet("t", flag.ContinueOnError))
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), v.flag) {
				t.Fatalf("%s=2.5: Validate() = %v, want an error naming %s", v.env, err, v.flag)
			}
		})
	}
}
