// Credential guessing is bounded on the API: wrong secrets for one access
// key from one client address are answered ThrottlingException after the
// failure budget (package authguard), before the signature is even checked,
// while the same key signed correctly from another address, and another key
// from the attacker's own address, keep working. Client addresses are real:
// the attacker and the operators connect from different loopback addresses.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// clientFrom is a RoboMaker client whose connections leave from the local
// address from (any 127.0.0.0/8 address is the loopback interface on Linux).
func clientFrom(s *testenv.Server, from, keyID, secret string) *robomaker.RoboMaker {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}}
	sess := session.Must(session.NewSession(&aws.Config{
		Endpoint: aws.String(s.URL), Region: aws.String(testenv.Region),
		Credentials: credentials.NewStaticCredentials(keyID, secret, ""),
		MaxRetries:  aws.Int(0), HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: tr},
	}))
	return quiet(robomaker.New(sess))
}

func TestAPIGuessingThrottled(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	keyB, secretB := newAccount(t, s, "210987654321")
	attacker := clientFrom(s, "127.0.0.2", testenv.KeyID, "guessed-secret-guessed-secret")
	const attempts = 40
	var invalid, throttled int
	for i := range attempts {
		_, err := attacker.ListFleets(&robomaker.ListFleetsInput{})
		switch code := errCode(err); code {
		case "InvalidSignatureException":
			if throttled > 0 {
				t.Fatalf("attempt %d checked again after being throttled", i)
			}
			invalid++
		case "ThrottlingException":
			throttled++
		default:
			t.Fatalf("attempt %d: %v (want InvalidSignatureException, then ThrottlingException)", i, err)
		}
	}
	// The default budget: 10 failures per (address, key), then one per 6 s.
	if invalid < 10 || invalid > 11 || throttled != attempts-invalid {
		t.Fatalf("%d wrong secrets: %d checked, %d throttled; want 10 (or 11 with a refill) checked, the rest throttled", attempts, invalid, throttled)
	}
	// Even the right secret from the attacker's address waits now: the
	// budget is spent before the signature is looked at.
	if _, err := clientFrom(s, "127.0.0.2", testenv.KeyID, testenv.Secret).ListFleets(&robomaker.ListFleetsInput{}); errCode(err) != "ThrottlingException" {
		t.Errorf("right secret from the throttled address: %v, want ThrottlingException", err)
	}
	// The operator of that key, from another address, is not locked out.
	if _, err := clientFrom(s, "127.0.0.3", testenv.KeyID, testenv.Secret).ListFleets(&robomaker.ListFleetsInput{}); err != nil {
		t.Errorf("the right secret from another address: %v", err)
	}
	// Another operator behind the attacker's own address (a shared proxy)
	// with another key is not locked out either.
	if _, err := clientFrom(s, "127.0.0.2", keyB, secretB).ListFleets(&robomaker.ListFleetsInput{}); err != nil {
		t.Errorf("another key from the attacker's address: %v", err)
	}
	// Unknown keys sprayed from one address are bounded the same way.
	var sprayChecked int
	for range 30 {
		_, err := clientFrom(s, "127.0.0.4", "AKFSNOSUCHKEY0000001", "x-secret-x-secret-x").ListFleets(&robomaker.ListFleetsInput{})
		if errCode(err) == "UnrecognizedClientException" {
			sprayChecked++
		}
	}
	if sprayChecked > 11 {
		t.Errorf("an unknown key was checked %d times from one address", sprayChecked)
	}
}

// TestAPIGuessingBehindTrustedProxy: behind a reverse proxy (every
// connection from 127.0.0.1, --trusted-proxies 127.0.0.1) the budgets are
// kept per client address from X-Forwarded-For, so one guessing client locks
// out nobody else, not even an operator of the key it guesses.
func TestAPIGuessingBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	s := startAPI(t, "--rate-limit", "100000", "--rate-burst", "100000", "--trusted-proxies", "127.0.0.1")
	via := func(client, secret string) *robomaker.RoboMaker {
		c := quiet(s.ClientFor(testenv.KeyID, secret))
		// The proxy adds the header after the client signed.
		c.Handlers.Sign.PushBack(func(r *request.Request) { r.HTTPRequest.Header.Set("X-Forwarded-For", client) })
		return c
	}
	attacker := via("203.0.113.9", "guessed-secret-guessed-secret")
	var throttled int
	for range 20 {
		if _, err := attacker.ListFleets(&robomaker.ListFleetsInput{}); errCode(err) == "ThrottlingException" {
			throttled++
		}
	}
	if throttled < 9 {
		t.Fatalf("20 wrong secrets from one client behind the proxy: %d throttled, want the ones past the budget of 10", throttled)
	}
	if _, err := via("203.0.113.10", testenv.Secret).ListFleets(&robomaker.ListFleetsInput{}); err != nil {
		t.Errorf("the operator of that key, another client of the same proxy: %v", err)
	}
	if _, err := via("203.0.113.9", testenv.Secret).ListFleets(&robomaker.ListFleetsInput{}); errCode(err) != "ThrottlingException" {
		t.Errorf("the guessing client with the right secret: %v, want ThrottlingException", err)
	}
}
