// Package agentapi is the server side of the agent protocol (package proto):
// signed long-polls that hand robots their deployments, progress and result
// reports, and signed bundle download URLs with Range support.
package agentapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/store"
)

// Config wires the agent endpoint.
type Config struct {
	Store   store.Store
	Bundles blob.Store
	// Presign, when set, issues the download URLs (an S3 store's presigned
	// GETs); when nil, URLs point at this endpoint, which streams from
	// Bundles.
	Presign  blob.Presigner
	Presence *deploy.Presence
	Hub      *Hub
	// Nonces refuses replayed requests; nil keeps them in this process,
	// which is enough for one replica (SQLite). Replicas sharing a
	// database use StoreNonces.
	Nonces Nonces
	// Wake tells the engine a robot finished.
	Wake func()
	// URLKey signs bundle download URLs.
	URLKey []byte
	// URLTTL is how long a download URL stays valid.
	URLTTL time.Duration
	// PollInterval is the interval suggested to agents.
	PollInterval time.Duration
	// MaxWait caps a long poll (30 s).
	MaxWait time.Duration
	Log     *slog.Logger
	Now     func() time.Time
	// Guard bounds failed signature checks per client address and agent
	// id (shared with the API and the console); nil: one of the endpoint's
	// own with the default limits.
	Guard *authguard.Guard
}

// API serves /agent/v1/.
type API struct {
	cfg Config
	mux *http.ServeMux
}

// New builds the agent endpoint.
func New(cfg Config) *API {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Nonces == nil {
		cfg.Nonces = &nonceCache{seen: map[string]int64{}}
	}
	if cfg.Guard == nil {
		cfg.Guard = authguard.New(authguard.DefaultLimits(), cfg.Now)
	}
	a := &API{cfg: cfg, mux: http.NewServeMux()}
	a.mux.HandleFunc("POST "+proto.PathPoll, a.poll)
	a.mux.HandleFunc("POST "+proto.PathReport, a.report)
	a.mux.HandleFunc("GET "+proto.PathBundle+"{token}", a.bundle)
	return a
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// Hub wakes robots' waiting long-polls.
type Hub struct {
	mu      sync.Mutex
	waiters map[string]chan struct{}
}

// wait returns a channel closed at the robot's next Notify.
func (h *Hub) wait(robotARN string) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[string]chan struct{}{}
	}
	ch, ok := h.waiters[robotARN]
	if !ok {
		ch = make(chan struct{})
		h.waiters[robotARN] = ch
	}
	return ch
}

// Notify wakes the robot's waiting long-poll, if any.
func (h *Hub) Notify(robotARN string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.waiters[robotARN]; ok {
		close(ch)
		delete(h.waiters, robotARN)
	}
}

// NotifyAll wakes every waiting long-poll, for when wake-ups may have been
// lost (each poll then looks at the database again).
func (h *Hub) NotifyAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for r, ch := range h.waiters {
		close(ch)
		delete(h.waiters, r)
	}
}

// Nonces decides whether an agent request's nonce is new.
type Nonces interface {
	// Fresh records the nonce at nowMs and reports whether it was unseen.
	Fresh(ctx context.Context, nonce string, nowMs int64) (bool, error)
}

// nonceWindow is how long a nonce must be remembered: a request older than
// the allowed clock skew fails verification anyway.
var nonceWindow = 2 * proto.MaxSkew.Milliseconds()

// StoreNonces keeps nonces in the database, so a request replayed to
// another replica is refused too; the database's unique key settles races.
type StoreNonces struct {
	Store store.Nonces
	Log   *slog.Logger

	swept    atomic.Int64
	sweeping atomic.Bool
}

// Fresh implements Nonces. Old nonces are swept now and then in the
// background, by whichever replica notices first.
func (n *StoreNonces) Fresh(ctx context.Context, nonce string, nowMs int64) (bool, error) {
	if nowMs-n.swept.Load() > nonceWindow && n.sweeping.CompareAndSwap(false, true) {
		n.swept.Store(nowMs)
		go func() {
			defer n.sweeping.Store(false)
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if _, err := n.Store.DeleteNoncesBefore(sctx, nowMs-nonceWindow); err != nil {
				n.Log.Warn("sweeping old agent nonces failed", "error", err)
			}
		}()
	}
	return n.Store.ClaimNonce(ctx, nonce, nowMs)
}

// nonceCache refuses a nonce seen within twice the allowed clock skew, in
// this process's memory.
type nonceCache struct {
	mu    sync.Mutex
	seen  map[string]int64
	swept int64
}

func (c *nonceCache) Fresh(_ context.Context, nonce string, nowMs int64) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if nowMs-c.swept > nonceWindow {
		for n, t := range c.seen {
			if nowMs-t > nonceWindow {
				delete(c.seen, n)
			}
		}
		c.swept = nowMs
	}
	if _, dup := c.seen[nonce]; dup {
		return false, nil
	}
	c.seen[nonce] = nowMs
	return true, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, proto.Error{Code: code, Message: msg})
}

// verify checks the agent signature of r, refusing at once (429) an
// address whose requests for that agent id failed too often (package
// authguard). It writes the error answer itself when it returns ok=false.
// Only signature failures are charged: a well-signed request of an agent
// no robot has yet proves its key, and is what an agent waiting for its
// create-robot sends.
func (a *API) verify(w http.ResponseWriter, r *http.Request, body []byte, now time.Time) (proto.Verified, bool) {
	addr, claimed := authguard.ClientAddr(r), r.Header.Get(proto.HeaderAgent)
	if !a.cfg.Guard.Allow(addr, claimed) {
		writeErr(w, http.StatusTooManyRequests, "Throttled", "too many failed signatures for this agent id from this address; retry later")
		return proto.Verified{}, false
	}
	ver, err := proto.Verify(r, body, now)
	if err != nil {
		a.cfg.Guard.Fail(addr, claimed)
		writeErr(w, http.StatusUnauthorized, "Unauthorized", err.Error())
		return proto.Verified{}, false
	}
	return ver, true
}

// notEnrolled is the answer to a well-signed agent no robot has: it says
// what to run, since the agent cannot tell otherwise.
func notEnrolled(ver proto.Verified) string {
	if ver.Account == "" {
		return "agent id " + ver.AgentID + " is not bound to an account and no robot enrolled before bound ids has it: " +
			"on the robot run `fleetsync-agent init --account <12-digit account>` and pass the id it prints to create-robot --greengrass-group-id"
	}
	return "no robot of account " + ver.Account + " has this agent id as its greengrassGroupId (create-robot --greengrass-group-id " + ver.AgentID + ")"
}

// authenticate verifies the agent's signature, refuses replays and finds
// its robot. It writes the error answer itself when it returns ok=false.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, v any) (fleet.Robot, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "BadRequest", "reading the body failed")
		return fleet.Robot{}, false
	}
	now := a.cfg.Now()
	ver, ok := a.verify(w, r, body, now)
	if !ok {
		return fleet.Robot{}, false
	}
	robot, err := a.cfg.Store.RobotByAgent(r.Context(), ver.Account, ver.AgentID)
	if errors.Is(err, store.ErrNotFound) {
		writeErr(w, http.StatusUnauthorized, "Unauthorized", notEnrolled(ver))
		return fleet.Robot{}, false
	}
	if err != nil {
		a.logFailure(r.Context(), "robot lookup failed", "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "try again later")
		return fleet.Robot{}, false
	}
	// Nonces are remembered only for known agents, so strangers cannot fill the cache.
	fresh, err := a.cfg.Nonces.Fresh(r.Context(), ver.AgentID+"/"+ver.Nonce, now.UnixMilli())
	if err != nil {
		a.cfg.Log.Error("nonce check failed", "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "try again later")
		return fleet.Robot{}, false
	}
	if !fresh {
		a.cfg.Guard.Fail(authguard.ClientAddr(r), ver.AgentID)
		writeErr(w, http.StatusUnauthorized, "Unauthorized", "replayed request")
		return fleet.Robot{}, false
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil && len(bytes.TrimSpace(body)) > 0 {
		writeErr(w, http.StatusBadRequest, "BadRequest", "the body is not the expected JSON: "+err.Error())
		return fleet.Robot{}, false
	}
	a.cfg.Presence.Seen(robot.ARN, now.UnixMilli())
	return robot, true
}

func (a *API) poll(w http.ResponseWriter, r *http.Request) {
	var req proto.PollRequest
	robot, ok := a.authenticate(w, r, &req)
	if !ok {
		return
	}
	ctx := r.Context()
	if c := req.Current; c != nil && c.Restarts > 0 && c.LastExitCode != nil {
		// The agent restarts a dying application itself; operators see the
		// crash loop here (and in the agent's status).
		a.cfg.Log.Warn("robot application keeps exiting", "robot", robot.ARN, "job", c.DeploymentJob,
			"restarts", c.Restarts, "lastExitCode", *c.LastExitCode)
	}
	if c := req.Current; c != nil && c.Finished && c.DeploymentJob != "" {
		// The robot finished a deployment the server did not hear about.
		if _, err := a.cfg.Store.RecordResult(ctx, c.DeploymentJob, robot.ARN, true, "", "", a.cfg.Now().UnixMilli()); err == nil {
			a.wake()
		}
	}
	wait := min(time.Duration(req.WaitSeconds)*time.Second, a.cfg.MaxWait)
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		woken := a.cfg.Hub.wait(robot.ARN)
		resp, err := a.answer(ctx, r, robot, req.Current)
		if err != nil {
			a.logFailure(ctx, "poll failed", "robot", robot.ARN, "error", err)
			writeErr(w, http.StatusServiceUnavailable, "Unavailable", "try again later")
			return
		}
		if resp.Assignment != nil || resp.Abort != "" || wait <= 0 {
			writeJSON(w, http.StatusOK, resp)
			return
		}
		select {
		case <-woken:
		case <-deadline.C:
			wait = 0
		case <-ctx.Done():
			return
		}
		a.cfg.Presence.Seen(robot.ARN, a.cfg.Now().UnixMilli())
	}
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

func (a *API) wake() {
	if a.cfg.Wake != nil {
		a.cfg.Wake()
	}
}

// answer computes the poll response for a robot's state now.
func (a *API) answer(ctx context.Context, r *http.Request, robot fleet.Robot, current *proto.Current) (proto.PollResponse, error) {
	resp := proto.PollResponse{PollIntervalSeconds: int(a.cfg.PollInterval / time.Second)}
	as, err := a.cfg.Store.CurrentAssignment(ctx, robot.ARN)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return resp, err
	}
	running := current != nil && current.DeploymentJob != "" && !current.Finished
	if errors.Is(err, store.ErrNotFound) {
		if running {
			resp.Abort = current.DeploymentJob // canceled or superseded
		}
		return resp, nil
	}
	if current != nil && current.DeploymentJob == as.Job.ARN {
		return resp, nil // the agent is on it already
	}
	if running {
		resp.Abort = current.DeploymentJob
	}
	asg, err := a.assignment(ctx, r, robot, as.Job)
	if bf, ok := errors.AsType[*bundleFailure](err); ok {
		// The object changed or vanished since the version was created:
		// this robot's deployment fails now instead of sending it to
		// download something that is not the version's.
		if _, err := a.cfg.Store.RecordResult(ctx, as.Job.ARN, robot.ARN, false, bf.code, bf.reason, a.cfg.Now().UnixMilli()); err != nil {
			return resp, err
		}
		a.cfg.Log.Info("robot deployment failed at assignment", "robot", robot.ARN, "job", as.Job.ARN, "failure_code", bf.code)
		a.wake()
		return resp, nil
	}
	if err != nil {
		return resp, err
	}
	resp.Assignment = asg
	return resp, nil
}

// assignment builds what the agent needs to run a job on this robot.
func (a *API) assignment(ctx context.Context, r *http.Request, robot fleet.Robot, j fleet.Job) (*proto.Assignment, error) {
	if len(j.Spec.Apps) == 0 {
		return nil, errors.New("job has no application")
	}
	app := j.Spec.Apps[0]
	v, err := a.cfg.Store.GetApplication(ctx, j.Account, app.Application, app.ApplicationVersion)
	if err != nil {
		return nil, err
	}
	var src *fleet.Source
	for i := range v.Sources {
		if v.Sources[i].Architecture == robot.Architecture {
			src = &v.Sources[i]
		}
	}
	if src == nil {
		return nil, errors.New("no source for the robot's architecture")
	}
	obj, err := a.checkObject(ctx, src.Bucket, src.Key, src.ETag)
	if err != nil {
		return nil, err
	}
	bundleURL, err := a.downloadURL(ctx, r, robot, obj)
	if err != nil {
		return nil, err
	}
	lc := app.LaunchConfig
	out := &proto.Assignment{
		DeploymentJob: j.ARN, Application: app.Application, ApplicationVersion: app.ApplicationVersion,
		SoftwareSuite: v.SoftwareSuite.Name,
		LaunchConfig: proto.LaunchConfig{PackageName: lc.PackageName, LaunchFile: lc.LaunchFile, PreLaunchFile: lc.PreLaunchFile,
			PostLaunchFile: lc.PostLaunchFile, EnvironmentVariables: lc.EnvironmentVariables},
		Bundle:         proto.Object{URL: bundleURL, Size: obj.Size, ETag: src.ETag, SHA256: src.SHA256},
		TimeoutSeconds: j.Spec.Config.RobotTimeoutSeconds,
		Tags:           map[string]string{},
	}
	for k, v := range robot.Tags {
		out.Tags[k] = v
	}
	for k, v := range j.Tags {
		out.Tags[k] = v
	}
	if dc := j.Spec.Config.DownloadCondition; dc != nil {
		cond, err := a.checkObject(ctx, dc.Bucket, dc.Key, dc.ETag)
		if err != nil {
			return nil, err
		}
		// The condition file is small; its digest (remembered by ETag) lets
		// the agent verify it even when its ETag is a multipart one.
		sum, err := a.cfg.Bundles.SHA256(ctx, cond.Bucket, cond.Key, cond.ETag)
		if err != nil {
			return nil, a.objectErr(cond.Bucket, cond.Key, err)
		}
		u, err := a.downloadURL(ctx, r, robot, cond)
		if err != nil {
			return nil, err
		}
		out.DownloadCondition = &proto.Object{URL: u, Size: cond.Size, ETag: cond.ETag, SHA256: sum}
	}
	return out, nil
}

// bundleFailure is an object a robot deployment cannot use: code is the
// robot's failure code.
type bundleFailure struct{ code, reason string }

func (e *bundleFailure) Error() string { return e.code + ": " + e.reason }

// objectErr turns a store error about s3://bucket/key into a *bundleFailure
// when it is the object's fault.
func (a *API) objectErr(bucket, key string, err error) error {
	switch {
	case errors.Is(err, blob.ErrNotExist):
		return &bundleFailure{deploy.CodeResourceNotFound, "The object s3://" + bucket + "/" + key + " no longer exists."}
	case errors.Is(err, blob.ErrChanged):
		return &bundleFailure{deploy.CodeEtagMismatch, "The object s3://" + bucket + "/" + key + " changed since the deployment was created."}
	}
	return err
}

// checkObject returns the object, which must have ETag etag when etag is
// set, or a *bundleFailure.
func (a *API) checkObject(ctx context.Context, bucket, key, etag string) (blob.Object, error) {
	obj, err := a.cfg.Bundles.Stat(ctx, bucket, key)
	if err == nil && etag != "" && obj.ETag != etag {
		err = blob.ErrChanged
	}
	if err != nil {
		return blob.Object{}, a.objectErr(bucket, key, err)
	}
	return obj, nil
}

// downloadURL returns a short-lived URL of obj for robot: the store's own
// presigned URL when it has them, else one of this endpoint.
func (a *API) downloadURL(ctx context.Context, r *http.Request, robot fleet.Robot, obj blob.Object) (string, error) {
	if a.cfg.Presign != nil {
		return a.cfg.Presign.PresignGet(ctx, obj.Bucket, obj.Key, robot.ARN, a.cfg.URLTTL)
	}
	base := "http://" + r.Host
	if r.TLS != nil {
		base = "https://" + r.Host
	}
	return base + a.signURL(obj.Bucket, obj.Key, obj.ETag, robot.ARN), nil
}

func (a *API) report(w http.ResponseWriter, r *http.Request) {
	var rep proto.Report
	robot, ok := a.authenticate(w, r, &rep)
	if !ok {
		return
	}
	ctx := r.Context()
	var abort bool
	var err error
	if rep.Result == "" {
		abort, err = a.cfg.Store.RecordProgress(ctx, rep.DeploymentJob, robot.ARN, string(rep.Step), rep.PercentDone, rep.ETASeconds)
	} else {
		success := rep.Result == proto.ResultSucceeded
		abort, err = a.cfg.Store.RecordResult(ctx, rep.DeploymentJob, robot.ARN, success, rep.FailureCode, rep.FailureReason, a.cfg.Now().UnixMilli())
		a.wake()
	}
	if err != nil {
		a.logFailure(ctx, "report failed", "robot", robot.ARN, "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "try again later")
		return
	}
	writeJSON(w, http.StatusOK, proto.ReportResponse{Abort: abort})
}

// urlToken is what a signed bundle URL grants: one object with one ETag, to
// one robot, until an expiry.
type urlToken struct {
	Bucket  string `json:"b"`
	Key     string `json:"k"`
	ETag    string `json:"t"`
	Robot   string `json:"r"`
	Expires int64  `json:"e"`
}

func (a *API) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, a.cfg.URLKey)
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// signURL returns the path of a download URL for one object and robot.
func (a *API) signURL(bucket, key, etag, robotARN string) string {
	payload, _ := json.Marshal(urlToken{bucket, key, etag, robotARN, a.cfg.Now().Add(a.cfg.URLTTL).UnixMilli()})
	enc := base64.RawURLEncoding
	return proto.PathBundle + enc.EncodeToString(payload) + "." + enc.EncodeToString(a.mac(payload))
}

// bundle streams an object to the robot its URL was issued to. The request
// must carry that robot's agent signature, so a URL that leaks is of no use
// to anyone else. Range and If-Match are served by http.ServeContent; the
// store is read in a stream from the first byte asked for, so no bundle is
// ever held in memory.
func (a *API) bundle(w http.ResponseWriter, r *http.Request) {
	p, m, ok := strings.Cut(r.PathValue("token"), ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	var tok urlToken
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, a.mac(payload)) || json.Unmarshal(payload, &tok) != nil {
		writeErr(w, http.StatusForbidden, "Forbidden", "this download URL was not issued by this server")
		return
	}
	now := a.cfg.Now()
	if now.UnixMilli() > tok.Expires {
		writeErr(w, http.StatusForbidden, "Expired", "this download URL has expired; poll again for a fresh one")
		return
	}
	ver, ok := a.verify(w, r, nil, now)
	if !ok {
		return
	}
	robot, err := a.cfg.Store.RobotByAgent(r.Context(), ver.Account, ver.AgentID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		a.logFailure(r.Context(), "robot lookup failed", "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "try again later")
		return
	}
	if err != nil || robot.ARN != tok.Robot {
		writeErr(w, http.StatusForbidden, "Forbidden", "this download URL was issued to another robot")
		return
	}
	fresh, err := a.cfg.Nonces.Fresh(r.Context(), ver.AgentID+"/"+ver.Nonce, now.UnixMilli())
	if err != nil {
		a.logFailure(r.Context(), "nonce check failed", "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "try again later")
		return
	}
	if !fresh {
		a.cfg.Guard.Fail(authguard.ClientAddr(r), ver.AgentID)
		writeErr(w, http.StatusUnauthorized, "Unauthorized", "replayed request")
		return
	}
	ctx := r.Context()
	obj, err := a.checkObject(ctx, tok.Bucket, tok.Key, tok.ETag)
	if bf, ok := errors.AsType[*bundleFailure](err); ok {
		status := http.StatusNotFound
		if bf.code == deploy.CodeEtagMismatch {
			status = http.StatusPreconditionFailed
		}
		writeErr(w, status, bf.code, bf.reason)
		return
	}
	if err != nil {
		a.logFailure(ctx, "bundle store failed", "bucket", tok.Bucket, "key", tok.Key, "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "bundle store unavailable")
		return
	}
	start := rangeStart(r.Header.Get("Range"), obj.Size)
	rc, err := a.cfg.Bundles.Open(ctx, obj.Bucket, obj.Key, start, obj.ETag)
	if err != nil {
		if bf, ok := errors.AsType[*bundleFailure](a.objectErr(obj.Bucket, obj.Key, err)); ok {
			writeErr(w, http.StatusPreconditionFailed, bf.code, bf.reason)
			return
		}
		a.logFailure(ctx, "bundle store failed", "bucket", tok.Bucket, "key", tok.Key, "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "bundle store unavailable")
		return
	}
	defer rc.Close()
	w.Header().Set("ETag", obj.ETag)
	w.Header().Set("Content-Type", "application/octet-stream")
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs) // a local file: sendfile
		return
	}
	sr := &storeReader{ctx: ctx, store: a.cfg.Bundles, obj: obj, pos: start, rc: rc, rcPos: start}
	defer sr.close()
	http.ServeContent(w, r, "", time.Time{}, sr)
}

// rangeStart returns the first byte a single-range Range header asks for
// ("bytes=N-", "bytes=N-M", "bytes=-SUFFIX"), so the store is opened there;
// 0 for anything else (ServeContent still answers it right, reopening the
// store where needed).
func rangeStart(h string, size int64) int64 {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0
	}
	if first == "" { // the last SUFFIX bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		return max(size-n, 0)
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n < 0 || n >= size {
		return 0
	}
	return n
}

// storeReader is an io.ReadSeeker over an object of a store that streams:
// a read continues the open stream when it is where the reader is, and
// otherwise opens a new one at that offset (one GET per range served).
type storeReader struct {
	ctx   context.Context
	store blob.Store
	obj   blob.Object
	pos   int64
	rc    io.ReadCloser
	rcPos int64
}

func (s *storeReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.obj.Size
	default:
		return 0, errors.New("storeReader: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("storeReader: negative position")
	}
	s.pos = offset
	return offset, nil
}

func (s *storeReader) Read(p []byte) (int, error) {
	if s.pos >= s.obj.Size {
		return 0, io.EOF
	}
	if s.rc != nil && s.rcPos != s.pos {
		s.close()
	}
	if s.rc == nil {
		rc, err := s.store.Open(s.ctx, s.obj.Bucket, s.obj.Key, s.pos, s.obj.ETag)
		if err != nil {
			return 0, err
		}
		s.rc, s.rcPos = rc, s.pos
	}
	n, err := s.rc.Read(p)
	s.pos += int64(n)
	s.rcPos += int64(n)
	if err == io.EOF && s.pos < s.obj.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (s *storeReader) close() {
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
}
