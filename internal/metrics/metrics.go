// Package metrics is fleetsyncd's Prometheus instrumentation. The domain
// packages know nothing of it: the server wires its hooks into the wire
// layer (API requests), the agent endpoint (polls, bundle bytes) and the
// engine (tick durations), and the gauges are read from the database at
// scrape time, so every replica sharing a database reports the same fleet.
package metrics

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// Source is what the scrape-time gauges read.
type Source interface {
	// ActiveJobs returns the ARNs of every Pending, Preparing or InProgress job.
	ActiveJobs(ctx context.Context) ([]string, error)
	// RobotStatusCounts counts the robots of every account by status.
	RobotStatusCounts(ctx context.Context) (map[fleet.RobotStatus]int, error)
}

// robotStatuses are exported even at zero so that every series exists.
var robotStatuses = []fleet.RobotStatus{
	fleet.RobotAvailable, fleet.RobotRegistered, fleet.RobotPendingNewDeployment, fleet.RobotDeploying,
	fleet.RobotInSync, fleet.RobotFailed, fleet.RobotNoResponse,
}

// Metrics holds the collectors of one fleetsyncd process.
type Metrics struct {
	reg          *prometheus.Registry
	apiRequests  *prometheus.CounterVec
	apiLatency   *prometheus.HistogramVec
	agentPolls   prometheus.Counter
	bundleBytes  prometheus.Counter
	engineTicks  prometheus.Histogram
	autoSyncJobs prometheus.Counter
	// retries and quarantines are registered by Controls.
	retries, quarantines prometheus.Counter
}

// New registers fleetsync's metrics (and the Go runtime's) on a registry of
// its own; the gauges query src at scrape time.
func New(src Source, log *slog.Logger) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		apiRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetsync_api_requests_total",
			Help: "API requests by operation, HTTP status code and AWS error code (empty on success).",
		}, []string{"operation", "code", "error"}),
		apiLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetsync_api_request_duration_seconds",
			Help:    "API request latency by operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
		agentPolls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetsync_agent_polls_total",
			Help: "Agent long-polls received.",
		}),
		bundleBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetsync_bundle_bytes_served_total",
			Help: "Bundle bytes sent to agents.",
		}),
		engineTicks: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetsync_engine_tick_duration_seconds",
			Help:    "Duration of one deployment engine pass over the active jobs.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		autoSyncJobs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fleetsync_autosync_jobs_started_total",
			Help: "Sync jobs started by continuous sync (fleetsync:autoSync=true).",
		}),
	}
	m.reg.MustRegister(m.apiRequests, m.apiLatency, m.agentPolls, m.bundleBytes, m.engineTicks, m.autoSyncJobs,
		&storeCollector{src: src, log: log},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveAPI records one served API request.
func (m *Metrics) ObserveAPI(operation string, status int, errorCode string, d time.Duration) {
	m.apiRequests.WithLabelValues(operation, strconv.Itoa(status), errorCode).Inc()
	m.apiLatency.WithLabelValues(operation).Observe(d.Seconds())
}

// ObserveTick records one engine pass.
func (m *Metrics) ObserveTick(d time.Duration) { m.engineTicks.Observe(d.Seconds()) }

// AutoSyncStarted counts a job started by continuous sync.
func (m *Metrics) AutoSyncStarted() { m.autoSyncJobs.Inc() }

// Agents wraps the agent endpoint: it counts polls and the bundle bytes
// written to agents (what actually left, so resumed ranges count once).
func (m *Metrics) Agents(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == proto.PathPoll:
			m.agentPolls.Inc()
		case strings.HasPrefix(r.URL.Path, proto.PathBundle):
			w = &countingWriter{ResponseWriter: w, c: m.bundleBytes}
		}
		next.ServeHTTP(w, r)
	})
}

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	c prometheus.Counter
}

func (cw *countingWriter) Write(p []byte) (int, error) {
	n, err := cw.ResponseWriter.Write(p)
	cw.c.Add(float64(n))
	return n, err
}

// ReadFrom keeps the real writer's io.ReaderFrom reachable, so a bundle
// served from an *os.File still goes out with sendfile (without it every
// byte was copied through a 32 KB user-space buffer).
func (cw *countingWriter) ReadFrom(r io.Reader) (int64, error) {
	n, err := io.Copy(cw.ResponseWriter, r)
	cw.c.Add(float64(n))
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (cw *countingWriter) Unwrap() http.ResponseWriter { return cw.ResponseWriter }

// storeCollector reads the gauges from the database at scrape time.
type storeCollector struct {
	src Source
	log *slog.Logger
}

var (
	activeJobsDesc = prometheus.NewDesc("fleetsync_active_deployment_jobs",
		"Deployment jobs Pending, Preparing or InProgress.", nil, nil)
	robotsDesc = prometheus.NewDesc("fleetsync_robots",
		"Robots by status.", []string{"status"}, nil)
)

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- activeJobsDesc
	ch <- robotsDesc
}

// Collect implements prometheus.Collector. A database error leaves the
// gauges out of this scrape (Prometheus then sees them absent, not zero).
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if jobs, err := c.src.ActiveJobs(ctx); err != nil {
		c.log.Warn("metrics: counting active jobs failed", "error", err)
	} else {
		ch <- prometheus.MustNewConstMetric(activeJobsDesc, prometheus.GaugeValue, float64(len(jobs)))
	}
	counts, err := c.src.RobotStatusCounts(ctx)
	if err != nil {
		c.log.Warn("metrics: counting robots failed", "error", err)
		return
	}
	for _, s := range robotStatuses {
		ch <- prometheus.MustNewConstMetric(robotsDesc, prometheus.GaugeValue, float64(counts[s]), string(s))
	}
}
