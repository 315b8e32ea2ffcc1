package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetsync/fleetsync/internal/store"
)

// The rollout controls' metrics (issue 16): health gate outcomes counted as
// agents report them, and what the controls hold back now read from the
// database at scrape time.

// ControlSource is what the rollout control gauges read.
type ControlSource interface {
	// ControlCounts counts paused jobs and quarantined robots.
	ControlCounts(ctx context.Context) (store.ControlCounts, error)
}

var pausedJobsDesc = prometheus.NewDesc("fleetsync_paused_deployment_jobs",
	"Active deployment jobs an operator paused.", nil, nil)

// controlCollector reads the rollout control gauges at scrape time.
type controlCollector struct {
	src ControlSource
	log *slog.Logger
}

// Describe implements prometheus.Collector.
func (c *controlCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pausedJobsDesc
}

// Collect implements prometheus.Collector; a database error leaves the
// gauges out of this scrape.
func (c *controlCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.src.ControlCounts(ctx)
	if err != nil {
		c.log.Warn("metrics: counting rollout controls failed", "error", err)
		return
	}
	ch <- prometheus.MustNewConstMetric(pausedJobsDesc, prometheus.GaugeValue, float64(n.PausedJobs))
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
	m.reg.MustRegister(gate, &controlCollector{src: src, log: log})
	return func(outcome string) {
		switch outcome {
		case "passed", "failed", "ungated":
			gate.WithLabelValues(outcome).Inc()
		}
	}
}
