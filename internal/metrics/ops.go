package metrics

import "github.com/prometheus/client_golang/prometheus"

// BuildInfo exports fleetsync_build_info{version,commit,goversion} 1, the
// usual way to see which build each replica runs.
func (m *Metrics) BuildInfo(version, commit, goVersion string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "fleetsync_build_info",
		Help:        "The running fleetsyncd build (always 1).",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": goVersion},
	})
	g.Set(1)
	m.reg.MustRegister(g)
}

// AgentVersions exports fleetsync_agents{version} from counts, called at
// scrape time: how many agents recently served by this process report each
// version.
func (m *Metrics) AgentVersions(counts func() map[string]int) {
	m.reg.MustRegister(&versionCollector{counts: counts})
}

var agentsDesc = prometheus.NewDesc("fleetsync_agents",
	"Agents that authenticated to this process in the last 10 minutes, by the version they report.",
	[]string{"version"}, nil)

type versionCollector struct{ counts func() map[string]int }

func (c *versionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- agentsDesc }

func (c *versionCollector) Collect(ch chan<- prometheus.Metric) {
	for v, n := range c.counts() {
		ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(n), v)
	}
}

// HeldPolls exports how many agent long polls this process holds now, and
// how many of them are parked (held without a goroutine: agentapi's
// park.go).
func (m *Metrics) HeldPolls(held func() (all, parked int)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fleetsync_agent_held_polls",
		Help: "Agent long polls this process holds now."}, func() float64 { all, _ := held(); return float64(all) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fleetsync_agent_parked_polls",
		Help: "Held agent long polls parked: their connection kept without a goroutine or buffers (plain HTTP/1.1)."},
		func() float64 { _, parked := held(); return float64(parked) }))
}
