package agentapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// refusal is an agent request refused before it reached the domain.
type refusal struct {
	status        int
	code, message string
	// retryAfter, if positive, is sent as Retry-After (seconds).
	retryAfter int
}

func (f *refusal) write(w http.ResponseWriter) {
	if f.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
	}
	writeErr(w, f.status, f.code, f.message)
}

var unavailable = &refusal{http.StatusServiceUnavailable, "Unavailable", "try again later", 0}

// verifyAgent checks an agent request's session credential or signature
// over body, finds the robot it signed as (in the account its id is bound
// to) and refuses a replay: the one authentication of every agent request.
// unknown is the answer for an agent id no robot has; nil says what to run.
//
// An address whose requests for an agent id failed too often is refused
// at once (429, package authguard). Only signature failures are charged:
// a well-signed request of an agent no robot has yet proves its key, and is
// what an agent waiting for its create-robot sends; a request the replay
// window refuses verified too, and is as often an honest agent's request
// that arrived behind 64 newer ones (a crowd of concurrent polls) as a
// replay, so charging it would throttle the agent itself; a
// refused session credential (expired, or opened on another replica) is
// answered by the agent signing again, and its token and MAC cannot be
// guessed, so it is not charged either.
func (a *API) verifyAgent(r *http.Request, body []byte, unknown *refusal) (fleet.Robot, *refusal) {
	now := a.cfg.Now()
	addr, claimed := authguard.ClientAddr(r), r.Header.Get(proto.HeaderAgent)
	if !a.cfg.Guard.Allow(addr, claimed) {
		return fleet.Robot{}, &refusal{http.StatusTooManyRequests, "Throttled", "too many failed signatures for this agent id from this address; retry later", 0}
	}
	ver, err := a.verifyCredential(r, body, now)
	if err != nil {
		if !ver.session {
			a.cfg.Guard.Fail(addr, claimed)
		}
		return fleet.Robot{}, &refusal{http.StatusUnauthorized, "Unauthorized", err.Error(), 0}
	}
	robot, err := a.cfg.Robots.ByAgent(r.Context(), ver.account, ver.agentID)
	if fleet.CodeOf(err) == fleet.NotFound {
		if unknown == nil {
			return fleet.Robot{}, &refusal{http.StatusUnauthorized, proto.CodeUnknownRobot, notEnrolled(ver), 0}
		}
		return fleet.Robot{}, unknown
	}
	if err != nil {
		a.logFailure(r.Context(), "robot lookup failed", "error", err)
		return fleet.Robot{}, unavailable
	}
	// Rates and replay windows are kept only for known agents, so strangers
	// cannot fill them.
	if ref := a.limit(robot.ARN, now); ref != nil {
		return fleet.Robot{}, ref
	}
	if ver.session {
		return robot, nil // the session's sequence numbers refused replays
	}
	// Keyed by the robot's copy of the id (the same as the header's), not
	// the header's: a window kept for minutes then holds no string of the
	// request.
	fresh, err := a.cfg.Nonces.Fresh(r.Context(), robot.AgentID, ver.nonce, ver.dateMs, now.UnixMilli())
	if err != nil {
		a.logFailure(r.Context(), "nonce check failed", "error", err)
		return fleet.Robot{}, unavailable
	}
	if !fresh {
		return fleet.Robot{}, &refusal{http.StatusUnauthorized, "Unauthorized", "replayed request (or one older than the agent's last 64 signed requests: sign it again)", 0}
	}
	return robot, nil
}

// notEnrolled is the answer to a well-signed agent no robot has: it says
// what to run, since the agent cannot tell otherwise. It tells the agent
// only about its own id.
func notEnrolled(ver credential) string {
	if ver.account == "" {
		return "agent id " + ver.agentID + " is not bound to an account and no robot enrolled before bound ids has it: " +
			"on the robot run `fleetsync-agent init --account <12-digit account>` and pass the id it prints to create-robot --greengrass-group-id"
	}
	return "no robot of account " + ver.account + " has this agent id as its greengrassGroupId (create-robot --greengrass-group-id " + ver.agentID + ")"
}

// maxBody is the largest poll or report body (far above any real one).
const maxBody = 1 << 20

// authenticate reads and verifies a signed JSON request and decodes it into
// v. It writes the error answer itself when it returns ok=false. Once the
// body is in, the request takes a work slot (slots): leave gives it back,
// and must be called when ok.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, v any) (robot fleet.Robot, leave func(), ok bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "BadRequest", "reading the body failed")
		return fleet.Robot{}, nil, false
	}
	if len(body) > maxBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", "the body is over 1 MiB")
		return fleet.Robot{}, nil, false
	}
	// A slot is taken only with the body read: a stalled upload holds none.
	var ref *refusal
	if r.Header.Get(proto.HeaderSession) != "" {
		// A session credential is a MAC and lookups in memory: checked
		// before the wait for a slot, so that the robot is heard while it
		// waits (a saturated server's queue is not the agent's silence).
		if robot, ref = a.verifyAgent(r, body, nil); ref != nil {
			ref.write(w)
			return fleet.Robot{}, nil, false
		}
		if leave, err = a.enterSlot(r.Context(), robot.ARN); err != nil {
			return fleet.Robot{}, nil, false // the agent went away
		}
	} else {
		// A signature costs an Ed25519 verification: inside the slot.
		if leave, err = a.slots.enter(r.Context()); err != nil {
			return fleet.Robot{}, nil, false
		}
		if robot, ref = a.verifyAgent(r, body, nil); ref != nil {
			leave()
			ref.write(w)
			return fleet.Robot{}, nil, false
		}
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil && len(bytes.TrimSpace(body)) > 0 {
		leave()
		writeErr(w, http.StatusBadRequest, "BadRequest", "the body is not the expected JSON: "+err.Error())
		return fleet.Robot{}, nil, false
	}
	a.cfg.Robots.Heard(robot.ARN)
	if o := observerOf(w); o != nil {
		o.Authenticated(robot.AgentID)
	}
	return robot, leave, true
}
