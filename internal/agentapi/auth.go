package agentapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

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
// over body, finds the robot it signed as and refuses a replay: the one
// authentication of every agent request. unknown is the answer for an agent id no robot
// has.
func (a *API) verifyAgent(r *http.Request, body []byte, unknown *refusal) (fleet.Robot, *refusal) {
	now := a.cfg.Now()
	ver, err := a.verifyCredential(r, body, now)
	if err != nil {
		return fleet.Robot{}, &refusal{http.StatusUnauthorized, "Unauthorized", err.Error(), 0}
	}
	robot, err := a.cfg.Robots.ByAgent(r.Context(), ver.agentID)
	if fleet.CodeOf(err) == fleet.NotFound {
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
	fresh, err := a.cfg.Nonces.Fresh(r.Context(), ver.agentID, ver.nonce, ver.dateMs, now.UnixMilli())
	if err != nil {
		a.logFailure(r.Context(), "nonce check failed", "error", err)
		return fleet.Robot{}, unavailable
	}
	if !fresh {
		return fleet.Robot{}, &refusal{http.StatusUnauthorized, "Unauthorized", "replayed request (or one older than the agent's last 64 signed requests: sign it again)", 0}
	}
	return robot, nil
}

// maxBody is the largest poll or report body (far above any real one).
const maxBody = 1 << 20

// authenticate reads and verifies a signed JSON request and decodes it into
// v. It writes the error answer itself when it returns ok=false.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, v any) (fleet.Robot, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		writeErr(w, http.StatusBadRequest, "BadRequest", "reading the body failed")
		return fleet.Robot{}, false
	}
	if len(body) > maxBody {
		writeErr(w, http.StatusRequestEntityTooLarge, "RequestTooLarge", "the body is over 1 MiB")
		return fleet.Robot{}, false
	}
	robot, ref := a.verifyAgent(r, body, &refusal{http.StatusUnauthorized, proto.CodeUnknownRobot, "no robot has this agent id as its greengrassGroupId", 0})
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
