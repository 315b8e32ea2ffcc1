package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/proto"
)

func TestClassify(t *testing.T) {
	cases := []struct{ method, path, kind, op string }{
		{"POST", "/createFleet", "api", "CreateFleet"},
		{"POST", "/listDeploymentJobs", "api", "ListDeploymentJobs"},
		{"POST", "/tags/arn%3Aaws%3A", "api", "TagResource"},
		{"DELETE", "/tags/arn%3Aaws%3A", "api", "UntagResource"},
		{"GET", "/tags/arn%3Aaws%3A", "api", "ListTagsForResource"},
		{"GET", "/fleetsync/v1/drift/x/y", "api", "fleetsync:v1/drift"},
		{"POST", "/agent/v1/poll", "agent", "poll"},
		{"POST", "/agent/v1/report", "agent", "report"},
		{"POST", "/agent/v1/" + strings.Repeat("A", 4000), "agent", "unknown"},
		{"POST", "/agent/v1/poll%0Aforged", "agent", "unknown"},
		{"GET", "/fleetsync/" + strings.Repeat("B", 4000), "api", "fleetsync:unknown"},
		{"GET", "/agent/v1/bundle/secret-capability", "agent", "bundle"},
		{"POST", "/../etc/passwd", "api", "unknown"},
		{"GET", "/healthz", "", ""},
		{"GET", "/metrics", "", ""},
		{"GET", "/console/fleets", "", ""},
	}
	for _, c := range cases {
		r := httptest.NewRequest(c.method, "http://x"+c.path, nil)
		if kind, op := classify(r); kind != c.kind || op != c.op {
			t.Errorf("classify(%s %s) = %q %q, want %q %q", c.method, c.path, kind, op, c.kind, c.op)
		}
	}
}

func TestAccessKeyID(t *testing.T) {
	r := httptest.NewRequest("POST", "/listFleets", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/20261201/us-east-1/robomaker/aws4_request, SignedHeaders=host, Signature=deadbeef")
	if got := accessKeyID(r); got != "AKIAEXAMPLE000000001" {
		t.Errorf("header form: %q", got)
	}
	r = httptest.NewRequest("GET", "/listFleets?X-Amz-Credential=AKIAEXAMPLE000000002%2F20261201%2Fus-east-1%2Frobomaker%2Faws4_request&X-Amz-Signature=x", nil)
	if got := accessKeyID(r); got != "AKIAEXAMPLE000000002" {
		t.Errorf("query form: %q", got)
	}
	r = httptest.NewRequest("POST", "/listFleets", nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=<script>\n/x")
	if got := accessKeyID(r); got != "" {
		t.Errorf("garbage key id echoed: %q", got)
	}
}

// TestAccessLogLines: one line per request with the operation, status,
// AWS code, request id and key id; a warning for a refused authentication
// with its reason; nothing secret; authenticated agents' versions recorded,
// session-authenticated ones' by the id the agent endpoint names.
func TestAccessLogLines(t *testing.T) {
	const sessionAgent = proto.BoundAgentIDPrefix + "123456789012-sessionSESSION0123"
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	versions := &agentVersions{}
	h := accessLog(log, versions, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/listFleets":
			w.Header().Set("x-amzn-RequestId", "11111111-2222-3333-4444-555555555555")
			w.Header().Set("x-amzn-ErrorType", "InvalidSignatureException")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"__type":"InvalidSignatureException","message":"The request signature we calculated does not match the signature you provided."}`))
		case proto.PathReport:
			// A session-authenticated request carries no agent id: the
			// agent endpoint says whom it authenticated.
			w.(agentapi.RequestObserver).Authenticated(sessionAgent)
			w.Write([]byte(`{}`))
		case proto.PathPoll:
			if r.Header.Get(proto.HeaderSignature) == "bad" {
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"code":"Unauthorized","message":"replayed request"}`))
				return
			}
			w.Write([]byte(`{}`))
		}
	}))
	r := httptest.NewRequest("POST", "/listFleets", strings.NewReader("{}"))
	r.RemoteAddr = "192.0.2.44:1234"
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE000000001/20261201/us-east-1/robomaker/aws4_request, SignedHeaders=host, Signature=0123456789abcdef")
	h.ServeHTTP(httptest.NewRecorder(), r)

	agent := proto.BoundAgentIDPrefix + "123456789012-abcdefABCDEF0123"
	for _, sig := range []string{"good", "bad"} {
		r = httptest.NewRequest("POST", proto.PathPoll, strings.NewReader("{}"))
		r.RemoteAddr = "198.51.100.7:999"
		r.Header.Set(proto.HeaderAgent, agent)
		r.Header.Set(proto.HeaderSignature, sig)
		r.Header.Set(proto.HeaderAgentVersion, "1.2.3")
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	r = httptest.NewRequest("POST", proto.PathReport, strings.NewReader("{}"))
	r.Header.Set(proto.HeaderSession, "token")
	r.Header.Set(proto.HeaderAgentVersion, "1.2.4")
	h.ServeHTTP(httptest.NewRecorder(), r)
	out := buf.String()
	for _, want := range []string{
		`msg=request kind=agent operation=report status=200 latency_ms=`,
		`agent_id=` + sessionAgent + ` agent_version=1.2.4`,
		`msg=request kind=api operation=ListFleets status=403`,
		`client=192.0.2.44 request_id=11111111-2222-3333-4444-555555555555 error=InvalidSignatureException access_key_id=AKIAEXAMPLE000000001`,
		`level=WARN msg="authentication refused" kind=api operation=ListFleets client=192.0.2.44 reason="The request signature we calculated`,
		`msg=request kind=agent operation=poll status=200`,
		`agent_id=` + agent + ` agent_version=1.2.3`,
		`level=WARN msg="authentication refused" kind=agent operation=poll client=198.51.100.7 reason="replayed request" agent_id=` + agent,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "0123456789abcdef") || strings.Contains(out, "Signature=") {
		t.Errorf("log holds a signature:\n%s", out)
	}
	if got := versions.Version(agent); got != "1.2.3" {
		t.Errorf("agent version recorded %q", got)
	}
	if got := versions.Version(sessionAgent); got != "1.2.4" {
		t.Errorf("a session-authenticated agent's version recorded %q, want 1.2.4", got)
	}
	if c := versions.counts(time.Now().Add(-time.Minute)); c["1.2.3"] != 1 || c["1.2.4"] != 1 {
		t.Errorf("counts = %v", c)
	}
	if c := versions.counts(time.Now().Add(time.Minute)); len(c) != 0 || versions.Version(agent) != "" {
		t.Errorf("stale agents not forgotten: %v", c)
	}
}
