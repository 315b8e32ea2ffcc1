// API conformance of authentication and throttling: SigV4 failures through
// the real SDK and through raw requests signed with the SDK's own signer
// (wrong secret, unknown key, a signature 20 minutes old, a client of the
// wrong region, a body changed after signing, no Authorization at all), each
// a 403 with x-amzn-ErrorType and a {"__type","message"} body; a presigned
// GET /tags/<escaped ARN>; and the per-credential rate limit answering
// ThrottlingException on every operation while other credentials go on.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/request"
	"github.com/aws/aws-sdk-go/aws/session"
	v4 "github.com/aws/aws-sdk-go/aws/signer/v4"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestAPISigV4(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	good := quiet(s.Client())
	fl, err := good.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("signed"), Tags: aws.StringMap(map[string]string{"k": "v"})})
	must(t, err)

	// call makes one SDK call and returns its error and what came back.
	call := func(c *robomaker.RoboMaker) (wireResponse, error) {
		rec := record(c)
		_, err := c.ListFleets(&robomaker.ListFleetsInput{})
		return rec.Last(), err
	}

	t.Run("ValidSignature", func(t *testing.T) {
		w, err := call(quiet(s.Client()))
		must(t, err)
		if w.Status != http.StatusOK {
			t.Errorf("status %d", w.Status)
		}
	})

	t.Run("WrongSecret", func(t *testing.T) {
		w, err := call(quiet(s.ClientFor(testenv.KeyID, "not-the-secret")))
		wantErr(t, err, "InvalidSignatureException", "signature")
		checkErrorEnvelope(t, w, "InvalidSignatureException")
	})

	t.Run("UnknownKey", func(t *testing.T) {
		w, err := call(quiet(s.ClientFor("AKFSUNKNOWNKEY000001", testenv.Secret)))
		wantErr(t, err, "UnrecognizedClientException", "security token")
		checkErrorEnvelope(t, w, "UnrecognizedClientException")
	})

	t.Run("ExpiredSignatureSDKClock", func(t *testing.T) {
		c := quiet(s.Client())
		// The SDK's own signer with its clock 20 minutes behind.
		c.Handlers.Sign.Swap(v4.SignRequestHandler.Name, request.NamedHandler{Name: v4.SignRequestHandler.Name, Fn: func(r *request.Request) {
			v4.SignSDKRequestWithCurrentTime(r, func() time.Time { return time.Now().Add(-20 * time.Minute) })
		}})
		w, err := call(c)
		wantErr(t, err, "InvalidSignatureException", "Signature expired")
		checkErrorEnvelope(t, w, "InvalidSignatureException")
	})

	t.Run("ExpiredSignatureRaw", func(t *testing.T) {
		body := []byte(`{}`)
		req := rawRequest(t, s, "POST", "/listFleets", body)
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now().Add(-20*time.Minute))
		w := do(t, req)
		checkErrorEnvelope(t, w, "InvalidSignatureException")
		if !strings.Contains(string(w.Body), "Signature expired") {
			t.Errorf("body %s does not say Signature expired", w.Body)
		}
	})

	t.Run("FutureSignature", func(t *testing.T) {
		body := []byte(`{}`)
		req := rawRequest(t, s, "POST", "/listFleets", body)
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now().Add(20*time.Minute))
		checkErrorEnvelope(t, do(t, req), "InvalidSignatureException")
	})

	t.Run("SmallSkewAccepted", func(t *testing.T) {
		body := []byte(`{}`)
		req := rawRequest(t, s, "POST", "/listFleets", body)
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now().Add(-10*time.Minute))
		if w := do(t, req); w.Status != http.StatusOK {
			t.Errorf("a signature 10 minutes old: %d %s", w.Status, w.Body)
		}
	})

	t.Run("WrongRegionClient", func(t *testing.T) {
		sess := session.Must(session.NewSession(&aws.Config{
			Endpoint: aws.String(s.URL), Region: aws.String("us-west-2"), MaxRetries: aws.Int(0),
			Credentials: credentials.NewStaticCredentials(testenv.KeyID, testenv.Secret, ""),
		}))
		c := quiet(robomaker.New(sess))
		w, err := call(c)
		wantErr(t, err, "InvalidSignatureException", "us-west-2")
		checkErrorEnvelope(t, w, "InvalidSignatureException")
	})

	t.Run("TamperedBody", func(t *testing.T) {
		body := []byte(`{"name":"signed-name"}`)
		req := rawRequest(t, s, "POST", "/createFleet", body)
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now())
		tampered := []byte(`{"name":"evil-name00"}`) // same length
		req.Body = io.NopCloser(bytes.NewReader(tampered))
		req.ContentLength = int64(len(tampered))
		w := do(t, req)
		checkErrorEnvelope(t, w, "InvalidSignatureException")
		l, err := good.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{"evil-name00"})}}})
		must(t, err)
		if len(l.FleetDetails) != 0 {
			t.Error("the tampered request created its fleet")
		}
	})

	t.Run("TamperedPath", func(t *testing.T) {
		body := []byte(`{}`)
		req := rawRequest(t, s, "GET", "/tags/"+escapeARN(aws.StringValue(fl.Arn)), body)
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now())
		req.URL.RawQuery = "tagKeys=k" // added after signing
		req.Method = "DELETE"
		checkErrorEnvelope(t, do(t, req), "InvalidSignatureException")
		tags, err := good.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: fl.Arn})
		must(t, err)
		checkTags(t, "after a refused untag", tags.Tags, map[string]string{"k": "v"})
	})

	t.Run("ContentSHA256Header", func(t *testing.T) {
		// UNSIGNED-PAYLOAD is honoured: the body is not part of the signature.
		body := []byte(`{"name":"unsigned-payload"}`)
		req := rawRequest(t, s, "POST", "/createFleet", body)
		req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now())
		if w := do(t, req); w.Status != http.StatusOK {
			t.Errorf("UNSIGNED-PAYLOAD: %d %s", w.Status, w.Body)
		}
		// A signed x-amz-content-sha256 that is not the body's hash is refused.
		body = []byte(`{"name":"wrong-hash"}`)
		req = rawRequest(t, s, "POST", "/createFleet", body)
		req.Header.Set("X-Amz-Content-Sha256", strings.Repeat("ab", 32))
		signRaw(t, req, body, testenv.KeyID, testenv.Secret, testenv.Region, time.Now())
		w := do(t, req)
		checkErrorEnvelope(t, w, "InvalidSignatureException")
		if !strings.Contains(string(w.Body), "x-amz-content-sha256") {
			t.Errorf("body %s does not name x-amz-content-sha256", w.Body)
		}
	})

	t.Run("NoAuthorization", func(t *testing.T) {
		w := do(t, rawRequest(t, s, "POST", "/listFleets", []byte(`{}`)))
		checkErrorEnvelope(t, w, "MissingAuthenticationTokenException")

		// The SDK with anonymous credentials does not sign at all.
		sess := session.Must(session.NewSession(&aws.Config{Endpoint: aws.String(s.URL), Region: aws.String(testenv.Region),
			MaxRetries: aws.Int(0), Credentials: credentials.AnonymousCredentials}))
		w, err := call(quiet(robomaker.New(sess)))
		wantErr(t, err, "MissingAuthenticationTokenException")
		checkErrorEnvelope(t, w, "MissingAuthenticationTokenException")
	})

	t.Run("AuthFailsBeforeValidation", func(t *testing.T) {
		// An invalid input signed with a wrong secret is refused for the
		// signature, not validated.
		c := quiet(s.ClientFor(testenv.KeyID, "wrong"))
		_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("bad name!")})
		wantErr(t, err, "InvalidSignatureException")
	})

	t.Run("PresignedListTags", func(t *testing.T) {
		req := rawRequest(t, s, "GET", "/tags/"+escapeARN(aws.StringValue(fl.Arn)), nil)
		signer := v4.NewSigner(credentials.NewStaticCredentials(testenv.KeyID, testenv.Secret, ""))
		_, err := signer.Presign(req, nil, "robomaker", testenv.Region, 5*time.Minute, time.Now())
		must(t, err)
		if req.Header.Get("Authorization") != "" || !strings.Contains(req.URL.RawQuery, "X-Amz-Signature=") {
			t.Fatalf("not a presigned URL: %s", req.URL)
		}
		// Fetch the URL as a browser or curl would: a plain GET.
		resp, err := http.Get(req.URL.String())
		must(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		must(t, err)
		w := wireResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}
		if w.Status != http.StatusOK {
			t.Fatalf("presigned GET: %d %s", w.Status, w.Body)
		}
		m := decodeNumbers(t, w.Body)
		tags, _ := m["tags"].(map[string]any)
		if len(m) != 1 || len(tags) != 1 || tags["k"] != "v" {
			t.Errorf("presigned GET body = %s, want {\"tags\":{\"k\":\"v\"}}", w.Body)
		}

		// An expired presigned URL is refused.
		req = rawRequest(t, s, "GET", "/tags/"+escapeARN(aws.StringValue(fl.Arn)), nil)
		_, err = signer.Presign(req, nil, "robomaker", testenv.Region, time.Minute, time.Now().Add(-2*time.Minute))
		must(t, err)
		checkErrorEnvelope(t, do(t, req), "InvalidSignatureException")
	})
}

func TestAPIThrottling(t *testing.T) {
	t.Parallel()
	s := startAPI(t, "--rate-limit", "1", "--rate-burst", "2")
	c := quiet(s.Client())
	rec := record(c)

	// The burst of 2 passes, then the credential is throttled.
	var throttled error
	for i := 0; i < 10 && throttled == nil; i++ {
		_, err := c.ListFleets(&robomaker.ListFleetsInput{})
		if err != nil {
			throttled = err
		}
	}
	wantErr(t, throttled, "ThrottlingException", testenv.KeyID)
	checkErrorEnvelope(t, rec.Last(), "ThrottlingException")

	// Every operation is limited, invalid input included (throttling comes
	// before validation): fired back to back, each is throttled within a
	// few calls whatever tokens trickled back in meanwhile.
	calls := map[string]func() error{
		"CreateFleet": func() error { _, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("t")}); return err },
		"DescribeRobot": func() error {
			_, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String("arn:aws:robomaker:us-east-1:123456789012:robot/x/1")})
			return err
		},
		"ListTagsForResource": func() error {
			_, err := c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:robomaker:us-east-1:123456789012:robot/x/1")})
			return err
		},
		"InvalidInput": func() error {
			_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("bad name!")})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			var err error
			for range 5 {
				if err = call(); err != nil && strings.Contains(err.Error(), "ThrottlingException") {
					break
				}
			}
			wantErr(t, err, "ThrottlingException")
		})
	}

	// The limit is per credential: another one is served.
	keyID, secret := newAccount(t, s, "210987654321")
	other := quiet(s.ClientFor(keyID, secret))
	_, err := other.ListFleets(&robomaker.ListFleetsInput{})
	must(t, err)

	// The bucket refills: poll until the throttled credential is served again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.ListFleets(&robomaker.ListFleetsInput{})
		if err == nil {
			break
		}
		wantErr(t, err, "ThrottlingException")
		if time.Now().After(deadline) {
			t.Fatal("still throttled after 10 s at 1 request per second")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
