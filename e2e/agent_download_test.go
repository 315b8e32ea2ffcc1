package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) is the reference client fleetsync serves.

import (
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// bundleProxy stands between agents and fleetsyncd: it passes everything
// through, and slows down and counts the bundle bytes it serves, so a test
// can stop an agent in the middle of a download and measure what the agent
// fetches again.
type bundleProxy struct {
	URL    string
	served atomic.Int64
}

func newBundleProxy(t *testing.T, target string, bytesPerSecond int) *bundleProxy {
	t.Helper()
	u, err := url.Parse(target)
	must(t, err)
	p := &bundleProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.FlushInterval = -1
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.HasPrefix(resp.Request.URL.Path, proto.PathBundle) {
			resp.Body = &throttled{r: resp.Body, served: &p.served, chunk: 32 << 10,
				pause: time.Duration(float64(32<<10) / float64(bytesPerSecond) * float64(time.Second))}
		}
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// throttled reads at most chunk bytes per pause and counts them.
type throttled struct {
	r      io.ReadCloser
	served *atomic.Int64
	chunk  int
	pause  time.Duration
}

func (t *throttled) Read(b []byte) (int, error) {
	time.Sleep(t.pause)
	n, err := t.r.Read(b[:min(len(b), t.chunk)])
	t.served.Add(int64(n))
	return n, err
}

func (t *throttled) Close() error { return t.r.Close() }

// TestAgentResumesDownloadAfterKill kills an agent with SIGKILL in the middle
// of a bundle download; the restarted agent resumes from the bytes already on
// its disk and finishes the deployment.
func TestAgentResumesDownloadAfterKill(t *testing.T) {
	s := startEngine(t)
	proxy := newBundleProxy(t, s.URL, 2<<20)
	f := newAgentFleet(t, s, "General")
	a := f.addAgent("big", proxy.URL, nil)

	blob := make([]byte, 6<<20)
	rand.Read(blob) // incompressible: the .tar.gz is as large as the blob
	bundle := tarGz(t, map[string]bundleFile{"app/run.sh": {appScript("big"), 0o755}, "app/blob.bin": {string(blob), 0o644}})
	size := int64(len(bundle))
	job := f.deploy(f.version(bundle), deployOpts{})

	eventually(t, 60*time.Second, "40% of the bundle served", func() bool { return proxy.served.Load() > size*4/10 })
	a.Kill()
	first := proxy.served.Load()
	parts, _ := filepath.Glob(filepath.Join(a.StateDir, "downloads", "*.part"))
	if len(parts) != 1 {
		t.Fatalf("partial downloads on disk: %v", parts)
	}
	st, err := os.Stat(parts[0])
	must(t, err)
	if st.Size() == 0 || st.Size() >= size {
		t.Fatalf("partial file holds %d of %d bytes", st.Size(), size)
	}

	proxy.served.Store(0)
	a.Start()
	d := f.wait(job)
	if aws.StringValue(d.Status) != "Succeeded" {
		t.Fatalf("job after the agent's restart: %v", d)
	}
	again := proxy.served.Load()
	// Bytes fetched twice: what the restarted agent fetched beyond the part
	// missing from its disk. Starting over would be the whole bundle.
	redownloaded := again - (size - st.Size())
	t.Logf("bundle %d bytes: %d served before SIGKILL, %d on disk, %d served after restart, %d fetched twice (%.1f%%)",
		size, first, st.Size(), again, redownloaded, 100*float64(redownloaded)/float64(size))
	if again < size-st.Size() {
		t.Fatalf("served after restart (%d) and on disk (%d) do not make up the bundle (%d)", again, st.Size(), size)
	}
	if redownloaded >= size/2 {
		t.Fatalf("the restarted agent fetched %d bytes it already had, want less than half of %d", redownloaded, size)
	}
	if f.read("big", "version") != "big" || !processAlive(f.pid("big")) {
		t.Fatal("the application does not run after the resumed deployment")
	}
}
