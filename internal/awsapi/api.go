// Package awsapi is the AWS RoboMaker-compatible HTTP surface (restJson1):
// routing, SigV4 authentication, per-credential rate limiting, model-driven
// validation, decoding, the error envelope and encoding. It calls the domain
// services and never touches storage directly.
package awsapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/fleetsync/fleetsync/internal/authguard"
	"github.com/fleetsync/fleetsync/internal/awsapi/model"
	"github.com/fleetsync/fleetsync/internal/awsapi/sigv4"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/registry"
)

// CredentialLookup finds an active access key's secret and account.
type CredentialLookup func(ctx context.Context, accessKeyID string) (secret, account string, ok bool, err error)

// Config wires the API to the domain.
type Config struct {
	Registry *registry.Service
	Deploy   *deploy.Service
	// Evidence serves the failure output and robot log endpoints.
	Evidence    *deploy.Evidence
	Credentials CredentialLookup
	// Region is the only region requests may be signed for.
	Region string
	// TokenKey signs pagination tokens.
	TokenKey []byte
	// RatePerSecond and Burst bound each credential's request rate.
	RatePerSecond float64
	Burst         int
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64
	// Now is the clock for signature checks; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Observe, when set, is told of every request an operation served: its
	// HTTP status, the AWS error code ("" on success) and how long it took.
	Observe func(operation string, status int, errorCode string, d time.Duration)
	// Guard bounds failed authentications per client address and access
	// key (shared with the console and the agent endpoint); nil: one of
	// this API's own with the default limits.
	Guard *authguard.Guard
}

// API serves the RoboMaker operations.
type API struct {
	cfg    Config
	tokens tokens
	mux    *http.ServeMux
	// handler is mux behind CanonicalPaths (the mux would redirect).
	handler http.Handler

	limitersMu sync.Mutex
	limiters   map[string]*rate.Limiter

	// described keeps the encoded rows of the jobs DescribeDeploymentJob
	// answered, to encode only what changed next time.
	described *describeCache
}

// caller is the authenticated principal of a request.
type caller struct {
	account     string
	accessKeyID string
}

// New builds the API handler.
func New(cfg Config) *API {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Guard == nil {
		cfg.Guard = authguard.New(authguard.DefaultLimits(), cfg.Now)
	}
	a := &API{cfg: cfg, tokens: tokens{cfg.TokenKey}, mux: http.NewServeMux(), limiters: map[string]*rate.Limiter{},
		described: newDescribeCache(describeCacheBytes, describeCacheJobs)}
	a.routes()
	a.handler = CanonicalPaths(a.mux)
	return a
}

// operation is one API operation's handler after authentication.
type operation func(ctx context.Context, c caller, in map[string]any, body []byte) (any, error)

// handle registers an operation under its model route.
func (a *API) handle(name string, op operation) {
	m, ok := model.Lookup(name)
	if !ok {
		panic("awsapi: operation not in the model: " + name)
	}
	a.mux.Handle(m.Method+" "+m.RequestURI, a.serve(name, op))
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// requestID returns a random UUIDv4, the form AWS request ids take.
func requestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// serve runs the pipeline every operation shares: read the body, verify the
// signature, throttle, validate against the model, call, encode.
func (a *API) serve(name string, op operation) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := requestID()
		w.Header().Set("x-amzn-RequestId", id)
		start := time.Now()
		out, c, err := a.run(r, name, op)
		log := a.cfg.Logger.With("request_id", id, "operation", name, "account", c.account)
		if err != nil {
			e, internal := toAWSError(err)
			if internal {
				log.Error("request failed", "error", err)
			} else {
				log.Debug("request refused", "code", e.Code, "message", e.Message)
			}
			writeError(w, e)
			a.observe(name, e.Status, e.Code, start)
			return
		}
		writeJSON(w, http.StatusOK, out)
		a.observe(name, http.StatusOK, "", start)
		log.Debug("request served", "duration", time.Since(start))
	})
}

func (a *API) observe(name string, status int, code string, start time.Time) {
	if a.cfg.Observe != nil {
		a.cfg.Observe(name, status, code, time.Since(start))
	}
}

func (a *API) run(r *http.Request, name string, op operation) (any, caller, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, a.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, caller{}, fleet.Errorf(fleet.Invalid, "reading the request body: %v", err)
	}
	if int64(len(body)) > a.cfg.MaxBodyBytes {
		return nil, caller{}, fleet.Errorf(fleet.Invalid, "request body exceeds %d bytes", a.cfg.MaxBodyBytes)
	}
	c, err := a.authenticate(r, body)
	if err != nil {
		return nil, c, err
	}
	if !a.limiter(c.accessKeyID).Allow() {
		return nil, c, fleet.Errorf(fleet.Throttled, "Rate exceeded for access key %s", c.accessKeyID)
	}
	in, err := decodeInput(r, body)
	if err != nil {
		return nil, c, err
	}
	if _, inModel := model.Lookup(name); inModel {
		if err := model.ValidateBody(name, in, body); err != nil {
			return nil, c, err
		}
	}
	out, err := op(r.Context(), c, in, body)
	return out, c, err
}

// authenticate verifies SigV4 and returns the key's account. A client
// address that failed too often with the key it claims is refused before
// its signature is checked (ThrottlingException); see package authguard.
func (a *API) authenticate(r *http.Request, body []byte) (caller, error) {
	addr, claimed := authguard.ClientAddr(r), sigv4.ClaimedKeyID(r)
	if !a.cfg.Guard.Allow(addr, claimed) {
		return caller{}, fleet.Errorf(fleet.Throttled, "Rate exceeded: too many failed authentications for access key %q from this address; retry later", claimed)
	}
	c, err := a.verify(r, body)
	if _, refused := errors.AsType[*sigv4.Error](err); refused {
		a.cfg.Guard.Fail(addr, claimed)
	}
	return c, err
}

// verify checks the request's SigV4 signature.
func (a *API) verify(r *http.Request, body []byte) (caller, error) {
	var c caller
	v := sigv4.Verifier{
		Service: "robomaker", Region: a.cfg.Region, Now: a.cfg.Now,
		Lookup: func(ctx context.Context, keyID string) (string, bool, error) {
			secret, account, ok, err := a.cfg.Credentials(ctx, keyID)
			c.account = account
			return secret, ok, err
		},
	}
	keyID, err := v.Verify(r, body)
	if err != nil {
		return caller{}, err
	}
	c.accessKeyID = keyID
	return c, nil
}

func (a *API) limiter(keyID string) *rate.Limiter {
	a.limitersMu.Lock()
	defer a.limitersMu.Unlock()
	l, ok := a.limiters[keyID]
	if !ok {
		l = rate.NewLimiter(rate.Limit(a.cfg.RatePerSecond), a.cfg.Burst)
		a.limiters[keyID] = l
	}
	return l
}

// decodeInput builds the operation's whole input: the JSON body (empty or
// {} on GET/DELETE) plus URI and query members under their model names.
func decodeInput(r *http.Request, body []byte) (map[string]any, error) {
	in := map[string]any{}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&in); err != nil {
			return nil, fleet.Errorf(fleet.Invalid, "the request body is not a JSON object: %v", err)
		}
		if dec.More() {
			return nil, fleet.Errorf(fleet.Invalid, "the request body has data after the JSON object")
		}
		if in == nil { // the body was JSON null, which is not an object either
			return nil, fleet.Errorf(fleet.Invalid, "the request body is not a JSON object: null")
		}
	}
	for _, name := range []string{"resourceArn", "fleetArn", "jobArn", "robotArn"} {
		if arn := r.PathValue(name); arn != "" {
			in[name] = arn
		}
	}
	if strings.HasPrefix(r.URL.Path, "/fleetsync/") {
		q := r.URL.Query()
		for _, name := range []string{"fleet", "maxResults", "nextToken"} {
			if v := q.Get(name); v != "" {
				in[name] = v
			}
		}
	}
	if keys, ok := r.URL.Query()["tagKeys"]; ok {
		list := make([]any, len(keys))
		for i, k := range keys {
			list[i] = k
		}
		in["tagKeys"] = list
	}
	return in, nil
}

// bind converts the validated input into an operation's typed input.
func bind[T any](in map[string]any) (*T, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fleet.Errorf(fleet.Invalid, "the request does not match the operation's input: %v", err)
	}
	return &v, nil
}

// typed adapts a handler of a typed input to an operation.
func typed[T any](fn func(ctx context.Context, c caller, in *T) (any, error)) operation {
	return func(ctx context.Context, c caller, raw map[string]any, _ []byte) (any, error) {
		in, err := bind[T](raw)
		if err != nil {
			return nil, err
		}
		return fn(ctx, c, in)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if p, ok := v.(encodedJSON); ok {
		p.write(w, status)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e awsError) {
	w.Header().Set("x-amzn-ErrorType", e.Code)
	writeJSON(w, e.Status, map[string]string{"__type": e.Code, "message": e.Message})
}

// unsupported lists the RoboMaker operations fleetsync does not serve
// (simulation and worlds); they answer a clean error naming the operation.
var unsupported = strings.Fields(`BatchDeleteWorlds BatchDescribeSimulationJob CancelSimulationJob
	CancelSimulationJobBatch CancelWorldExportJob CancelWorldGenerationJob CreateSimulationApplication
	CreateSimulationApplicationVersion CreateSimulationJob CreateWorldExportJob CreateWorldGenerationJob
	CreateWorldTemplate DeleteSimulationApplication DeleteWorldTemplate DescribeSimulationApplication
	DescribeSimulationJob DescribeSimulationJobBatch DescribeWorld DescribeWorldExportJob
	DescribeWorldGenerationJob DescribeWorldTemplate GetWorldTemplateBody ListSimulationApplications
	ListSimulationJobBatches ListSimulationJobs ListWorldExportJobs ListWorldGenerationJobs
	ListWorldTemplates ListWorlds RestartSimulationJob StartSimulationJobBatch UpdateSimulationApplication
	UpdateWorldTemplate`)

// notServed answers every path no operation claims, in the AWS envelope.
func (a *API) notServed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-amzn-RequestId", requestID())
	path := strings.TrimPrefix(r.URL.Path, "/")
	for _, op := range unsupported {
		if strings.EqualFold(path, op) {
			writeError(w, awsError{"InvalidParameterException", http.StatusBadRequest,
				fmt.Sprintf("operation %s is not supported by fleetsync: only fleet, robot, robot application, deployment and tag operations are", op)})
			return
		}
	}
	writeError(w, awsError{"UnknownOperationException", http.StatusNotFound,
		fmt.Sprintf("no RoboMaker operation is served at %s %s", r.Method, r.URL.EscapedPath())})
}
