package testenv

import (
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
)

// Balancer stands in for the load balancer in front of replicas: a request
// goes to the replica its URL names, and when that one refuses connections
// (it died) to the next replica that accepts them, as a balancer with
// health checks would send it.
type Balancer struct {
	hosts    []string
	base     http.RoundTripper
	inFlight atomic.Int64
}

// InFlight returns how many requests are waiting for their response now
// (with long polls: how many robots are waiting in one).
func (b *Balancer) InFlight() int { return int(b.inFlight.Load()) }

// NewBalancer balances over the servers, with a connection pool sized for
// many simulated robots.
func NewBalancer(servers []*Server) *Balancer {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = 2000
	t.IdleConnTimeout = 90 * time.Second
	b := &Balancer{base: t}
	for _, s := range servers {
		b.hosts = append(b.hosts, s.Addr)
	}
	return b
}

// Client returns an HTTP client going through the balancer.
func (b *Balancer) Client() *http.Client { return &http.Client{Transport: b} }

// RoundTrip implements http.RoundTripper.
func (b *Balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.GetBody != nil {
		defer req.Body.Close() // each attempt reads a copy
	}
	b.inFlight.Add(1)
	defer b.inFlight.Add(-1)
	start := max(slices.Index(b.hosts, req.URL.Host), 0)
	var err error
	for i := range b.hosts {
		r := req.Clone(req.Context())
		r.URL.Host = b.hosts[(start+i)%len(b.hosts)]
		r.Host = r.URL.Host
		if req.Body != nil && req.GetBody != nil {
			if r.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		var resp *http.Response
		resp, err = b.base.RoundTrip(r)
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) || req.GetBody == nil && req.Body != nil {
			return resp, err
		}
	}
	return nil, err
}
