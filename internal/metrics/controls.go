package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The rollout controls' metrics (issue 16): health gate outcomes counted as
// agents report them, and what the controls hold back now read from the
// database at scrape time.

// ControlSource is what the rollout control gauges read (the composition
// root adapts the store to it: metrics sees no store types).
type ControlSource interface {
	// ControlCounts counts paused jobs and quarantined robots.
	ControlCounts(ctx context.Context) (pausedJobs, quarantinedRobots int, err error)
}

var (
	pausedJobsDesc = prometheus.NewDesc("fleetsync_paused_deployment_jobs",
		"Active deployment jobs an operator paused.", nil, nil)
	quarantinedDesc = prometheus.NewDesc("fleetsync_quarantined_robots",
		"Robots quarantined from a deployment they failed too often.", nil, nil)
)

// controlCollector reads the rollout control gauges at scrape time.
type controlCollector struct {
	src ControlSource
	log *slog.Logger
}

// Describe implements prometheus.Collector.
func (c *controlCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pausedJobsDesc
	ch <- quarantinedDesc
}

// Collect implements prometheus.Collector; a database error leaves the
// gauges out of this scrape.
func (c *controlCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	paused, quarantined, err := c.src.ControlCounts(ctx)
	if err != nil {
		c.log.Warn("metrics: counting rollout controls failed", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(pausedJobsDesc, prometheus.GaugeValue, float64(paused))
	ch <- prometheus.MustNewConstMetric(quarantinedDesc, prometheus.GaugeValue, float64(quarantined))
}

// Controls registers the rollout controls' metrics and returns the hook
// the robot side calls with each health gate outcome.
func (m *Metrics) Controls(src ControlSource, log *slog.Logger) (healthGate func(outcome string)) {
	gate := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetsync_health_gate_total",
		Help: "Robot deployments that went through a health gate, by outcome: passed (promoted to InSync), " +
			"failed (rolled back by the gate), ungated (an agent too old to apply it reported success).",
	}, []string{"outcome"})
	for _, o := range []string{"passed", "failed", "ungated"} {
		gate.WithLabelValues(o)
	}
	m.retries = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetsync_robot_retries_total",
		Help: "Robot deployments retried within their job after a transient failure.",
	})
	m.quarantines = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetsync_robots_quarantined_total",
		Help: "Robots quarantined (they failed the same deployment the quarantine setting's number of times).",
	})
	m.reg.MustRegister(gate, m.retries, m.quarantines, &controlCollector{src: src, log: log})
	return func(outcome string) {
		switch outcome {
		case "passed", "failed", "ungated":
			gate.WithLabelValues(outcome).Inc()
		}
	}
}

// RobotRetried counts a retry within a job (call Controls first).
func (m *Metrics) RobotRetried() { m.retries.Inc() }

// RobotQuarantined counts a robot quarantined (call Controls first).
func (m *Metrics) RobotQuarantined() { m.quarantines.Inc() }
