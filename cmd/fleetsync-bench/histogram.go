package main

import (
	"bufio"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// serverLatency is one operation's fleetsync_api_request_duration_seconds
// histogram as /metrics shows it: cumulative counts by upper bound. The
// client's Describe latency includes the SDK decoding 10,000 summaries on
// a machine the simulated agents keep busy; the server's own (handler
// start to last byte written) is read from here.
type serverLatency map[float64]float64

// scrapeLatency reads the histogram of op from every replica, summed.
func scrapeLatency(urls []string, op string) (serverLatency, error) {
	out := serverLatency{}
	prefix := `fleetsync_api_request_duration_seconds_bucket{operation="` + op + `",le="`
	for _, u := range urls {
		err := eachMetricLine(u, func(line string) bool {
			rest, ok := strings.CutPrefix(line, prefix)
			if !ok {
				return true
			}
			le, count, ok := strings.Cut(rest, `"} `)
			if !ok {
				return true
			}
			bound := math.Inf(1)
			if le != "+Inf" {
				var err error
				if bound, err = strconv.ParseFloat(le, 64); err != nil {
					return true
				}
			}
			if n, err := strconv.ParseFloat(count, 64); err == nil {
				out[bound] += n
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// metricsClient scrapes /metrics, over TLS with --tls: one client, made at
// the first scrape (after setupTLS), so that its connections are reused.
var metricsClient = sync.OnceValue(sdkHTTPClient)

// eachMetricLine reads fleetsyncd's /metrics at u and calls each with every
// line until it returns false.
func eachMetricLine(u string, each func(line string) bool) error {
	resp, err := metricsClient().Get(u + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && each(sc.Text()) {
	}
	return sc.Err()
}

// since is what was observed after before was scraped.
func (l serverLatency) since(before serverLatency) serverLatency {
	out := serverLatency{}
	for b, n := range l {
		out[b] = n - before[b]
	}
	return out
}

// quantile estimates the q-quantile as Prometheus' histogram_quantile does:
// linearly within the bucket it falls in.
func (l serverLatency) quantile(q float64) string {
	bounds := make([]float64, 0, len(l))
	for b := range l {
		bounds = append(bounds, b)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 || l[bounds[len(bounds)-1]] == 0 {
		return "n/a"
	}
	total := l[bounds[len(bounds)-1]]
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		if n := l[b]; n >= rank {
			if math.IsInf(b, 1) {
				return fmt.Sprintf(">%v", time.Duration(lower*float64(time.Second)))
			}
			v := lower + (b-lower)*(rank-below)/max(n-below, 1)
			return time.Duration(v * float64(time.Second)).Round(time.Microsecond).String()
		}
		lower, below = b, l[b]
	}
	return "n/a"
}

// scrapeGauge reads one unlabelled gauge or counter from fleetsyncd's /metrics.
func scrapeGauge(u, name string) (float64, error) {
	v, err := scrapeGauges(u, name)
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// scrapeGauges reads unlabelled gauges or counters from one scrape of
// fleetsyncd's /metrics, in the order of names.
func scrapeGauges(u string, names ...string) ([]float64, error) {
	v := make([]float64, len(names))
	found := make([]bool, len(names))
	left := len(names)
	var perr error
	err := eachMetricLine(u, func(line string) bool {
		for i, name := range names {
			if s, ok := strings.CutPrefix(line, name+" "); ok && !found[i] {
				if v[i], perr = strconv.ParseFloat(s, 64); perr != nil {
					return false
				}
				found[i] = true
				left--
			}
		}
		return left > 0
	})
	switch {
	case err != nil:
		return nil, err
	case perr != nil:
		return nil, perr
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("no %s in %s/metrics", names[i], u)
		}
	}
	return v, nil
}

// writeCommits are fleetsyncd's SQLite write transactions and the COMMITs
// that carried them, summed over the replicas; ok is false when a replica
// exports neither (PostgreSQL).
type writeCommits struct {
	transactions, commits float64
	ok                    bool
}

// scrapeCommits reads the write counters of every replica at urls.
func scrapeCommits(urls []string) writeCommits {
	out := writeCommits{ok: true}
	for _, u := range urls {
		v, err := scrapeGauges(u, "fleetsync_sqlite_write_transactions_total", "fleetsync_sqlite_commits_total")
		if err != nil {
			return writeCommits{}
		}
		out.transactions += v[0]
		out.commits += v[1]
	}
	return out
}

// since is what was committed after before was scraped.
func (w writeCommits) since(before writeCommits) writeCommits {
	return writeCommits{transactions: w.transactions - before.transactions, commits: w.commits - before.commits, ok: w.ok && before.ok}
}

// String is the summary line's part: write transactions per COMMIT.
func (w writeCommits) String() string {
	if !w.ok || w.commits == 0 {
		return "writes n/a"
	}
	return fmt.Sprintf("%.0f writes in %.0f COMMITs (%.2f per COMMIT)", w.transactions, w.commits, w.transactions/w.commits)
}
