package config

import (
	"errors"
	"flag"
	"time"
)

// Limits bounds what any one client can hold of the server's listener
// (API, agent endpoint and console alike). See docs/security.md.
type Limits struct {
	// ReadHeaderTimeout is how long a client may take to send its request
	// line and headers.
	ReadHeaderTimeout time.Duration
	// BodyTimeout is how long a client may take to send a request body
	// once its headers are in; a stalled body ends the request with a 400
	// and frees the connection. Bodiless requests (long polls, downloads,
	// server-sent events) are not affected.
	BodyTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps the request line plus headers (431 beyond).
	MaxHeaderBytes int
	// MaxConns caps open connections; 0 derives it from the open-file
	// limit. At the cap, a new connection evicts the one stalled longest
	// (no request yet, idle, or stuck sending a body); when none is
	// stalled, the new one is answered 503 and closed.
	MaxConns int
	// MaxConnsPerClient caps one client IP's open connections (0: no
	// cap; agents behind one NAT share an address).
	MaxConnsPerClient int
	// MaxStreamsPerSession caps a console session's live views
	// (server-sent event streams), which are exempt from the timeouts.
	MaxStreamsPerSession int
	// DBCheckInterval is how often /readyz re-runs SQLite's quick_check
	// (in the background, on a connection of its own).
	DBCheckInterval time.Duration
	// AgentRatePerSecond and AgentBurst bound each robot's requests to the
	// agent endpoint (429 Throttling with Retry-After beyond; 0: no
	// limit). A real agent sends a few per minute, more while it
	// downloads and reports progress.
	AgentRatePerSecond float64
	AgentBurst         int
}

// DefaultLimits are sane for one server with thousands of agents.
func DefaultLimits() Limits {
	return Limits{ReadHeaderTimeout: 10 * time.Second, BodyTimeout: 20 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, MaxStreamsPerSession: 8, DBCheckInterval: time.Minute,
		AgentRatePerSecond: 10, AgentBurst: 50}
}

func (l *Limits) register(fs *flag.FlagSet) {
	dur := func(p *time.Duration, name, usage string) { durEnv(fs, p, name, usage) }
	num := func(p *int, name, usage string) { intEnv(fs, p, name, usage) }
	dur(&l.ReadHeaderTimeout, "read-header-timeout", "longest a client may take to send its request headers")
	dur(&l.BodyTimeout, "body-timeout", "longest a client may take to send a request body once its headers are in")
	dur(&l.IdleTimeout, "idle-timeout", "keep-alive connections idle this long are closed")
	dur(&l.DBCheckInterval, "db-check-interval", "how often /readyz re-checks the SQLite file's integrity (PRAGMA quick_check)")
	num(&l.MaxHeaderBytes, "max-header-bytes", "largest request line plus headers, in bytes")
	num(&l.MaxConns, "max-conns", "most open client connections (0: half the open-file limit, less 64 kept for files and the database)")
	num(&l.MaxConnsPerClient, "max-conns-per-client", "most open connections from one client IP (0: no cap)")
	num(&l.MaxStreamsPerSession, "max-streams-per-session", "most live console views (server-sent event streams) per console session")
	fs.Float64Var(&l.AgentRatePerSecond, "agent-rate-limit", envFloat("agent-rate-limit", l.AgentRatePerSecond),
		"agent endpoint requests per second per robot, 0 for no limit (env "+envName("agent-rate-limit")+")")
	num(&l.AgentBurst, "agent-burst", "agent endpoint requests a robot may send at once above its rate")
}

func (l Limits) validate() error {
	if l.ReadHeaderTimeout <= 0 || l.BodyTimeout <= 0 || l.IdleTimeout <= 0 || l.DBCheckInterval <= 0 {
		return errors.New("--read-header-timeout, --body-timeout, --idle-timeout and --db-check-interval must be positive durations")
	}
	if l.AgentRatePerSecond < 0 || l.AgentBurst < 1 {
		return errors.New("--agent-rate-limit must be at least 0 (0: no limit) and --agent-burst at least 1")
	}
	if l.MaxHeaderBytes < 4096 || l.MaxConns < 0 || l.MaxConnsPerClient < 0 || l.MaxStreamsPerSession < 1 {
		return errors.New("--max-header-bytes must be at least 4096, --max-conns and --max-conns-per-client at least 0 (0: automatic, none), --max-streams-per-session at least 1")
	}
	return nil
}
