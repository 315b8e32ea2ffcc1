package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"
	"github.com/fleetsync/fleetsync/internal/agent/runner"
	"github.com/fleetsync/fleetsync/internal/procstat"
)

// modeOpts are the flags of the modes other than rollout.
var modeOpts struct {
	cpuProfile, heapProfile string
	profileSeconds          int
	h2c                     bool
	window                  time.Duration
	pollWait, idleWait      time.Duration
	concurrency, rounds     int
	requests                string
	brackets                string
	bareListen              string
	nofile                  uint64
	startRate               float64
	tls                     bool
	robotsPerConn           int
	coalesce                bool
}

// extraServerArgs are appended to every fleetsyncd command line.
var extraServerArgs []string

// debugAddr is fleetsyncd's pprof listener ("" when off).
var debugAddr string

func registerModeFlags() {
	o := &modeOpts
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "rollout: write fleetsyncd's CPU profile of the first --profile-seconds of the rollout to this file")
	flag.IntVar(&o.profileSeconds, "profile-seconds", 30, "length of the CPU profile")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "idle: write fleetsyncd's heap profile (after a GC) with every agent idle to this file")
	flag.BoolVar(&o.h2c, "h2c", true, "idle, sidebyside, rollout: agents speak HTTP/2 over shared connections (without TLS, or over TLS with --tls); false: HTTP/1.1 (over TLS with --tls), one connection per outstanding request, so held polls are parked (rollout: at most about --nofile/2 robots)")
	flag.DurationVar(&o.window, "window", 60*time.Second, "idle: how long idle CPU is measured; sidebyside: the length of each round")
	flag.DurationVar(&o.pollWait, "poll-wait", 30*time.Second, "idle: the long-poll wait agents ask for")
	flag.DurationVar(&o.idleWait, "idle-wait", 0, "idle, rollout: the idle wait agents offer (idleWaitSeconds; the server holds idle polls up to 4 minutes); 0 offers none. Default: none in idle mode (measure over a --window of at least one idle wait), the real agent's 4m in rollout (before 2026-12-03 the rollout's robots offered none)")
	flag.IntVar(&o.concurrency, "concurrency", 32, "sidebyside: concurrent requests, one robot each")
	flag.IntVar(&o.rounds, "rounds", 2, "sidebyside: rounds, each measuring fleetsyncd then the bare handler")
	flag.StringVar(&o.requests, "requests", "report,poll", "sidebyside: request kinds: report (a progress report of a deploying robot), poll (a poll naming a finished deployment, no wait)")
	flag.StringVar(&o.brackets, "brackets", "", "create: account sizes at which the rate is printed, such as 10000,50000,100000 (default: five equal steps)")
	flag.StringVar(&o.bareListen, "bare-listen", "", "internal: serve the bare net/http handler of sidebyside at this address")
	flag.Float64Var(&o.startRate, "start-rate", 2000, "idle: agents started per second (a ramp, as a fleet reconnecting after an outage is spread by its backoff); 0: all at once")
	flag.BoolVar(&o.tls, "tls", false, "idle: fleetsyncd serves HTTPS (a certificate made for the run) and agents speak HTTP/2 over TLS, as real ones do by default (HTTP/1.1 over TLS with --h2c=false)")
	flag.IntVar(&o.robotsPerConn, "robots-per-conn", 200, "idle, rollout: agents sharing one HTTP/2 connection (idle: with --h2c or --tls); 1 is a real fleet's shape, a connection per robot")
	flag.BoolVar(&o.coalesce, "coalesce", true, "rollout: robots report progress as the real agent does, the latest step at a time (a step passed without a wait is superseded by the next); false: every step is reported, as the bench did before 2026-12-02")
	flag.Uint64Var(&o.nofile, "nofile", 1<<20, "raise the open file limit (this process and fleetsyncd) to this")
}

// setupDebugListen gives a single fleetsyncd a pprof listener, read by the
// modes for heap and goroutine figures and profiles.
func setupDebugListen(replicas int) {
	if replicas != 1 || os.Getenv("FLEETSYNC_BENCH_DEBUG_LISTEN") != "" {
		return
	}
	debugAddr = freeAddr()
	extraServerArgs = append(extraServerArgs, "--debug-listen", debugAddr)
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func runMode(mode string, robots int, bin string) error {
	if modeOpts.bareListen != "" {
		return serveBare(modeOpts.bareListen)
	}
	if bin == "" {
		self, _ := os.Executable()
		bin = filepath.Join(filepath.Dir(self), "fleetsyncd")
	}
	fmt.Printf("mode=%s load average %s\n", mode, procstat.LoadAvg())
	switch mode {
	case "idle":
		return runIdle(bin, robots)
	case "sidebyside":
		return runSideBySide(bin)
	case "create":
		return runCreate(bin, robots)
	}
	return fmt.Errorf("unknown --mode %q (rollout, idle, sidebyside, create)", mode)
}

// raiseFileLimit lifts RLIMIT_NOFILE (soft and hard, as root can) so that
// this process and the fleetsyncd it starts hold one connection per agent.
func raiseFileLimit(want uint64) uint64 {
	var l syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			want = min(want, n)
		}
	}
	if want > l.Max {
		if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) == nil {
			return want
		}
	}
	want = min(want, l.Max)
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: l.Max})
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	return l.Cur
}

// bench is one fleetsyncd with a fleet and an application version of an
// instant bundle, ready for robots.
type bench struct {
	rep      *replica
	c        *robomaker.RoboMaker
	fleetARN string
	appARN   string
	cleanup  []func()
}

func (b *bench) close() {
	for i := len(b.cleanup) - 1; i >= 0; i-- {
		b.cleanup[i]()
	}
}

func newBench(bin string, maxRetries int) (*bench, error) {
	b := &bench{}
	bundles, err := os.MkdirTemp("", "fleetsync-bench-bundles-")
	if err != nil {
		return nil, err
	}
	b.cleanup = append(b.cleanup, func() { os.RemoveAll(bundles) })
	dir, err := os.MkdirTemp("", "fleetsync-bench-")
	if err != nil {
		b.close()
		return nil, err
	}
	b.cleanup = append(b.cleanup, func() { os.RemoveAll(dir) })
	if b.rep, err = startReplica(bin, dir, bundles, ""); err != nil {
		b.close()
		return nil, err
	}
	b.cleanup = append(b.cleanup, func() { b.rep.cmd.Process.Kill(); b.rep.cmd.Wait() })
	sess := session.Must(session.NewSession(&aws.Config{Endpoint: aws.String(b.rep.url), Region: aws.String("us-east-1"),
		Credentials: credentials.NewStaticCredentials(keyID, secret, ""), MaxRetries: aws.Int(maxRetries),
		HTTPClient: sdkHTTPClient()}))
	b.c = robomaker.New(sess)
	b.c.Config.Logger = aws.LoggerFunc(func(...any) {})
	os.MkdirAll(filepath.Join(bundles, "bench"), 0o755)
	if err := os.WriteFile(filepath.Join(bundles, "bench", "app.tar"), []byte("instant bundle"), 0o644); err != nil {
		b.close()
		return nil, err
	}
	f, err := b.c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("bench")})
	if err != nil {
		b.close()
		return nil, err
	}
	app, err := b.c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String("bench"),
		RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
		Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("bench"), S3Key: aws.String("app.tar"), Architecture: aws.String("X86_64")}}})
	if err == nil {
		_, err = b.c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
	}
	if err != nil {
		b.close()
		return nil, err
	}
	b.fleetARN, b.appARN = aws.StringValue(f.Arn), aws.StringValue(app.Arn)
	return b, nil
}

// deploy starts a deployment job of the bench application over the fleet.
func (b *bench) deploy() (string, error) {
	out, err := b.c.CreateDeploymentJob(&robomaker.CreateDeploymentJobInput{Fleet: aws.String(b.fleetARN),
		DeploymentApplicationConfigs: []*robomaker.DeploymentApplicationConfig{{Application: aws.String(b.appARN), ApplicationVersion: aws.String("1"),
			LaunchConfig: &robomaker.DeploymentLaunchConfig{PackageName: aws.String("app"), LaunchFile: aws.String("run.sh")}}},
		DeploymentConfig: &robomaker.DeploymentConfig{ConcurrentDeploymentPercentage: aws.Int64(100)}})
	if err != nil {
		return "", err
	}
	return aws.StringValue(out.Arn), nil
}

// procStats are a process's figures at one instant.
type procStats struct {
	cpu        float64 // user+system seconds
	rssMiB     float64
	heapAlloc  float64 // bytes, after a GC (0 without the debug listener)
	stackInuse float64
	goroutines int
}

// serverStats reads fleetsyncd's figures; with gc, the heap figure follows
// a collection (the heap profile endpoint runs one first).
func serverStats(pid int, gc bool) procStats {
	s := procStats{cpu: procstat.CPUSeconds(pid), rssMiB: procstat.MiB(pid, "VmRSS")}
	if debugAddr == "" {
		return s
	}
	q := "debug=1"
	if gc {
		q += "&gc=1"
	}
	if body, err := get("http://" + debugAddr + "/debug/pprof/heap?" + q); err == nil {
		sc := bufio.NewScanner(strings.NewReader(body))
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
				s.heapAlloc, _ = strconv.ParseFloat(v, 64)
			}
			if v, ok := strings.CutPrefix(sc.Text(), "# Stack = "); ok { // "inuse / sys"
				s.stackInuse, _ = strconv.ParseFloat(strings.Fields(v)[0], 64)
			}
		}
	}
	if body, err := getHead("http://"+debugAddr+"/debug/pprof/goroutine?debug=1", 200); err == nil {
		if v, ok := strings.CutPrefix(strings.SplitN(body, "\n", 2)[0], "goroutine profile: total "); ok {
			s.goroutines, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return s
}

func get(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func getHead(url string, n int64) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, n))
	return string(b), err
}

// saveProfile writes a profile of the debug listener to file.
func saveProfile(path, file string) error {
	if debugAddr == "" {
		return errors.New("no debug listener for profiles")
	}
	resp, err := http.Get("http://" + debugAddr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("profile %s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// startCPUProfile starts fleetsyncd's CPU profile when --cpuprofile is set;
// the returned function waits for it to be written.
func startCPUProfile() func() {
	if modeOpts.cpuProfile == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := saveProfile(fmt.Sprintf("/debug/pprof/profile?seconds=%d", modeOpts.profileSeconds), modeOpts.cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "fleetsync-bench: CPU profile:", err)
			return
		}
		fmt.Printf("CPU profile of fleetsyncd (%ds) written to %s\n", modeOpts.profileSeconds, modeOpts.cpuProfile)
	}()
	return func() { <-done }
}

// waitFor polls cond every 100 ms until it holds or d passes.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// waitPolling waits (at most a minute) until the replicas hold n long
// polls between them (fleetsync_agent_held_polls: waiting or parked), so
// that a rollout is measured from a fleet at rest, not with its robots
// still connecting and opening sessions on a loaded machine.
func waitPolling(urls []string, n int) {
	var scrapeErr error
	held := func() int {
		total := 0
		for _, u := range urls {
			v, err := scrapeGauge(u, "fleetsync_agent_held_polls")
			if err != nil {
				scrapeErr = err
			}
			total += int(v)
		}
		return total
	}
	if !waitFor(context.Background(), time.Minute, func() bool { return held() >= n }) {
		fmt.Fprintf(os.Stderr, "fleetsync-bench: not every robot polling after a minute (%d of %d polls held; last scrape error: %v)\n", held(), n, scrapeErr)
	}
}

// peakGoroutines samples fleetsyncd's goroutine count every 250 ms until
// stop is called (once or more), which returns the largest count one
// replica showed. It reads the debug listener's /debug/goroutines, which
// costs next to nothing; without it (replicas), /metrics' go_goroutines
// every 2 s, a scrape being tens of milliseconds of server CPU at 100,000
// robots.
func peakGoroutines(urls []string) (stop func() float64) {
	every := 2 * time.Second
	sample := func(u string) (float64, error) { return scrapeGauge(u, "go_goroutines") }
	if debugAddr != "" {
		every = 250 * time.Millisecond
		sample = func(string) (float64, error) {
			body, err := get("http://" + debugAddr + "/debug/goroutines")
			if err != nil {
				return 0, err
			}
			return strconv.ParseFloat(strings.TrimSpace(body), 64)
		}
	}
	done := make(chan struct{})
	result := make(chan float64)
	go func() {
		peak := 0.0
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			for _, u := range urls {
				if v, err := sample(u); err == nil {
					peak = max(peak, v)
				}
			}
			select {
			case <-done:
				result <- peak
				return
			case <-t.C:
			}
		}
	}()
	return sync.OnceValue(func() float64 { close(done); return <-result })
}

// rolloutIdleWait is the idle wait the rollout's robots offer: --idle-wait
// when given, else the real agent's (runner.DefaultIdleWait), so that the
// robots waiting for their turn poll as rarely as real ones do.
func rolloutIdleWait() time.Duration {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "idle-wait" })
	if set {
		return modeOpts.idleWait
	}
	return runner.DefaultIdleWait
}
