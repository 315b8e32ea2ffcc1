package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// CA is a throw-away certificate authority made with the real openssl
// command line, as an operator would make a private one.
type CA struct {
	// Dir holds the CA's files.
	Dir string
	// CertFile is the CA certificate (PEM): what agents get as --ca-file.
	CertFile string
	keyFile  string
	n        int
	serial   string
}

// LastSerial is the decimal serial number of the last certificate issued.
func (ca *CA) LastSerial() string { return ca.serial }

// NewCA creates a CA named cn in a test temp dir.
func NewCA(t testing.TB, cn string) *CA {
	t.Helper()
	ca := &CA{Dir: t.TempDir()}
	ca.CertFile, ca.keyFile = filepath.Join(ca.Dir, "ca.pem"), filepath.Join(ca.Dir, "ca.key")
	openssl(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", ca.keyFile, "-out", ca.CertFile, "-days", "2", "-subj", "/CN="+cn,
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
	return ca
}

// Issue makes a server certificate for names (DNS names or IP addresses)
// signed by the CA and returns its certificate and key files.
func (ca *CA) Issue(t testing.TB, names ...string) (certFile, keyFile string) {
	t.Helper()
	ca.n++
	base := filepath.Join(ca.Dir, fmt.Sprintf("server%d", ca.n))
	certFile, keyFile = base+".pem", base+".key"
	var sans []string
	for _, n := range names {
		if strings.ContainsAny(n, ":") || strings.Trim(n, "0123456789.") == "" {
			sans = append(sans, "IP:"+n)
		} else {
			sans = append(sans, "DNS:"+n)
		}
	}
	ext := base + ".ext"
	if err := os.WriteFile(ext, []byte("subjectAltName="+strings.Join(sans, ",")+
		"\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	openssl(t, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", keyFile, "-out", base+".csr", "-subj", "/CN="+names[0])
	ca.serial = fmt.Sprint(time.Now().UnixNano())
	openssl(t, "x509", "-req", "-in", base+".csr", "-CA", ca.CertFile, "-CAkey", ca.keyFile,
		"-set_serial", ca.serial, "-days", "1", "-extfile", ext, "-out", certFile)
	return certFile, keyFile
}

// Pool returns a pool holding only the CA certificate.
func (ca *CA) Pool(t testing.TB) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(pem) {
		t.Fatal("CA certificate did not parse")
	}
	return p
}

// HTTPClient returns a client trusting only the CA.
func (ca *CA) HTTPClient(t testing.TB) *http.Client {
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(t), MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
}

func openssl(t testing.TB, args ...string) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TLS serves a test server over HTTPS.
type TLS struct {
	CertFile, KeyFile string
	// CA is what the test's own clients trust.
	CA *CA
}

// Signal sends sig to the running fleetsyncd process (SIGHUP reloads its
// TLS certificate).
func (s *Server) Signal(sig os.Signal) error { return s.proc.Cmd.Process.Signal(sig) }

// ServedCertificate connects to addr over TLS, trusting pool, and returns
// the leaf certificate the server presented.
func ServedCertificate(t testing.TB, addr string, pool *x509.CertPool) *x509.Certificate {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0]
}

// InstallCert copies a certificate and key into place atomically (a
// rename, as cert-manager or certbot do), so a reader sees old or new.
func InstallCert(t testing.TB, certSrc, keySrc, certDst, keyDst string) {
	t.Helper()
	for _, p := range [][2]string{{keySrc, keyDst}, {certSrc, certDst}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		tmp := p[1] + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, p[1]); err != nil {
			t.Fatal(err)
		}
	}
}
