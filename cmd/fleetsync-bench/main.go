// Command fleetsync-bench measures the deployment engine end to end: it
// starts a real fleetsyncd, a simulated fleet of N robots speaking the real
// agent protocol, runs CreateDeploymentJob over the fleet and then
// SyncDeploymentJob for a late batch, and prints the time to all InSync,
// fleetsyncd CPU per robot deployment, DescribeDeploymentJob latency during
// the rollout and fleetsyncd's peak RSS.
//
//	go build -o bin/ ./cmd/... && bin/fleetsync-bench --robots 1000 --late 100
//	bin/fleetsync-bench --robots 1000 --database postgres://… --replicas 2
//
// Other modes (--mode) measure one figure each, see modes.go: idle (N agents
// long-polling: heap, RSS, goroutines and CPU per agent), sidebyside (agent
// requests against a bare net/http JSON handler, same load generator, same
// run, ratio printed) and create (robot creation rate as the account grows).
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"github.com/fleetsync/fleetsync/internal/procstat"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/sim"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

func main() {
	robots := flag.Int("robots", 1000, "robots in the fleet at the first deployment")
	late := flag.Int("late", 0, "robots added afterwards and brought in by SyncDeploymentJob (default robots/10)")
	concurrent := flag.Int("concurrent", 100, "concurrentDeploymentPercentage")
	server := flag.String("fleetsyncd", "", "fleetsyncd binary (default: next to this one)")
	database := flag.String("database", "", "--database for fleetsyncd (default SQLite in a temp dir)")
	replicas := flag.Int("replicas", 1, "fleetsyncd replicas (PostgreSQL only); API calls and robots are spread over them")
	mode := flag.String("mode", "rollout", "what to measure: rollout, idle, sidebyside, create (see modes.go)")
	registerModeFlags()
	flag.Parse()
	setupDebugListen(*replicas)
	if *mode != "rollout" || modeOpts.bareListen != "" {
		if err := runMode(*mode, *robots, *server); err != nil {
			fmt.Fprintln(os.Stderr, "fleetsync-bench:", err)
			os.Exit(1)
		}
		return
	}
	if *late == 0 {
		*late = *robots / 10
	}
	if err := run(*robots, *late, *concurrent, *server, *database, *replicas); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsync-bench:", err)
		os.Exit(1)
	}
}

const (
	keyID  = "AKFSBENCHMARK0000001"
	secret = "bench-secret-access-key-0123456789"
)

type replica struct {
	cmd *exec.Cmd
	url string
}

func startReplica(bin, dataDir, bundles, database string) (*replica, error) {
	// No request limits: the side-by-side mode sends each robot's
	// requests as fast as the server answers them.
	args := []string{"--data-dir", dataDir, "--rate-limit", "1000000", "--rate-burst", "1000000", "--agent-rate-limit", "0",
		"--engine-tick", "100ms", "--log-level", "warn", "--bundles", "file://" + bundles}
	if database != "" {
		args = append(args, "--database", database)
	}
	if d := os.Getenv("FLEETSYNC_BENCH_DEBUG_LISTEN"); d != "" {
		args = append(args, "--debug-listen", d)
	}
	args = append(args, extraServerArgs...)
	var probe *http.Client
	if benchTLS != nil {
		probe = &http.Client{Transport: &http.Transport{TLSClientConfig: benchTLS}, Timeout: 5 * time.Second}
	}
	p, err := testenv.Launch(testenv.LaunchOptions{Binary: bin, Args: args, Stderr: os.Stderr, HTTPS: benchTLS != nil, Probe: probe,
		Env: append(os.Environ(), "FLEETSYNC_BOOTSTRAP_ACCESS_KEY_ID="+keyID, "FLEETSYNC_BOOTSTRAP_SECRET_ACCESS_KEY="+secret)})
	if err != nil {
		return nil, err
	}
	return &replica{cmd: p.Cmd, url: p.URL}, nil
}

func run(nRobots, nLate, concurrent int, bin, database string, nReplicas int) error {
	if bin == "" {
		self, _ := os.Executable()
		bin = filepath.Join(filepath.Dir(self), "fleetsyncd")
	}
	if nReplicas > 1 && database == "" {
		return fmt.Errorf("--replicas needs --database postgres://")
	}
	// The quotas (100,000 robots by default) leave room for the late robots.
	if total := nRobots + nLate; total > 100_000 {
		extraServerArgs = append(extraServerArgs, "--max-robots", strconv.Itoa(total), "--max-robots-per-fleet", strconv.Itoa(total))
	}
	// Replicas share the bundle directory and the master key, as deployed
	// replicas must (README, "Several replicas").
	bundles, err := os.MkdirTemp("", "fleetsync-bench-bundles-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bundles)
	key := make([]byte, 32)
	rand.Read(key)
	var reps []*replica
	for range nReplicas {
		dir, err := os.MkdirTemp("", "fleetsync-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		// On SQLite fleetsyncd makes its own key (a data directory with a
		// key and no database is one whose database was lost, and refused).
		if database != "" {
			if err := os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600); err != nil {
				return err
			}
		}
		r, err := startReplica(bin, dir, bundles, database)
		if err != nil {
			return err
		}
		defer r.cmd.Process.Kill()
		reps = append(reps, r)
	}
	clients := make([]*robomaker.RoboMaker, len(reps))
	for i, r := range reps {
		sess := session.Must(session.NewSession(&aws.Config{Endpoint: aws.String(r.url), Region: aws.String("us-east-1"),
			Credentials: credentials.NewStaticCredentials(keyID, secret, ""), MaxRetries: aws.Int(3),
			HTTPClient: sdkHTTPClient()}))
		clients[i] = robomaker.New(sess)
		clients[i].Config.Logger = aws.LoggerFunc(func(...any) {})
	}
	c := clients[0]
	// An "instant" bundle: a few bytes.
	os.MkdirAll(filepath.Join(bundles, "bench"), 0o755)
	if err := os.WriteFile(filepath.Join(bundles, "bench", "app.tar"), []byte("instant bundle"), 0o644); err != nil {
		return err
	}
	f, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("bench")})
	if err != nil {
		return err
	}
	app, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String("bench"),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("bench"), S3Key: aws.String("app.tar"), Architecture: aws.String("X86_64")}}})
	if err != nil {
		return err
	}
	if _, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn}); err != nil {
		return err
	}

	ctx := context.Background()
	// every is each simulated fleet, for the requests the robots made.
	var every []*sim.Fleet
	requests := func() (n int64) {
		for _, sf := range every {
			st := sf.Stats()
			n += st.Polls + st.Reports
		}
		return n
	}
	// failed is every agent request that failed so far, by kind.
	failed := func() map[string]int64 {
		kinds := map[string]int64{}
		for _, sf := range every {
			for k, n := range sf.Stats().ErrorKinds {
				kinds[k] += n
			}
		}
		return kinds
	}
	// printFailed prints the requests that failed since before (a
	// failed() taken earlier), by kind, if any.
	printFailed := func(what string, before map[string]int64) {
		since := map[string]int64{}
		total := int64(0)
		for k, n := range failed() {
			if d := n - before[k]; d > 0 {
				since[k], total = d, total+d
			}
		}
		if total > 0 {
			fmt.Printf("  %d agent requests failed %s (the robots retried):\n%s", total, what, sim.FormatErrorKinds(since, "    "))
		}
	}
	// Robots are spread evenly over the replicas, as a load balancer would.
	addFleet := func(n int, prefix string) (stop func(), err error) {
		var fleets []*sim.Fleet
		for i, r := range reps {
			share := n / len(reps)
			if i < n%len(reps) {
				share++
			}
			sf := sim.New(r.url, share, sim.Options{PollWait: 25 * time.Second, IdleWait: rolloutIdleWait(), H2C: modeOpts.h2c, HTTP1: !modeOpts.h2c, RobotsPerConn: modeOpts.robotsPerConn,
				Coalesce: modeOpts.coalesce, RetryBase: 100 * time.Millisecond, NamePrefix: fmt.Sprintf("%s%d-", prefix, i)})
			if err := register(clients, aws.StringValue(f.Arn), sf.Robots()); err != nil {
				return nil, err
			}
			fleets = append(fleets, sf)
		}
		every = append(every, fleets...)
		for _, sf := range fleets {
			sf.Start(ctx)
		}
		return func() {
			for _, sf := range fleets {
				sf.Stop()
			}
		}, nil
	}
	start := time.Now()
	first, err := addFleet(nRobots, "bench-")
	if err != nil {
		return err
	}
	defer first()
	fmt.Printf("setup: %d robots created and registered in %.1fs\n", nRobots, time.Since(start).Seconds())
	time.Sleep(time.Second) // let every robot's first long poll arrive
	urls := make([]string, len(reps))
	for i, r := range reps {
		urls[i] = r.url
	}
	waitPolling(urls, nRobots)
	printFailed("while the robots started", nil)

	measure := func(label string, call func() (string, error), n int) error {
		pids := make([]int, len(reps))
		cpu0 := 0.0
		for i, r := range reps {
			pids[i] = r.cmd.Process.Pid
			cpu0 += procstat.CPUSeconds(pids[i])
		}
		commits0 := scrapeCommits(urls)
		server0, err := scrapeLatency(urls, "DescribeDeploymentJob")
		if err != nil {
			return err
		}
		stopGoroutines := peakGoroutines(urls)
		defer stopGoroutines()
		req0, failed0 := requests(), failed()
		t0 := time.Now()
		job, err := call()
		if err != nil {
			return err
		}
		var lat []time.Duration
		for {
			d0 := time.Now()
			d, err := clients[len(lat)%len(clients)].DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)})
			if err != nil {
				return err
			}
			lat = append(lat, time.Since(d0))
			if s := aws.StringValue(d.Status); s == "Succeeded" || s == "Failed" || s == "Canceled" {
				if s != "Succeeded" {
					return fmt.Errorf("%s job ended %s (%s); robots by outcome:\n%s", label, s, aws.StringValue(d.FailureCode), outcomes(d.RobotDeploymentSummary))
				}
				in := 0
				for _, rd := range d.RobotDeploymentSummary {
					if aws.StringValue(rd.Status) == "InSync" {
						in++
					}
				}
				if in != n {
					return fmt.Errorf("%s: job Succeeded with %d of %d robots InSync; robots by outcome:\n%s", label, in, n, outcomes(d.RobotDeploymentSummary))
				}
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(t0)
		goroutines := stopGoroutines()
		perRobot := float64(requests()-req0) / float64(n)
		// The same Describe once the job is over and the fleet quiet: what
		// the call itself costs, apart from a busy machine.
		quiet0, err := scrapeLatency(urls, "DescribeDeploymentJob")
		if err != nil {
			return err
		}
		var quiet []time.Duration
		for i := range 20 {
			d0 := time.Now()
			if _, err := clients[i%len(clients)].DescribeDeploymentJob(&robomaker.DescribeDeploymentJobInput{Job: aws.String(job)}); err != nil {
				return err
			}
			quiet = append(quiet, time.Since(d0))
		}
		slices.Sort(quiet)
		quiet1, err := scrapeLatency(urls, "DescribeDeploymentJob")
		if err != nil {
			return err
		}
		cpu := -cpu0
		rss := 0.0
		for _, pid := range pids {
			cpu += procstat.CPUSeconds(pid)
			rss = max(rss, procstat.MiB(pid, "VmHWM"))
		}
		server := quiet0.since(server0)
		commits := scrapeCommits(urls).since(commits0)
		slices.Sort(lat)
		p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
		fmt.Printf("%-28s robots=%-6d all InSync in %6.2fs  fleetsyncd CPU %6.2fs = %.3f ms/robot, %.1f agent requests/robot  Describe p50 %v p99 %v (n=%d; server-side p50 %s p99 %s; afterwards, quiet, p50 %v, server-side %s)  peak RSS %.0f MiB, %.0f goroutines, %s  load %s\n",
			label, n, took.Seconds(), cpu, cpu*1000/float64(n), perRobot, p(0.5).Round(time.Microsecond), p(0.99).Round(time.Microsecond), len(lat),
			server.quantile(0.5), server.quantile(0.99), quiet[len(quiet)/2].Round(time.Microsecond), quiet1.since(quiet0).quantile(0.5), rss, goroutines, commits, procstat.LoadAvg())
		printFailed("during "+label, failed0)
		return nil
	}
	stopProfile := startCPUProfile()
	err = measure("CreateDeploymentJob", func() (string, error) {
		out, err := c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: f.Arn,
			DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: app.Arn, ApplicationVersion: aws.String("1"),
				LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}},
			DeploymentConfig: &robomaker.DeploymentConfig{ConcurrentDeploymentPercentage: aws.Int64(int64(concurrent))}})
		return aws.StringValue(out.Arn), err
	}, nRobots)
	stopProfile()
	if err != nil {
		return err
	}
	second, err := addFleet(nLate, "late-")
	if err != nil {
		return err
	}
	defer second()
	time.Sleep(time.Second)
	return measure("SyncDeploymentJob (late)", func() (string, error) {
		out, err := c.SyncDeploymentJob(&robomaker.SyncDeploymentJobInput{Fleet: f.Arn})
		return aws.StringValue(out.Arn), err
	}, nLate)
}

// register creates and registers robots with 16 workers.
func register(clients []*robomaker.RoboMaker, fleetARN string, robots []*sim.Robot) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for w := range 16 {
		c := clients[w%len(clients)]
		wg.Go(func() {
			for i := range next {
				r := robots[i]
				out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(r.Name), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(r.AgentID)})
				if err == nil {
					_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(fleetARN), Robot: out.Arn})
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range robots {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// outcomes counts robot deployments by status and failure code, with one
// failure reason of each, for a job that did not succeed.
func outcomes(rows []*robomaker.RobotDeployment) string {
	type key struct{ status, code string }
	counts := map[key]int{}
	reasons := map[key]string{}
	for _, r := range rows {
		k := key{aws.StringValue(r.Status), aws.StringValue(r.FailureCode)}
		counts[k]++
		if reasons[k] == "" {
			reasons[k] = aws.StringValue(r.FailureReason)
		}
	}
	var b strings.Builder
	for k, n := range counts {
		fmt.Fprintf(&b, "  %6d %s %s %s\n", n, k.status, k.code, reasons[k])
	}
	return b.String()
}
