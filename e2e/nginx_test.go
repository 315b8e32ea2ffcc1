// fleetsyncd behind Debian's nginx as the TLS-terminating reverse proxy,
// configured as docs/operations.md says: the SDK and real agents reach it
// over HTTPS through nginx, the access log names the real client from
// X-Forwarded-For, and the console cookie is Secure because the trusted
// proxy said X-Forwarded-Proto: https.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// nginxConf is the proxy block of docs/operations.md, with test paths.
const nginxConf = `
{{user}}
worker_processes 1;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log info;
events { worker_connections 256; }
http {
  access_log {{dir}}/access.log;
  client_body_temp_path {{dir}}/body;
  proxy_temp_path {{dir}}/proxy;
  fastcgi_temp_path {{dir}}/fastcgi;
  uwsgi_temp_path {{dir}}/uwsgi;
  scgi_temp_path {{dir}}/scgi;
  upstream fleetsyncd { server {{upstream}}; keepalive 16; }
  server {
    listen {{listen}} ssl http2;
    ssl_certificate {{cert}};
    ssl_certificate_key {{key}};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 64m;
    location / {
      proxy_pass http://fleetsyncd;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`

// startNginx runs nginx in the foreground with nginxConf; it is stopped
// when the test ends.
func startNginx(t *testing.T, listen, upstream, cert, key string) {
	t.Helper()
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "nginx not installed (Debian: apt-get install nginx; scripts/test installs it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers otherwise switch to nobody, who cannot enter the test's dirs
	}
	conf := strings.NewReplacer("{{user}}", user, "{{dir}}", dir, "{{listen}}", listen, "{{upstream}}", upstream,
		"{{cert}}", cert, "{{key}}", key).Replace(nginxConf)
	confFile := filepath.Join(dir, "nginx.conf")
	must(t, os.WriteFile(confFile, []byte(conf), 0o600))
	if out, err := exec.Command(bin, "-t", "-c", confFile, "-p", dir).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-c", confFile, "-p", dir, "-g", "daemon off;")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), b)
		}
	})
	eventually(t, 10*time.Second, "nginx listening", func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func TestBehindNginx(t *testing.T) {
	ca := testenv.NewCA(t, "fleetsync proxy test CA")
	cert, key := ca.Issue(t, "127.0.0.1", "localhost")
	// fleetsyncd on plain HTTP, loopback only, trusting the proxy's address.
	s := startEngine(t, "--trusted-proxies", "127.0.0.1/32,::1")
	edge := testenv.FreeAddr(t)
	startNginx(t, edge, s.Addr, cert, key)
	url := "https://" + edge

	pem, err := os.ReadFile(ca.CertFile)
	must(t, err)
	sess := session.Must(session.NewSessionWithOptions(session.Options{
		Config: aws.Config{Endpoint: aws.String(url), Region: aws.String(testenv.Region), MaxRetries: aws.Int(0),
			Credentials: credentials.NewStaticCredentials(testenv.KeyID, testenv.Secret, "")},
		CustomCABundle: bytes.NewReader(pem),
	}))
	c := quiet(robomaker.New(sess))
	created, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("proxied")})
	must(t, err)
	if d, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: created.Arn}); err != nil || aws.StringValue(d.Name) != "proxied" {
		t.Fatalf("DescribeFleet through nginx: %v %v", d, err)
	}

	// A client on 127.0.0.5 (not a proxy) that claims to be someone else:
	// what it wrote is left of the address nginx appended, and fleetsyncd
	// logs the address nginx saw.
	hc := ca.HTTPClient(t)
	hc.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 5)}}).DialContext
	req, _ := http.NewRequest("POST", url+"/listFleets", strings.NewReader("{}"))
	req.Header.Set("X-Forwarded-For", "203.0.113.66")
	resp, err := hc.Do(req)
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned request through nginx: %s", resp.Status)
	}
	eventually(t, 5*time.Second, "the refusal logged with the client nginx saw", func() bool {
		return strings.Contains(s.Stderr(), `msg="authentication refused" component=access kind=api operation=ListFleets client=127.0.0.5`)
	})
	req, _ = http.NewRequest("GET", url+"/console/signin", nil)
	resp, err = hc.Do(req)
	must(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if cookies := resp.Cookies(); len(cookies) == 0 || !cookies[0].Secure {
		t.Errorf("console cookie through the TLS proxy = %v, want Secure", resp.Header.Values("Set-Cookie"))
	}
	// Directly (plain HTTP, from a trusted address but with no proxy
	// header saying https), the cookie is not Secure.
	resp, err = http.Get(s.URL + "/console/signin")
	must(t, err)
	resp.Body.Close()
	if cookies := resp.Cookies(); len(cookies) == 0 || cookies[0].Secure {
		t.Errorf("console cookie over plain HTTP = %v, want not Secure", resp.Header.Values("Set-Cookie"))
	}

	// Real agents deploy through the proxy, long polls and all.
	f := newAgentFleet(t, s, "General")
	for _, n := range []string{"p1", "p2"} {
		f.addAgent(n, url, nil, "--ca-file", ca.CertFile)
	}
	v1 := f.version(tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("v1"), 0o755}}))
	if d := f.wait(f.deploy(v1, deployOpts{})); aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("deployment through nginx: %v", d)
	}
	for _, n := range []string{"p1", "p2"} {
		if got := f.read(n, "version"); got != "v1" {
			t.Fatalf("robot %s runs %q, want v1", n, got)
		}
	}
	// The console's fleet page shows each robot's agent version.
	cc := newConsoleClient(t, s)
	if code, _, _ := cc.signIn(testenv.KeyID, testenv.Secret); code != http.StatusSeeOther {
		t.Fatalf("console sign-in = %d", code)
	}
	_, _, page := cc.get(fleetPath(f.fleet))
	if cells := regexp.MustCompile(`class="agent-version">([^<]+)<`).FindAllStringSubmatch(page, -1); len(cells) != 2 ||
		cells[0][1] == "—" || cells[1][1] == "—" {
		t.Errorf("fleet page agent versions = %v, want one per robot", cells)
	}

	log := s.Stderr()
	if strings.Contains(log, "client=203.0.113.66") {
		t.Error("a client-written X-Forwarded-For was believed")
	}
	if !strings.Contains(log, "operation=CreateFleet status=200") || !strings.Contains(log, "kind=agent operation=poll status=200") {
		t.Errorf("access log lacks the proxied requests:\n%s", grepLines(log, "msg=request"))
	}
}
