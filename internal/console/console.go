// Package console is fleetsyncd's web console: server-rendered pages (fleets,
// a fleet's robots and drift, deployment jobs with live per-robot progress
// over server-sent events, robot applications) and the operator actions
// Sync, Cancel, register and deregister. It signs operators in with an
// access key id and secret, keeps them in an HMAC-signed HttpOnly,
// SameSite=Strict cookie and requires a CSRF token on every POST. It calls
// the same domain services as the AWS API, so every rule holds here too.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/credential"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/registry"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// CredentialLookup finds an active access key's secret and account (the
// same lookup SigV4 verification uses).
type CredentialLookup func(ctx context.Context, accessKeyID string) (secret, account string, ok bool, err error)

// Config wires the console to the domain.
type Config struct {
	Registry *registry.Service
	Deploy   *deploy.Service
	// Reports gives the per-fleet robot counts, each robot's last row and
	// the row of the deployment it runs.
	Reports     *deploy.Reports
	Credentials CredentialLookup
	// Sessions keeps sign-ins in the database, shared by every replica.
	Sessions *credential.Sessions
	// Presence tells when a robot's agent was last heard by this replica.
	Presence *deploy.Presence
	// Evidence gives failed robots' output and robot logs on demand.
	Evidence *deploy.Evidence
	// AgentVersion, if set, gives the version an agent id last reported to
	// this replica ("" when unknown), shown next to "last seen".
	AgentVersion func(agentID string) string
	// Key signs session cookies and derives CSRF tokens.
	Key []byte
	// SessionTTL is how long a sign-in lasts (default 12 hours).
	SessionTTL time.Duration
	// MaxStreamsPerSession caps a session's open live views (default 8).
	MaxStreamsPerSession int
	// EventInterval is how often a job's live view is refreshed (default 500 ms).
	EventInterval time.Duration
	Log           *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Guard bounds failed sign-ins per client address and access key
	// (shared with the API, so the console is no easier door); nil: one of
	// the console's own with the default limits.
	Guard *authguard.Guard
}

// Console serves /console/.
type Console struct {
	cfg     Config
	mux     *http.ServeMux
	pages   map[string]*template.Template
	streams streamLimit
	// closing ends the live views, which otherwise hold graceful shutdown.
	closing   chan struct{}
	closeOnce sync.Once
}

// Close ends every open live view (server-sent event stream) so that a
// graceful shutdown does not wait for them; pages keep working.
func (c *Console) Close() { c.closeOnce.Do(func() { close(c.closing) }) }

// New builds the console handler.
func New(cfg Config) *Console {
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.MaxStreamsPerSession == 0 {
		cfg.MaxStreamsPerSession = 8
	}
	if cfg.EventInterval == 0 {
		cfg.EventInterval = 500 * time.Millisecond
	}
	if cfg.Guard == nil {
		cfg.Guard = authguard.New(authguard.DefaultLimits(), cfg.Now)
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), pages: map[string]*template.Template{}, closing: make(chan struct{})}
	funcs := template.FuncMap{"seg": url.PathEscape}
	for k, f := range templateFuncs {
		funcs[k] = f
	}
	for _, name := range []string{"signin", "fleets", "fleet", "job", "applications", "robotlog", "error"} {
		c.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/signin", c.signinPage)
	c.mux.HandleFunc("POST /console/signin", c.signin)
	c.mux.HandleFunc("POST /console/signout", c.authed(c.signout))
	c.mux.HandleFunc("GET /console/{$}", c.authed(func(w http.ResponseWriter, r *http.Request, s session) {
		http.Redirect(w, r, "/console/fleets", http.StatusSeeOther)
	}))
	c.mux.HandleFunc("GET /console/fleets", c.authed(c.fleetsPage))
	c.mux.HandleFunc("GET /console/fleets/{fleet}", c.authed(c.fleetPage))
	c.mux.HandleFunc("POST /console/fleets/{fleet}/sync", c.authed(c.syncAction))
	c.mux.HandleFunc("POST /console/fleets/{fleet}/register", c.authed(c.registerAction))
	c.mux.HandleFunc("POST /console/fleets/{fleet}/deregister", c.authed(c.deregisterAction))
	c.mux.HandleFunc("GET /console/jobs/{job}", c.authed(c.jobPage))
	c.mux.HandleFunc("GET /console/jobs/{job}/events", c.authed(c.jobEvents))
	c.mux.HandleFunc("POST /console/jobs/{job}/cancel", c.authed(c.cancelAction))
	c.routesControls()
	c.mux.HandleFunc("GET /console/applications", c.authed(c.applicationsPage))
	c.mux.HandleFunc("GET /console/robots/{robot}/log", c.authed(c.robotLogPage))
	c.mux.HandleFunc("POST /console/robots/{robot}/log", c.authed(c.robotLogAction))
	return c
}

// ServeHTTP implements http.Handler. Every console answer forbids framing
// and caching, and allows scripts only from the console itself.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	c.mux.ServeHTTP(w, r)
}

func (c *Console) now() time.Time {
	if c.cfg.Now != nil {
		return c.cfg.Now()
	}
	return time.Now()
}

// authed runs h for a signed-in operator; a POST must also carry the
// session's CSRF token. Anyone else goes to the sign-in page (or gets 403
// for a POST).
func (c *Console) authed(h func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(r)
		if err != nil {
			if !errors.Is(err, errNoSession) {
				c.fail(w, r, session{}, err)
				return
			}
			if r.Method != http.MethodGet {
				c.render(w, http.StatusForbidden, "error", session{}, map[string]any{"Message": "You are not signed in."})
				return
			}
			http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !validToken(r.PostFormValue("csrf"), c.csrfToken(s)) {
				c.cfg.Log.Warn("console: request without a valid CSRF token refused", "path", r.URL.Path, "access_key_id", s.KeyID)
				c.render(w, http.StatusForbidden, "error", s, map[string]any{"Message": "The form is missing its security token; reload the page and try again."})
				return
			}
		}
		h(w, r, s)
	}
}

// page is what every template gets.
type page struct {
	Session session
	CSRF    string
	Data    any
}

func (c *Console) render(w http.ResponseWriter, status int, name string, s session, data any) {
	p := page{Session: s, Data: data}
	if s.Nonce != "" {
		p.CSRF = c.csrfToken(s)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := c.pages[name].Execute(w, p); err != nil {
		c.cfg.Log.Error("console: rendering failed", "page", name, "error", err)
	}
}

// fail renders a domain error: its caller-facing message for rule
// violations, a generic one (and a log line) for internal faults.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, s session, err error) {
	code := fleet.CodeOf(err)
	var fe *fleet.Error
	msg := "An internal error occurred; the server log has the details."
	status := http.StatusInternalServerError
	if code != fleet.Internal && code != fleet.Unavailable && errors.As(err, &fe) {
		msg, status = fe.Message, http.StatusBadRequest
		if code == fleet.NotFound {
			status = http.StatusNotFound
		}
	} else {
		c.cfg.Log.Error("console: request failed", "path", r.URL.Path, "error", err)
	}
	c.render(w, status, "error", s, map[string]any{"Message": msg})
}

// --- sign-in ---

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request) {
	nonce := randomToken()
	setCookie(w, r, signinCookie, nonce, 30*time.Minute)
	c.render(w, http.StatusOK, "signin", session{}, map[string]any{"Token": c.signinToken(nonce)})
}

func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	ck, err := r.Cookie(signinCookie)
	if err != nil || !validToken(r.PostFormValue("csrf"), c.signinToken(ck.Value)) {
		c.render(w, http.StatusForbidden, "error", session{}, map[string]any{"Message": "The sign-in form is missing its security token; open the sign-in page again."})
		return
	}
	keyID := strings.TrimSpace(r.PostFormValue("access_key_id"))
	addr := authguard.ClientAddr(r)
	if !c.cfg.Guard.Allow(addr, keyID) {
		c.cfg.Log.Warn("console: sign-in throttled", "access_key_id", keyID, "remote", addr)
		c.render(w, http.StatusTooManyRequests, "error", session{}, map[string]any{"Message": "Too many sign-in attempts; wait a few seconds and try again."})
		return
	}
	account, ok, err := c.checkSecret(r.Context(), keyID, r.PostFormValue("secret_access_key"))
	if err != nil {
		c.fail(w, r, session{}, err)
		return
	}
	if !ok {
		c.cfg.Guard.Fail(addr, keyID)
		c.cfg.Log.Info("console: sign-in refused", "access_key_id", keyID)
		nonce := randomToken()
		setCookie(w, r, signinCookie, nonce, 30*time.Minute)
		c.render(w, http.StatusUnauthorized, "signin", session{}, map[string]any{
			"Token": c.signinToken(nonce), "Error": "The access key id or the secret access key is wrong.", "KeyID": keyID})
		return
	}
	_, token, err := c.cfg.Sessions.Start(r.Context(), keyID, account, c.cfg.SessionTTL)
	if err != nil {
		c.fail(w, r, session{}, err)
		return
	}
	setCookie(w, r, sessionCookie, token, c.cfg.SessionTTL)
	clearCookie(w, r, signinCookie)
	c.cfg.Log.Info("console: signed in", "access_key_id", keyID, "account", account)
	http.Redirect(w, r, "/console/fleets", http.StatusSeeOther)
}

// signout deletes the session from the database, so its cookie is refused
// from now on by every replica, wherever a copy of it is.
func (c *Console) signout(w http.ResponseWriter, r *http.Request, s session) {
	if err := c.cfg.Sessions.End(r.Context(), s.Nonce); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: signed out", "access_key_id", s.KeyID, "account", s.Account)
	clearCookie(w, r, sessionCookie)
	http.Redirect(w, r, "/console/signin", http.StatusSeeOther)
}

// --- fleets ---

type fleetRow struct {
	Fleet  fleet.Fleet
	Counts []statusCount
	Total  int
}

type statusCount struct {
	Status fleet.RobotStatus
	N      int
}

var statusOrder = []fleet.RobotStatus{fleet.RobotInSync, fleet.RobotDeploying, fleet.RobotPendingNewDeployment,
	fleet.RobotRegistered, fleet.RobotFailed, fleet.RobotNoResponse}

func (c *Console) fleetsPage(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	p, err := c.cfg.Registry.ListFleets(ctx, fleet.ListQuery{Account: s.Account, Limit: 200, Filters: map[string]string{}})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	counts, err := c.cfg.Reports.FleetStatusCounts(ctx, s.Account)
	if err != nil {
		c.fail(w, r, s, fleet.Wrap(fleet.Internal, err, "store failure"))
		return
	}
	rows := make([]fleetRow, 0, len(p.Items))
	for _, f := range p.Items {
		row := fleetRow{Fleet: f}
		for _, st := range statusOrder {
			if n := counts[f.ARN][st]; n > 0 {
				row.Counts = append(row.Counts, statusCount{st, n})
				row.Total += n
			}
		}
		rows = append(rows, row)
	}
	c.render(w, http.StatusOK, "fleets", s, map[string]any{"Fleets": rows, "More": p.Next != nil})
}

type robotRow struct {
	Robot    fleet.Robot
	LastSeen string
	// AgentVersion is the version its agent reports ("" when unknown).
	AgentVersion string
	Current      string
	Last         fleet.RobotDeployment
}

func (c *Console) fleetPage(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	arn := r.PathValue("fleet")
	f, robots, err := c.cfg.Registry.DescribeFleet(ctx, s.Account, arn)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	rows, err := c.cfg.Reports.LastRows(ctx, s.Account, arn)
	if err != nil {
		c.fail(w, r, s, fleet.Wrap(fleet.Internal, err, "store failure"))
		return
	}
	last := map[string]fleet.RobotDeployment{}
	for _, row := range rows {
		last[row.Robot] = row
	}
	installed, err := c.cfg.Reports.InstalledRows(ctx, s.Account, arn)
	if err != nil {
		c.fail(w, r, s, err) // already a domain error
		return
	}
	runs := map[string]string{} // robot ARN → the job it last finished InSync
	for _, row := range installed {
		runs[row.Robot] = row.Job
	}
	jobs := map[string]string{} // job ARN → what it deploys
	deployed := func(jobARN string) string {
		if v, ok := jobs[jobARN]; ok {
			return v
		}
		j, err := c.cfg.Deploy.Get(ctx, s.Account, jobARN)
		v := ""
		if err == nil {
			v = describeApps(j.Spec.Apps)
		}
		jobs[jobARN] = v
		return v
	}
	now := c.now().UnixMilli()
	var list []robotRow
	for _, rb := range robots {
		row := robotRow{Robot: rb, Last: last[rb.ARN], LastSeen: "never (by this server)"}
		if seen := c.cfg.Presence.Last(rb.ARN, now); seen > 0 {
			row.LastSeen = formatAgo(now - seen)
		}
		if c.cfg.AgentVersion != nil {
			row.AgentVersion = c.cfg.AgentVersion(rb.AgentID)
		}
		// What the robot runs: the latest deployment it finished InSync, also
		// while a newer one deploys or after one failed and was rolled back.
		if job, ok := runs[rb.ARN]; ok {
			row.Current = deployed(job)
		}
		list = append(list, row)
	}
	data := map[string]any{"Fleet": f, "Robots": list, "RequestToken": randomToken()}
	if data["Quarantined"], err = c.quarantineList(ctx, s, arn, robots); err != nil {
		c.fail(w, r, s, err)
		return
	}
	drift, err := c.cfg.Deploy.Drift(ctx, s.Account, arn)
	switch {
	case err == nil:
		data["Drift"] = drift
	case fleet.CodeOf(err) == fleet.NotFound:
		data["NoDeployment"] = true
	default:
		c.fail(w, r, s, err)
		return
	}
	jp, err := c.cfg.Deploy.List(ctx, fleet.ListQuery{Account: s.Account, Limit: 200, Filters: map[string]string{"fleetName": f.Name}})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	sort.Slice(jp.Items, func(i, k int) bool { return jp.Items[i].CreatedMs > jp.Items[k].CreatedMs })
	jobRows := make([]jobRow, 0, len(jp.Items))
	for _, j := range jp.Items {
		jobRows = append(jobRows, jobRow{Job: j, Apps: describeApps(j.Spec.Apps)})
	}
	data["Jobs"] = jobRows
	for _, j := range jp.Items {
		if j.Status.Active() {
			data["Active"] = j
			break
		}
	}
	avail, err := c.cfg.Registry.ListRobots(ctx, fleet.ListQuery{Account: s.Account, Limit: 200, Filters: map[string]string{"status": string(fleet.RobotAvailable)}})
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data["Available"] = avail.Items
	if _, active := data["Active"]; !active && data["NoDeployment"] == nil {
		if data["Plan"], err = c.planPanel(ctx, s, arn); err != nil {
			c.fail(w, r, s, err)
			return
		}
	}
	c.render(w, http.StatusOK, "fleet", s, data)
}

// jobRow is one line of a job list: the job and what it deploys.
type jobRow struct {
	Job  fleet.Job
	Apps string
}

// describeApps names each application of a job with its version, e.g.
// "nav v2". The name is the one embedded in the application's ARN, so a
// deleted application is still named.
func describeApps(apps []fleet.AppConfig) string {
	var parts []string
	for _, a := range apps {
		parts = append(parts, arnName(a.Application)+" v"+a.ApplicationVersion)
	}
	return strings.Join(parts, ", ")
}

func (c *Console) syncAction(w http.ResponseWriter, r *http.Request, s session) {
	// The form's one-time token makes a double-submitted form one job.
	token := r.PostFormValue("request_token")
	if token == "" {
		token = randomToken()
	}
	j, err := c.cfg.Deploy.Sync(r.Context(), s.Account, "console-"+token, r.PathValue("fleet"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: sync started", "access_key_id", s.KeyID, "fleet", j.Fleet, "job", j.ARN)
	http.Redirect(w, r, "/console/jobs/"+url.PathEscape(j.ARN), http.StatusSeeOther)
}

func (c *Console) registerAction(w http.ResponseWriter, r *http.Request, s session) {
	fleetARN := r.PathValue("fleet")
	if err := c.cfg.Registry.RegisterRobot(r.Context(), s.Account, fleetARN, r.PostFormValue("robot")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/console/fleets/"+url.PathEscape(fleetARN), http.StatusSeeOther)
}

func (c *Console) deregisterAction(w http.ResponseWriter, r *http.Request, s session) {
	fleetARN := r.PathValue("fleet")
	if err := c.cfg.Registry.DeregisterRobot(r.Context(), s.Account, fleetARN, r.PostFormValue("robot")); err != nil {
		c.fail(w, r, s, err)
		return
	}
	http.Redirect(w, r, "/console/fleets/"+url.PathEscape(fleetARN), http.StatusSeeOther)
}

// --- jobs ---

// jobView is a job and its rows as the live view sends them.
type jobView struct {
	ARN           string `json:"arn"`
	Fleet         string `json:"fleet"`
	Status        string `json:"status"`
	FailureCode   string `json:"failureCode,omitempty"`
	FailureReason string `json:"failureReason,omitempty"`
	Targets       int    `json:"targets"`
	Done          bool   `json:"done"`
	// State is "paused", "running" or "finished" (deploy.RolloutState).
	State string `json:"state"`
	// CreatedMs and FinishedMs (0 while the job runs) time the job; the
	// page's elapsed time counts from CreatedMs.
	CreatedMs  int64 `json:"createdMs"`
	FinishedMs int64 `json:"finishedMs"`
	// Robots are the first maxLiveRows rows in start order; Counts and
	// Summary cover all.
	Robots []robotView    `json:"robots"`
	Counts map[string]int `json:"counts"`
	More   int            `json:"more"`
	// Summary is the robots by status in a fixed order (statuses with no
	// robot left out), InSync of Targets the headline.
	Summary []statusTally `json:"summary"`
	InSync  int           `json:"inSync"`
}

// statusTally is how many of a job's robots are in one status.
type statusTally struct {
	Status string `json:"status"`
	N      int    `json:"n"`
}

// jobStatusOrder is the summary bar's order: done, moving, waiting, failed.
var jobStatusOrder = []fleet.RobotStatus{fleet.RobotInSync, fleet.RobotDeploying, fleet.RobotPendingNewDeployment,
	fleet.RobotFailed, fleet.RobotNoResponse}

// maxLiveOutputs bounds the failure outputs (up to 16 KiB each) a live
// view sends every refresh; the failures endpoint has them all.
const maxLiveOutputs = 50

// maxLiveRows bounds what a live view sends every refresh: a job of a
// 100,000-robot fleet shows its first rows and its counts.
const maxLiveRows = 1000

type robotView struct {
	ARN    string `json:"arn"`
	Name   string `json:"name"`
	Status string `json:"status"`
	Step   string `json:"step"`
	// Percent and ETA are the download's progress (the protocol sends them
	// for DownloadingExtracting only), shown only while the robot is in that
	// step: a stale figure of a later step or a finished robot (a download
	// that completed, then failed to extract, last reported at 0 %) misleads.
	Percent string `json:"percent"`
	ETA     string `json:"eta"`
	// StartedMs is when the robot started deploying (the page counts a
	// deploying robot's duration from it); Started, Finished and Duration
	// are shown as sent.
	StartedMs int64  `json:"startedMs"`
	Started   string `json:"started"`
	Finished  string `json:"finished"`
	Duration  string `json:"duration"`
	Failure   string `json:"failure,omitempty"`
	// Output is the last lines of the failing script's or application's
	// output its agent sent with the failure.
	Output string `json:"output,omitempty"`
	// Agent says, for a Deploying robot that has not reported a step, why
	// not: its agent never connected to this server, or when it was last
	// heard — so a robot waiting for its agent does not look like one at work.
	Agent string `json:"agent,omitempty"`
}

func (c *Console) jobView(ctx context.Context, s session, arn string) (jobView, error) {
	// Counts and the first maxLiveRows rows, from indexes: a job of 100,000
	// robots is not read whole every refresh.
	j, counts, rows, err := c.cfg.Deploy.Summary(ctx, s.Account, arn, maxLiveRows)
	if err != nil {
		return jobView{}, err
	}
	v := jobView{ARN: j.ARN, Fleet: j.Fleet, Status: string(j.Status), FailureCode: j.FailureCode, FailureReason: j.FailureReason,
		Targets: j.Targets, Done: !j.Status.Active(), State: deploy.RolloutState(j), CreatedMs: j.CreatedMs, FinishedMs: j.FinishedMs,
		Robots: make([]robotView, 0, len(rows)), Counts: map[string]int{}, Summary: []statusTally{}}
	total := 0
	for st, n := range counts {
		v.Counts[string(st)] = n
		total += n
	}
	v.More = max(total-len(rows), 0)
	// The output of the failed rows shown (at most maxLiveOutputs), read
	// for those rows only.
	var outputs map[string]string
	if counts[fleet.RobotFailed]+counts[fleet.RobotNoResponse] > 0 && c.cfg.Evidence != nil {
		var failed []string
		for _, row := range rows {
			if (row.Status == fleet.RobotFailed || row.Status == fleet.RobotNoResponse) && len(failed) < maxLiveOutputs {
				failed = append(failed, row.Robot)
			}
		}
		outputs, _ = c.cfg.Evidence.FailureOutputs(ctx, s.Account, arn, failed)
	}
	now := c.now().UnixMilli()
	shownOutputs := 0
	for _, row := range rows {
		rv := robotView{ARN: row.Robot, Name: arnName(row.Robot), Status: string(row.Status), Step: row.Step,
			StartedMs: row.StartedMs, Started: formatClock(row.StartedMs)}
		if row.Status == fleet.RobotDeploying && row.Step == string(proto.StepDownloadingExtracting) {
			rv.Percent, rv.ETA = formatPercent(row.PercentDone), formatETA(row.ETASeconds)
		} else if row.Status != fleet.RobotDeploying && row.StartedMs > 0 && row.FinishedMs > 0 {
			rv.Finished, rv.Duration = formatClock(row.FinishedMs), formatSpan(row.StartedMs, row.FinishedMs)
		}
		if row.FailureCode != "" {
			rv.Failure = row.FailureCode + ": " + row.FailureReason
		}
		if out, ok := outputs[row.Robot]; ok && shownOutputs < maxLiveOutputs {
			rv.Output, shownOutputs = out, shownOutputs+1
		}
		if row.Status == fleet.RobotDeploying && row.Step == "" {
			rv.Agent = "agent never connected to this server"
			if seen := c.cfg.Presence.Last(row.Robot, now); seen > 0 {
				rv.Agent = "waiting for the agent, last seen " + formatAgo(now-seen)
			}
		}
		v.Robots = append(v.Robots, rv)
	}
	for _, st := range jobStatusOrder {
		if n := v.Counts[string(st)]; n > 0 {
			v.Summary = append(v.Summary, statusTally{string(st), n})
		}
	}
	v.InSync = v.Counts[string(fleet.RobotInSync)]
	return v, nil
}

func (c *Console) jobPage(w http.ResponseWriter, r *http.Request, s session) {
	v, err := c.jobView(r.Context(), s, r.PathValue("job"))
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	j, err := c.cfg.Deploy.Get(r.Context(), s.Account, v.ARN)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	f, _, err := c.cfg.Registry.DescribeFleet(r.Context(), s.Account, j.Fleet)
	fleetName := j.Fleet
	if err == nil {
		fleetName = f.Name
	}
	ctl, err := c.cfg.Deploy.Controls(r.Context(), s.Account, v.ARN)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.render(w, http.StatusOK, "job", s, map[string]any{"View": v, "Job": j, "FleetName": fleetName,
		"Apps": describeApps(j.Spec.Apps), "NowMs": c.now().UnixMilli(), "Controls": ctl})
}

// jobEvents streams the job's view as server-sent events whenever it
// changes, until the job ends or the browser goes away.
func (c *Console) jobEvents(w http.ResponseWriter, r *http.Request, s session) {
	ctx := r.Context()
	arn := r.PathValue("job")
	v, err := c.jobView(ctx, s, arn)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	if !c.streams.acquire(s.Nonce, c.cfg.MaxStreamsPerSession) {
		http.Error(w, fmt.Sprintf("this session already has %d live views open; close one", c.cfg.MaxStreamsPerSession), http.StatusTooManyRequests)
		return
	}
	defer c.streams.release(s.Nonce)
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(c.cfg.EventInterval)
	defer tick.Stop()
	var sent []byte
	idle := 0
	for {
		b, _ := json.Marshal(v)
		switch {
		case string(b) != string(sent):
			if _, err := w.Write([]byte("data: " + string(b) + "\n\n")); err != nil {
				return
			}
			sent, idle = b, 0
		case time.Duration(idle)*c.cfg.EventInterval >= 15*time.Second: // Duration: int overflows on 32-bit (armv7)
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil {
				return
			}
			idle = 0
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if v.Done {
			w.Write([]byte("event: end\ndata: {}\n\n"))
			rc.Flush()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.closing:
			return // the browser's EventSource reconnects to another replica or after the restart
		case <-tick.C:
		}
		idle++
		if v, err = c.jobView(ctx, s, arn); err != nil {
			if ctx.Err() == nil {
				c.cfg.Log.Warn("console: live view refresh failed", "job", arn, "error", err)
			}
			return
		}
	}
}

func (c *Console) cancelAction(w http.ResponseWriter, r *http.Request, s session) {
	arn := r.PathValue("job")
	if err := c.cfg.Deploy.Cancel(r.Context(), s.Account, arn); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: job canceled", "access_key_id", s.KeyID, "job", arn)
	http.Redirect(w, r, "/console/jobs/"+url.PathEscape(arn), http.StatusSeeOther)
}

// --- robot logs ---

// robotLogPage shows the robot's latest log taken on request, with the
// time it was taken, and the form that asks for a new one; while the agent
// has not answered, the page reloads itself every second.
func (c *Console) robotLogPage(w http.ResponseWriter, r *http.Request, s session) {
	arn := r.PathValue("robot")
	robot, err := c.cfg.Registry.DescribeRobot(r.Context(), s.Account, arn)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	data := map[string]any{"Robot": robot, "MaxKB": deploy.MaxRobotLogKB, "DefaultKB": deploy.DefaultRobotLogKB}
	l, err := c.cfg.Evidence.RobotLog(r.Context(), s.Account, arn)
	switch {
	case err == nil:
		data["Log"], data["AskedKB"] = l, l.MaxBytes>>10
		if l.TakenMs != 0 {
			data["Age"] = formatAgo(c.now().UnixMilli() - l.TakenMs)
		}
	case fleet.CodeOf(err) != fleet.NotFound:
		c.fail(w, r, s, err)
		return
	}
	now := c.now().UnixMilli()
	if seen := c.cfg.Presence.Last(arn, now); seen > 0 {
		data["LastSeen"] = formatAgo(now - seen)
	}
	c.render(w, http.StatusOK, "robotlog", s, data)
}

// robotLogAction asks the robot for its log's tail; its agent answers on
// its next poll.
func (c *Console) robotLogAction(w http.ResponseWriter, r *http.Request, s session) {
	arn := r.PathValue("robot")
	kb, err := strconv.Atoi(r.PostFormValue("kb"))
	if err != nil {
		kb = deploy.DefaultRobotLogKB
	}
	if _, err := c.cfg.Evidence.RequestLog(r.Context(), s.Account, arn, kb); err != nil {
		c.fail(w, r, s, err)
		return
	}
	c.cfg.Log.Info("console: robot log requested", "access_key_id", s.KeyID, "robot", arn, "kb", kb)
	http.Redirect(w, r, "/console/robots/"+url.PathEscape(arn)+"/log", http.StatusSeeOther)
}

// --- applications ---

type appGroup struct {
	Latest   fleet.Application
	Versions []fleet.Application
}

func (c *Console) applicationsPage(w http.ResponseWriter, r *http.Request, s session) {
	p, err := c.cfg.Registry.ListApplications(r.Context(), fleet.ListQuery{Account: s.Account, Limit: 200, Filters: map[string]string{}}, true)
	if err != nil {
		c.fail(w, r, s, err)
		return
	}
	var groups []*appGroup
	byARN := map[string]*appGroup{}
	for _, a := range p.Items {
		g, ok := byARN[a.ARN]
		if !ok {
			g = &appGroup{}
			byARN[a.ARN] = g
			groups = append(groups, g)
		}
		if a.Version == fleet.LatestVersion {
			g.Latest = a
		} else {
			g.Versions = append(g.Versions, a)
		}
	}
	c.render(w, http.StatusOK, "applications", s, map[string]any{"Apps": groups, "More": p.Next != nil})
}

// RootRedirect answers GET / from a browser (one that accepts text/html)
// with a redirect to the console, and hands every other request to next
// (the AWS API, whose clients never ask for HTML and get its JSON answer).
func RootRedirect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/console/", http.StatusSeeOther)
			return
		}
		next.ServeHTTP(w, r)
	})
}
