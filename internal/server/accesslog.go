package server

import (
	"bufio"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/forwarded"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// accessLog writes one line per API and agent request (operation, status,
// AWS error code, latency, request id, and who: the access key id or the
// agent id; never a secret, signature, query string or body) and a warning
// per refused authentication with its reason and the client address (as
// established by forwarded.Middleware, which runs first). Health checks,
// metrics scrapes and console pages are not logged. Agents whose requests
// authenticated are recorded in versions.
func accessLog(log *slog.Logger, versions *agentVersions, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind, op := classify(r)
		if kind == "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, req: r, log: log, versions: versions, op: op, start: start}
		next.ServeHTTP(rec, r)
		if rec.parked {
			return // its line is written when it is answered (Parked)
		}
		logRequest(log, versions, r, rec, kind, op, time.Since(start))
	})
}

// logRequest writes the access log line of a request accessLog served. It
// is apart so that the log line's locals are not in the frame that stays
// on the stack while a long poll is held.
func logRequest(log *slog.Logger, versions *agentVersions, r *http.Request, rec *recorder, kind, op string, lat time.Duration) {
	attrs := lineAttrs(kind, op, rec.status, lat, forwarded.Client(r))
	if kind == "api" {
		if id := rec.Header().Get("x-amzn-RequestId"); id != "" {
			attrs = append(attrs, "request_id", id)
		}
		if code := rec.Header().Get("x-amzn-ErrorType"); code != "" {
			attrs = append(attrs, "error", code)
		}
		if key := accessKeyID(r); key != "" {
			attrs = append(attrs, "access_key_id", key)
		}
	} else {
		id, version := rec.agentID(r), agentVersion(r)
		attrs = agentAttrs(attrs, id, version)
		if rec.status/100 == 2 && op != "bundle" {
			versions.seen(id, version, time.Now())
		}
	}
	log.Info("request", attrs...)
	if refusedAuth(kind, rec) {
		warn := []any{"kind", kind, "operation", op, "client", forwarded.Client(r), "reason", rec.reason()}
		if kind == "api" {
			warn = append(warn, "error", rec.Header().Get("x-amzn-ErrorType"), "access_key_id", accessKeyID(r))
		} else {
			warn = append(warn, "agent_id", agentID(r))
		}
		log.Warn("authentication refused", warn...)
	}
}

// lineAttrs starts an access line: what every request's line says first.
func lineAttrs(kind, op string, status int, lat time.Duration, client string) []any {
	return []any{"kind", kind, "operation", op, "status", status, "latency_ms", float64(lat.Microseconds()) / 1000, "client", client}
}

// agentAttrs appends an agent request's identity to an access line.
func agentAttrs(attrs []any, id, version string) []any {
	if id != "" {
		attrs = append(attrs, "agent_id", id)
	}
	if version != "" {
		attrs = append(attrs, "agent_version", version)
	}
	return attrs
}

// Authenticated implements agentapi.RequestObserver: the request
// authenticated as the robot whose agent id is id.
func (r *recorder) Authenticated(id string) { r.authID = id }

// agentID is the agent id of the line: the one the request authenticated
// as, else the one it claimed (a refused request's header, when valid).
func (r *recorder) agentID(req *http.Request) string {
	if r.authID != "" {
		return r.authID
	}
	return agentID(req)
}

// Parked implements agentapi.RequestObserver: the handler took the
// connection over to answer the poll later (a parked long poll), and the
// returned func writes its access line then, with the answer's status and
// the whole hold as latency (0: closed unanswered, at shutdown). It keeps
// the few strings the line needs, not the request.
func (r *recorder) Parked() func(status int) {
	r.parked = true
	// The closure is kept per parked poll: the start as a monotonic
	// offset (8 bytes, where a time.Time is 24), the id the robot's own
	// string and the version the table's shared one, no string of the
	// request.
	log, versions, op, id := r.log, r.versions, r.op, r.agentID(r.req)
	start := r.start.Sub(monoEpoch)
	client := forwarded.Client(r.req)
	version := versions.seen(id, agentVersion(r.req), time.Now()) // it authenticated
	return func(status int) {
		attrs := append(lineAttrs("agent", op, status, time.Since(monoEpoch)-start, client), "parked", true)
		log.Info("request", agentAttrs(attrs, id, version)...)
		if status/100 == 2 {
			versions.seen(id, version, time.Now())
		}
	}
}

var _ agentapi.RequestObserver = (*recorder)(nil)

// monoEpoch is the origin of parked polls' monotonic start offsets.
var monoEpoch = time.Now()

// authCodes are the API error codes of a refused authentication.
var authCodes = map[string]bool{
	"MissingAuthenticationTokenException": true, "UnrecognizedClientException": true,
	"InvalidSignatureException": true, "IncompleteSignatureException": true, "AccessDeniedException": true,
}

func refusedAuth(kind string, rec *recorder) bool {
	if kind == "agent" {
		return rec.status == http.StatusUnauthorized
	}
	return authCodes[rec.Header().Get("x-amzn-ErrorType")]
}

// classify names the request: ("api", "CreateFleet"), ("agent", "poll"),
// or ("", "") for what is not access-logged.
func classify(r *http.Request) (kind, op string) {
	p := r.URL.Path
	switch {
	case p == "/healthz" || p == "/readyz" || p == "/metrics" || p == "/console" || strings.HasPrefix(p, "/console/"):
		return "", ""
	case strings.HasPrefix(p, proto.PathBundle):
		return "agent", "bundle" // the rest of the path is a capability: never logged
	case p == proto.PathPoll:
		return "agent", "poll"
	case p == proto.PathReport:
		return "agent", "report"
	case strings.HasPrefix(p, "/agent/"):
		return "agent", "unknown" // a stranger's path is not echoed into the log
	case strings.HasPrefix(p, "/tags/"):
		switch r.Method {
		case http.MethodPost:
			return "api", "TagResource"
		case http.MethodDelete:
			return "api", "UntagResource"
		}
		return "api", "ListTagsForResource"
	case strings.HasPrefix(p, "/fleetsync/"):
		seg := firstSegments(strings.TrimPrefix(p, "/fleetsync/"), 2)
		if len(seg) > 64 || !isIdent(strings.ReplaceAll(seg, "/", "")) {
			return "api", "fleetsync:unknown"
		}
		return "api", "fleetsync:" + seg
	}
	name := strings.TrimPrefix(p, "/")
	if name == "" || strings.Contains(name, "/") || len(name) > 64 || !isIdent(name) {
		return "api", "unknown"
	}
	return "api", string(unicode.ToUpper(rune(name[0]))) + name[1:]
}

func firstSegments(p string, n int) string {
	parts := strings.SplitN(p, "/", n+1)
	if len(parts) > n {
		parts = parts[:n]
	}
	return strings.Join(parts, "/")
}

func isIdent(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// keyIDPattern is what an access key id looks like; anything else a client
// put in the header is not echoed into the log.
var keyIDPattern = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)

// accessKeyID is the access key id of the SigV4 credential scope (header or
// presigned query form), never the signature.
func accessKeyID(r *http.Request) string {
	cred := ""
	if auth := r.Header.Get("Authorization"); auth != "" {
		if _, after, ok := strings.Cut(auth, "Credential="); ok {
			cred = after
		}
	} else {
		cred = r.URL.Query().Get("X-Amz-Credential")
	}
	id, _, _ := strings.Cut(cred, "/")
	if keyIDPattern.MatchString(id) {
		return id
	}
	return ""
}

// agentIDPattern is the shape of either agent id version (unbound v1, bound
// v2 with its account): what is safe to log and count.
var agentIDPattern = regexp.MustCompile(`^(` + proto.AgentIDPrefix + `|` + proto.BoundAgentIDPrefix + `[0-9]{12}-)[A-Za-z0-9_-]{1,100}$`)

func agentID(r *http.Request) string {
	if id := r.Header.Get(proto.HeaderAgent); agentIDPattern.MatchString(id) {
		return id
	}
	return ""
}

var versionPattern = regexp.MustCompile(`^[A-Za-z0-9.+_-]{1,64}$`)

func agentVersion(r *http.Request) string {
	if v := r.Header.Get(proto.HeaderAgentVersion); versionPattern.MatchString(v) {
		return v
	}
	return ""
}

// recorder notes the status and keeps the start of an error body (the
// refusal reason: AWS and agent error bodies carry a message, never a
// secret). It passes Flush and Hijack through for long polls and streams.
type recorder struct {
	http.ResponseWriter
	status  int
	wrote   bool
	errBody []byte
	// parked: the handler took the connection over (a long poll parked,
	// agentapi's park.go) and writes the access line when it answers;
	// what that line needs follows.
	parked bool
	// authID is the agent id the request authenticated as (Authenticated).
	authID   string
	req      *http.Request
	log      *slog.Logger
	versions *agentVersions
	op       string
	start    time.Time
}

// Hijack implements http.Hijacker.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

const maxErrBody = 1 << 10

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if !r.wrote {
		r.wrote = true
	}
	if r.status >= 400 && len(r.errBody) < maxErrBody {
		n := min(len(b), maxErrBody-len(r.errBody))
		r.errBody = append(r.errBody, b[:n]...)
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush implements http.Flusher.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// messagePattern finds the message of an AWS ({"message":…}) or agent
// ({"code":…,"message":…}) error body.
var messagePattern = regexp.MustCompile(`"(?:message|Message)"\s*:\s*"((?:[^"\\]|\\.){0,300})`)

func (r *recorder) reason() string {
	if m := messagePattern.FindSubmatch(r.errBody); m != nil {
		return string(m[1])
	}
	return http.StatusText(r.status)
}

// agentVersions remembers the version each authenticated agent last reported
// (in this process: with replicas, each counts the agents it served). An
// entry is an agent id and 24 bytes: the version string is shared by every
// agent reporting it (a fleet runs a few), not a string of each request.
type agentVersions struct {
	mu sync.Mutex
	m  map[string]agentSeen
	// interned are the versions seen, each string kept once.
	interned map[string]string
}

type agentSeen struct {
	version string
	atUnix  int64
}

// maxTrackedAgents bounds the table (only authenticated agents enter it).
const maxTrackedAgents = 1 << 20

// maxInternedVersions bounds the shared version strings; past it a version
// is kept as the request's own string (still correct, only not shared).
const maxInternedVersions = 1024

// seen records that agent id reported version at now, and returns the
// version's shared string. (A map assignment keeps the id it is given as
// the key: the id an authenticated request's recorder was told, the
// robot's own string, so no string of a request stays in the table.)
func (v *agentVersions) seen(id, version string, now time.Time) string {
	if version == "" {
		v.record(id, "unknown", now) // agents from before versions were reported
		return ""
	}
	return v.record(id, version, now)
}

// record is seen's table write; it returns the version's shared string.
func (v *agentVersions) record(id, version string, now time.Time) string {
	if id == "" {
		return version
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.m == nil {
		v.m, v.interned = map[string]agentSeen{}, map[string]string{}
	}
	if _, ok := v.m[id]; !ok && len(v.m) >= maxTrackedAgents {
		return version
	}
	if iv, ok := v.interned[version]; ok {
		version = iv
	} else if len(v.interned) < maxInternedVersions {
		version = strings.Clone(version)
		v.interned[version] = version
	}
	v.m[id] = agentSeen{version, now.Unix()}
	return version
}

// Version returns the version agent id last reported, or "".
func (v *agentVersions) Version(id string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.m[id].version
}

// counts returns how many agents seen since `since` run each version,
// forgetting those not seen since then.
func (v *agentVersions) counts(since time.Time) map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := map[string]int{}
	for id, s := range v.m {
		if s.atUnix < since.Unix() {
			delete(v.m, id)
			continue
		}
		out[s.version]++
	}
	return out
}
