package main

import (
	"context"
	"fmt"
	"github.com/fleetsync/fleetsync/internal/procstat"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/sim"
)

// runIdle measures what idle agents cost fleetsyncd: n simulated agents
// (registered robots with nothing to deploy) long-poll for --window after
// every one of them has completed a poll; heap (after a GC), RSS and
// goroutines are taken before the agents start and at the end, CPU over the
// window.
func runIdle(bin string, n int) error {
	limit := raiseFileLimit(modeOpts.nofile)
	if modeOpts.tls {
		dir, err := os.MkdirTemp("", "fleetsync-bench-tls-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		if err := setupTLS(dir); err != nil {
			return err
		}
	}
	b, err := newBench(bin, 3)
	if err != nil {
		return err
	}
	defer b.close()
	perConn := max(modeOpts.robotsPerConn, 1)
	proto := fmt.Sprintf("h2c (%d agents per connection)", perConn)
	shared := modeOpts.h2c // HTTP/2: agents share connections, perConn each
	switch {
	case modeOpts.tls && !modeOpts.h2c:
		proto = "HTTP/1.1 over TLS (one connection per agent)"
	case modeOpts.tls:
		proto = fmt.Sprintf("HTTP/2 over TLS (%d agents per connection)", perConn)
	case !modeOpts.h2c:
		proto = "HTTP/1.1 (one connection per agent)"
	}
	sf := sim.New(b.rep.url, n, sim.Options{PollWait: modeOpts.pollWait, IdleWait: modeOpts.idleWait, H2C: modeOpts.h2c && !modeOpts.tls,
		TLS: benchTLS, HTTP1: !modeOpts.h2c, RobotsPerConn: perConn, RetryBase: time.Second,
		NamePrefix: "idle-", StartRate: modeOpts.startRate})
	t0 := time.Now()
	var setupSecs float64
	if err := register([]*robomaker.RoboMaker{b.c}, b.fleetARN, sf.Robots()); err != nil {
		return err
	}
	conns := "one connection per outstanding request"
	if shared {
		conns = fmt.Sprintf("%d clients of at most %d agents each", (n+perConn-1)/perConn, perConn)
	}
	fmt.Printf("setup: %d robots created and registered in %.1fs (open file limit %d; %s; agents started at %s)\n",
		n, time.Since(t0).Seconds(), limit, conns, rate(modeOpts.startRate))
	setupSecs = time.Since(t0).Seconds()
	pid := b.rep.cmd.Process.Pid
	base := serverStats(pid, true)
	ctx := context.Background()
	self0 := procstat.CPUSeconds(os.Getpid())
	drops0 := procstat.BacklogDrops()
	sf.Start(ctx)
	defer sf.Stop()
	// The steady state: every agent has completed one long poll (all are
	// in their second), or with an idle wait, every agent's poll is held
	// (fleetsyncd's gauge of held polls).
	steady := func() bool { return sf.Stats().Polls >= int64(n) }
	if modeOpts.idleWait > 0 {
		// 99 %: a few agents may be between polls at any instant.
		steady = func() bool {
			held, err := scrapeGauge(b.rep.url, "fleetsync_agent_held_polls")
			if err != nil {
				// A fleetsyncd without the gauge (before parking): a
				// goroutine per held poll.
				return serverStats(pid, false).goroutines >= base.goroutines+n*99/100
			}
			return held >= float64(n*99/100)
		}
	}
	settle := 2*modeOpts.pollWait + 4*time.Minute
	if modeOpts.startRate > 0 {
		settle += time.Duration(float64(n) / modeOpts.startRate * float64(time.Second))
	}
	if !waitFor(ctx, settle, steady) {
		st := sf.Stats()
		return fmt.Errorf("agents not all polling after %s: %d polls done (%d failed), server goroutines %d (%d before agents), load average %s; errors by kind:\n%s",
			settle, st.Polls, st.Errors, serverStats(pid, false).goroutines, base.goroutines, procstat.LoadAvg(), sim.FormatErrorKinds(st.ErrorKinds, "  "))
	}
	fmt.Printf("steady: every agent polling %.1fs after the first started (%d polls done, %d failed)\n",
		time.Since(t0).Seconds()-setupSecs, sf.Stats().Polls, sf.Stats().Errors)
	time.Sleep(2 * time.Second)
	st0, s0 := serverStats(pid, false), sf.Stats()
	w0 := time.Now()
	time.Sleep(modeOpts.window)
	st1, s1 := serverStats(pid, false), sf.Stats()
	window := time.Since(w0).Seconds()
	end := serverStats(pid, true)
	if modeOpts.heapProfile != "" {
		if err := saveProfile("/debug/pprof/heap?gc=1", modeOpts.heapProfile); err != nil {
			return err
		}
		fmt.Printf("heap profile of fleetsyncd written to %s\n", modeOpts.heapProfile)
	}
	self := procstat.CPUSeconds(os.Getpid()) - self0
	cpu := st1.cpu - st0.cpu
	per := func(after, before float64) float64 { return (after - before) / float64(n) }
	fmt.Printf("idle agents=%d over %s, poll wait %s, idle wait %s, window %.0fs, load average %s\n", n, proto, modeOpts.pollWait, modeOpts.idleWait, window, procstat.LoadAvg())
	fmt.Printf("  fleetsyncd heap %.1f MiB (%.1f before agents) = %.2f KB/agent; stack %.1f MiB = %.2f KB/agent\n",
		end.heapAlloc/(1<<20), base.heapAlloc/(1<<20), per(end.heapAlloc, base.heapAlloc)/1024,
		end.stackInuse/(1<<20), per(end.stackInuse, base.stackInuse)/1024)
	fmt.Printf("  fleetsyncd RSS %.0f MiB (%.0f before) = %.1f KB/agent; goroutines %d (%d before) = %.2f/agent\n",
		end.rssMiB, base.rssMiB, per(end.rssMiB, base.rssMiB)*1024, end.goroutines, base.goroutines, per(float64(end.goroutines), float64(base.goroutines)))
	fmt.Printf("  fleetsyncd idle CPU %.2fs in %.0fs = %.3f cores = %.2f µs per agent-second; polls %.0f/s\n",
		cpu, window, cpu/window, cpu/window/float64(n)*1e6, float64(s1.Polls-s0.Polls)/window)
	fmt.Printf("  errors: %d in the window, %d over the whole run%s\n", s1.Errors-s0.Errors, s1.Errors, map[bool]string{true: " by kind:", false: ""}[s1.Errors > 0])
	fmt.Print(sim.FormatErrorKinds(s1.ErrorKinds, "    "))
	if drops := procstat.BacklogDrops() - drops0; drops0 >= 0 && drops > 0 {
		// Not fleetsyncd's: the agents' keepalive probes, fired together
		// by connections opened together, overflowed the loopback's
		// queue; a real fleet's arrive spread out, over a NIC.
		max, _ := os.ReadFile("/proc/sys/net/core/netdev_max_backlog")
		fmt.Printf("  the kernel dropped %d packets over the run: input backlog full (net.core.netdev_max_backlog %s); lost keepalive probes end connections with \"connection timed out\": raise it (sysctl -w net.core.netdev_max_backlog=65536)\n",
			drops, strings.TrimSpace(string(max)))
	}
	fmt.Printf("  load generator (this process) CPU %.1fs over the whole run, RSS %.0f MiB; load average %s\n",
		self, procstat.MiB(os.Getpid(), "VmRSS"), procstat.LoadAvg())
	return nil
}

func rate(perSecond float64) string {
	if perSecond <= 0 {
		return "once"
	}
	return fmt.Sprintf("%.0f/s", perSecond)
}
