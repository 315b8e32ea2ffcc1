//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker client are used on purpose as reference clients.

package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	v4 "github.com/aws/aws-sdk-go/aws/signer/v4"
	"github.com/aws/aws-sdk-go/private/protocol/rest"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testskip"
)

const (
	testAKID    = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion  = "us-east-1"
	testService = "robomaker"
	testHost    = "robomaker.us-east-1.amazonaws.com"
	testARN     = "arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/f/1700000000000"
	otherARN    = "arn:aws:robomaker:us-east-1:123456789012:deployment-fleet/g/1700000000000"
	fleetBody   = `{"name":"my-fleet","tags":{"env":"prod"}}`
)

// signTime is when every request in the table tests is signed.
var signTime = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

func testLookup(_ context.Context, id string) (string, bool, error) {
	if id == testAKID {
		return testSecret, true, nil
	}
	return "", false, nil
}

func newVerifier(now time.Time) *Verifier {
	return &Verifier{
		Service: testService,
		Region:  testRegion,
		Lookup:  testLookup,
		Now:     func() time.Time { return now },
	}
}

// tagsURL is the URL the SDK's rest protocol builds for /tags/{resourceArn}:
// the whole ARN percent-encoded into one path segment.
func tagsURL(arn, rawQuery string) string {
	u := "https://" + testHost + "/tags/" + rest.EscapePath(arn, true)
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	return u
}

const createFleetURL = "https://" + testHost + "/createFleet"

func newRequest(tb testing.TB, method, rawURL string, body []byte, header http.Header) *http.Request {
	tb.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, rawURL, rd)
	if err != nil {
		tb.Fatalf("NewRequest: %v", err)
	}
	for k, vs := range header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	return r
}

// signSpec describes how the aws-sdk-go v1 signer signs a request; zero
// fields take the test defaults.
type signSpec struct {
	akid, secret, token string
	region, service     string
	at                  time.Time
	presign             bool
	expires             time.Duration
	unsigned            bool
	// pathAsSent signs the path exactly as sent, not encoded again: what
	// curl 7's --aws-sigv4 does (the SDK signer's DisableURIPathEscaping).
	pathAsSent bool
}

func signRequest(tb testing.TB, r *http.Request, body []byte, s signSpec) {
	tb.Helper()
	if s.akid == "" {
		s.akid = testAKID
	}
	if s.secret == "" {
		s.secret = testSecret
	}
	if s.region == "" {
		s.region = testRegion
	}
	if s.service == "" {
		s.service = testService
	}
	if s.at.IsZero() {
		s.at = signTime
	}
	signer := v4.NewSigner(credentials.NewStaticCredentials(s.akid, s.secret, s.token), func(v *v4.Signer) {
		v.UnsignedPayload = s.unsigned
		v.DisableURIPathEscaping = s.pathAsSent
	})
	var rs io.ReadSeeker
	if body != nil {
		rs = bytes.NewReader(body)
	}
	var err error
	if s.presign {
		_, err = signer.Presign(r, rs, s.service, s.region, s.expires, s.at)
	} else {
		_, err = signer.Sign(r, rs, s.service, s.region, s.at)
	}
	if err != nil {
		tb.Fatalf("sign: %v", err)
	}
}

// noReadBody fails the test when Verify reads r.Body.
type noReadBody struct{ tb testing.TB }

func (b noReadBody) Read([]byte) (int, error) {
	b.tb.Error("Verify read r.Body")
	return 0, io.EOF
}

func (noReadBody) Close() error { return nil }

// toServer writes the client request in its HTTP/1.1 wire form and parses it
// back the way a net/http server does. It returns the server-side request
// (whose Body must not be read) and the body the caller would have read.
func toServer(tb testing.TB, r *http.Request) (*http.Request, []byte) {
	tb.Helper()
	var wire bytes.Buffer
	if err := r.Write(&wire); err != nil {
		tb.Fatalf("write request: %v", err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&wire))
	if err != nil {
		tb.Fatalf("read request: %v\n%s", err, wire.String())
	}
	body, err := io.ReadAll(sr.Body)
	if err != nil {
		tb.Fatalf("read body: %v", err)
	}
	sr.Body = noReadBody{tb}
	return sr, body
}

// Tampering helpers, applied to the client request after it was signed.

func setBody(b string) func(*http.Request) {
	return func(r *http.Request) {
		r.Body = io.NopCloser(strings.NewReader(b))
		r.ContentLength = int64(len(b))
	}
}

func setURL(raw string) func(*http.Request) {
	return func(r *http.Request) {
		u, err := url.Parse(raw)
		if err != nil {
			panic(err)
		}
		r.URL = u
	}
}

func setRawQuery(q string) func(*http.Request) {
	return func(r *http.Request) { r.URL.RawQuery = q }
}

func editRawQuery(old, new string) func(*http.Request) {
	return func(r *http.Request) {
		if !strings.Contains(r.URL.RawQuery, old) {
			panic("query " + r.URL.RawQuery + " lacks " + old)
		}
		r.URL.RawQuery = strings.Replace(r.URL.RawQuery, old, new, 1)
	}
}

func setHeader(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

func delHeader(k string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Del(k) }
}

func editAuth(old, new string) func(*http.Request) {
	return func(r *http.Request) {
		a := r.Header.Get("Authorization")
		if !strings.Contains(a, old) {
			panic("Authorization " + a + " lacks " + old)
		}
		r.Header.Set("Authorization", strings.Replace(a, old, new, 1))
	}
}

func chain(fs ...func(*http.Request)) func(*http.Request) {
	return func(r *http.Request) {
		for _, f := range fs {
			f(r)
		}
	}
}

func sha256Of(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type verifyCase struct {
	name      string
	method    string
	url       string
	body      *string     // nil: no body
	header    http.Header // set before signing
	sign      *signSpec   // nil: not signed
	tamper    func(*http.Request)
	now       time.Time // zero: signTime
	configure func(*Verifier)
	wantCode  string   // "": must verify
	wantMsg   []string // substrings of the error message
}

func str(s string) *string { return &s }

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

func headerSigned() *signSpec { return &signSpec{} }

func presigned(exp time.Duration) *signSpec { return &signSpec{presign: true, expires: exp} }

const (
	mismatch = "The request signature we calculated does not match the signature you provided."
)

func verifyCases() []verifyCase {
	tags := tagsURL(testARN, "tagKeys=a&tagKeys=b")
	return []verifyCase{
		// Valid, header form.
		{name: "valid/POST createFleet JSON", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader, sign: headerSigned()},
		{name: "valid/GET tags body {}", method: "GET", url: tags, body: str("{}"), sign: headerSigned()},
		{name: "valid/GET tags empty body", method: "GET", url: tags, sign: headerSigned()},
		{name: "valid/path signed as sent (curl 7)", method: "GET", url: tags, sign: &signSpec{pathAsSent: true}},
		{name: "valid/path signed as sent, presigned", method: "GET", url: tags, sign: &signSpec{pathAsSent: true, presign: true, expires: time.Minute}},
		{name: "valid/GET tags without query", method: "GET", url: tagsURL(testARN, ""), sign: headerSigned()},
		{name: "valid/DELETE tags body {}", method: "DELETE", url: tags, body: str("{}"), sign: headerSigned()},
		{name: "valid/DELETE tags empty body", method: "DELETE", url: tags, sign: headerSigned()},
		{name: "valid/POST tags", method: "POST", url: tagsURL(testARN, ""), body: str(`{"tags":{"a":"1"}}`), header: jsonHeader, sign: headerSigned()},
		{name: "valid/ARN with space", method: "GET", url: tagsURL(testARN+" x", ""), sign: headerSigned()},
		{name: "valid/UNSIGNED-PAYLOAD", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: &signSpec{unsigned: true}},
		{name: "valid/UNSIGNED-PAYLOAD does not cover the body", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: &signSpec{unsigned: true}, tamper: setBody(`{"name":"other"}`)},
		{name: "valid/explicit x-amz-content-sha256", method: "POST", url: createFleetURL, body: str(fleetBody),
			header: http.Header{"Content-Type": {"application/json"}, "X-Amz-Content-Sha256": {sha256Of(fleetBody)}}, sign: headerSigned()},
		{name: "valid/query sorted by decoded value (Go SDK v1)", method: "DELETE", url: tagsURL(testARN, "tagKeys=a%3Ab&tagKeys=a0&tagKeys=Z"), sign: headerSigned()},
		{name: "valid/query needing encoding", method: "DELETE",
			url: tagsURL(testARN, "tagKeys=hello%20world&tagKeys=a%2Bb&tagKeys=%C3%A9t%C3%A9&tagKeys=x%2Fy%3Dz&tagKeys=~_-."), sign: headerSigned()},
		{name: "valid/host with port", method: "POST", url: "http://127.0.0.1:8080/createFleet", body: str(fleetBody), header: jsonHeader, sign: headerSigned()},
		{name: "valid/https default port stripped", method: "GET", url: "https://" + testHost + ":443/tags/" + rest.EscapePath(testARN, true), sign: headerSigned()},
		{name: "valid/session token", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: &signSpec{token: "FwoGZXIvYXdzEBYaDH+token/with=chars"}},
		{name: "valid/repeated header and extra spaces", method: "POST", url: createFleetURL, body: str(fleetBody),
			header: http.Header{"Content-Type": {"application/json"}, "X-Amz-Meta-Foo": {"a", "  b   c  "}, "X-Amz-Meta-Note": {"x    y"}},
			sign:   headerSigned()},
		{name: "valid/tab in header value", method: "GET", url: tags, header: http.Header{"X-Amz-Meta-Note": {"a\tb  \t c"}}, sign: headerSigned()},
		{name: "valid/unsigned headers may change", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: headerSigned(), tamper: chain(setHeader("User-Agent", "other"), setHeader("X-Amzn-Trace-Id", "Root=1"))},
		{name: "valid/skew +15m boundary", method: "GET", url: tags, sign: headerSigned(), now: signTime.Add(15 * time.Minute)},
		{name: "valid/skew -15m boundary", method: "GET", url: tags, sign: headerSigned(), now: signTime.Add(-15 * time.Minute)},
		{name: "valid/custom MaxSkew", method: "GET", url: tags, sign: headerSigned(), now: signTime.Add(59 * time.Minute),
			configure: func(v *Verifier) { v.MaxSkew = time.Hour }},

		// Valid, presigned form.
		{name: "valid/presigned GET tags", method: "GET", url: tags, sign: presigned(5 * time.Minute), now: signTime.Add(4 * time.Minute)},
		{name: "valid/presigned DELETE tags body {}", method: "DELETE", url: tags, body: str("{}"), sign: presigned(5 * time.Minute)},
		{name: "valid/presigned POST createFleet", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: presigned(time.Hour), now: signTime.Add(30 * time.Minute)},
		{name: "valid/presigned at expiry", method: "GET", url: tags, sign: presigned(5 * time.Minute), now: signTime.Add(5 * time.Minute)},
		{name: "valid/presigned one week", method: "GET", url: tags, sign: presigned(7 * 24 * time.Hour), now: signTime.Add(6 * 24 * time.Hour)},
		{name: "valid/presigned UNSIGNED-PAYLOAD", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: &signSpec{presign: true, expires: time.Minute, unsigned: true}},
		{name: "valid/presigned with hoisted header", method: "GET", url: tags, header: http.Header{"X-Amz-Target": {"x"}},
			sign: presigned(time.Minute)},

		// Missing or malformed authentication.
		{name: "missing auth", method: "GET", url: tags,
			wantCode: "MissingAuthenticationTokenException", wantMsg: []string{"Missing Authentication Token"}},
		{name: "missing auth with X-Amz-Date", method: "GET", url: tags, header: http.Header{"X-Amz-Date": {"20240301T120000Z"}},
			wantCode: "MissingAuthenticationTokenException"},
		{name: "malformed/bearer", method: "GET", url: tags, header: http.Header{"Authorization": {"Bearer abc"}, "X-Amz-Date": {"20240301T120000Z"}},
			wantCode: "IncompleteSignatureException", wantMsg: []string{"Bearer"}},
		{name: "malformed/empty header", method: "GET", url: tags, header: http.Header{"Authorization": {""}},
			wantCode: "IncompleteSignatureException"},
		{name: "malformed/algorithm only", method: "GET", url: tags, header: http.Header{"Authorization": {"AWS4-HMAC-SHA256"}, "X-Amz-Date": {"20240301T120000Z"}},
			wantCode: "IncompleteSignatureException", wantMsg: []string{"'Credential'", "'Signature'", "'SignedHeaders'"}},
		{name: "malformed/wrong algorithm", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA512 "), wantCode: "IncompleteSignatureException", wantMsg: []string{"AWS4-HMAC-SHA512"}},
		{name: "malformed/missing Signature", method: "GET", url: tags, sign: headerSigned(),
			tamper: func(r *http.Request) {
				a := r.Header.Get("Authorization")
				r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
			}, wantCode: "IncompleteSignatureException", wantMsg: []string{"'Signature'"}},
		{name: "malformed/missing SignedHeaders", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("SignedHeaders=", "Signedheaders="), wantCode: "IncompleteSignatureException", wantMsg: []string{"'SignedHeaders'"}},
		{name: "malformed/missing equal sign", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth(", Signature=", ", Signature"), wantCode: "IncompleteSignatureException", wantMsg: []string{"missing equal-sign"}},
		{name: "malformed/duplicate Credential", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth(", SignedHeaders=", ", Credential=x/y, SignedHeaders="), wantCode: "IncompleteSignatureException"},
		{name: "malformed/short credential", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("/robomaker/aws4_request", ""), wantCode: "IncompleteSignatureException", wantMsg: []string{"5 slash-delimited"}},
		{name: "malformed/host not signed", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("SignedHeaders=host;", "SignedHeaders="), wantCode: "IncompleteSignatureException", wantMsg: []string{"'Host'"}},
		{name: "malformed/empty signed header name", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("SignedHeaders=host;", "SignedHeaders=host;;"), wantCode: "IncompleteSignatureException"},
		{name: "malformed/missing X-Amz-Date", method: "GET", url: tags, sign: headerSigned(),
			tamper: delHeader("X-Amz-Date"), wantCode: "IncompleteSignatureException", wantMsg: []string{"X-Amz-Date"}},
		{name: "malformed/bad X-Amz-Date", method: "GET", url: tags, sign: headerSigned(),
			tamper: setHeader("X-Amz-Date", "2024-03-01T12:00:00Z"), wantCode: "IncompleteSignatureException", wantMsg: []string{"ISO-8601"}},
		{name: "malformed/two Authorization headers", method: "GET", url: tags, sign: headerSigned(),
			tamper:   func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) },
			wantCode: "IncompleteSignatureException"},
		{name: "malformed/header and presign", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper:   setHeader("Authorization", "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00"),
			wantCode: "IncompleteSignatureException", wantMsg: []string{"Only one auth mechanism"}},

		// Credentials.
		{name: "unknown access key", method: "GET", url: tags, sign: &signSpec{akid: "AKIDUNKNOWN"},
			wantCode: "UnrecognizedClientException", wantMsg: []string{"The security token included in the request is invalid."}},
		{name: "unknown access key presigned", method: "GET", url: tags, sign: &signSpec{akid: "AKIDUNKNOWN", presign: true, expires: time.Minute},
			wantCode: "UnrecognizedClientException"},
		{name: "empty access key", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("Credential="+testAKID, "Credential="), wantCode: "UnrecognizedClientException"},
		{name: "wrong secret", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader,
			sign: &signSpec{secret: "not-the-secret"}, wantCode: "InvalidSignatureException", wantMsg: []string{mismatch, "Check your AWS Secret Access Key"}},

		// Tampering.
		{name: "tampered/body", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader, sign: headerSigned(),
			tamper: setBody(`{"name":"my-fleet","tags":{"env":"dev"}}`), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/body emptied", method: "DELETE", url: tags, body: str("{}"), sign: headerSigned(),
			tamper: setBody(""), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/body added", method: "GET", url: tags, sign: headerSigned(),
			tamper: setBody("{}"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/path other ARN", method: "GET", url: tags, sign: headerSigned(),
			tamper: setURL(tagsURL(otherARN, "tagKeys=a&tagKeys=b")), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/path re-encoded", method: "GET", url: tags, sign: headerSigned(),
			tamper:   setURL("https://" + testHost + "/tags/" + strings.ReplaceAll(rest.EscapePath(testARN, true), "%3A", ":") + "?tagKeys=a&tagKeys=b"),
			wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/path signed as sent, other ARN", method: "GET", url: tags, sign: &signSpec{pathAsSent: true},
			tamper: setURL(tagsURL(otherARN, "tagKeys=a&tagKeys=b")), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/path signed as sent, re-encoded", method: "GET", url: tags, sign: &signSpec{pathAsSent: true},
			tamper:   setURL("https://" + testHost + "/tags/" + strings.ReplaceAll(rest.EscapePath(testARN, true), "%3A", ":") + "?tagKeys=a&tagKeys=b"),
			wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/path other operation", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader, sign: headerSigned(),
			tamper: setURL("https://" + testHost + "/deleteFleet"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/query value", method: "DELETE", url: tags, sign: headerSigned(),
			tamper: setRawQuery("tagKeys=a&tagKeys=c"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/query added", method: "DELETE", url: tags, sign: headerSigned(),
			tamper: setRawQuery("tagKeys=a&tagKeys=b&tagKeys=c"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/query removed", method: "DELETE", url: tags, sign: headerSigned(),
			tamper: setRawQuery("tagKeys=a"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/method", method: "GET", url: tags, sign: headerSigned(),
			tamper: func(r *http.Request) { r.Method = "DELETE" }, wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/signed header", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader, sign: headerSigned(),
			tamper: setHeader("Content-Type", "text/plain"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/host", method: "GET", url: tags, sign: headerSigned(),
			tamper: func(r *http.Request) { r.Host = "evil.example.com" }, wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/X-Amz-Date", method: "GET", url: tags, sign: headerSigned(),
			tamper: setHeader("X-Amz-Date", "20240301T120001Z"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/signature", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("Signature=", "Signature=0"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/signature not hex", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("Signature=", "Signature=zz"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/switch to UNSIGNED-PAYLOAD", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader, sign: headerSigned(),
			tamper:   chain(setHeader("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"), setBody(`{"name":"evil"}`)),
			wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "tampered/body under signed x-amz-content-sha256", method: "POST", url: createFleetURL, body: str(fleetBody),
			header: http.Header{"Content-Type": {"application/json"}, "X-Amz-Content-Sha256": {sha256Of(fleetBody)}}, sign: headerSigned(),
			tamper: setBody(`{"name":"evil"}`), wantCode: "InvalidSignatureException", wantMsg: []string{"'x-amz-content-sha256' header does not match"}},
		{name: "bogus x-amz-content-sha256", method: "POST", url: createFleetURL, body: str(fleetBody),
			header: http.Header{"Content-Type": {"application/json"}, "X-Amz-Content-Sha256": {"abc"}}, sign: headerSigned(),
			wantCode: "InvalidSignatureException", wantMsg: []string{"'x-amz-content-sha256' header does not match"}},

		// Time.
		{name: "expired/past", method: "GET", url: tags, sign: headerSigned(), now: signTime.Add(16 * time.Minute),
			wantCode: "InvalidSignatureException",
			wantMsg:  []string{"Signature expired: 20240301T120000Z is now earlier than 20240301T120100Z (20240301T121600Z - 15 min.)"}},
		{name: "expired/future", method: "GET", url: tags, sign: headerSigned(), now: signTime.Add(-16 * time.Minute),
			wantCode: "InvalidSignatureException",
			wantMsg:  []string{"Signature not yet current: 20240301T120000Z is still later than 20240301T115900Z (20240301T114400Z + 15 min.)"}},
		{name: "expired/custom MaxSkew", method: "GET", url: tags, sign: headerSigned(), now: signTime.Add(6 * time.Minute),
			configure: func(v *Verifier) { v.MaxSkew = 5 * time.Minute },
			wantCode:  "InvalidSignatureException", wantMsg: []string{"Signature expired", "- 5 min."}},
		{name: "expired/presigned", method: "GET", url: tags, sign: presigned(5 * time.Minute), now: signTime.Add(5*time.Minute + time.Second),
			wantCode: "InvalidSignatureException", wantMsg: []string{"Signature expired", "Request has expired"}},
		{name: "expired/presigned over a week", method: "GET", url: tags, sign: presigned(7*24*time.Hour + time.Second), now: signTime.Add(time.Minute),
			wantCode: "InvalidSignatureException", wantMsg: []string{"Request has expired", "604800"}},
		{name: "expired/presigned not yet current", method: "GET", url: tags, sign: presigned(time.Hour), now: signTime.Add(-16 * time.Minute),
			wantCode: "InvalidSignatureException", wantMsg: []string{"Signature not yet current"}},

		// Credential scope.
		{name: "scope/wrong region", method: "GET", url: tags, sign: &signSpec{region: "eu-west-1"},
			wantCode: "InvalidSignatureException", wantMsg: []string{"Credential should be scoped to a valid region, not 'eu-west-1'.", "'us-east-1'"}},
		{name: "scope/verifier in other region", method: "GET", url: tags, sign: headerSigned(),
			configure: func(v *Verifier) { v.Region = "ap-south-1" },
			wantCode:  "InvalidSignatureException", wantMsg: []string{"not 'us-east-1'", "'ap-south-1'"}},
		{name: "scope/wrong service", method: "GET", url: tags, sign: &signSpec{service: "ec2"},
			wantCode: "InvalidSignatureException", wantMsg: []string{"Credential should be scoped to correct service: 'robomaker'", "'ec2'"}},
		{name: "scope/wrong service presigned", method: "GET", url: tags, sign: &signSpec{service: "s3", presign: true, expires: time.Minute},
			wantCode: "InvalidSignatureException", wantMsg: []string{"'s3'"}},
		{name: "scope/date differs from X-Amz-Date", method: "GET", url: tags, sign: headerSigned(),
			tamper: setHeader("X-Amz-Date", "20240302T000100Z"), now: time.Date(2024, 3, 2, 0, 1, 0, 0, time.UTC),
			wantCode: "InvalidSignatureException", wantMsg: []string{"'20240301' != '20240302'"}},
		{name: "scope/wrong terminator", method: "GET", url: tags, sign: headerSigned(),
			tamper: editAuth("/aws4_request", "/aws4_requesT"), wantCode: "InvalidSignatureException", wantMsg: []string{"'aws4_requesT'"}},

		// Presigned form.
		{name: "presigned/wrong secret", method: "GET", url: tags, sign: &signSpec{secret: "nope", presign: true, expires: time.Minute},
			wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "presigned/tampered query", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("tagKeys=b", "tagKeys=c"), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "presigned/extended expiry", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("X-Amz-Expires=60", "X-Amz-Expires=600"), now: signTime.Add(2 * time.Minute),
			wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "presigned/tampered body", method: "POST", url: createFleetURL, body: str(fleetBody), header: jsonHeader, sign: presigned(time.Minute),
			tamper: setBody(`{"name":"evil"}`), wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
		{name: "presigned/missing credential", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("X-Amz-Credential=", "X-Amz-Credentia="), wantCode: "IncompleteSignatureException", wantMsg: []string{"'X-Amz-Credential'"}},
		{name: "presigned/missing expires", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("X-Amz-Expires=", "X-Amz-Expire="), wantCode: "IncompleteSignatureException", wantMsg: []string{"'X-Amz-Expires'"}},
		{name: "presigned/bad expires", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("X-Amz-Expires=60", "X-Amz-Expires=-1"), wantCode: "IncompleteSignatureException", wantMsg: []string{"X-Amz-Expires"}},
		{name: "presigned/wrong algorithm", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("X-Amz-Algorithm=AWS4-HMAC-SHA256", "X-Amz-Algorithm=AWS4-HMAC-SHA1"), wantCode: "IncompleteSignatureException"},
		{name: "presigned/host not signed", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: editRawQuery("X-Amz-SignedHeaders=host", "X-Amz-SignedHeaders=x-amz-target"), wantCode: "IncompleteSignatureException",
			wantMsg: []string{"'Host'"}},
		{name: "presigned/repeated signature", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Signature=00" }, wantCode: "IncompleteSignatureException"},
		{name: "presigned/malformed query escape", method: "GET", url: tags, sign: presigned(time.Minute),
			tamper: func(r *http.Request) { r.URL.RawQuery += "&bad=%zz" }, wantCode: "InvalidSignatureException", wantMsg: []string{mismatch}},
	}
}

func TestVerify(t *testing.T) {
	for _, tc := range verifyCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tc.body != nil {
				body = []byte(*tc.body)
			}
			r := newRequest(t, tc.method, tc.url, body, tc.header)
			if tc.sign != nil {
				signRequest(t, r, body, *tc.sign)
			}
			if tc.tamper != nil {
				tc.tamper(r)
			}
			sr, gotBody := toServer(t, r)
			now := tc.now
			if now.IsZero() {
				now = signTime
			}
			v := newVerifier(now)
			if tc.configure != nil {
				tc.configure(v)
			}

			id, err := v.Verify(sr, gotBody)
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v\nrequest: %s %s\n%v", err, sr.Method, sr.RequestURI, sr.Header)
				}
				want := testAKID
				if tc.sign.akid != "" {
					want = tc.sign.akid
				}
				if id != want {
					t.Fatalf("access key id = %q, want %q", id, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify accepted the request, want %s", tc.wantCode)
			}
			if id != "" {
				t.Errorf("access key id = %q on failure, want empty", id)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not an *Error", err, err)
			}
			if e.Code != tc.wantCode {
				t.Fatalf("code = %s (%s), want %s", e.Code, e.Message, tc.wantCode)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(e.Message, m) {
					t.Errorf("message %q does not contain %q", e.Message, m)
				}
			}
		})
	}
}

// TestVerifyClientSideRequest verifies the request object the signer
// produced, without the wire round trip (as a handler test using
// httptest.NewRequest-like requests would).
func TestVerifyClientSideRequest(t *testing.T) {
	body := []byte("{}")
	r := newRequest(t, "DELETE", tagsURL(testARN, "tagKeys=a&tagKeys=b"), body, nil)
	signRequest(t, r, body, signSpec{})
	r.Body = noReadBody{t}
	if _, err := newVerifier(signTime).Verify(r, body); err != nil {
		t.Fatal(err)
	}

	// The same request arriving through httptest.NewRequest.
	signed := newRequest(t, "GET", tagsURL(testARN, "tagKeys=a"), nil, nil)
	signRequest(t, signed, nil, signSpec{})
	hr := httptest.NewRequest("GET", signed.URL.RequestURI(), nil)
	hr.Host = signed.Host
	hr.Header = signed.Header.Clone()
	if _, err := newVerifier(signTime).Verify(hr, nil); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyInternalErrors(t *testing.T) {
	body := []byte(fleetBody)
	r := newRequest(t, "POST", createFleetURL, body, jsonHeader)
	signRequest(t, r, body, signSpec{})
	sr, got := toServer(t, r)

	boom := errors.New("store unavailable")
	v := newVerifier(signTime)
	v.Lookup = func(context.Context, string) (string, bool, error) { return "", false, boom }
	_, err := v.Verify(sr, got)
	var e *Error
	if !errors.Is(err, boom) || errors.As(err, &e) {
		t.Fatalf("Verify with failing Lookup = %v, want wrapped %v that is not an *Error", err, boom)
	}

	v.Lookup = nil
	if _, err := v.Verify(sr, got); err == nil || errors.As(err, &e) {
		t.Fatalf("Verify without Lookup = %v, want an internal error", err)
	}
	if _, err := newVerifier(signTime).Verify(nil, nil); err == nil {
		t.Fatal("Verify(nil) succeeded")
	}
}

func TestVerifyDefaults(t *testing.T) {
	// Now == nil uses the real clock; MaxSkew == 0 means 15 minutes.
	v := &Verifier{Service: testService, Region: testRegion, Lookup: testLookup}
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{time.Now(), true},
		{time.Now().Add(-14 * time.Minute), true},
		{time.Now().Add(-16 * time.Minute), false},
		{time.Now().Add(16 * time.Minute), false},
	} {
		r := newRequest(t, "GET", tagsURL(testARN, ""), nil, nil)
		signRequest(t, r, nil, signSpec{at: tc.at})
		sr, body := toServer(t, r)
		_, err := v.Verify(sr, body)
		if (err == nil) != tc.want {
			t.Errorf("signed at now%+v: err = %v, want ok=%v", time.Until(tc.at).Round(time.Minute), err, tc.want)
		}
	}
}

func TestErrorString(t *testing.T) {
	e := &Error{Code: "InvalidSignatureException", Message: "bad"}
	if got := e.Error(); got != "InvalidSignatureException: bad" {
		t.Fatalf("Error() = %q", got)
	}
}

// verifyHandler answers {} when the request verifies and an AWS restJson1
// error (X-Amzn-ErrorType header, JSON message) otherwise.
func verifyHandler(tb testing.TB, v *Verifier, mu *sync.Mutex, ids *[]string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		id, err := v.Verify(r, body)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			tb.Logf("%s %s: %v", r.Method, r.RequestURI, err)
			status, code, msg := http.StatusInternalServerError, "InternalFailure", err.Error()
			var e *Error
			if errors.As(err, &e) {
				status, code, msg = http.StatusForbidden, e.Code, e.Message
				if code == "IncompleteSignatureException" {
					status = http.StatusBadRequest
				}
			}
			w.Header().Set("X-Amzn-ErrorType", code)
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
			return
		}
		mu.Lock()
		*ids = append(*ids, id)
		mu.Unlock()
		_, _ = io.WriteString(w, "{}")
	})
}

// TestRoboMakerSDKClient drives the real aws-sdk-go v1 RoboMaker client (its
// restJson1 serializer and signer) against a server that verifies with
// Verifier.
func TestRoboMakerSDKClient(t *testing.T) {
	var mu sync.Mutex
	var ids []string
	v := &Verifier{Service: testService, Region: testRegion, Lookup: testLookup}
	srv := httptest.NewServer(verifyHandler(t, v, &mu, &ids))
	defer srv.Close()

	client := func(akid, secret string) *robomaker.RoboMaker {
		sess, err := session.NewSession(&aws.Config{
			Region:      aws.String(testRegion),
			Endpoint:    aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentials(akid, secret, ""),
			MaxRetries:  aws.Int(0),
		})
		if err != nil {
			t.Fatal(err)
		}
		return robomaker.New(sess)
	}
	good := client(testAKID, testSecret)
	keys := aws.StringSlice([]string{"a", "b", "a:b", "a0", "with space", "x/y+z=é"})

	if _, err := good.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("my-fleet"), Tags: aws.StringMap(map[string]string{"env": "prod"})}); err != nil {
		t.Errorf("CreateFleet: %v", err)
	}
	if _, err := good.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(testARN), Tags: aws.StringMap(map[string]string{"k": "v"})}); err != nil {
		t.Errorf("TagResource: %v", err)
	}
	if _, err := good.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(testARN), TagKeys: keys}); err != nil {
		t.Errorf("UntagResource: %v", err)
	}
	if _, err := good.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String(testARN)}); err != nil {
		t.Errorf("ListTagsForResource: %v", err)
	}
	mu.Lock()
	if len(ids) != 4 {
		t.Errorf("verified %d requests, want 4", len(ids))
	}
	for _, id := range ids {
		if id != testAKID {
			t.Errorf("access key id = %q", id)
		}
	}
	mu.Unlock()

	for _, tc := range []struct {
		akid, secret, code string
	}{
		{testAKID, "wrong", "InvalidSignatureException"},
		{"AKIDUNKNOWN", testSecret, "UnrecognizedClientException"},
	} {
		_, err := client(tc.akid, tc.secret).UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(testARN), TagKeys: keys})
		var aerr awserr.Error
		if !errors.As(err, &aerr) || aerr.Code() != tc.code {
			t.Errorf("UntagResource as %s/%s: err = %v, want code %s", tc.akid, tc.secret, err, tc.code)
		}
	}
}

const botocoreScript = `
import json, sys
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, akid, secret, arn = sys.argv[1:5]
session = botocore.session.get_session()

def client(key_id, key, token=None):
    return session.create_client(
        'robomaker', region_name='us-east-1', endpoint_url=endpoint,
        aws_access_key_id=key_id, aws_secret_access_key=key, aws_session_token=token,
        config=Config(retries={'total_max_attempts': 1}))

good = client(akid, secret)

def odd_whitespace(request, **kwargs):
    # Signed with botocore's whitespace collapsing ("a b c"), sent as is.
    request.headers['X-Amz-Meta-Note'] = 'a\tb  \t c'

spaced = client(akid, secret)
spaced.meta.events.register('before-sign.robomaker.ListTagsForResource', odd_whitespace)
keys = ['a', 'b', 'a:b', 'a0', 'with space', 'x/y+z=\u00e9']
calls = [
    ('CreateFleet', lambda: good.create_fleet(name='my-fleet', tags={'env': 'prod'})),
    ('TagResource', lambda: good.tag_resource(resourceArn=arn, tags={'k': 'v'})),
    ('UntagResource', lambda: good.untag_resource(resourceArn=arn, tagKeys=keys)),
    ('ListTagsForResource', lambda: good.list_tags_for_resource(resourceArn=arn)),
    ('SessionToken', lambda: client(akid, secret, 'token/+=').list_tags_for_resource(resourceArn=arn)),
    ('HeaderWhitespace', lambda: spaced.list_tags_for_resource(resourceArn=arn)),
    ('WrongSecret', lambda: client(akid, 'wrong').untag_resource(resourceArn=arn, tagKeys=keys)),
    ('UnknownKey', lambda: client('AKIDUNKNOWN', secret).list_tags_for_resource(resourceArn=arn)),
]
for name, call in calls:
    code = ''
    try:
        call()
    except ClientError as e:
        code = e.response['Error']['Code']
    print(json.dumps({'op': name, 'code': code}))
`

// TestBotocoreClient drives botocore (the AWS CLI's signer and restJson1
// serializer) with the RoboMaker model shipped in aws-sdk-go's module against
// a server that verifies with Verifier. It is skipped where python3 with
// botocore is not installed.
func TestBotocoreClient(t *testing.T) {
	if testing.Short() {
		testskip.Skip(t, "botocore signing test", "-short given", "go test without -short")
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		testskip.Missing(t, "botocore signing test", "python3 not installed", "scripts/test (installs awscli, which brings python3-botocore), or apt-get install python3-botocore")
	}
	if err := exec.Command(python, "-c", "import botocore").Run(); err != nil {
		testskip.Missing(t, "botocore signing test", "python3 has no botocore", "scripts/test (installs awscli, which brings python3-botocore), or apt-get install python3-botocore")
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/aws/aws-sdk-go").Output()
	if err != nil {
		t.Skipf("locating aws-sdk-go: %v", err)
	}
	model, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "models", "apis", "robomaker", "2018-06-29", "api-2.json"))
	if err != nil {
		t.Skipf("RoboMaker model: %v", err)
	}
	dataPath := t.TempDir()
	modelDir := filepath.Join(dataPath, "robomaker", "2018-06-29")
	if err := os.MkdirAll(modelDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(modelDir, "service-2.json"), model, 0o644); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var ids []string
	v := &Verifier{Service: testService, Region: testRegion, Lookup: testLookup}
	srv := httptest.NewServer(verifyHandler(t, v, &mu, &ids))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", botocoreScript, srv.URL, testAKID, testSecret, testARN)
	cmd.Env = append(os.Environ(),
		"AWS_DATA_PATH="+dataPath,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"NO_PROXY=127.0.0.1,localhost",
		"no_proxy=127.0.0.1,localhost",
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("botocore script: %v\n%s", err, stderr.String())
	}

	want := map[string]string{
		"CreateFleet":         "",
		"TagResource":         "",
		"UntagResource":       "",
		"ListTagsForResource": "",
		"SessionToken":        "",
		"HeaderWhitespace":    "",
		"WrongSecret":         "InvalidSignatureException",
		"UnknownKey":          "UnrecognizedClientException",
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(stdout)), "\n") {
		var res struct{ Op, Code string }
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("botocore output %q: %v", line, err)
		}
		got[res.Op] = res.Code
	}
	for op, code := range want {
		if c, ok := got[op]; !ok || c != code {
			t.Errorf("%s: code = %q (ran: %v), want %q", op, c, ok, code)
		}
	}
}

// FuzzVerify feeds arbitrary Authorization headers, paths and query strings
// to Verify and checks that it never panics, never accepts and only fails
// with *Error values carrying a known code. The seeds are well-formed
// requests signed with a secret the verifier does not hold, so that the
// fuzzer starts deep inside the parser; accepting would need an HMAC forgery.
func FuzzVerify(f *testing.F) {
	const wrongSecret = "not-the-secret"
	r := newRequest(f, "DELETE", tagsURL(testARN, "tagKeys=a&tagKeys=b"), nil, nil)
	signRequest(f, r, nil, signSpec{secret: wrongSecret})
	f.Add(r.Header.Get("Authorization"), r.URL.EscapedPath(), r.URL.RawQuery)

	p := newRequest(f, "GET", tagsURL(testARN, "tagKeys=a"), nil, nil)
	signRequest(f, p, nil, signSpec{secret: wrongSecret, presign: true, expires: time.Hour})
	f.Add("", p.URL.EscapedPath(), p.URL.RawQuery)

	f.Add("", "/", "")
	f.Add("AWS4-HMAC-SHA256", "/createFleet", "")
	f.Add("AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=;;host, Signature=zz", "/tags/%zz", "a=%zz")
	f.Add("AWS4-HMAC-SHA256 Credential="+testAKID+"/20240301/us-east-1/robomaker/aws4_request, SignedHeaders=host, Signature=",
		"/a/../b//c/./", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=99999999999999999999")
	f.Add(" , = ,,", "//", "&&=&")

	known := map[string]bool{
		"MissingAuthenticationTokenException": true,
		"IncompleteSignatureException":        true,
		"UnrecognizedClientException":         true,
		"InvalidSignatureException":           true,
	}
	v := newVerifier(signTime)
	f.Fuzz(func(t *testing.T, auth, path, query string) {
		u, err := url.ParseRequestURI(path + "?" + query)
		if err != nil {
			u = &url.URL{Path: path, RawPath: path, RawQuery: query}
		}
		req := &http.Request{
			Method: "GET",
			URL:    u,
			Host:   testHost,
			Header: http.Header{"X-Amz-Date": {signTime.Format("20060102T150405Z")}},
			Body:   noReadBody{t},
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		id, err := v.Verify(req.WithContext(context.Background()), []byte(query))
		if err == nil {
			t.Fatalf("Verify accepted auth=%q path=%q query=%q as %q", auth, path, query, id)
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v (%T) is not an *Error", err, err)
		}
		if !known[e.Code] {
			t.Fatalf("unknown code %q", e.Code)
		}
		if id != "" {
			t.Fatalf("access key id %q returned with error", id)
		}
	})
}
