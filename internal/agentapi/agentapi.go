// Package agentapi is the server side of the agent protocol (package proto):
// signed long-polls that hand robots their deployments, progress and result
// reports, and signed bundle download URLs with Range support.
//
// It is transport only: each request is authenticated (auth.go), decoded,
// handed to the domain's deploy.Robots, and its answer encoded
// (handlers.go). Besides that it owns the long-poll wake-ups (hub.go), the
// replay protection (nonces.go), the session credentials (session.go) and
// the bundle download URLs and stream (download.go).
package agentapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/tenancy"
)

// Config wires the agent endpoint.
type Config struct {
	// Robots is the domain service every poll and report goes to.
	Robots *deploy.Robots
	// Bundles is the bundle store, read only as the downloading robot's
	// account sees it (Bundles.For): a URL never outlives a bucket grant.
	Bundles *tenancy.Bundles
	// Presign, when set, issues the download URLs (an S3 store's presigned
	// GETs); when nil, URLs point at this endpoint, which streams from
	// Bundles.
	Presign blob.Presigner
	Hub     *Hub
	// Nonces refuses replayed requests; nil keeps each agent's window in
	// this process, which is enough for one replica (SQLite). Replicas
	// sharing a database use StoreNonces.
	Nonces Nonces
	// RatePerSecond and Burst bound each robot's requests (a token bucket
	// per robot, in this process); over it a request is answered 429
	// Throttling with Retry-After. RatePerSecond 0 sets no limit.
	RatePerSecond float64
	Burst         int
	// URLKey signs bundle download URLs.
	URLKey []byte
	// URLTTL is how long a download URL stays valid.
	URLTTL time.Duration
	// PollInterval is the interval suggested to agents.
	PollInterval time.Duration
	// MaxWait caps a long poll (30 s).
	MaxWait time.Duration
	// IdleWait caps the longer wait of an idle robot's poll that offers
	// proto.PollRequest.IdleWaitSeconds; 0 means DefaultIdleWait.
	IdleWait time.Duration
	Log      *slog.Logger
	Now      func() time.Time
	// NoParking keeps every held poll in its handler's goroutine, even
	// over HTTP/1.1 where it could be parked (park.go).
	NoParking bool
	// GiveBack, when set, hands a parked poll's connection back to the
	// server once it answered, to be served again (false: it could not
	// be, and the connection is closed). Without it a parked poll's answer
	// closes its connection.
	GiveBack func(net.Conn) bool
	// Guard bounds failed signature checks per client address and agent
	// id (shared with the API and the console); nil: one of the endpoint's
	// own with the default limits.
	Guard *authguard.Guard
}

// API serves /agent/v1/.
type API struct {
	cfg      Config
	mux      *http.ServeMux
	sessions sessions
	rates    rates
	slots    slots
}

// New builds the agent endpoint.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleWait <= 0 {
		cfg.IdleWait = DefaultIdleWait
	}
	if cfg.Nonces == nil {
		cfg.Nonces = &nonceCache{}
	}
	if cfg.Guard == nil {
		cfg.Guard = authguard.New(authguard.DefaultLimits(), cfg.Now)
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST "+proto.PathPoll, a.poll)
	a.mux.HandleFunc("POST "+proto.PathReport, a.report)
	a.mux.HandleFunc("POST "+proto.PathSession, a.openSession)
	a.mux.HandleFunc("GET "+proto.PathBundle+"{token}", a.bundle)
	a.mux.HandleFunc("POST "+proto.PathLog, a.log)
	return a
}

// DefaultIdleWait is how long an idle robot's poll is held at most: minutes,
// so that an idle fleet costs a few requests per robot per quarter hour,
// under the idle timeouts of NAT gateways (AWS's is 350 s); the connection
// is kept open by TCP keepalives (Go's listeners send them every 15 s) and
// HTTP/2 multiplexes the polls of many agents on one connection.
const DefaultIdleWait = 4 * time.Minute

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, proto.Error{Code: code, Message: msg})
}

// logFailure logs a failed request as an error, unless the agent went away
// first (its context ended): that is the agent's business, not a fault here.
func (a *API) logFailure(ctx context.Context, msg string, args ...any) {
	if ctx.Err() != nil {
		a.cfg.Log.Debug(msg+" (agent gone)", args...)
		return
	}
	a.cfg.Log.Error(msg, args...)
}
