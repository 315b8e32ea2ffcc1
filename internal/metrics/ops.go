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
