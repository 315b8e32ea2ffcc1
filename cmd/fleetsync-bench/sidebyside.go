package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/fleetsync/fleetsync/internal/procstat"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/sim"
)

// runSideBySide measures agent request handling against a bare net/http
// JSON handler in a process of its own: the same load generator (the agent
// client), the same request bodies and paths, the same run, alternating
// round by round between fleetsyncd with session credentials, fleetsyncd
// with every request signed (agents of the protocol before sessions) and
// the bare handler. It prints requests per second and server CPU per
// request for each, and the ratios to the bare handler.
func runSideBySide(bin string) error {
	raiseFileLimit(modeOpts.nofile)
	b, err := newBench(bin, 3)
	if err != nil {
		return err
	}
	defer b.close()
	bare, bareURL, err := startBare()
	if err != nil {
		return err
	}
	defer func() { bare.Process.Kill(); bare.Wait() }()

	n := modeOpts.concurrency
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = n + 8
	if modeOpts.h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	hc := &http.Client{Transport: t}
	// The same robots three ways: agents with session credentials, agents
	// signing every request (the protocol before sessions), and the bare
	// handler (which checks nothing).
	fs, ss, bs := make([]*client.Client, n), make([]*client.Client, n), make([]*client.Client, n)
	for i := range n {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		fs[i] = &client.Client{Server: b.rep.url, Key: priv, Account: sim.DefaultAccount, HTTP: hc}
		ss[i] = &client.Client{Server: b.rep.url, Key: priv, Account: sim.DefaultAccount, HTTP: hc, NoSession: true}
		bs[i] = &client.Client{Server: bareURL, Key: priv, Account: sim.DefaultAccount, HTTP: hc}
		r, err := b.c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(fmt.Sprintf("sbs-%04d", i)), Architecture: aws.String("X86_64"),
			GreengrassGroupId: aws.String(fs[i].AgentID())})
		if err == nil {
			_, err = b.c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(b.fleetARN), Robot: r.Arn})
		}
		if err != nil {
			return err
		}
	}
	job, err := b.deploy()
	if err != nil {
		return err
	}
	ctx := context.Background()
	for i, c := range fs {
		for {
			resp, err := c.Poll(ctx, proto.PollRequest{WaitSeconds: 5})
			if err != nil {
				return fmt.Errorf("robot %d poll: %w", i, err)
			}
			if resp.Assignment != nil && resp.Assignment.DeploymentJob == job {
				break
			}
		}
	}
	fmt.Printf("side by side: %d concurrent agents over %s, %d rounds of %s per server\n", n, map[bool]string{true: "h2c", false: "HTTP/1.1"}[modeOpts.h2c], modeOpts.rounds, modeOpts.window)
	pct := 50.0
	eta := int64(10)
	kinds := map[string]func(ctx context.Context, c *client.Client) error{
		"report": func(ctx context.Context, c *client.Client) error {
			resp, err := c.Report(ctx, proto.Report{DeploymentJob: job, Step: proto.StepDownloadingExtracting, PercentDone: &pct, ETASeconds: &eta})
			if err == nil && resp.Abort {
				err = fmt.Errorf("report answered abort")
			}
			return err
		},
		"poll": func(ctx context.Context, c *client.Client) error {
			_, err := c.Poll(ctx, proto.PollRequest{Current: &proto.Current{DeploymentJob: job, Finished: true}})
			return err
		},
	}
	for _, kind := range strings.Split(modeOpts.requests, ",") {
		do, ok := kinds[kind]
		if !ok {
			return fmt.Errorf("unknown request kind %q (report, poll)", kind)
		}
		if kind == "poll" {
			// A poll naming a finished deployment: every robot finishes first.
			for _, c := range fs {
				if _, err := c.Report(ctx, proto.Report{DeploymentJob: job, Step: proto.StepFinished, Result: proto.ResultSucceeded}); err != nil {
					return err
				}
			}
		}
		var tot [3]loadResult
		sides := []struct {
			name    string
			pid     int
			clients []*client.Client
		}{{"fleetsyncd", b.rep.cmd.Process.Pid, fs}, {"fleetsyncd signed", b.rep.cmd.Process.Pid, ss}, {"bare net/http", bare.Process.Pid, bs}}
		for r := range modeOpts.rounds {
			for i, side := range sides {
				res := load(ctx, side.clients, side.pid, modeOpts.window, do)
				tot[i].add(res)
				fmt.Printf("  %-6s round %d %-18s %8.0f req/s  %7.1f µs server CPU/req  errors %d  load average %s\n",
					kind, r+1, side.name, res.rps(), res.cpuPerReq()*1e6, res.errors, procstat.LoadAvg())
				if res.firstErr != nil {
					fmt.Printf("    first error: %v\n", res.firstErr)
				}
			}
		}
		for i, side := range sides[:2] {
			fmt.Printf("%-6s %s %.0f req/s (%.1f µs CPU/req) vs bare %.0f req/s (%.1f µs CPU/req): ratio %.2f (CPU ratio %.2f)\n",
				kind, side.name, tot[i].rps(), tot[i].cpuPerReq()*1e6, tot[2].rps(), tot[2].cpuPerReq()*1e6,
				tot[i].rps()/tot[2].rps(), tot[2].cpuPerReq()/tot[i].cpuPerReq())
		}
	}
	return nil
}

type loadResult struct {
	ok, errors int64
	secs, cpu  float64
	firstErr   error
}

func (l *loadResult) add(o loadResult) {
	l.ok += o.ok
	l.errors += o.errors
	l.secs += o.secs
	l.cpu += o.cpu
}

func (l loadResult) rps() float64       { return float64(l.ok) / l.secs }
func (l loadResult) cpuPerReq() float64 { return l.cpu / float64(max(l.ok, 1)) }

// load runs do in a loop on every client at once for d and measures the
// server process's CPU over the same time.
func load(ctx context.Context, clients []*client.Client, pid int, d time.Duration, do func(context.Context, *client.Client) error) loadResult {
	var ok, bad atomic.Int64
	var once sync.Once
	var first error
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	cpu0, t0 := procstat.CPUSeconds(pid), time.Now()
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := do(ctx, c); err != nil {
					if ctx.Err() == nil {
						bad.Add(1)
						once.Do(func() { first = err })
					}
					continue
				}
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	return loadResult{ok: ok.Load(), errors: bad.Load(), secs: time.Since(t0).Seconds(), cpu: procstat.CPUSeconds(pid) - cpu0, firstErr: first}
}

// startBare runs this binary as the bare handler's server.
func startBare() (*exec.Cmd, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	addr := freeAddr()
	cmd := exec.Command(self, "--bare-listen", addr)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlives the bench
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return cmd, "http://" + addr, nil
		}
		if i > 200 {
			cmd.Process.Kill()
			return nil, "", fmt.Errorf("bare handler at %s not listening", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveBare is the baseline: the agent endpoint's paths, answered by
// decoding the request JSON and encoding a fixed answer, with nothing else
// (no authentication, no storage); the same protocols as fleetsyncd.
func serveBare(addr string) error {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+proto.PathReport, func(w http.ResponseWriter, r *http.Request) {
		var rep proto.Report
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(proto.ReportResponse{})
	})
	mux.HandleFunc("POST "+proto.PathPoll, func(w http.ResponseWriter, r *http.Request) {
		var req proto.PollRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(proto.PollResponse{PollIntervalSeconds: 10})
	})
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv.ListenAndServe()
}
