package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/syncbuf"
)

// LaunchOptions say how to start one fleetsyncd process.
type LaunchOptions struct {
	// Binary is the fleetsyncd executable.
	Binary string
	// Args are its flags; Launch adds --listen and --addr-file in front, so
	// a --listen in Args wins.
	Args []string
	// Env is the whole environment; nil means os.Environ().
	Env []string
	// Dir is the working directory; "" is the caller's.
	Dir string
	// Listen is the --listen Launch passes; "" means 127.0.0.1:0 (the system
	// picks a free port, read back from the address file). A restart passes
	// the previous address so clients and agents find the server again.
	Listen string
	// ListenFromEnv passes no --listen at all: Args or FLEETSYNC_LISTEN say
	// where (port 0 still works, through the address file).
	ListenFromEnv bool
	// Stdout and Stderr receive the process's output as well as the
	// buffers Process keeps; nil keeps only the buffers.
	Stdout, Stderr io.Writer
	// Timeout bounds the start (default 30 s).
	Timeout time.Duration
	// Wrapper, when set, is a command line the binary and its flags are
	// appended to, such as sh -c 'ulimit -n 256 && exec "$0" "$@"'.
	Wrapper []string
	// Probe is the client /readyz is asked with, and HTTPS says the
	// process serves TLS (its URL is https://); a TLS server's probe must
	// trust its CA.
	Probe *http.Client
	HTTPS bool
}

// Process is a running fleetsyncd started by Launch: the one launcher of
// the test environment, the e2e operator tests and both benchmarks.
type Process struct {
	Cmd *exec.Cmd
	// Addr is the address the process listens on, as it wrote it to its
	// --addr-file; URL is http://Addr.
	Addr, URL string

	stdout, stderr *syncbuf.Buffer
	done           chan struct{}
	dir            string
}

// Launch starts fleetsyncd with --addr-file and returns once the address
// file names where it listens and /readyz answers 200; no port is picked
// by listening and closing. On error the process is killed.
func Launch(o LaunchOptions) (*Process, error) {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	dir, err := os.MkdirTemp("", "fleetsyncd-addr-")
	if err != nil {
		return nil, err
	}
	addrFile := filepath.Join(dir, "addr")
	args := []string{"--addr-file", addrFile}
	if !o.ListenFromEnv {
		args = append(args, "--listen", cmpOr(o.Listen, "127.0.0.1:0"))
	}
	argv := append([]string{o.Binary}, append(args, o.Args...)...)
	if len(o.Wrapper) > 0 {
		argv = append(append([]string{}, o.Wrapper...), argv...)
	}
	p := &Process{Cmd: exec.Command(argv[0], argv[1:]...), dir: dir, done: make(chan struct{}),
		stdout: &syncbuf.Buffer{}, stderr: &syncbuf.Buffer{}}
	p.Cmd.Dir, p.Cmd.Env = o.Dir, o.Env
	if p.Cmd.Env == nil {
		p.Cmd.Env = os.Environ()
	}
	p.Cmd.Stdout, p.Cmd.Stderr = tee(p.stdout, o.Stdout), tee(p.stderr, o.Stderr)
	if err := p.Cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	go func() { p.Cmd.Wait(); close(p.done); os.RemoveAll(dir) }()
	if err := p.waitReady(addrFile, o); err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func tee(buf *syncbuf.Buffer, w io.Writer) io.Writer {
	if w == nil {
		return buf
	}
	return io.MultiWriter(buf, w)
}

// waitReady waits for the address file, then for /readyz.
func (p *Process) waitReady(addrFile string, o LaunchOptions) error {
	timeout := o.Timeout
	deadline := time.Now().Add(timeout)
	// A client of its own: the SDK's session setup touches http.DefaultClient's transport.
	probe := o.Probe
	if probe == nil {
		probe = &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	}
	scheme := "http://"
	if o.HTTPS {
		scheme = "https://"
	}
	defer probe.CloseIdleConnections()
	for {
		if p.Addr == "" {
			if b, err := os.ReadFile(addrFile); err == nil {
				p.Addr = strings.TrimSpace(string(b))
				p.URL = scheme + p.Addr
			}
		}
		if p.Addr != "" {
			// The socket is bound: a connection waits in its backlog until
			// the server accepts, so this is one round trip, not a poll.
			if resp, err := probe.Get(p.URL + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("fleetsyncd exited during start: %v\n%s", p.Cmd.ProcessState, p.Stderr())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("fleetsyncd not ready after %v:\n%s", timeout, p.Stderr())
		}
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Terminate sends SIGTERM and waits up to timeout for a clean exit; it
// returns the process's exit error (nil for status 0).
func (p *Process) Terminate(timeout time.Duration) error {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if !p.Cmd.ProcessState.Success() {
			return fmt.Errorf("fleetsyncd exited with %v", p.Cmd.ProcessState)
		}
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("fleetsyncd still running %v after SIGTERM", timeout)
	}
}

// Stdout returns what the process printed on stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stderr returns the process's log so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// FreeAddr returns a loopback address with a port nobody listens on now,
// by listening and closing: racy, so only for third-party servers (nginx)
// that cannot report the port they bound, or an address meant to refuse.
// fleetsyncd itself is started on port 0 with --addr-file (Launch).
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
