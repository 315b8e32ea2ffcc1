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
// park.go). held is called once per scrape, for both gauges: it walks every
// robot the hub knows.
func (m *Metrics) HeldPolls(held func() (all, parked int)) {
	m.reg.MustRegister(&heldCollector{held: held})
}

var (
	heldPollsDesc = prometheus.NewDesc("fleetsync_agent_held_polls",
		"Agent long polls this process holds now.", nil, nil)
	parkedPollsDesc = prometheus.NewDesc("fleetsync_agent_parked_polls",
		"Held agent long polls parked: their connection kept without a goroutine or buffers (HTTP/1.1, plain or TLS).", nil, nil)
)

type heldCollector struct{ held func() (all, parked int) }

func (c *heldCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- heldPollsDesc
	ch <- parkedPollsDesc
}

func (c *heldCollector) Collect(ch chan<- prometheus.Metric) {
	all, parked := c.held()
	ch <- prometheus.MustNewConstMetric(heldPollsDesc, prometheus.GaugeValue, float64(all))
	ch <- prometheus.MustNewConstMetric(parkedPollsDesc, prometheus.GaugeValue, float64(parked))
}

// WriteCommits exports the write transactions the process committed on
// SQLite and the COMMITs they took (counts of the store since start):
// their ratio is how many transactions a COMMIT carried.
func (m *Metrics) WriteCommits(counts func() (transactions, commits int64)) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fleetsync_sqlite_write_transactions_total",
			Help: "SQLite write transactions this process committed.",
		}, func() float64 { tx, _ := counts(); return float64(tx) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "fleetsync_sqlite_commits_total",
			Help: "COMMITs of this process's SQLite write transactions: fewer than the transactions when those waiting for the writer were committed together.",
		}, func() float64 { _, c := counts(); return float64(c) }))
}
