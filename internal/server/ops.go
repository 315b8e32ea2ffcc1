package server

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fleetsync/fleetsync/internal/config"
	"github.com/fleetsync/fleetsync/internal/forwarded"
	"github.com/fleetsync/fleetsync/internal/metrics"
	"github.com/fleetsync/fleetsync/internal/registry"
	"github.com/fleetsync/fleetsync/internal/version"
)

// opsHandler wraps the server's routes in what production needs around them:
// the trusted-proxy view of each request (client address, TLS at the edge),
// then the access log.
func opsHandler(cfg config.Config, log *slog.Logger, versions *agentVersions, next http.Handler) (http.Handler, error) {
	trusted, err := config.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	return forwarded.Middleware(trusted, accessLog(log.With("component", "access"), versions, next)), nil
}

// opsMetrics adds the build and agent-version metrics.
func opsMetrics(m *metrics.Metrics, versions *agentVersions) {
	v := version.Get()
	m.BuildInfo(v.Version, v.Commit, v.Go)
	m.AgentVersions(func() map[string]int { return versions.counts(time.Now().Add(-10 * time.Minute)) })
}

// registryLimits are the registry quotas of the settings.
func registryLimits(cfg config.Config) registry.Limits {
	l := registry.DefaultLimits()
	l.FleetsPerAccount, l.RobotsPerAccount, l.RobotsPerFleet, l.VersionsPerApplication =
		cfg.MaxFleets, cfg.MaxRobots, cfg.MaxRobotsPerFleet, cfg.MaxVersionsPerApp
	return l
}

// serverTLS is the TLS configuration connections are served with: conf
// offering HTTP/2 and HTTP/1.1 by ALPN (what ServeTLS would add); nil
// without TLS.
func serverTLS(conf *tls.Config) *tls.Config {
	if conf == nil {
		return nil
	}
	c := conf.Clone()
	c.NextProtos = []string{"h2", "http/1.1"}
	return c
}

// serve serves srv on ln: HTTPS with HTTP/2 and HTTP/1.1 when tlsConf (a
// serverTLS configuration) is set: ln makes the TLS connections with it,
// and it tells net/http to serve HTTP/2 on those that chose it. Else plain
// HTTP/1.1 and h2c.
func serve(srv *http.Server, ln net.Listener, tlsConf *tls.Config, log *slog.Logger) error {
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.HTTP2 = heldPollHTTP2()
	if tlsConf == nil {
		// HTTP/2 without TLS (prior knowledge) lets thousands of agents behind
		// one client share a few connections; HTTP/1.1 stays for everyone else.
		srv.Protocols.SetUnencryptedHTTP2(true)
		return srv.Serve(ln)
	}
	srv.Protocols.SetHTTP2(true)
	srv.TLSConfig = tlsConf
	// Handshake errors (scanners, clients that do not trust the certificate)
	// go to the structured log at debug level instead of the standard logger.
	srv.ErrorLog = slog.NewLogLogger(log.With("component", "tls").Handler(), slog.LevelDebug)
	return srv.Serve(ln)
}

// MaxStreamsPerConn is how many requests one HTTP/2 connection may carry at
// once (SETTINGS_MAX_CONCURRENT_STREAMS, net/http's default): a client
// multiplexing agents, as the simulator does, opens another connection
// before it reaches this.
const MaxStreamsPerConn = 250

// heldPollHTTP2 is the HTTP/2 configuration (h2 and h2c) for polls held for
// minutes with no byte sent: after a minute without a frame from the
// client the server sends a PING, which keeps NATs and middleboxes that
// track the connection's traffic from dropping it, and closes a connection
// whose PING goes unanswered for 15 s, ending the polls it held (a robot
// gone, or its network). HTTP/1.1 has no such frame: a held HTTP/1.1 poll
// relies on TCP keepalive (net/http's listener: probes after 15 s idle).
//
// The header table stays at its default (4096): a smaller
// MaxDecoderHeaderTableSize saved 1 KB per robot on connections of their
// own, but net/http's server applies it before the client has seen the
// SETTINGS, so requests a client encoded for the larger table failed the
// whole connection with COMPRESSION_ERROR (5,081 of them in a 100,000-robot
// rollout).
func heldPollHTTP2() *http.HTTP2Config {
	return &http.HTTP2Config{MaxConcurrentStreams: MaxStreamsPerConn, SendPingTimeout: time.Minute, PingTimeout: 15 * time.Second}
}
