package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// fakeServer is a minimal agent endpoint: it verifies every signature with
// proto.Verify, refuses replays and unknown agents, and serves a bundle with
// Range support.
type fakeServer struct {
	t      *testing.T
	srv    *httptest.Server
	bundle []byte
	// handlers tracks bundle handlers still running; wait for them before
	// reading ranges, served or signedDL.
	handlers sync.WaitGroup

	mu       sync.Mutex
	known    map[string]bool // registered agent ids
	nonces   map[string]bool
	reports  []proto.Report
	ranges   []string // Range header of each bundle request
	served   int64    // bundle body bytes written
	signedDL []bool   // whether each bundle request carried valid agent headers
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, known: map[string]bool{}, nonces: map[string]bool{}}
	f.bundle = make([]byte, 300<<10+17)
	rand.Read(f.bundle)
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+proto.PathPoll, f.poll)
	mux.HandleFunc("POST "+proto.PathReport, f.report)
	mux.HandleFunc("GET "+proto.PathBundle+"ok", f.serveBundle)
	mux.HandleFunc("GET "+proto.PathBundle+"ignore-range", func(w http.ResponseWriter, r *http.Request) {
		f.record(r)
		defer f.handlers.Done()
		w.Header().Set("Content-Length", strconv.Itoa(len(f.bundle)))
		n, _ := w.Write(f.bundle)
		f.mu.Lock()
		f.served += int64(n)
		f.mu.Unlock()
	})
	mux.HandleFunc("GET "+proto.PathBundle+"cut", func(w http.ResponseWriter, r *http.Request) {
		// The first request breaks off in the middle; later ones succeed.
		f.mu.Lock()
		first := len(f.ranges) == 0
		f.mu.Unlock()
		if !first {
			f.serveBundle(w, r)
			return
		}
		f.record(r)
		defer f.handlers.Done()
		w.Header().Set("Content-Length", strconv.Itoa(len(f.bundle)))
		w.WriteHeader(http.StatusOK)
		n, _ := w.Write(f.bundle[:len(f.bundle)/3])
		f.mu.Lock()
		f.served += int64(n)
		f.mu.Unlock()
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	})
	// etag/<ETag> serves the bundle as an object whose ETag is <ETag>, with
	// If-Match and Range honoured as S3 and fleetsyncd do.
	mux.HandleFunc("GET "+proto.PathBundle+"etag/{etag}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"`+r.PathValue("etag")+`"`)
		f.serveBundle(w, r)
	})
	mux.HandleFunc("GET "+proto.PathBundle+"forbidden", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) register(pub ed25519.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.known[proto.AgentID(pub)] = true
}

// auth verifies r as fleetsyncd does; it answers 401 and returns false when
// the request is not from a known agent.
func (f *fakeServer) auth(w http.ResponseWriter, r *http.Request, body []byte) bool {
	v, err := proto.Verify(r, body, time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && f.nonces[v.Nonce] {
		err = errors.New("replayed nonce")
	}
	if err == nil && !f.known[v.AgentID] {
		err = errors.New("unknown agent")
	}
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, proto.Error{Code: "Unauthorized", Message: err.Error()})
		return false
	}
	f.nonces[v.Nonce] = true
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeServer) poll(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !f.auth(w, r, body) {
		return
	}
	var req proto.PollRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, proto.Error{Code: "BadRequest", Message: err.Error()})
		return
	}
	resp := proto.PollResponse{PollIntervalSeconds: 7}
	if req.Current == nil {
		resp.Assignment = &proto.Assignment{DeploymentJob: "job-1", Bundle: proto.Object{URL: f.srv.URL + proto.PathBundle + "ok"}}
	}
	writeJSON(w, http.StatusOK, resp)
}

func (f *fakeServer) report(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if !f.auth(w, r, body) {
		return
	}
	var rep proto.Report
	json.Unmarshal(body, &rep)
	f.mu.Lock()
	f.reports = append(f.reports, rep)
	f.mu.Unlock()
	switch rep.DeploymentJob {
	case "job-1":
		writeJSON(w, http.StatusOK, proto.ReportResponse{})
	case "job-canceled":
		writeJSON(w, http.StatusOK, proto.ReportResponse{Abort: true})
	default:
		writeJSON(w, http.StatusConflict, proto.Error{Code: "NotAssigned", Message: "no deployment " + rep.DeploymentJob})
	}
}

// record notes a bundle request; the handler must defer f.handlers.Done().
func (f *fakeServer) record(r *http.Request) {
	f.handlers.Add(1)
	_, err := proto.Verify(r, nil, time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ranges = append(f.ranges, r.Header.Get("Range"))
	f.signedDL = append(f.signedDL, err == nil)
}

type countingWriter struct {
	http.ResponseWriter
	n *int64
	f *fakeServer
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.f.mu.Lock()
	*c.n += int64(n)
	c.f.mu.Unlock()
	return n, err
}

func (f *fakeServer) serveBundle(w http.ResponseWriter, r *http.Request) {
	f.record(r)
	defer f.handlers.Done()
	http.ServeContent(countingWriter{w, &f.served, f}, r, "bundle.tar", time.Time{}, bytes.NewReader(f.bundle))
}

func (f *fakeServer) object(name string) proto.Object {
	sum := sha256.Sum256(f.bundle)
	return proto.Object{URL: f.srv.URL + proto.PathBundle + name, Size: int64(len(f.bundle)), SHA256: hex.EncodeToString(sum[:])}
}

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func newClient(t *testing.T, f *fakeServer) *Client {
	t.Helper()
	key := newKey(t)
	f.register(key.Public().(ed25519.PublicKey))
	return &Client{Server: f.srv.URL, Key: key, HTTP: f.srv.Client()}
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPollAndReportAreSigned(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	if got, want := c.AgentID(), proto.AgentID(c.Key.Public().(ed25519.PublicKey)); got != want {
		t.Fatalf("AgentID = %q, want %q", got, want)
	}
	resp, err := c.Poll(ctx(t), proto.PollRequest{WaitSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Assignment == nil || resp.Assignment.DeploymentJob != "job-1" || resp.PollIntervalSeconds != 7 {
		t.Fatalf("poll response = %+v", resp)
	}
	// A second poll must carry a fresh nonce (the server refuses replays).
	resp, err = c.Poll(ctx(t), proto.PollRequest{Current: &proto.Current{DeploymentJob: "job-0", Finished: true}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Assignment != nil {
		t.Fatalf("poll with Current: assignment %+v", resp.Assignment)
	}
	pct := 50.0
	rr, err := c.Report(ctx(t), proto.Report{DeploymentJob: "job-1", Step: proto.StepDownloadingExtracting, PercentDone: &pct})
	if err != nil || rr.Abort {
		t.Fatalf("report = %+v, %v", rr, err)
	}
	rr, err = c.Report(ctx(t), proto.Report{DeploymentJob: "job-canceled", Step: proto.StepLaunching})
	if err != nil || !rr.Abort {
		t.Fatalf("report of a canceled job = %+v, %v; want Abort", rr, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reports) != 2 || f.reports[0].PercentDone == nil || *f.reports[0].PercentDone != 50 {
		t.Fatalf("server got reports %+v", f.reports)
	}
}

func TestUnauthorized(t *testing.T) {
	f := newFakeServer(t)
	for name, c := range map[string]*Client{
		"unknown agent": {Server: f.srv.URL, Key: newKey(t)},
		"stale clock": func() *Client {
			c := newClient(t, f)
			c.Now = func() time.Time { return time.Now().Add(-2 * proto.MaxSkew) }
			return c
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Poll(ctx(t), proto.PollRequest{})
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Poll error = %v, want ErrUnauthorized", err)
			}
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != 401 || he.Code != "Unauthorized" || he.Message == "" {
				t.Fatalf("Poll error = %#v", err)
			}
			if _, err := c.Report(ctx(t), proto.Report{DeploymentJob: "job-1"}); !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Report error = %v, want ErrUnauthorized", err)
			}
		})
	}
}

func TestNotAssigned(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	_, err := c.Report(ctx(t), proto.Report{DeploymentJob: "job-other", Step: proto.StepValidating})
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusConflict || he.Code != "NotAssigned" {
		t.Fatalf("error = %#v, want HTTPError 409 NotAssigned", err)
	}
	if errors.Is(err, ErrUnauthorized) {
		t.Fatal("409 matches ErrUnauthorized")
	}
	if !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "NotAssigned") {
		t.Fatalf("message %q", err.Error())
	}
}

func TestNoKey(t *testing.T) {
	c := &Client{Server: "http://127.0.0.1:1"}
	if _, err := c.Poll(ctx(t), proto.PollRequest{}); err == nil {
		t.Fatal("Poll without a key succeeded")
	}
}

func tempFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), "bundle.part")
	if err := os.WriteFile(name, content, 0o600); err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	return fh
}

func content(t *testing.T, fh *os.File) []byte {
	t.Helper()
	b, err := os.ReadFile(fh.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownloadFull(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	fh := tempFile(t, nil)
	var calls int
	var last, lastTotal int64
	err := c.Download(ctx(t), f.object("ok"), fh, func(done, total int64) {
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		calls++
		last, lastTotal = done, total
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, fh), f.bundle) {
		t.Fatal("content differs")
	}
	if calls < 2 || last != int64(len(f.bundle)) || lastTotal != int64(len(f.bundle)) {
		t.Fatalf("progress: %d calls, last %d/%d", calls, last, lastTotal)
	}
	f.handlers.Wait()
	if len(f.ranges) != 1 || f.ranges[0] != "" {
		t.Fatalf("Range headers %q, want one empty", f.ranges)
	}
	f.handlers.Wait()
	if !f.signedDL[0] {
		t.Fatal("download from the server's host carried no valid agent headers")
	}
}

func TestDownloadResume(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	half := len(f.bundle) / 2
	fh := tempFile(t, f.bundle[:half])
	var first int64 = -1
	if err := c.Download(ctx(t), f.object("ok"), fh, func(done, total int64) {
		if first < 0 {
			first = done
		}
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, fh), f.bundle) {
		t.Fatal("content differs")
	}
	f.handlers.Wait()
	if want := "bytes=" + strconv.Itoa(half) + "-"; len(f.ranges) != 1 || f.ranges[0] != want {
		t.Fatalf("Range headers %q, want [%q]", f.ranges, want)
	}
	if want := int64(len(f.bundle) - half); f.served != want {
		t.Fatalf("server sent %d bytes, want only the missing %d", f.served, want)
	}
	if first != int64(half) {
		t.Fatalf("first progress %d, want %d", first, half)
	}
}

func TestDownloadResumesAfterCut(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	fh := tempFile(t, nil)
	obj := f.object("cut")
	err := c.Download(ctx(t), obj, fh, nil)
	var ie *IntegrityError
	if err == nil || errors.As(err, &ie) {
		t.Fatalf("first attempt error = %v, want a transport error", err)
	}
	got := len(content(t, fh))
	if got != len(f.bundle)/3 {
		t.Fatalf("after the cut the file holds %d bytes, want %d", got, len(f.bundle)/3)
	}
	if err := c.Download(ctx(t), obj, fh, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, fh), f.bundle) {
		t.Fatal("content differs")
	}
	f.handlers.Wait()
	if want := "bytes=" + strconv.Itoa(got) + "-"; len(f.ranges) != 2 || f.ranges[1] != want {
		t.Fatalf("Range headers %q, want second %q", f.ranges, want)
	}
}

func TestDownloadServerIgnoresRange(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	fh := tempFile(t, f.bundle[:1000])
	if err := c.Download(ctx(t), f.object("ignore-range"), fh, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(content(t, fh), f.bundle) {
		t.Fatal("content differs")
	}
}

func TestDownloadIntegrity(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	t.Run("sha256", func(t *testing.T) {
		obj := f.object("ok")
		obj.SHA256 = strings.Repeat("ab", 32)
		fh := tempFile(t, nil)
		err := c.Download(ctx(t), obj, fh, nil)
		var ie *IntegrityError
		if !errors.As(err, &ie) || ie.What != "sha256" || ie.Want != obj.SHA256 {
			t.Fatalf("error = %#v, want IntegrityError sha256", err)
		}
		if n := len(content(t, fh)); n != 0 {
			t.Fatalf("bad content kept (%d bytes)", n)
		}
	})
	t.Run("corrupt prefix", func(t *testing.T) {
		bad := bytes.Clone(f.bundle[:len(f.bundle)/2])
		bad[10] ^= 0xff
		fh := tempFile(t, bad)
		var ie *IntegrityError
		if err := c.Download(ctx(t), f.object("ok"), fh, nil); !errors.As(err, &ie) {
			t.Fatalf("error = %v, want IntegrityError", err)
		}
		// The retry starts over and succeeds.
		if err := c.Download(ctx(t), f.object("ok"), fh, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(content(t, fh), f.bundle) {
			t.Fatal("content differs")
		}
	})
	t.Run("size", func(t *testing.T) {
		for _, delta := range []int64{-1, +1} {
			obj := f.object("ok")
			obj.Size += delta
			fh := tempFile(t, nil)
			var ie *IntegrityError
			if err := c.Download(ctx(t), obj, fh, nil); !errors.As(err, &ie) || ie.What != "size" {
				t.Fatalf("size%+d: error = %v, want IntegrityError size", delta, err)
			}
		}
	})
}

func TestDownloadETag(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	m := md5.Sum(f.bundle)
	md5ETag := hex.EncodeToString(m[:])
	multipart := strings.Repeat("0f", 16) + "-3"
	object := func(route, etag string, withSHA bool) proto.Object {
		obj := f.object(route)
		obj.ETag = `"` + etag + `"`
		if !withSHA {
			obj.SHA256 = ""
		}
		return obj
	}
	t.Run("single-part ETag is checked as MD5 without SHA-256", func(t *testing.T) {
		fh := tempFile(t, nil)
		if err := c.Download(ctx(t), object("etag/"+md5ETag, md5ETag, false), fh, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(content(t, fh), f.bundle) {
			t.Fatal("content differs")
		}
		// A server that ignores If-Match and sends other content.
		fh = tempFile(t, nil)
		other := strings.Repeat("00", 16)
		var ie *IntegrityError
		if err := c.Download(ctx(t), object("ignore-range", other, false), fh, nil); !errors.As(err, &ie) || ie.What != "md5" || ie.Want != other {
			t.Fatalf("error = %v, want IntegrityError md5", err)
		}
	})
	t.Run("overwritten object answers 412", func(t *testing.T) {
		fh := tempFile(t, f.bundle[:1000])
		stale := strings.Repeat("11", 16)
		var ie *IntegrityError
		if err := c.Download(ctx(t), object("etag/"+md5ETag, stale, true), fh, nil); !errors.As(err, &ie) || ie.What != "etag" {
			t.Fatalf("error = %v, want IntegrityError etag", err)
		}
		if n := len(content(t, fh)); n != 0 {
			t.Fatalf("partial content of the old object kept (%d bytes)", n)
		}
	})
	t.Run("multipart ETag is verified by SHA-256", func(t *testing.T) {
		fh := tempFile(t, f.bundle[:5000]) // and resumed
		if err := c.Download(ctx(t), object("etag/"+multipart, multipart, true), fh, nil); err != nil {
			t.Fatal(err)
		}
		obj := object("etag/"+multipart, multipart, true)
		obj.SHA256 = strings.Repeat("ab", 32)
		fh = tempFile(t, nil)
		var ie *IntegrityError
		if err := c.Download(ctx(t), obj, fh, nil); !errors.As(err, &ie) || ie.What != "sha256" {
			t.Fatalf("error = %v, want IntegrityError sha256", err)
		}
	})
}

func TestDownloadAlreadyComplete(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	fh := tempFile(t, f.bundle)
	if err := c.Download(ctx(t), f.object("ok"), fh, nil); err != nil {
		t.Fatal(err)
	}
	f.handlers.Wait()
	if len(f.ranges) != 0 {
		t.Fatalf("complete file: %d requests, want none", len(f.ranges))
	}
	// Size unknown: the server answers 416 and the file is checked.
	obj := f.object("ok")
	obj.Size = 0
	if err := c.Download(ctx(t), obj, fh, nil); err != nil {
		t.Fatal(err)
	}
	f.handlers.Wait()
	if len(f.ranges) != 1 {
		t.Fatalf("%d requests, want 1", len(f.ranges))
	}
}

func TestDownloadOtherHostIsNotSigned(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	c.Server = "http://fleetsync.invalid:8443"
	fh := tempFile(t, nil)
	if err := c.Download(ctx(t), f.object("ok"), fh, nil); err != nil {
		t.Fatal(err)
	}
	f.handlers.Wait()
	if f.signedDL[0] {
		t.Fatal("download from another host carried agent headers")
	}
}

func TestDownloadHTTPError(t *testing.T) {
	f := newFakeServer(t)
	c := newClient(t, f)
	fh := tempFile(t, nil)
	err := c.Download(ctx(t), f.object("forbidden"), fh, nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden || !strings.Contains(he.Message, "expired") {
		t.Fatalf("error = %#v, want HTTPError 403", err)
	}
}

func TestDownloadErrorHidesPresignedQuery(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close() // connection refused from now on
	c := &Client{Server: addr, Key: newKey(t)}
	fh := tempFile(t, nil)
	err := c.Download(ctx(t), proto.Object{URL: addr + "/b.tar?X-Amz-Signature=s3cr3t"}, fh, nil)
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Fatalf("error = %v; want an error without the URL's query", err)
	}
}

func TestDownloadCanceled(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Write([]byte("partial"))
		w.(http.Flusher).Flush()
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c := &Client{Server: srv.URL, Key: newKey(t)}
	fh := tempFile(t, nil)
	cctx, cancel := context.WithCancel(context.Background())
	err := c.Download(cctx, proto.Object{URL: srv.URL + "/b", Size: 100}, fh, func(done, total int64) {
		if done > 0 {
			cancel()
		}
	})
	if err == nil {
		t.Fatal("canceled download succeeded")
	}
	if got := string(content(t, fh)); got != "partial" {
		t.Fatalf("file holds %q, want the bytes received", got)
	}
}

func TestBackoff(t *testing.T) {
	for attempt, ceiling := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		var maxSeen time.Duration
		for range 200 {
			d := Backoff(attempt)
			if d < 0 || d >= ceiling {
				t.Fatalf("Backoff(%d) = %s, want in [0, %s)", attempt, d, ceiling)
			}
			maxSeen = max(maxSeen, d)
		}
		if maxSeen < ceiling/2 {
			t.Errorf("Backoff(%d): max of 200 draws %s, not jittered over [0, %s)", attempt, maxSeen, ceiling)
		}
	}
	if d := Backoff(1 << 20); d < 0 || d >= time.Minute {
		t.Fatalf("Backoff(huge) = %s", d)
	}
	if d := BackoffWith(10*time.Millisecond, 50*time.Millisecond, 3); d < 0 || d >= 50*time.Millisecond {
		t.Fatalf("BackoffWith = %s", d)
	}
	if d := BackoffWith(0, time.Second, 3); d != 0 {
		t.Fatalf("BackoffWith(0, ...) = %s", d)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                string
		start, end, total int64
		ok                bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 5-9/*", 5, 9, -1, true},
		{"bytes */10", -1, -1, 10, true},
		{"bytes 5-10/10", 0, 0, 0, false},
		{"bytes 9-5/10", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		s, e, n, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || e != tc.end || n != tc.total)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", tc.in, s, e, n, ok)
		}
	}
}
