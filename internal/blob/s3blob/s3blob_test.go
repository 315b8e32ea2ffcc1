package s3blob_test

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) uploads the test objects, as users' tools do.

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/s3"
	"github.com/aws/aws-sdk-go/service/s3/s3manager"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/blob/s3blob"
	"github.com/fleetsync/fleetsync/internal/s3test"
)

func TestParseURL(t *testing.T) {
	o, err := s3blob.ParseURL("s3://main?endpoint=http://127.0.0.1:9000&region=eu-west-1&path_style=true&buckets=a,%20b&presign=false&profile=p")
	if err != nil {
		t.Fatal(err)
	}
	want := s3blob.Options{Endpoint: "http://127.0.0.1:9000", Region: "eu-west-1", PathStyle: true, Profile: "p",
		Buckets: []string{"main", "a", "b"}, NoPresign: true}
	if strings.Join(o.Buckets, ",") != strings.Join(want.Buckets, ",") || o.Endpoint != want.Endpoint || o.Region != want.Region ||
		o.PathStyle != want.PathStyle || o.Profile != want.Profile || o.NoPresign != want.NoPresign {
		t.Errorf("ParseURL = %+v, want %+v", o, want)
	}
	for _, bad := range []string{"file:///x", "s3://b/some/path", "s3://?endpoint=ftp://x", "s3://?path_style=maybe", "s3://?bucket=x"} {
		if _, err := s3blob.ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) = nil error", bad)
		}
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// payload returns n pseudo-random bytes (incompressible, reproducible).
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestStoreAgainstVersitygw(t *testing.T) {
	srv := s3test.Start(t)
	ctx := t.Context()
	c := srv.Client()
	for _, b := range []string{"bundles", "other"} {
		if _, err := c.CreateBucket(&s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	up := s3manager.NewUploaderWithClient(c, func(u *s3manager.Uploader) { u.PartSize = 5 << 20 })
	single, multi := payload(1<<20+7, 1), payload(11<<20+3, 2)
	if _, err := up.Upload(&s3manager.UploadInput{Bucket: aws.String("bundles"), Key: aws.String("single.tar"), Body: bytes.NewReader(single)}); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Upload(&s3manager.UploadInput{Bucket: aws.String("bundles"), Key: aws.String("dir/multi.tar"), Body: bytes.NewReader(multi)}); err != nil {
		t.Fatal(err)
	}
	for _, e := range srv.Env() {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	o, err := s3blob.ParseURL(srv.BundlesURL("buckets=bundles,missing"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s3blob.New(ctx, o)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Check", func(t *testing.T) {
		if missing, err := st.Check(ctx); err != nil || strings.Join(missing, ",") != "missing" {
			t.Errorf("Check = %v, %v; want [missing], nil", missing, err)
		}
		o2 := o
		o2.Endpoint = "http://" + freeAddr(t) // nobody listens
		dead, err := s3blob.New(ctx, o2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dead.Check(ctx); err == nil {
			t.Error("Check of a store nobody serves = nil error")
		}
	})
	t.Run("Bucket", func(t *testing.T) {
		if err := st.Bucket(ctx, "bundles"); err != nil {
			t.Errorf("Bucket(bundles) = %v", err)
		}
		if err := st.Bucket(ctx, "missing"); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Bucket(missing) = %v, want ErrNotExist", err)
		}
		if err := st.Bucket(ctx, "other"); !errors.Is(err, blob.ErrNotAllowed) || !strings.Contains(err.Error(), `"other"`) {
			t.Errorf("Bucket(other) = %v, want ErrNotAllowed naming it", err)
		}
	})

	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	m := md5.Sum(single)
	singleETag := `"` + hex.EncodeToString(m[:]) + `"`
	// S3's multipart ETag: MD5 of the parts' MD5s, then "-<parts>".
	var parts []byte
	for off := 0; off < len(multi); off += 5 << 20 {
		p := md5.Sum(multi[off:min(off+5<<20, len(multi))])
		parts = append(parts, p[:]...)
	}
	mm := md5.Sum(parts)
	multiETag := `"` + hex.EncodeToString(mm[:]) + `-3"`

	for _, tc := range []struct {
		key, etag string
		content   []byte
	}{{"single.tar", singleETag, single}, {"dir/multi.tar", multiETag, multi}} {
		t.Run("Object_"+strings.ReplaceAll(tc.key, "/", "_"), func(t *testing.T) {
			obj, err := st.Stat(ctx, "bundles", tc.key)
			if err != nil {
				t.Fatal(err)
			}
			if obj.ETag != tc.etag || obj.Size != int64(len(tc.content)) {
				t.Errorf("Stat = %+v, want ETag %s size %d", obj, tc.etag, len(tc.content))
			}
			if got, err := st.SHA256(ctx, "bundles", tc.key, obj.ETag); err != nil || got != sum(tc.content) {
				t.Errorf("SHA256 = %s, %v; want %s", got, err, sum(tc.content))
			}
			if _, err := st.SHA256(ctx, "bundles", tc.key, `"00000000000000000000000000000000"`); !errors.Is(err, blob.ErrChanged) {
				t.Errorf("SHA256 with a stale ETag = %v, want ErrChanged", err)
			}
			rc, err := st.Open(ctx, "bundles", tc.key, 1000, obj.ETag)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, tc.content[1000:]) {
				t.Errorf("Open at 1000: %d bytes, %v; want the %d from offset 1000", len(got), err, len(tc.content)-1000)
			}
			if _, err := st.Open(ctx, "bundles", tc.key, 0, `"00000000000000000000000000000000"`); !errors.Is(err, blob.ErrChanged) {
				t.Errorf("Open with a stale ETag = %v, want ErrChanged", err)
			}

			// The presigned URL serves ranges and honours If-Match; a
			// tampered one is refused.
			u, err := st.PresignGet(ctx, "bundles", tc.key, "arn:aws:robomaker:us-east-1:123456789012:robot/r/1", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(u, "x-fleetsync-robot=") {
				t.Errorf("presigned URL %q does not name the robot", u)
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
			req.Header.Set("Range", "bytes=10-")
			req.Header.Set("If-Match", obj.ETag)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, tc.content[10:]) {
				t.Errorf("ranged GET of the presigned URL: %d, %d bytes; want 206 and %d bytes", resp.StatusCode, len(body), len(tc.content)-10)
			}
			req.Header.Set("If-Match", `"00000000000000000000000000000000"`)
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusPreconditionFailed {
				t.Errorf("presigned GET with a stale If-Match: %v %v, want 412", resp.Status, err)
			} else {
				resp.Body.Close()
			}
			tampered := strings.Replace(u, "single", "other", 1)
			tampered = strings.Replace(tampered, "dir/multi", "dir/other", 1)
			if resp, err := http.Get(tampered); err != nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("GET of a tampered presigned URL: %v %v, want 403", resp.Status, err)
			} else {
				resp.Body.Close()
			}
		})
	}

	t.Run("Missing", func(t *testing.T) {
		if _, err := st.Stat(ctx, "bundles", "nope.tar"); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Stat(missing) = %v, want ErrNotExist", err)
		}
		if _, err := st.Open(ctx, "bundles", "nope.tar", 0, ""); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Open(missing) = %v, want ErrNotExist", err)
		}
		if _, err := st.Stat(ctx, "other", "x"); !errors.Is(err, blob.ErrNotExist) {
			t.Errorf("Stat in a bucket not allowed = %v, want ErrNotExist", err)
		}
	})
}
