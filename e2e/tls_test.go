// TLS end to end: fleetsyncd serving HTTPS with a certificate from a real
// openssl CA, the AWS SDK for Go v1, the AWS CLI v2 and real agents trusting
// that CA, certificate rotation while agents long-poll, and agents refusing
// what they must refuse.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"crypto/tls"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/syncbuf"
	"github.com/fleetsync/fleetsync/internal/testenv"
)

// startTLS runs a fast test server on HTTPS with a certificate of a fresh
// CA for 127.0.0.1 and localhost; the certificate files live where a test
// may replace them (live.pem, live.key).
func startTLS(t *testing.T, extra ...string) (*testenv.Server, *testenv.CA, [2]string) {
	t.Helper()
	ca := testenv.NewCA(t, "fleetsync test CA")
	cert, key := ca.Issue(t, "127.0.0.1", "localhost")
	dir := t.TempDir()
	live := [2]string{filepath.Join(dir, "live.pem"), filepath.Join(dir, "live.key")}
	testenv.InstallCert(t, cert, key, live[0], live[1])
	args := append(append([]string{}, engineArgs...), extra...)
	s := testenv.Start(t, testenv.Options{Args: args, TLS: &testenv.TLS{CertFile: live[0], KeyFile: live[1], CA: ca}})
	return s, ca, live
}

// TestTLSClients: the SDK and the CLI over HTTPS with the test CA; TLS 1.2
// minimum; HTTP/2 offered; the console cookie Secure; access log lines and
// refused-authentication warnings that carry no secret.
func TestTLSClients(t *testing.T) {
	s, ca, _ := startTLS(t)
	if !strings.HasPrefix(s.URL, "https://") {
		t.Fatalf("server URL %s", s.URL)
	}
	c := s.Client()
	out, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("tls-fleet")})
	must(t, err)
	list, err := c.ListFleets(&robomaker.ListFleetsInput{})
	must(t, err)
	if len(list.FleetDetails) != 1 || aws.StringValue(list.FleetDetails[0].Arn) != aws.StringValue(out.Arn) {
		t.Fatalf("ListFleets over TLS = %v", list)
	}

	// HTTP/2 over TLS (ALPN), and the console's cookie is Secure.
	resp, err := ca.HTTPClient(t).Get(s.URL + "/console/signin")
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" {
		t.Errorf("console over TLS spoke %s, want HTTP/2.0", resp.Proto)
	}
	if cookies := resp.Cookies(); len(cookies) == 0 || !cookies[0].Secure {
		t.Errorf("console cookie over TLS = %v, want Secure", resp.Header.Values("Set-Cookie"))
	}

	// TLS 1.1 is refused; plain HTTP on the TLS port gets no API answer.
	if conn, err := tls.Dial("tcp", s.Addr, &tls.Config{RootCAs: ca.Pool(t), MaxVersion: tls.VersionTLS11}); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded; want TLS 1.2 minimum")
	}
	if resp, err := http.Get("http://" + s.Addr + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP on the TLS port answered 200: %s", b)
		}
	}

	// The real AWS CLI v2 with --ca-bundle; without it, it refuses the server.
	cli := awsCLIv2(t)
	// (An AWS_CA_BUNDLE in the environment would stand in for --ca-bundle:
	// the CLI runs without one, and an empty one turns verification off.)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_ACCESS_KEY_ID="+testenv.KeyID, "AWS_SECRET_ACCESS_KEY="+testenv.Secret,
		"AWS_DEFAULT_REGION="+testenv.Region, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	cmd := exec.Command(cli, "robomaker", "list-fleets", "--endpoint-url", s.URL, "--ca-bundle", ca.CertFile, "--output", "json")
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), aws.StringValue(out.Arn)) {
		t.Fatalf("aws robomaker list-fleets --ca-bundle: %v\n%s", err, b)
	}
	cmd = exec.Command(cli, "robomaker", "list-fleets", "--endpoint-url", s.URL, "--cli-read-timeout", "5", "--cli-connect-timeout", "5")
	cmd.Env = env
	b, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "CERTIFICATE_VERIFY_FAILED") {
		t.Fatalf("aws without --ca-bundle: err %v, want a certificate verification failure:\n%s", err, b)
	}

	// A refused authentication is logged as a warning with the reason and
	// the client address; access lines name the operation and key id.
	bad := s.ClientFor(testenv.KeyID, "wrong-secret-0123456789")
	if _, err := quiet(bad).ListFleets(&robomaker.ListFleetsInput{}); err == nil {
		t.Fatal("a wrong secret was accepted")
	}
	eventually(t, 5*time.Second, "access and auth log lines", func() bool {
		log := s.Stderr()
		return strings.Contains(log, "operation=CreateFleet status=200") &&
			strings.Contains(log, "access_key_id="+testenv.KeyID) &&
			strings.Contains(log, `msg="authentication refused"`) &&
			strings.Contains(log, "client=127.0.0.1") &&
			strings.Contains(log, "error=InvalidSignatureException")
	})
	if log := s.Stderr(); strings.Contains(log, testenv.Secret) || strings.Contains(log, "wrong-secret") || strings.Contains(log, "Signature=") {
		t.Fatal("the server log holds a secret or a signature")
	}
}

// TestTLSAgentsAndRotation: real agents deploy over HTTPS trusting the CA
// with --ca-file, one over HTTP/2 and one with --http1 (HTTP/1.1 over TLS,
// whose held polls fleetsyncd parks); the certificate is replaced on disk
// (and again with SIGHUP) while they long-poll; the new one is served,
// every agent keeps its application and takes the next deployment. An
// agent given another CA refuses the server, saying why.
func TestTLSAgentsAndRotation(t *testing.T) {
	s, ca, live := startTLS(t, "--tls-reload-interval", "200ms")
	f := newAgentFleet(t, s, "General")
	f.addAgent("t1", s.URL, nil, "--ca-file", ca.CertFile, "--ca-only")
	f.addAgent("t2", s.URL, nil, "--ca-file", ca.CertFile, "--ca-only", "--http1")
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("deployment over TLS: %v", d)
	}
	pids := map[string]int{"t1": f.pid("t1"), "t2": f.pid("t2")}

	// The agents report their version; /metrics counts them. Both polls
	// are held, t2's (HTTP/1.1) parked, t1's (HTTP/2) in its handler.
	var metrics []byte
	eventually(t, 10*time.Second, "both agents' polls held, one of them parked", func() bool {
		resp, err := ca.HTTPClient(t).Get(s.URL + "/metrics")
		must(t, err)
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return regexp.MustCompile(`(?m)^fleetsync_agent_held_polls 2$`).Match(metrics) &&
			regexp.MustCompile(`(?m)^fleetsync_agent_parked_polls 1$`).Match(metrics)
	})
	if !regexp.MustCompile(`(?m)^fleetsync_agents\{version="[^"]+"\} 2$`).Match(metrics) {
		t.Errorf("/metrics has no agent version count of 2:\n%s", grepLines(string(metrics), "fleetsync_agents"))
	}

	// Rotation by file change.
	old := testenv.ServedCertificate(t, s.Addr, ca.Pool(t))
	cert2, key2 := ca.Issue(t, "127.0.0.1", "localhost")
	testenv.InstallCert(t, cert2, key2, live[0], live[1])
	eventually(t, 10*time.Second, "the new certificate served", func() bool {
		return testenv.ServedCertificate(t, s.Addr, ca.Pool(t)).SerialNumber.Cmp(old.SerialNumber) != 0
	})
	if !strings.Contains(s.Stderr(), "serial="+ca.LastSerial()) {
		t.Errorf("the reload of serial %s is not logged", ca.LastSerial())
	}

	// Agents keep polling through the rotation and take the next job.
	time.Sleep(1500 * time.Millisecond) // more than one long poll each
	for n, pid := range pids {
		if f.pid(n) != pid || !processAlive(pid) {
			t.Fatalf("agent %s lost its application across the rotation", n)
		}
	}
	v2 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v2"), 0o755}}))
	if d := f.wait(f.deploy(v2, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("deployment after the rotation: %v", d)
	}
	for _, n := range []string{"t1", "t2"} {
		if got := f.read(n, "version"); got != "v2" {
			t.Fatalf("robot %s runs %q after the rotation, want v2", n, got)
		}
	}

	// An agent trusting another CA refuses this server and says why.
	other := testenv.NewCA(t, "some other CA")
	stranger := f.addAgent("stranger", s.URL, nil, "--ca-file", other.CertFile, "--ca-only")
	eventually(t, 20*time.Second, "the agent refusing a certificate its CA did not sign", func() bool {
		return strings.Contains(stranger.log.String(), "not signed by a CA the agent trusts")
	})
	if st := stranger.Status(); !strings.Contains(st.LastError, "certificate") {
		t.Errorf("status lastError = %q, want the TLS reason", st.LastError)
	}
}

// TestTLSReloadOnSIGHUP: with the periodic check an hour away, SIGHUP makes
// the server serve the replaced certificate; a broken pair is refused and
// the previous certificate stays.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	s, ca, live := startTLS(t, "--tls-reload-interval", "1h")
	old := testenv.ServedCertificate(t, s.Addr, ca.Pool(t))
	// A broken pair first: the key of another certificate.
	cert2, key2 := ca.Issue(t, "127.0.0.1")
	_, key3 := ca.Issue(t, "127.0.0.1")
	testenv.InstallCert(t, cert2, key3, live[0], live[1])
	must(t, s.Signal(syscall.SIGHUP))
	eventually(t, 10*time.Second, "the failed reload logged", func() bool {
		return strings.Contains(s.Stderr(), "TLS certificate reload failed")
	})
	if got := testenv.ServedCertificate(t, s.Addr, ca.Pool(t)); got.SerialNumber.Cmp(old.SerialNumber) != 0 {
		t.Fatal("a broken certificate/key pair replaced the served certificate")
	}
	testenv.InstallCert(t, cert2, key2, live[0], live[1])
	must(t, s.Signal(syscall.SIGHUP))
	eventually(t, 10*time.Second, "the new certificate served after SIGHUP", func() bool {
		return testenv.ServedCertificate(t, s.Addr, ca.Pool(t)).SerialNumber.Cmp(old.SerialNumber) != 0
	})
	if _, err := s.Client().ListFleets(&robomaker.ListFleetsInput{}); err != nil {
		t.Fatalf("API after SIGHUP: %v", err)
	}
}

// TestAgentRefusesPlainHTTPToRemote: plain http:// to a host that is not
// loopback is refused at start, with the reason, unless --insecure-http.
func TestAgentRefusesPlainHTTPToRemote(t *testing.T) {
	a := newAgent(t, "http://192.0.2.10:8080")
	bin := testenv.Binary(t, "fleetsync-agent")
	out, err := exec.Command(bin, "run", "--server", "http://192.0.2.10:8080", "--state-dir", a.StateDir).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "refusing plain http://") ||
		!strings.Contains(string(out), "--insecure-http") {
		t.Fatalf("agent run --server http://192.0.2.10: %v\n%s", err, out)
	}
	// With --insecure-http it starts (and keeps retrying the unreachable host).
	cmd := exec.Command(bin, "run", "--server", "http://192.0.2.10:8080", "--state-dir", a.StateDir, "--insecure-http", "--retry-base", "100ms")
	var log syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	must(t, cmd.Start())
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	eventually(t, 10*time.Second, "the agent started with --insecure-http", func() bool {
		return strings.Contains(log.String(), "fleetsync-agent started")
	})
	// Plain http:// to loopback needs no flag (every other e2e test runs so).
}

// grepLines returns the lines of s containing sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
