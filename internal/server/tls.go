package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate in a pair of PEM files and re-reads
// them when they change on disk (checked every interval, by content, so a
// symlink swap as Kubernetes does it counts) or on SIGHUP. A pair that does
// not load (half-written, key not matching) is logged and the previous
// certificate is kept: a renewal must never take HTTPS down.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu   sync.RWMutex
	cert *tls.Certificate
	sum  [sha256.Size]byte // of the two files' contents
}

// newCertReloader loads the pair once; an error here stops the start.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if _, err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// reload reads the files and swaps the certificate in if they changed.
func (r *certReloader) reload() (changed bool, err error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return false, fmt.Errorf("--tls-cert: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return false, fmt.Errorf("--tls-key: %w", err)
	}
	sum := sha256.Sum256(append(append(bytes.Clone(certPEM), 0), keyPEM...))
	r.mu.RLock()
	same := r.cert != nil && sum == r.sum
	r.mu.RUnlock()
	if same {
		return false, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false, fmt.Errorf("--tls-cert %s / --tls-key %s: %w", r.certFile, r.keyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return false, fmt.Errorf("--tls-cert %s: %w", r.certFile, err)
	}
	cert.Leaf = leaf
	r.mu.Lock()
	r.cert, r.sum = &cert, sum
	r.mu.Unlock()
	r.log.Info("TLS certificate loaded", "subject", leaf.Subject.String(), "dns_names", leaf.DNSNames,
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "serial", leaf.SerialNumber.String())
	if time.Until(leaf.NotAfter) < 7*24*time.Hour {
		r.log.Warn("TLS certificate expires within 7 days", "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return true, nil
}

// GetCertificate is tls.Config.GetCertificate: the current certificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// watch re-reads the files every interval and on each SIGHUP delivered on
// hup (nil: none) until ctx ends.
func (r *certReloader) watch(ctx context.Context, interval time.Duration, hup <-chan os.Signal) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var why string
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			why = "file check"
		case <-hup:
			why = "SIGHUP"
		}
		if _, err := r.reload(); err != nil {
			r.log.Error("TLS certificate reload failed; still serving the previous certificate", "trigger", why, "error", err)
		}
	}
}

// tlsConfig is the server side: TLS 1.2 at least, Go's default (AEAD, forward
// secret) cipher suites, the certificate from the reloader. serverTLS
// (ops.go) adds the ALPN protocols, "h2" and "http/1.1".
func tlsConfig(r *certReloader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// setupTLS loads the configured certificate and starts its watcher (ended by
// ctx), re-reading it on every SIGHUP hup delivers (nil: the file check
// alone); nil config when TLS is not configured.
func setupTLS(ctx context.Context, certFile, keyFile string, interval time.Duration, hup <-chan os.Signal, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" {
		// SIGHUP (systemctl reload) must not end a server that has no
		// certificate to re-read: its default action would.
		go ignoreHUP(ctx, hup, log)
		return nil, nil
	}
	if keyFile == "" {
		return nil, errors.New("--tls-cert needs --tls-key")
	}
	r, err := newCertReloader(certFile, keyFile, log.With("component", "tls"))
	if err != nil {
		return nil, err
	}
	go r.watch(ctx, interval, hup)
	return tlsConfig(r), nil
}

// ignoreHUP logs SIGHUPs until ctx ends.
func ignoreHUP(ctx context.Context, hup <-chan os.Signal, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			log.Info("SIGHUP: nothing to reload (no --tls-cert)")
		}
	}
}
