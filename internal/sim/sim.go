// Package sim simulates a fleet of robots for tests and benchmarks: each
// robot is a goroutine with its own Ed25519 identity that speaks the real
// agent protocol over HTTP through package client (long-poll, step reports,
// optional bundle downloads), following a Behavior the test can change at
// any time (delays, failure at a step, hanging, going offline).
//
// A simulated robot runs each assignment it receives through the steps of
// SPEC §6 in order — Validating, ExecutingDownloadCondition (when the
// assignment has a download condition), DownloadingExtracting (reported with
// percentDone 0 and 100, and in between when downloading), ExecutingPreLaunch
// (when a preLaunchFile is set), Launching, ExecutingPostLaunch (when a
// postLaunchFile is set) — reporting each step as it enters it (with
// Options.Coalesce, as the real agent: the latest step at a time), then sends
// one final report {Step: Finished, Result: Succeeded}, or {Step: FailAt,
// Result: Failed, FailureCode: FailCode} after entering the FailAt step. It
// sends its last successfully finished deployment as Current in every poll.
// On an abort (a poll's Abort naming the running job, a report answered
// with Abort, or a 409 NotAssigned) it drops the job and reports nothing
// more for it. It runs every assignment it gets, even one it already
// completed, so a server that deploys twice is caught by Completed.
//
// Offline models a network outage: the robot sends nothing (in-flight
// requests are canceled), keeps executing its deployment locally, drops
// progress reports, keeps its final report and delivers it when back online
// before polling again (so the server hears of the result by the report, or
// by Current when the report is refused).
//
// A fleet of 100,000 robots fits in one process: a goroutine per robot,
// shared HTTP clients, and no timer that outlives a wait. With HTTP/1.1 each
// outstanding long poll holds a connection, i.e. two file descriptors per
// robot when the server runs in the same process; Options.H2C multiplexes
// them over shared connections instead, RobotsPerConn robots to one
// client of its own, so that no connection is asked for more concurrent
// streams than the server allows (requests beyond them would queue in the
// client, their signatures ageing, while held polls never free a slot).
// The race detector allows at most 8128 live goroutines, so such fleets
// cannot run under -race.
package sim

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// Behavior is how a robot carries out deployments. The zero value succeeds
// at once.
type Behavior struct {
	// Delay is how long a deployment takes, spread evenly over its steps;
	// 0 is instant.
	Delay time.Duration
	// FailAt, when set, fails the deployment at that step with FailCode. It
	// has no effect when the deployment does not run that step (the
	// optional steps run only when the assignment sets them).
	FailAt proto.Step
	// FailCode is the failure code reported at FailAt; empty means the
	// step's natural code (DownloadConditionFailed, ExtractingBundleFailure,
	// PreLaunchFileFailure, PostLaunchFileFailure) or InternalServerError.
	FailCode string
	// Hang makes the robot stop before its next step after Validating and
	// stay there, reporting nothing but still polling (so an abort reaches
	// it), until it is aborted or Hang is cleared, when it carries on
	// (clearing Hang cancels the poll it is waiting in).
	Hang bool
	// Offline cuts the robot's network: no poll, report or download until
	// it is cleared (see the package comment).
	Offline bool
	// Download makes the robot really download the bundle (and the download
	// condition file) with resume and SHA-256 check instead of skipping it.
	// An integrity failure (the content, or a 412 to If-Match of its ETag)
	// fails the deployment with EtagMismatch, a 404 with ResourceNotFound,
	// another download failure with DownloadingBundleFailure.
	Download bool
}

// Options configures a Fleet.
type Options struct {
	// PollWait is the long-poll wait robots ask for (sent as WaitSeconds,
	// rounded up to whole seconds); a robot polls again as soon as a poll
	// returns. 0 asks for no long poll: robots then wait the server's
	// PollIntervalSeconds (at least one second) between polls.
	PollWait time.Duration
	// HTTP is the client every robot shares; nil makes one with a
	// connection pool sized for the fleet.
	HTTP *http.Client
	// H2C makes the default client speak HTTP/2 only, unencrypted with
	// prior knowledge for http:// servers (the server must enable it with
	// http.Server.Protocols.SetUnencryptedHTTP2). Ignored when HTTP is set.
	H2C bool
	// TLS, when set, is the TLS configuration of the default clients, for
	// https:// servers: HTTP/2 by ALPN, as the agent speaks it by default.
	// The robots share clients as with H2C. Ignored when HTTP is set.
	TLS *tls.Config
	// HTTP1 makes the TLS clients speak HTTP/1.1 (no HTTP/2 by ALPN), a
	// connection per outstanding request, as an agent run with --http1:
	// each robot has a client of its own, as each agent has. (Without TLS
	// the robots share one client, as the robots behind a TLS proxy share
	// its connections to fleetsyncd.)
	HTTP1 bool
	// RobotsPerConn is how many robots share one client (and so one
	// connection) with H2C or TLS; 0 means DefaultRobotsPerConn. 1 is a
	// real fleet's shape: a connection of its own per robot.
	RobotsPerConn int
	// NamePrefix starts every robot name, followed by the robot's zero-padded
	// index; empty means "sim-robot-".
	NamePrefix string
	// RetryBase is the first backoff after a failed request, doubling up to
	// 60 × RetryBase with full jitter (client.BackoffWith); 0 means 1s.
	// Tests use a few milliseconds.
	RetryBase time.Duration
	// DownloadDir holds partial downloads (removed once done); empty means
	// os.TempDir().
	DownloadDir string
	// Account is the account every robot's agent id is bound to; empty
	// means DefaultAccount.
	Account string
	// IdleWait, when set, is offered in every poll that waits
	// (client.Client.IdleWait): the server then holds an idle robot's poll
	// for minutes. 0 offers none, so polls end after PollWait.
	IdleWait time.Duration
	// NoSession makes the robots sign every request with their key, as
	// agents before session credentials did (client.Client.NoSession).
	NoSession bool
	// StartRate, when positive, is how many robots Start sets going per
	// second (in order), so that a large fleet connects and opens its
	// sessions as a ramp rather than all in the same instant; 0 starts
	// every robot at once.
	StartRate float64
	// Coalesce makes the robots report progress as the real agent does
	// (its heartbeat sends the latest step, one report at a time): a step
	// reported while the robot has not waited since its last report is
	// held, and superseded by the next, until the robot waits (a step's
	// Delay, a download, a hang) or sends its final report. With Delay 0
	// a deployment then sends Validating, its last step and the result
	// (three reports instead of every step's). Off, every step is reported
	// as it is entered, which tests of the step sequence rely on.
	Coalesce bool
}

// DefaultRobotsPerConn is how many robots share one HTTP/2 client (and so,
// in the steady state, one connection) with Options.H2C: fleetsyncd lets a
// connection carry 250 concurrent streams (server.MaxStreamsPerConn), and a
// robot has one request under way at a time, rarely two (a progress report
// during a download); the rest is headroom.
const DefaultRobotsPerConn = 200

// maxErrorKinds bounds the error kinds a fleet tells apart; further kinds
// count as "other".
const maxErrorKinds = 64

// DefaultAccount is fleetsyncd's default bootstrap account.
const DefaultAccount = "123456789012"

// Fleet is a set of simulated robots run by Start and Stop.
type Fleet struct {
	opts      Options
	clients   []*http.Client // the robots' shared clients: robot i uses clients[i%len(clients)] (H2C), else clients[0]
	ownClient bool
	robots    []*Robot

	errMu    sync.Mutex
	errKinds map[string]int64

	mu      sync.Mutex
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	running bool

	deploying    atomic.Int64
	maxDeploying atomic.Int64
	polls        atomic.Int64
	reports      atomic.Int64
	errors       atomic.Int64
}

// New makes a fleet of n robots for the fleetsyncd at server (a base URL),
// each with a fresh key pair. Register each Robot's AgentID as a robot's
// greengrassGroupId, then Start the fleet.
func New(server string, n int, opts Options) *Fleet {
	if opts.NamePrefix == "" {
		opts.NamePrefix = "sim-robot-"
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Second
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	f := &Fleet{opts: opts, errKinds: map[string]int64{}}
	switch {
	case opts.HTTP != nil:
		f.clients = []*http.Client{opts.HTTP}
	case (opts.H2C || opts.TLS != nil) && !opts.HTTP1:
		per := opts.RobotsPerConn
		if per <= 0 {
			per = DefaultRobotsPerConn
		}
		for range (n + per - 1) / per {
			f.clients = append(f.clients, newHTTPClient(per, true, opts.TLS))
		}
		f.ownClient = true
	case opts.TLS != nil && opts.HTTP1:
		// A pool shared by thousands of robots opens more connections
		// than robots while TLS handshakes race (a request that waited
		// for one takes another freed meanwhile), past fleetsyncd's
		// connection cap, which then evicts idle ones from under the pool:
		// 1,264 of 9,000 first polls failed so. An agent's own pool holds
		// at most its poll's and a report's connection.
		for range n {
			f.clients = append(f.clients, newHTTPClient(1, false, opts.TLS))
		}
		f.ownClient = true
	default:
		f.clients, f.ownClient = []*http.Client{newHTTPClient(n, false, opts.TLS)}, true
	}
	width := len(strconv.Itoa(max(n-1, 0)))
	for i := range n {
		hc := f.clients[0]
		if len(f.clients) > 1 {
			// Round robin: the robots a ramp starts together spread over
			// every client instead of filling one client's first connection.
			hc = f.clients[i%len(f.clients)]
		}
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(fmt.Sprintf("sim: generate key: %v", err)) // crypto/rand never fails
		}
		r := &Robot{
			Name:    fmt.Sprintf("%s%0*d", opts.NamePrefix, width, i),
			AgentID: proto.BoundAgentID(opts.Account, pub),
			fleet:   f,
			client:  &client.Client{Server: server, Key: priv, Account: opts.Account, HTTP: hc, NoSession: opts.NoSession, IdleWait: opts.IdleWait},
			changed: make(chan struct{}),
		}
		f.robots = append(f.robots, r)
	}
	return f
}

// newHTTPClient returns a client for n robots: over HTTP/1.1 a pool of a
// connection per robot; over HTTP/2 one connection in the steady state
// (n below the server's stream limit), at most two while one is replaced
// (a GOAWAY), and never a dial per waiting request when n robots start at
// once.
func newHTTPClient(n int, h2 bool, tlsConf *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0 // no limit
	t.MaxIdleConnsPerHost = max(n+n/4, 100)
	t.IdleConnTimeout = 90 * time.Second
	t.DisableCompression = true // as the agent's transport (client.NewTransport)
	var p http.Protocols
	if tlsConf != nil {
		t.TLSClientConfig = tlsConf.Clone()
	}
	switch {
	case !h2:
		p.SetHTTP1(true)
	case tlsConf != nil:
		p.SetHTTP2(true)
	default:
		p.SetUnencryptedHTTP2(true)
	}
	t.Protocols = &p
	if h2 {
		t.MaxIdleConnsPerHost, t.MaxConnsPerHost = 2, 2
	}
	return &http.Client{Transport: t}
}

// Robots returns the fleet's robots, in the order of their names.
func (f *Fleet) Robots() []*Robot { return f.robots }

// Start runs every robot in its own goroutine until ctx is done or Stop.
// Robots keep their state (running job, Current, histories, behavior)
// across Stop and Start, like an agent restarted with its state on disk.
// Start panics if the fleet is running.
func (f *Fleet) Start(ctx context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		panic("sim: Start of a running fleet")
	}
	f.running = true
	ctx, f.cancel = context.WithCancel(ctx)
	f.wg.Add(len(f.robots))
	if f.opts.StartRate <= 0 {
		for _, r := range f.robots {
			go func() {
				defer f.wg.Done()
				r.run(ctx)
			}()
		}
		return
	}
	// A ramp: robot i starts i/StartRate seconds after Start.
	go func() {
		t0 := time.Now()
		for i, r := range f.robots {
			at := t0.Add(time.Duration(float64(i) / f.opts.StartRate * float64(time.Second)))
			if d := time.Until(at); d > 0 && ctx.Err() == nil {
				sleep(ctx, d, nil)
			}
			go func() {
				defer f.wg.Done()
				if ctx.Err() == nil {
					r.run(ctx)
				}
			}()
		}
	}()
}

// Stop stops every robot and waits for their goroutines to end. It does
// nothing on a fleet not started.
func (f *Fleet) Stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		return
	}
	f.cancel()
	f.wg.Wait()
	f.running = false
	if f.ownClient {
		for _, c := range f.clients {
			c.CloseIdleConnections()
		}
	}
}

// Stats are counters over the fleet's life.
type Stats struct {
	// Polls and Reports count the requests made, failed ones included (not
	// those canceled by a behavior change or Stop).
	Polls, Reports int64
	// Errors counts failed polls, reports and download attempts.
	Errors int64
	// ErrorKinds counts them by kind: "poll: HTTP 401 Unauthorized: …",
	// "report: transport: connection reset by peer", "poll: timeout" (the
	// client gave up waiting), with digits in messages replaced by '#' so
	// that kinds do not multiply by dates and ids.
	ErrorKinds map[string]int64
	// Deploying is the number of robots between receiving an assignment and
	// sending its result (or dropping it) now; MaxConcurrentDeploying is the
	// highest it has been since New or ResetMaxConcurrentDeploying.
	Deploying, MaxConcurrentDeploying int
}

// Stats returns the fleet's counters.
func (f *Fleet) Stats() Stats {
	return Stats{
		Polls:                  f.polls.Load(),
		Reports:                f.reports.Load(),
		Errors:                 f.errors.Load(),
		ErrorKinds:             f.errorKinds(),
		Deploying:              int(f.deploying.Load()),
		MaxConcurrentDeploying: int(f.maxDeploying.Load()),
	}
}

// MaxConcurrentDeploying is the highest number of robots that were at once
// between receiving an assignment and sending its result. A robot counts
// from after the poll that brought the assignment until just before it
// sends the final report (or until it drops the job), so the count never
// exceeds what the server considers deploying: asserting it is at most the
// job's concurrency window is sound.
func (f *Fleet) MaxConcurrentDeploying() int { return int(f.maxDeploying.Load()) }

// ResetMaxConcurrentDeploying restarts the maximum from the current count,
// to measure one job after another.
func (f *Fleet) ResetMaxConcurrentDeploying() { f.maxDeploying.Store(f.deploying.Load()) }

func (f *Fleet) enter() {
	n := f.deploying.Add(1)
	for {
		m := f.maxDeploying.Load()
		if n <= m || f.maxDeploying.CompareAndSwap(m, n) {
			return
		}
	}
}

func (f *Fleet) leave() { f.deploying.Add(-1) }

// failed counts a failed request of kind what ("poll", "report",
// "download").
func (f *Fleet) failed(what string, err error) {
	f.errors.Add(1)
	k := what + ": " + errorKind(err)
	f.errMu.Lock()
	defer f.errMu.Unlock()
	if _, ok := f.errKinds[k]; !ok && len(f.errKinds) >= maxErrorKinds {
		k = what + ": other"
	}
	f.errKinds[k]++
}

func (f *Fleet) errorKinds() map[string]int64 {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	out := make(map[string]int64, len(f.errKinds))
	for k, v := range f.errKinds {
		out[k] = v
	}
	return out
}

// errorKind names what failed without what varies per request (URLs,
// digits), so that like errors count together.
func errorKind(err error) string {
	if he, ok := errors.AsType[*client.HTTPError](err); ok {
		return fmt.Sprintf("HTTP %d %s: %s", he.Status, he.Code, normalize(he.Message))
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return "transport: " + normalize(err.Error())
}

func normalize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
	for strings.Contains(s, "##") {
		s = strings.ReplaceAll(s, "##", "#")
	}
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// FormatErrorKinds lists kinds, most frequent first, one per line with
// indent before each.
func FormatErrorKinds(kinds map[string]int64, indent string) string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if kinds[keys[i]] != kinds[keys[j]] {
			return kinds[keys[i]] > kinds[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s%d × %s\n", indent, kinds[k], k)
	}
	return b.String()
}
