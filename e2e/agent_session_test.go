package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// recorded is one agent request as it went on the wire, with its answer.
type recorded struct {
	method, url string
	header      http.Header
	body        []byte
	status      int
}

// wireRecorder is a transport that keeps a copy of every request it sends (the
// requests themselves go to the real server unchanged).
type wireRecorder struct {
	mu   sync.Mutex
	reqs []recorded
	next http.RoundTripper
}

func (rt *wireRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := rt.next.RoundTrip(r)
	rec := recorded{method: r.Method, url: r.URL.String(), header: r.Header.Clone(), body: body}
	if err == nil {
		rec.status = resp.StatusCode
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, rec)
	rt.mu.Unlock()
	return resp, err
}

func (rt *wireRecorder) all() []recorded {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]recorded(nil), rt.reqs...)
}

func newWireRecorder() *wireRecorder {
	return &wireRecorder{next: http.DefaultTransport.(*http.Transport).Clone()}
}

// resend sends a recorded request again, byte for byte.
func resend(t *testing.T, rec recorded) int {
	t.Helper()
	r, err := http.NewRequest(rec.method, rec.url, bytes.NewReader(rec.body))
	must(t, err)
	r.Header = rec.header.Clone()
	resp, err := http.DefaultClient.Do(r)
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAgentSessionCredential checks the session credential of the agent
// protocol (docs/agent-protocol.md): the agent signs with its key once to
// open a session, then authenticates with the session; a session request
// replayed or altered is refused; and deleting the robot refuses its
// session at once.
func TestAgentSessionCredential(t *testing.T) {
	s := startEngine(t)
	c := quiet(s.Client())
	_, key, err := ed25519.GenerateKey(rand.Reader)
	must(t, err)
	rec := newWireRecorder()
	agent := &client.Client{Server: s.URL, Key: key, Account: testenv.Account, HTTP: &http.Client{Transport: rec}}
	out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("sess")), Architecture: aws.String("X86_64"),
		GreengrassGroupId: aws.String(agent.AgentID())})
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range 3 {
		_, err := agent.Poll(ctx, proto.PollRequest{})
		must(t, err)
	}
	reqs := rec.all()
	if len(reqs) != 4 || !strings.HasSuffix(reqs[0].url, proto.PathSession) || reqs[0].header.Get(proto.HeaderSignature) == "" || reqs[0].status != 200 {
		t.Fatalf("requests %+v, want a signed session opening then 3 polls", reqs)
	}
	for _, r := range reqs[1:] {
		if r.header.Get(proto.HeaderSession) == "" || r.header.Get(proto.HeaderSignature) != "" || r.header.Get(proto.HeaderAgent) != "" || r.status != 200 {
			t.Fatalf("poll %+v: want the session credential alone (no signature, no agent id), answered 200", r.header)
		}
	}
	t.Run("a replayed session request", func(t *testing.T) {
		if code := resend(t, reqs[3]); code != http.StatusUnauthorized {
			t.Errorf("replay of a session poll: HTTP %d, want 401", code)
		}
	})
	t.Run("an altered session request", func(t *testing.T) {
		altered := reqs[3]
		altered.body = []byte(`{"waitSeconds":0,"current":{"deploymentJob":"arn:forged","finished":true}}`)
		altered.header = altered.header.Clone()
		altered.header.Set(proto.HeaderSeq, "1000") // a fresh number: only the MAC can refuse it
		if code := resend(t, altered); code != http.StatusUnauthorized {
			t.Errorf("altered body under a valid token: HTTP %d, want 401", code)
		}
	})
	t.Run("a session cannot open a session", func(t *testing.T) {
		r := reqs[3]
		r.url = strings.Replace(r.url, proto.PathPoll, proto.PathSession, 1)
		r.body = []byte(`{"publicKey":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}`)
		if code := resend(t, r); code != http.StatusUnauthorized {
			t.Errorf("session opened with a session: HTTP %d, want 401", code)
		}
	})
	t.Run("a deleted robot's session is refused at once", func(t *testing.T) {
		_, err := c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: out.Arn})
		must(t, err)
		n := len(rec.all())
		if _, err := agent.Poll(ctx, proto.PollRequest{}); !isUnauthorized(err) {
			t.Fatalf("poll of a deleted robot: %v, want 401", err)
		}
		after := rec.all()[n:]
		if len(after) == 0 || after[0].header.Get(proto.HeaderSession) == "" || after[0].status != http.StatusUnauthorized {
			t.Errorf("the first request after the delete was %+v, want the session credential refused with 401", after)
		}
	})
}

// TestPreviousProtocolAgentsStillDeploy runs one job over robots of both
// kinds: agents that sign every request (the protocol before sessions) and
// agents with sessions. All end InSync, each exactly once; the old ones
// never opened or used a session.
func TestPreviousProtocolAgentsStillDeploy(t *testing.T) {
	s := startEngine(t)
	r := newRollout(t, s, 0)
	oldRec, newRec := newWireRecorder(), newWireRecorder()
	opts := sim.Options{PollWait: time.Second, RetryBase: 20 * time.Millisecond}
	opts.HTTP, opts.NoSession, opts.NamePrefix = &http.Client{Transport: oldRec}, true, uniq("old")+"-"
	r.robots = append(r.robots, r.register(sim.New(s.URL, 3, opts))...)
	opts.HTTP, opts.NoSession, opts.NamePrefix = &http.Client{Transport: newRec}, false, uniq("new")+"-"
	r.robots = append(r.robots, r.register(sim.New(s.URL, 3, opts))...)
	job := r.create(jobConfig{concurrent: 100})
	d, _ := r.wait(job, time.Minute)
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("job = %v", d)
	}
	r.deployedExactlyOnce(job, d, 6)
	for _, q := range oldRec.all() {
		if q.header.Get(proto.HeaderSession) != "" || strings.HasSuffix(q.url, proto.PathSession) || q.header.Get(proto.HeaderSignature) == "" {
			t.Fatalf("an agent of the previous protocol sent %s with headers %v", q.url, q.header)
		}
	}
	sessions := 0
	for _, q := range newRec.all() {
		if q.header.Get(proto.HeaderSession) != "" {
			sessions++
		}
	}
	if sessions == 0 {
		t.Error("agents with sessions never used one")
	}
}
