package client

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// TLSOptions say whom the agent trusts.
type TLSOptions struct {
	// CAFile is a PEM bundle of CA certificates added to the system roots
	// (or replacing them, with CAOnly).
	CAFile string
	// CAOnly trusts only CAFile, not the system roots: a private PKI where a
	// public CA must not be able to vouch for the server.
	CAOnly bool
	// PinSHA256 are SHA-256 hashes of SubjectPublicKeyInfo (base64, as
	// `openssl … | openssl dgst -sha256 -binary | base64` prints, optionally
	// prefixed "sha256//", or hex); when set, the verified chain must contain
	// a certificate with one of these keys, in addition to normal
	// verification. Pin the CA's or an intermediate's key to survive leaf
	// renewals; give two pins (current and next) to rotate it.
	PinSHA256 []string
	// PinHost, when set, is the one host the pins apply to (the server's,
	// from --server): bundle downloads from another host, such as an S3
	// endpoint the server presigns for, are verified by their chain alone.
	// Empty: the pins apply to every host.
	PinHost string
	// InsecureHTTP allows plain http:// to a host that is not on loopback:
	// the server, and the download URLs it hands out (NewTransport refuses
	// them otherwise).
	InsecureHTTP bool
	// HTTP1 speaks HTTP/1.1 over TLS (ALPN offers http/1.1 only) instead
	// of HTTP/2: fleetsyncd then parks the robot's held poll (no goroutine,
	// no HTTP/2 state; docs/agent-protocol.md), at about a third of the
	// server memory per idle robot. A request made while a poll is held
	// takes a second connection, and a held poll has no HTTP/2 PINGs (TCP
	// keepalive still runs).
	HTTP1 bool
}

// CheckServerURL refuses what the agent must not talk to: anything but an
// http(s) URL, and plain http:// to a non-loopback host (bundles, the
// environment variables of jobs and the robot's identity would cross the
// network unencrypted) unless insecureHTTP.
func CheckServerURL(server string, insecureHTTP bool) error {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("--server %q: want an http:// or https:// URL such as https://fleet.example.com", server)
	}
	if u.Scheme == "https" || insecureHTTP || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("--server %q: refusing plain http:// to a host that is not loopback: job environment variables, "+
		"bundles and deployment instructions would travel unencrypted and unauthenticated; use https:// "+
		"(fleetsyncd --tls-cert/--tls-key, or a TLS proxy in front) or pass --insecure-http on a network you trust", server)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewTransport returns the agent's HTTP transport: HTTP/2 over TLS where the
// server offers it (HTTP/1.1 with o.HTTP1), TLS 1.2 at least, the roots and
// pins of o.
func NewTransport(o TLSOptions) (*http.Transport, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-file: %w", err)
		}
		var pool *x509.CertPool
		if !o.CAOnly {
			if pool, err = x509.SystemCertPool(); err != nil {
				pool = x509.NewCertPool()
			}
		} else {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s: no PEM certificate in it", o.CAFile)
		}
		conf.RootCAs = pool
	} else if o.CAOnly {
		return nil, errors.New("--ca-only needs --ca-file")
	}
	if len(o.PinSHA256) > 0 {
		pins := map[[sha256.Size]byte]bool{}
		for _, p := range o.PinSHA256 {
			sum, err := parsePin(p)
			if err != nil {
				return nil, err
			}
			pins[sum] = true
		}
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			// Runs after the chain was verified: the pins add to it.
			// Another host than the server (its certificate is not valid
			// for the server's name, IP addresses included): chain only.
			if o.PinHost != "" && len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].VerifyHostname(o.PinHost) != nil {
				return nil
			}
			for _, chain := range cs.VerifiedChains {
				for _, c := range chain {
					if pins[sha256.Sum256(c.RawSubjectPublicKeyInfo)] {
						return nil
					}
				}
			}
			return errPinMismatch
		}
	}
	tr := &http.Transport{
		// DisableCompression: no Accept-Encoding header (the answers are
		// small JSON; bundles are verified as the bytes stored, never a
		// transparently decompressed copy), one header less the server
		// keeps while it holds a poll.
		Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true, TLSClientConfig: conf, DisableCompression: true,
		MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		DialContext: (&net.Dialer{Timeout: 30 * time.Second, KeepAliveConfig: keepAlive}).DialContext,
		// A poll is held for minutes with nothing sent: over HTTP/2 a PING
		// after a quiet SendPingTimeout keeps proxies and NATs that count
		// bytes (not TCP keepalives) from dropping the connection, and
		// finds a dead one long before the poll's own timeout. fleetsyncd
		// pings every minute itself, so this fires only behind something
		// that terminates HTTP/2 without pinging.
		HTTP2: &http.HTTP2Config{SendPingTimeout: 90 * time.Second, PingTimeout: 15 * time.Second},
	}
	if o.HTTP1 {
		var p http.Protocols
		p.SetHTTP1(true)
		tr.Protocols, tr.ForceAttemptHTTP2 = &p, false
		conf.NextProtos = []string{"http/1.1"} // said by ALPN, for servers and proxies that ask
	}
	if !o.InsecureHTTP {
		// CheckServerURL vets --server only; the bundle and condition URLs
		// come from the server (a fleetsyncd behind a TLS proxy it does not
		// trust hands out http:// ones) and must not move the company's code
		// over plain HTTP either.
		tr.RegisterProtocol("http", plainHTTPGuard{})
	}
	return tr, nil
}

// keepAlive is the agent's TCP keepalive: a first probe after 30 s of
// silence, then every 15 s, the connection given up after 4 unanswered
// (about 90 s): well inside the few-minute idle timeouts of NAT gateways
// for a poll held minutes, and a dead server noticed within two minutes.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 15 * time.Second, Count: 4}

// ErrPlainHTTP is matched (errors.Is) by the error of a request the
// transport refused to send over plain http:// to a host off loopback:
// retrying cannot help.
var ErrPlainHTTP = errors.New("refusing plain http://")

// plainHTTPGuard is the transport's handler of http:// requests: it lets the
// transport send those to loopback (ErrSkipAltProtocol) and refuses the rest.
type plainHTTPGuard struct{}

func (plainHTTPGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if isLoopback(r.URL.Hostname()) {
		return nil, http.ErrSkipAltProtocol
	}
	return nil, fmt.Errorf("%w to %s: the server handed out a URL that is not https:// "+
		"(behind a TLS proxy, start fleetsyncd with --trusted-proxies naming it) and --insecure-http is not set", ErrPlainHTTP, r.URL.Host)
}

var errPinMismatch = errors.New("no certificate of the server's chain has a public key matching --pin-sha256")

// parsePin accepts "sha256//BASE64", "BASE64" or 64 hex digits.
func parsePin(p string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	s := strings.TrimPrefix(strings.TrimSpace(p), "sha256//")
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		b, err = hex.DecodeString(s)
	}
	if err != nil || len(b) != sha256.Size {
		return sum, fmt.Errorf("--pin-sha256 %q: want the base64 (or hex) SHA-256 of a SubjectPublicKeyInfo", p)
	}
	copy(sum[:], b)
	return sum, nil
}

// SPKIPin returns the base64 SHA-256 of a certificate's public key, in the
// form --pin-sha256 takes.
func SPKIPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TLSError is a failed TLS connection to the server, with a reason an
// operator can act on.
type TLSError struct {
	// Reason says what was wrong and what to do.
	Reason string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *TLSError) Error() string { return "TLS: " + e.Reason + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TLSError) Unwrap() error { return e.Err }

// classifyTLS wraps a transport error that is a TLS failure in a *TLSError
// naming its reason; other errors are returned as they are.
func classifyTLS(err error) error {
	if err == nil {
		return nil
	}
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		recErr   tls.RecordHeaderError
		alert    tls.AlertError
	)
	var reason string
	switch {
	case errors.As(err, &unknown):
		reason = "the server's certificate is not signed by a CA the agent trusts (add its CA with --ca-file)"
	case errors.As(err, &hostname):
		reason = "the server's certificate is not valid for this host name (check --server against the certificate's names)"
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			reason = "the server's certificate is expired or not yet valid (check the robot's clock, and the certificate)"
		default:
			reason = "the server's certificate is invalid"
		}
	case errors.Is(err, errPinMismatch):
		reason = "the server's key is not the pinned one (--pin-sha256)"
	case errors.As(err, &recErr) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		reason = "the server did not answer with TLS (is it serving plain HTTP? use http:// or give fleetsyncd --tls-cert)"
	case errors.As(err, &alert):
		reason = "the server refused the TLS handshake"
	case strings.Contains(err.Error(), "tls: "):
		reason = "TLS handshake failed"
	default:
		return err
	}
	return &TLSError{Reason: reason, Err: err}
}
