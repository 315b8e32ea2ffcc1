package config

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Ops are the production-operations settings: TLS, the proxies trusted to
// report the client, the log format, and the quotas and retention of SPEC §3
// and §5. They are embedded in Config.
type Ops struct {
	// TLSCert and TLSKey are PEM files; both set serves HTTPS (and HTTP/2)
	// instead of plain HTTP. They are re-read when they change on disk
	// (checked every TLSReloadInterval) and on SIGHUP.
	TLSCert, TLSKey string
	// TLSReloadInterval is how often the certificate files are checked.
	TLSReloadInterval time.Duration
	// TrustedProxies is a comma-separated list of CIDRs or addresses whose
	// X-Forwarded-For and X-Forwarded-Proto headers are believed.
	TrustedProxies string
	// LogFormat is "text" or "json" (the agent has the same flag and default).
	LogFormat string

	// Quotas (SPEC §3); over one is LimitExceededException.
	MaxFleets, MaxRobots, MaxRobotsPerFleet, MaxActiveJobs, MaxVersionsPerApp int
	// JobRetention is how long a finished deployment job is kept.
	JobRetention time.Duration
	// FleetTimeout ends a job still running this long after it started
	// (FleetDeploymentTimeout).
	FleetTimeout time.Duration
}

// DefaultOps are SPEC's defaults.
func DefaultOps() Ops {
	return Ops{
		TLSReloadInterval: 10 * time.Second, LogFormat: "text",
		MaxFleets: 1000, MaxRobots: 100000, MaxRobotsPerFleet: 100000, MaxActiveJobs: 100, MaxVersionsPerApp: 40,
		JobRetention: 90 * 24 * time.Hour, FleetTimeout: 30 * 24 * time.Hour,
	}
}

// registerOps declares the Ops flags, defaulting from FLEETSYNC_* variables.
func (c *Config) registerOps(fs *flag.FlagSet) {
	str := func(p *string, name, usage string) { strEnv(fs, p, name, usage) }
	str(&c.TLSCert, "tls-cert", "PEM certificate (chain) file: serve HTTPS and HTTP/2 (reloaded when it changes or on SIGHUP)")
	str(&c.TLSKey, "tls-key", "PEM private key file for --tls-cert")
	str(&c.TrustedProxies, "trusted-proxies", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For/-Proto headers are trusted (none when empty)")
	str(&c.LogFormat, "log-format", "log format: text or json")
	durEnv(fs, &c.TLSReloadInterval, "tls-reload-interval", "how often the TLS certificate files are checked for a change")
	durEnv(fs, &c.JobRetention, "job-retention", "how long a finished deployment job is kept before it is deleted")
	durEnv(fs, &c.FleetTimeout, "fleet-timeout", "a deployment job still running this long after it started fails with FleetDeploymentTimeout")
	intEnv(fs, &c.MaxFleets, "max-fleets", "quota: fleets per account")
	intEnv(fs, &c.MaxRobots, "max-robots", "quota: robots per account")
	intEnv(fs, &c.MaxRobotsPerFleet, "max-robots-per-fleet", "quota: robots registered to one fleet")
	intEnv(fs, &c.MaxActiveJobs, "max-active-jobs", "quota: deployment jobs Pending, Preparing or InProgress per account")
	intEnv(fs, &c.MaxVersionsPerApp, "max-versions-per-app", "quota: versions per robot application")
}

// ParseTrustedProxies parses a --trusted-proxies list: CIDRs ("10.0.0.0/8")
// or single addresses ("127.0.0.1"), comma-separated.
func ParseTrustedProxies(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxies: %q is neither a CIDR nor an IP address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// TLS reports whether HTTPS is configured.
func (c Config) TLS() bool { return c.TLSCert != "" }

// validateOps reports every problem with the Ops settings.
func (c Config) validateOps() []error {
	var errs []error
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key go together"))
	}
	if c.TLSReloadInterval <= 0 {
		errs = append(errs, errors.New("--tls-reload-interval must be a positive duration"))
	}
	if _, err := ParseTrustedProxies(c.TrustedProxies); err != nil {
		errs = append(errs, err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	for _, q := range []struct {
		name string
		v    int
	}{{"max-fleets", c.MaxFleets}, {"max-robots", c.MaxRobots}, {"max-robots-per-fleet", c.MaxRobotsPerFleet},
		{"max-active-jobs", c.MaxActiveJobs}, {"max-versions-per-app", c.MaxVersionsPerApp}} {
		if q.v < 1 {
			errs = append(errs, fmt.Errorf("--%s must be a positive integer", q.name))
		}
	}
	if c.MaxVersionsPerApp > 9999 {
		// Versions are numbered "1".."N"; the model allows up to 255 chars
		// but the SPEC's number is 40: keep it within reason.
		errs = append(errs, errors.New("--max-versions-per-app must be at most 9999"))
	}
	if c.JobRetention < time.Hour {
		errs = append(errs, errors.New("--job-retention must be a duration of at least 1h"))
	}
	if c.FleetTimeout < time.Minute {
		errs = append(errs, errors.New("--fleet-timeout must be a duration of at least 1m (robot timeouts start at 60s)"))
	}
	return errs
}
