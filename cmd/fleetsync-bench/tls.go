package main

import (
	"crypto/tls"
	"net/http"
	"os"

	"github.com/fleetsync/fleetsync/internal/selfsigned"
)

// benchTLS, when set (--tls), is what this process's clients trust:
// fleetsyncd serves HTTPS with a certificate made for the run, and the
// simulated agents speak HTTP/2 over TLS, as real ones do.
var benchTLS *tls.Config

// setupTLS makes a self-signed certificate for 127.0.0.1 in dir and has
// fleetsyncd serve it.
func setupTLS(dir string) error {
	certFile, keyFile, pool, err := selfsigned.Write(dir)
	if err != nil {
		return err
	}
	benchTLS = &tls.Config{RootCAs: pool}
	// The SDK would replace the clients' roots with AWS_CA_BUNDLE's.
	os.Unsetenv("AWS_CA_BUNDLE")
	extraServerArgs = append(extraServerArgs, "--tls-cert", certFile, "--tls-key", keyFile)
	return nil
}

// sdkHTTPClient is the HTTP client of the bench's AWS SDK clients.
func sdkHTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: benchTLS}}
}
