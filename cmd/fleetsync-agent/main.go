// Command fleetsync-agent runs on each robot: it holds the robot's Ed25519
// identity, polls fleetsyncd for deployments, carries them out and keeps
// the deployed application running (package runner).
//
//	fleetsync-agent init   --account N [--state-dir DIR] [--rebind]
//	fleetsync-agent run    --server URL [--state-dir DIR] [--launcher CMD]
//	fleetsync-agent status [--state-dir DIR] [--json]
//	fleetsync-agent version
//
// Every flag can also be set as FLEETSYNC_AGENT_<FLAG> in the environment
// (FLEETSYNC_AGENT_SERVER, FLEETSYNC_AGENT_STATE_DIR, …); a flag on the
// command line wins.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agent/launch"
	"github.com/fleetsync/fleetsync/internal/agent/runner"
	"github.com/fleetsync/fleetsync/internal/agent/state"
	"github.com/fleetsync/fleetsync/internal/version"
)

const usage = `usage:
  fleetsync-agent init   --account N [--state-dir DIR] [--rebind]
                         create the robot key, bind it to account N; print the agent id
  fleetsync-agent run    --server URL [--state-dir DIR] [--launcher CMD]
  fleetsync-agent status [--state-dir DIR] [--json]    what is deployed and running
  fleetsync-agent version                             version, commit and build date
run's TLS flags: --ca-file FILE [--ca-only] [--pin-sha256 HASH,...] [--insecure-http]
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "init":
		err = cmdInit(args[1:], stdout, stderr)
	case "run":
		err = cmdRun(args[1:], stderr)
	case "status":
		err = cmdStatus(args[1:], stdout, stderr)
	case "version", "--version":
		err = cmdVersion(stdout)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fleetsync-agent:", err)
		if errors.Is(err, errUsage) {
			fmt.Fprint(stderr, usage)
		}
		return 2
	}
	return 0
}

var errUsage = errors.New("bad usage")

// newFlags returns a flag set whose flags default from FLEETSYNC_AGENT_*
// environment variables (applied by parse).
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	flags.SetOutput(stderr)
	return flags
}

// parse applies the environment, then the command line.
func parse(flags *flag.FlagSet, args []string) error {
	var envErr error
	flags.VisitAll(func(f *flag.Flag) {
		name := "FLEETSYNC_AGENT_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return envErr
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, flags.Arg(0))
	}
	return nil
}

func cmdInit(args []string, stdout, stderr io.Writer) error {
	flags := newFlags("init", stderr)
	dir := flags.String("state-dir", state.DefaultDir, "state directory (key, deployments, logs)")
	account := flags.String("account", "", "the 12-digit account that will create this robot (required once; the agent id is bound to it)")
	rebind := flags.Bool("rebind", false, "bind an agent already bound to another account to --account")
	if err := parse(flags, args); err != nil {
		return err
	}
	have, err := state.LoadAccount(*dir)
	if err != nil && *account == "" {
		return err
	}
	if *account == "" && have == "" {
		return fmt.Errorf("%w: --account is required: the 12-digit account whose credential will run create-robot "+
			"(the agent id is bound to it, so no other account can enrol this robot)", errUsage)
	}
	key, _, err := state.LoadOrCreateKey(*dir)
	if err != nil {
		return err
	}
	if *account != "" {
		if err := state.BindAccount(*dir, *account, *rebind); err != nil {
			return err
		}
		have = *account
	}
	fmt.Fprintln(stdout, state.BoundAgentID(key, have))
	return nil
}

func cmdRun(args []string, stderr io.Writer) error {
	flags := newFlags("run", stderr)
	dir := flags.String("state-dir", state.DefaultDir, "state directory (key, deployments, logs)")
	server := flags.String("server", "", "fleetsyncd base URL, such as https://fleet.example.com (required)")
	launcher := flags.String("launcher", "", "command replacing the software suite's launcher; gets the package and launch file as arguments")
	logLevel := flags.String("log-level", "info", "debug, info, warn or error")
	grace := flags.Duration("grace", 10*time.Second, "time between SIGTERM and SIGKILL when the application is stopped")
	settle := flags.Duration("launch-settle", runner.DefaultSettle, "how long a launched application must run without exiting for the launch to succeed")
	heartbeat := flags.Duration("heartbeat", runner.DefaultHeartbeat, "how often a long step is reported again")
	pollWait := flags.Duration("poll-wait", runner.DefaultPollWait, "long-poll wait asked of the server")
	idleWait := flags.Duration("idle-wait", runner.DefaultIdleWait, "longer wait offered for the polls of an idle robot (the server caps it; 0: none, plain long polls). "+
		"A proxy between agent and server must allow requests this long")
	backoffMin := flags.Duration("restart-backoff-min", time.Second, "first delay before restarting an application that exited")
	backoffMax := flags.Duration("restart-backoff-max", time.Minute, "longest delay between restarts")
	retryBase := flags.Duration("retry-base", time.Second, "first delay before retrying a failed request to the server")
	maxBytes := flags.Int64("max-bundle-bytes", bundle.DefaultLimits().MaxBytes, "most bytes a bundle may extract to")
	maxFiles := flags.Int("max-bundle-files", bundle.DefaultLimits().MaxFiles, "most entries a bundle may extract to")
	cgroupFlag := flags.String("cgroup", "auto", "cgroup v2 directory in which each application launch gets a cgroup of its own: auto (the agent's own cgroup when delegated to it, as systemd's Delegate=yes does), none, or a directory")
	var tf transportFlags
	tf.register(flags)
	if err := parse(flags, args); err != nil {
		return err
	}
	cgroup := ""
	switch *cgroupFlag {
	case "auto":
		cgroup = launch.DetectCgroup()
	case "none", "":
	default:
		if err := launch.CheckCgroup(*cgroupFlag); err != nil {
			return fmt.Errorf("--cgroup: %w", err)
		}
		cgroup = *cgroupFlag
	}
	if *server == "" {
		return fmt.Errorf("%w: --server is required", errUsage)
	}
	httpClient, err := tf.httpClient(*server)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log, err := newLogger(stderr, level, tf.logFormat)
	if err != nil {
		return err
	}

	key, err := state.LoadKey(*dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no key in %s: run `fleetsync-agent init --account N --state-dir %s` first", *dir, *dir)
	}
	if err != nil {
		return err
	}
	account, err := state.LoadAccount(*dir)
	if err != nil {
		return err
	}
	if account == "" {
		log.Warn("this agent is bound to no account: it is served only if a robot enrolled before bound agent ids has its id; "+
			"run `fleetsync-agent init --account N --state-dir "+*dir+"` and create the robot with the id it prints", "agentId", state.AgentID(key))
	}
	if *idleWait < 0 {
		return fmt.Errorf("%w: --idle-wait must not be negative (0 turns it off)", errUsage)
	}
	if *idleWait == 0 {
		*idleWait = -1 // runner.Config: negative is none
	}
	c := &client.Client{Server: strings.TrimRight(*server, "/"), Key: key, Account: account, HTTP: httpClient, Version: version.Get().Version}
	agent, err := runner.New(runner.Config{
		Client: c, StateDir: *dir, Launcher: *launcher, Log: log,
		Limits:   bundle.Limits{MaxBytes: *maxBytes, MaxFiles: *maxFiles},
		PollWait: *pollWait, IdleWait: *idleWait, Heartbeat: *heartbeat, Settle: *settle, Grace: *grace,
		BackoffMin: *backoffMin, BackoffMax: *backoffMax, RetryBase: *retryBase, Cgroup: cgroup,
	})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	log.Info("fleetsync-agent started", "agentId", c.AgentID(), "server", c.Server, "stateDir", *dir, "cgroup", cgroup, "version", c.Version,
		"idleWait", max(*idleWait, 0))
	err = agent.Run(ctx)
	log.Info("fleetsync-agent stopped")
	return err
}

func cmdStatus(args []string, stdout, stderr io.Writer) error {
	flags := newFlags("status", stderr)
	dir := flags.String("state-dir", state.DefaultDir, "state directory")
	asJSON := flags.Bool("json", false, "print the status as JSON")
	if err := parse(flags, args); err != nil {
		return err
	}
	key, err := state.LoadKey(*dir)
	if err != nil {
		return fmt.Errorf("no agent in %s: %w", *dir, err)
	}
	st, err := state.Load(*dir)
	if err != nil {
		return err
	}
	status, err := state.LoadStatus(*dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	account, err := state.LoadAccount(*dir)
	if err != nil {
		return err
	}
	status.AgentID = state.BoundAgentID(key, account)
	status.Current = nil
	if st.Current != nil {
		// The job's environment variables may hold secrets: status does
		// not show them.
		c := *st.Current
		c.Env = nil
		status.Current = &c
	}
	agentRunning := status.PID > 0 && alive(status.PID)
	appRunning := status.AppPID > 0 && agentRunning && alive(status.AppPID)
	if *asJSON {
		out := struct {
			state.Status
			AgentRunning bool `json:"agentRunning"`
			AppRunning   bool `json:"appRunning"`
			Pending      any  `json:"pendingReport,omitempty"`
		}{status, agentRunning, appRunning, st.Pending}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "agent id:     %s\n", status.AgentID)
	if status.Server != "" {
		fmt.Fprintf(stdout, "server:       %s\n", status.Server)
	}
	fmt.Fprintf(stdout, "agent:        %s\n", runningText(agentRunning, status.PID))
	if c := st.Current; c != nil {
		fmt.Fprintf(stdout, "deployed:     %s version %s\n", c.Application, c.ApplicationVersion)
		fmt.Fprintf(stdout, "  by job:     %s\n", c.DeploymentJob)
		fmt.Fprintf(stdout, "  installed:  %s\n", c.InstalledAt.Format(time.RFC3339))
		fmt.Fprintf(stdout, "application:  %s", runningText(appRunning, status.AppPID))
		if status.AppRestarts > 0 {
			fmt.Fprintf(stdout, ", restarted %d times", status.AppRestarts)
			if status.LastExitCode != nil {
				fmt.Fprintf(stdout, " (last exit status %d)", *status.LastExitCode)
			}
		}
		fmt.Fprintln(stdout)
	} else {
		fmt.Fprintln(stdout, "deployed:     nothing yet")
	}
	if status.Deploying != "" && agentRunning {
		fmt.Fprintf(stdout, "deploying:    %s (step %s)\n", status.Deploying, status.Step)
	}
	if st.Pending != nil {
		fmt.Fprintf(stdout, "undelivered:  %s %s\n", st.Pending.Result, st.Pending.DeploymentJob)
	}
	if !status.LastContactAt.IsZero() {
		fmt.Fprintf(stdout, "last contact: %s\n", status.LastContactAt.Format(time.RFC3339))
	}
	if status.LastError != "" {
		fmt.Fprintf(stdout, "last error:   %s (%s)\n", status.LastError, status.LastErrorAt.Format(time.RFC3339))
	}
	return nil
}

func runningText(running bool, pid int) string {
	if running {
		return fmt.Sprintf("running (pid %d)", pid)
	}
	return "not running"
}

// alive reports whether a process exists (signal 0 probes without sending).
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}
