package agentapi

import (
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// SessionTTL is how long a session credential is valid: short, so that a
// session outlives nothing it should not, long enough that an agent pays
// one Ed25519 verification per quarter hour instead of one per request.
const SessionTTL = 15 * time.Minute

// seqWindow is how many recent sequence numbers of a session are
// remembered: an agent's concurrent requests (a held poll, heartbeat
// reports, ranged downloads) may arrive out of order within it.
const seqWindow = 64

// errSession is any refusal of a session credential; the agent answers it
// by signing again and opening a new session.
var errSession = errors.New("session credential refused")

// sessions are the session credentials this process issued (a session is
// bound to the replica that opened it: another replica does not know it and
// refuses it, so a request replayed there is refused too). One session per
// agent id at most, so the table is bounded by the robots that talk to this
// replica. Sessions are kept in generations of SessionTTL: a session,
// valid for SessionTTL from its opening, is kept at least that long, and
// the expired ones are forgotten a generation at a time, O(1) under the
// lock, never by a walk over every session.
type sessions struct {
	mu      sync.Mutex
	byToken generations[sessionToken, *session]
	byAgent generations[string, *session]
}

// sessionToken is a session token's raw bytes (the header carries them in
// unpadded base64url): a fixed-size key, no string kept per session.
type sessionToken [18]byte

// session is one agent's credential: 96 bytes, and a pointer in each
// table (a session in the tables' slots would make every slot that big).
type session struct {
	// agentID is the robot's copy of the id (shared with the robot
	// lookup), not a string of the request that opened the session.
	agentID   string
	token     sessionToken
	key       [32]byte
	expiresMs int64
	maxSeq    uint64
	seen      uint64 // bit i: sequence number maxSeq-i was accepted
}

// open creates a session for agentID, whose signed request offered the
// X25519 public key pub, replacing the agent's previous one.
func (t *sessions) open(agentID string, pub []byte, now time.Time) (proto.SessionResponse, error) {
	peer, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return proto.SessionResponse{}, err
	}
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return proto.SessionResponse{}, err
	}
	shared, err := priv.ECDH(peer)
	if err != nil {
		return proto.SessionResponse{}, err // a low-order point
	}
	var raw sessionToken
	rand.Read(raw[:])
	token := base64.RawURLEncoding.EncodeToString(raw[:])
	s := &session{agentID: agentID, token: raw, expiresMs: now.Add(SessionTTL).UnixMilli()}
	copy(s.key[:], proto.SessionKey(shared, token))
	nowMs := now.UnixMilli()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.byToken.rotate(nowMs, SessionTTL.Milliseconds())
	t.byAgent.rotate(nowMs, SessionTTL.Milliseconds())
	if prev, ok := t.byAgent.get(agentID); ok {
		t.byToken.remove(prev.token)
	}
	t.byToken.put(raw, s)
	t.byAgent.put(agentID, s)
	return proto.SessionResponse{Token: token, PublicKey: base64.StdEncoding.EncodeToString(priv.PublicKey().Bytes()),
		ExpiresInSeconds: int(SessionTTL / time.Second)}, nil
}

// verify checks a session-authenticated request over body: a session this
// process issued and that has not expired, a date within proto.MaxSkew, the
// MAC under the session's key, and a sequence number not accepted before
// (nor older than the window). It returns the session's agent id.
func (t *sessions) verify(r *http.Request, body []byte, now time.Time) (string, error) {
	token, date, seqS, macS := r.Header.Get(proto.HeaderSession), r.Header.Get(proto.HeaderDate), r.Header.Get(proto.HeaderSeq), r.Header.Get(proto.HeaderMAC)
	ms, err1 := strconv.ParseInt(date, 10, 64)
	seq, err2 := strconv.ParseUint(seqS, 10, 64)
	mac, err3 := base64.StdEncoding.DecodeString(macS)
	if err1 != nil || err2 != nil || err3 != nil || seq == 0 {
		return "", errors.Join(errSession, errors.New("malformed session headers"))
	}
	if d := now.Sub(time.UnixMilli(ms)); d > proto.MaxSkew || d < -proto.MaxSkew {
		return "", errors.Join(errSession, errors.New("date too far from the server's clock"))
	}
	var raw sessionToken
	// The length first: Decode writes past raw for a longer token.
	if len(token) != base64.RawURLEncoding.EncodedLen(len(raw)) {
		return "", errors.Join(errSession, errors.New("unknown or expired session"))
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(token)); err != nil || n != len(raw) {
		return "", errors.Join(errSession, errors.New("unknown or expired session"))
	}
	t.mu.Lock()
	s, ok := t.byToken.get(raw)
	if ok && s.expiresMs < now.UnixMilli() {
		// Forgotten now: kept, an expired session a client keeps naming
		// would move into each new generation and never be dropped.
		t.forget(s)
		ok = false
	}
	t.mu.Unlock()
	// The key of a session never changes: read without the lock.
	if !ok {
		return "", errors.Join(errSession, errors.New("unknown or expired session"))
	}
	if !hmac.Equal(mac, proto.SessionMAC(s.key[:], r.Method, r.URL.RequestURI(), date, seqS, body)) {
		return "", errors.Join(errSession, errors.New("MAC does not verify"))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Looked up again: a session replaced meanwhile (the agent opened
	// another) is refused.
	if cur, ok := t.byToken.get(raw); !ok || cur != s {
		return "", errors.Join(errSession, errors.New("unknown or expired session"))
	}
	switch {
	case seq > s.maxSeq:
		shift := seq - s.maxSeq
		if shift >= seqWindow {
			s.seen = 0
		} else {
			s.seen <<= shift
		}
		s.seen |= 1
		s.maxSeq = seq
	case s.maxSeq-seq >= seqWindow:
		return "", errors.Join(errSession, errors.New("sequence number too old"))
	case s.seen&(1<<(s.maxSeq-seq)) != 0:
		return "", errors.Join(errSession, errors.New("replayed request"))
	default:
		s.seen |= 1 << (s.maxSeq - seq)
	}
	return s.agentID, nil
}

// forget drops session s from both tables. Called with t.mu held.
func (t *sessions) forget(s *session) {
	t.byToken.remove(s.token)
	if cur, ok := t.byAgent.get(s.agentID); ok && cur == s {
		t.byAgent.remove(s.agentID)
	}
}

// count returns how many sessions are held (tests, metrics).
func (t *sessions) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.byToken.len()
}

// credential is what an agent request proved: the agent id and the account
// it is bound to ("" for an unbound v1 id), and the nonce to refuse replays
// of when it was signed with the key (a session credential refuses replays
// by its sequence numbers).
type credential struct {
	agentID, account, nonce string
	dateMs                  int64 // the signed date
	session                 bool
}

// verifyCredential checks a request's session credential when it carries
// one, else its Ed25519 signature.
func (a *API) verifyCredential(r *http.Request, body []byte, now time.Time) (credential, error) {
	if r.Header.Get(proto.HeaderSession) != "" {
		id, err := a.sessions.verify(r, body, now)
		if err != nil {
			return credential{session: true}, err
		}
		// The session was opened by a request signed as id, so id parsed
		// when it was opened: its account is the one it is bound to.
		ident, err := proto.ParseAgentID(id)
		return credential{agentID: id, account: ident.Account, session: true}, err
	}
	ver, err := proto.Verify(r, body, now)
	return credential{agentID: ver.AgentID, account: ver.Account, nonce: ver.Nonce, dateMs: ver.Date.UnixMilli()}, err
}

// openSession serves POST proto.PathSession: a request signed with the
// robot's key (never with a session: a session cannot extend itself)
// offering an X25519 public key.
func (a *API) openSession(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(proto.HeaderSession) != "" {
		writeErr(w, http.StatusUnauthorized, "Unauthorized", "a session is opened by a request signed with the agent's key")
		return
	}
	var req proto.SessionRequest
	robot, leave, ok := a.authenticate(w, r, &req)
	if !ok {
		return
	}
	defer leave()
	pub, err := base64.StdEncoding.DecodeString(req.PublicKey)
	if err != nil || len(pub) != 32 {
		writeErr(w, http.StatusBadRequest, "BadRequest", "publicKey must be a base64 X25519 public key (32 bytes)")
		return
	}
	resp, err := a.sessions.open(robot.AgentID, pub, a.cfg.Now())
	if err != nil {
		writeErr(w, http.StatusBadRequest, "BadRequest", "publicKey is not a usable X25519 public key")
		return
	}
	writeJSON(w, http.StatusOK, resp)
}
