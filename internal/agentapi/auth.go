package agentapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// refusal is an agent request refused before it reached the domain.
type refusal struct {
	status        int
	code, message string
}

func (f *refusal) write(w http.ResponseWriter) { writeErr(w, f.status, f.code, f.message) }

var unavailable = &refusal{http.StatusServiceUnavailable, "Unavailable", "try again later"}

// verifyAgent checks an agent request's signature over body, finds the
// robot it signed as (in the account its id is bound to) and refuses a
// replayed nonce: the one authentication of every agent request. unknown
// is the answer for an agent id no robot has; nil says what to run.
//
// An address whose requests for an agent id failed too often is refused
// at once (429, package authguard). Only signature failures and replays
// are charged: a well-signed request of an agent no robot has yet proves
// its key, and is what an agent waiting for its create-robot sends.
func (a *API) verifyAgent(r *http.Request, body []byte, unknown *refusal) (fleet.Robot, *refusal) {
	now := a.cfg.Now()
	addr, claimed := authguard.ClientAddr(r), r.Header.Get(proto.HeaderAgent)
	if !a.cfg.Guard.Allow(addr, claimed) {
		return fleet.Robot{}, &refusal{http.StatusTooManyRequests, "Throttled", "too many failed signatures for this agent id from this address; retry later"}
	}
	ver, err := proto.Verify(r, body, now)
	if err != nil {
		a.cfg.Guard.Fail(addr, claimed)
		return fleet.Robot{}, &refusal{http.StatusUnauthorized, "Unauthorized", err.Error()}
	}
	robot, err := a.cfg.Robots.ByAgent(r.Context(), ver.Account, ver.AgentID)
	if fleet.CodeOf(err) == fleet.NotFound {
		if unknown == nil {
			return fleet.Robot{}, &refusal{http.StatusUnauthorized, proto.CodeUnknownRobot, notEnrolled(ver)}
		}
		return fleet.Robot{}, unknown
	}
	if err != nil {
		a.logFailure(r.Context(), "robot lookup failed", "error", err)
		return fleet.Robot{}, unavailable
	}
	// Nonces are remembered only for known agents, so strangers cannot fill the cache.
	fresh, err := a.cfg.Nonces.Fresh(r.Context(), ver.AgentID+"/"+ver.Nonce, now.UnixMilli())
	if err != nil {
		a.logFailure(r.Context(), "nonce check failed", "error", err)
		return fleet.Robot{}, unavailable
	}
	if !fresh {
		a.cfg.Guard.Fail(addr, claimed)
		return fleet.Robot{}, &refusal{http.StatusUnauthorized, "Unauthorized", "replayed request"}
	}
	return robot, nil
}

// notEnrolled is the answer to a well-signed agent no robot has: it says
// what to run, since the agent cannot tell otherwise. It tells the agent
// only about its own id.
func notEnrolled(ver proto.Verified) string {
	if ver.Account == "" {
		return "agent id " + ver.AgentID + " is not bound to an account and no robot enrolled before bound ids has it: " +
			"on the robot run `fleetsync-agent init --account <12-digit account>` and pass the id it prints to create-robot --greengrass-group-id"
	}
	return "no robot of account " + ver.Account + " has this agent id as its greengrassGroupId (create-robot --greengrass-group-id " + ver.AgentID + ")"
}

// authenticate reads and verifies a signed JSON request and decodes it into
// v. It writes the error answer itself when it returns ok=false.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, v any) (fleet.Robot, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "BadRequest", "reading the body failed")
		return fleet.Robot{}, false
	}
	robot, ref := a.verifyAgent(r, body, nil)
	if ref != nil {
		ref.write(w)
		return fleet.Robot{}, false
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(v); err != nil && len(bytes.TrimSpace(body)) > 0 {
		writeErr(w, http.StatusBadRequest, "BadRequest", "the body is not the expected JSON: "+err.Error())
		return fleet.Robot{}, false
	}
	a.cfg.Robots.Heard(robot.ARN)
	return robot, true
}
