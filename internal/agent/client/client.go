// Package client is the HTTP client side of the fleetsync agent protocol v1
// (package proto): it signs every request with the agent's Ed25519 key, long
// polls for work, reports progress and results, and downloads bundles with
// resumable, verified ranged GETs.
//
// It implements no retry policy: each call makes one attempt and returns a
// typed error (*HTTPError, ErrUnauthorized, *IntegrityError, or a transport
// error); callers retry with Backoff. It is shared by the real agent and by
// the fleet simulator (package sim) and imports no server code.
package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// PollSlack is how much longer than the long-poll wait it asked for Poll
// waits for the server's answer before giving up.
const PollSlack = 30 * time.Second

// RequestTimeout bounds a Report call, and the wait for the response headers
// of a Download, when ctx has no earlier deadline.
const RequestTimeout = 60 * time.Second

// maxJSON bounds the JSON answers the client reads.
const maxJSON = 8 << 20

// Client speaks the agent protocol to one fleetsyncd server. Its methods are
// safe for concurrent use once its fields are set.
type Client struct {
	// Server is the base URL of fleetsyncd, such as "https://fleet.example:8443";
	// the endpoint paths (proto.PathPoll, ...) are appended to it.
	Server string
	// Key is the agent's private key.
	Key ed25519.PrivateKey
	// Account is the account the agent is bound to: the agent id is
	// proto.BoundAgentID(Account, public key), and every request signs it.
	// "" is the unbound v1 id of agents enrolled before bound ids.
	Account string
	// HTTP is the client requests go through; nil means http.DefaultClient.
	// Its Timeout, if any, must exceed the long-poll wait plus the time to
	// download a bundle; the client bounds polls and reports itself.
	HTTP *http.Client
	// Now is the clock used to date signatures; nil means time.Now.
	Now func() time.Time
	// Version, if set, is sent with every protocol request
	// (proto.HeaderAgentVersion, and User-Agent "fleetsync-agent/Version")
	// so the server can show which agents run which build.
	Version string
	// IdleWait, when positive, is offered as the poll's IdleWaitSeconds
	// when a poll waits and sets none: how long the server may hold the
	// poll of an idle robot (minutes; the server caps it). 0 offers none,
	// so polls end within 30 s. The agent's runner sets IdleWaitSeconds in
	// each poll itself; the simulator uses this field.
	IdleWait time.Duration
	// NoSession makes the client sign every request with the key, as
	// agents did before session credentials; by default it opens a session
	// (proto.PathSession) and authenticates with it, falling back to
	// signatures with a server that has none.
	NoSession bool

	sess sessionState
}

// ErrUnauthorized is matched (errors.Is) by the error of any call the server
// answered with 401: bad or stale signature, replayed nonce, or an agent id
// that is no robot's greengrassGroupId.
var ErrUnauthorized = errors.New("agent request unauthorized")

// HTTPError is a non-2xx answer. For the agent endpoints Code and Message
// come from the proto.Error body; for other answers (such as an object
// store's) Code may be empty and Message is the start of the body or the
// status text.
type HTTPError struct {
	// Status is the HTTP status code.
	Status int
	// Code is proto.Error.Code, such as "Unauthorized" or "NotAssigned".
	Code string
	// Message is proto.Error.Message.
	Message string
	// RetryAfter is the server's Retry-After (a 429 Throttling: the robot
	// is over its request rate), 0 when it sent none.
	RetryAfter time.Duration
}

// Wait returns how long to wait before the next request after err: backoff,
// or the server's Retry-After when that is longer.
func Wait(err error, backoff time.Duration) time.Duration {
	if he, ok := errors.AsType[*HTTPError](err); ok && he.RetryAfter > backoff {
		return he.RetryAfter
	}
	return backoff
}

// Error implements error.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("agent protocol: HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is ErrUnauthorized and the status is 401.
func (e *HTTPError) Is(target error) bool {
	return target == ErrUnauthorized && e.Status == http.StatusUnauthorized
}

// AgentID returns the agent id of c.Key bound to c.Account.
func (c *Client) AgentID() string {
	return proto.BoundAgentID(c.Account, c.Key.Public().(ed25519.PublicKey))
}

// Poll asks the server for work. The server holds the request up to
// min(req.WaitSeconds, 30) seconds when it has none, or, while the robot
// is idle, up to req.IdleWaitSeconds (set from IdleWait when the poll waits
// at all and sets none); Poll gives up PollSlack after that.
func (c *Client) Poll(ctx context.Context, req proto.PollRequest) (proto.PollResponse, error) {
	if req.IdleWaitSeconds == 0 && req.WaitSeconds > 0 && c.IdleWait > 0 {
		req.IdleWaitSeconds = int(c.IdleWait / time.Second)
	}
	wait := max(min(max(req.WaitSeconds, 0), 30), req.IdleWaitSeconds)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(wait)*time.Second+PollSlack)
	defer cancel()
	var resp proto.PollResponse
	err := c.call(ctx, proto.PathPoll, req, &resp)
	return resp, err
}

// Report sends progress or the result of one deployment. A response with
// Abort set tells the agent to stop that deployment and roll back; an
// *HTTPError with Code "NotAssigned" (409) means the robot has no such
// deployment.
func (c *Client) Report(ctx context.Context, rep proto.Report) (proto.ReportResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	var resp proto.ReportResponse
	err := c.call(ctx, proto.PathReport, rep, &resp)
	return resp, err
}

// UploadLog answers a log request with the application log's tail.
func (c *Client) UploadLog(ctx context.Context, up proto.LogUpload) error {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	return c.call(ctx, proto.PathLog, up, nil)
}

// call POSTs in as JSON to path, signed, and decodes a 200 answer into out
// (nil: the answer's body is not read).
func (c *Client) call(ctx context.Context, path string, in, out any) error {
	if len(c.Key) != ed25519.PrivateKeySize {
		return errors.New("agent client: no valid Ed25519 key")
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("agent client: encode request: %w", err)
	}
	resp, err := c.post(ctx, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readHTTPError(resp)
	}
	if out == nil {
		return nil // an answer without a body (204)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSON+1))
	if err != nil {
		return fmt.Errorf("agent client: read %s answer: %w", path, err)
	}
	if len(b) > maxJSON {
		return fmt.Errorf("agent client: %s answer larger than %d bytes", path, maxJSON)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("agent client: decode %s answer: %w", path, err)
	}
	return nil
}

// post sends one authenticated POST. A session credential the server
// refuses (expired, unknown to this replica, or its robot gone) is dropped
// and the request is sent once more, signed with the key: the server then
// answers for the key itself.
func (c *Client) post(ctx context.Context, path string, body []byte) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.Server, "/")+path, bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("agent client: %w", err)
		}
		// No Accept (the server answers JSON alone): every header is kept
		// by the server while it holds the poll.
		r.Header.Set("Content-Type", "application/json")
		c.setVersion(r)
		s := c.authorize(ctx, r, body, attempt > 0)
		resp, err := c.httpClient().Do(r)
		if err != nil {
			return nil, redact(err)
		}
		if s == nil || resp.StatusCode != http.StatusUnauthorized {
			return resp, nil
		}
		readHTTPError(resp) // drain for reuse
		resp.Body.Close()
		c.dropSession(s)
	}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) httpClient() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return http.DefaultClient
}

// readHTTPError turns a non-2xx answer into an *HTTPError, draining a bounded
// part of the body so the connection can be reused.
func readHTTPError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &HTTPError{Status: resp.StatusCode}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		e.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
	}
	var pe proto.Error
	if json.Unmarshal(b, &pe) == nil && pe.Code != "" {
		e.Code, e.Message = pe.Code, pe.Message
	} else if s := strings.TrimSpace(string(b)); s != "" {
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		e.Message = s
	} else {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// redact removes the query from the URL of a transport error: a presigned
// bundle URL is a capability and must not end up in logs. A TLS failure
// comes back as a *TLSError naming its reason.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.RawQuery != "" {
			u.RawQuery = "REDACTED"
			ue.URL = u.String()
		}
	}
	return classifyTLS(err)
}

// Backoff returns how long to wait before retry number attempt (0 for the
// first retry): a uniformly random duration below min(60s, 1s × 2^attempt)
// ("full jitter").
func Backoff(attempt int) time.Duration {
	return BackoffWith(time.Second, time.Minute, attempt)
}

// BackoffWith is Backoff with another base and ceiling: a uniformly random
// duration below min(ceiling, base × 2^attempt).
func BackoffWith(base, ceiling time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling
			break
		}
		d *= 2
	}
	d = min(d, ceiling)
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// setVersion adds the agent's build to a protocol request, when known.
func (c *Client) setVersion(r *http.Request) {
	if c.Version != "" {
		r.Header.Set(proto.HeaderAgentVersion, c.Version)
		r.Header.Set("User-Agent", "fleetsync-agent/"+c.Version)
	}
}
