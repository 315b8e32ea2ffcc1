package runner

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/client"
)

// TestIdleFallback: held polls cut twice in a row on the way (a transport
// error or a proxy's 502/504 after a hold longer than a plain long poll)
// switch the idle wait off for an hour; the server's own answers, short
// polls and an answered held poll in between do not.
func TestIdleFallback(t *testing.T) {
	cut := errors.New("read: connection reset by peer")
	gateway := &client.HTTPError{Status: http.StatusGatewayTimeout, Message: "Gateway Time-out"}
	refused := &client.HTTPError{Status: http.StatusUnauthorized, Code: "Unauthorized"}
	long, short := 90*time.Second, 20*time.Second
	type poll struct {
		held time.Duration
		err  error
	}
	for _, tc := range []struct {
		name  string
		polls []poll
		off   bool
	}{
		{"two cuts", []poll{{long, cut}, {long, gateway}}, true},
		{"one cut", []poll{{long, cut}}, false},
		{"cut, answer, cut", []poll{{long, cut}, {long, nil}, {long, cut}}, false},
		{"short failures", []poll{{short, cut}, {short, cut}, {short, cut}}, false},
		{"the server refusing", []poll{{long, refused}, {long, refused}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &Agent{cfg: Config{PollWait: 30 * time.Second, IdleWait: DefaultIdleWait}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			for _, p := range tc.polls {
				a.heldPollEnded(p.held, p.err)
			}
			if got := a.idleWait() == 0; got != tc.off {
				t.Fatalf("idle wait off = %v, want %v", got, tc.off)
			}
			if tc.off && time.Until(a.noIdleUntil) < idleFallback-time.Minute {
				t.Errorf("off until %v, want about an hour", a.noIdleUntil)
			}
		})
	}
	if a := (&Agent{cfg: Config{IdleWait: -1}}); a.idleWait() != 0 {
		t.Errorf("a negative IdleWait offers %v", a.idleWait())
	}
}
