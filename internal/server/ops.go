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

// serve serves srv on ln: HTTPS with HTTP/2 and HTTP/1.1 when tlsConf is set
// (ServeTLS adds the ALPN protocols), else plain HTTP/1.1 and h2c.
func serve(srv *http.Server, ln net.Listener, tlsConf *tls.Config, log *slog.Logger) error {
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
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
	return srv.ServeTLS(ln, "", "")
}
