package main

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
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
		resp, err := http.Get(u + "/metrics")
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			rest, ok := strings.CutPrefix(sc.Text(), prefix)
			if !ok {
				continue
			}
			le, count, ok := strings.Cut(rest, `"} `)
			if !ok {
				continue
			}
			bound := math.Inf(1)
			if le != "+Inf" {
				if bound, err = strconv.ParseFloat(le, 64); err != nil {
					continue
				}
			}
			n, err := strconv.ParseFloat(count, 64)
			if err != nil {
				continue
			}
			out[bound] += n
		}
		resp.Body.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
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

// scrapeGauge reads one unlabelled gauge from fleetsyncd's /metrics.
func scrapeGauge(u, name string) (float64, error) {
	resp, err := sdkHTTPClient().Get(u + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no %s in %s/metrics", name, u)
}
