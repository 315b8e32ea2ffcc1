package client

import (
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// IntegrityError is returned by Download when the content is not the
// object's: its size, SHA-256 or (for a single-part object given without
// SHA-256) MD5 differs from what proto.Object says, or the server answered
// 412 to the If-Match of its ETag (the object was overwritten). Download
// has truncated the file to zero, so a retry starts over.
type IntegrityError struct {
	// What is "size", "sha256", "md5" or "etag".
	What string
	// Want is the expected value, Got the one found (sizes in decimal,
	// digests in lower-case hex).
	Want, Got string
}

// Error implements error.
func (e *IntegrityError) Error() string {
	return fmt.Sprintf("download integrity: %s is %s, want %s", e.What, e.Got, e.Want)
}

// Download fetches obj.URL into dst, resuming after the bytes dst already
// holds (a "Range: bytes=N-" request, N being dst's size; a file already
// longer than obj.Size starts over). dst must be open for reading and
// writing, without O_APPEND.
//
// A 206 answer is appended; a 200 answer (a server ignoring the range)
// replaces the content from zero. The request carries If-Match: obj.ETag,
// which S3 and fleetsyncd answer with 412 once the object was overwritten.
// When obj.Size is set (0 means unknown) the final size must equal it, and
// when obj.SHA256 is set the SHA-256 of the whole file must equal it; when
// it is not and obj.ETag is a single-part ETag (the hex MD5 of the content)
// the MD5 must match instead. A multipart ETag ("…-N") says nothing a robot
// can check, so only the SHA-256 verifies such an object. Otherwise
// Download returns an *IntegrityError and truncates dst. Any other failure (transport error, early end of the
// body, *HTTPError) leaves what was written in place for the next attempt.
//
// The agent headers are sent when the URL's host is the server's (which
// serves a URL only to the robot it was issued to), and never to another
// host (an S3 presigned URL is a capability of its own). The URL never appears in
// returned errors with its query. Download gives up when no response
// headers, or no body bytes, arrive for RequestTimeout. progress, if not nil,
// is called with the bytes held so far and the total (-1 when unknown) as
// the download advances. Download does not sync dst.
func (c *Client) Download(ctx context.Context, obj proto.Object, dst *os.File, progress func(done, total int64)) error {
	st, err := dst.Stat()
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	offset := st.Size()
	if obj.Size > 0 && offset > obj.Size {
		if err := dst.Truncate(0); err != nil {
			return fmt.Errorf("download: %w", err)
		}
		offset = 0
	}
	if obj.Size > 0 && offset == obj.Size {
		return verifyFile(dst, obj, offset, progress)
	}

	// A watchdog cancels the request when nothing arrives for RequestTimeout.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	watchdog := time.AfterFunc(RequestTimeout, func() { stalled.Store(true); cancel() })
	defer watchdog.Stop()
	fail := func(err error) error {
		if stalled.Load() {
			return fmt.Errorf("download: nothing received for %s: %w", RequestTimeout, err)
		}
		return redact(err)
	}

	rng := ""
	if offset > 0 {
		rng = "bytes=" + strconv.FormatInt(offset, 10) + "-"
	}
	resp, err := c.getObject(ctx, obj, rng)
	if err != nil {
		return fail(fmt.Errorf("download: %w", err))
	}
	defer resp.Body.Close()
	watchdog.Reset(RequestTimeout)

	h := newDigest(obj)
	announced := int64(-1) // the object's size according to the answer
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, _, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != offset {
			return fmt.Errorf("download: asked for bytes from %d, got Content-Range %q", offset, resp.Header.Get("Content-Range"))
		}
		announced = size
		if h.any() {
			if _, err := io.Copy(h, io.NewSectionReader(dst, 0, offset)); err != nil {
				return fmt.Errorf("download: read back the first %d bytes: %w", offset, err)
			}
		}
	case http.StatusOK:
		if offset > 0 {
			if err := dst.Truncate(0); err != nil {
				return fmt.Errorf("download: %w", err)
			}
			offset = 0
		}
		announced = resp.ContentLength
	case http.StatusPreconditionFailed:
		readHTTPError(resp)
		return integrityErr(dst, &IntegrityError{What: "etag", Want: obj.ETag, Got: resp.Header.Get("ETag")})
	case http.StatusRequestedRangeNotSatisfiable:
		// dst may already hold the whole object (size unknown to the caller).
		_, _, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if offset > 0 && ok && size == offset {
			return verifyFile(dst, obj, offset, progress)
		}
		if offset > 0 {
			if err := dst.Truncate(0); err != nil {
				return fmt.Errorf("download: %w", err)
			}
		}
		return readHTTPError(resp)
	default:
		return readHTTPError(resp)
	}
	if obj.Size > 0 && announced >= 0 && announced != obj.Size {
		return integrity(dst, "size", obj.Size, announced)
	}
	total := obj.Size
	if total <= 0 {
		total = announced
	}
	if progress != nil {
		progress(offset, total)
	}

	body := io.Reader(resp.Body)
	if obj.Size > 0 {
		body = io.LimitReader(resp.Body, obj.Size-offset+1) // one more byte reveals an oversized body
	}
	buf := make([]byte, 64<<10)
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			watchdog.Reset(RequestTimeout)
			if obj.Size > 0 && offset+int64(n) > obj.Size {
				return integrity(dst, "size", obj.Size, offset+int64(n))
			}
			if _, err := dst.WriteAt(buf[:n], offset); err != nil {
				return fmt.Errorf("download: write: %w", err)
			}
			h.Write(buf[:n])
			offset += int64(n)
			if progress != nil {
				progress(offset, total)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return fail(fmt.Errorf("download: read body after %d bytes: %w", offset, rerr))
		}
	}
	if total >= 0 && offset < total {
		return fmt.Errorf("download: body ended after %d of %d bytes", offset, total)
	}
	return check(dst, obj, h, offset)
}

// verifyFile checks a file that already holds the whole object.
func verifyFile(dst *os.File, obj proto.Object, size int64, progress func(done, total int64)) error {
	h := newDigest(obj)
	if h.any() {
		if _, err := io.Copy(h, io.NewSectionReader(dst, 0, size)); err != nil {
			return fmt.Errorf("download: read back: %w", err)
		}
	}
	if progress != nil {
		progress(size, size)
	}
	return check(dst, obj, h, size)
}

// digest hashes what the object's description lets Download verify: the
// SHA-256 when given, else the MD5 of a single-part ETag, else nothing.
type digest struct {
	sha, md5 hash.Hash
	wantMD5  string
}

func newDigest(obj proto.Object) *digest {
	d := &digest{}
	if obj.SHA256 != "" {
		d.sha = sha256.New()
	} else if m := strings.Trim(obj.ETag, `"`); len(m) == 32 && isHex(m) {
		d.md5, d.wantMD5 = md5.New(), strings.ToLower(m)
	}
	return d
}

// any reports whether there is a digest to check.
func (d *digest) any() bool { return d.sha != nil || d.md5 != nil }

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// Write implements io.Writer.
func (d *digest) Write(p []byte) (int, error) {
	if d.sha != nil {
		d.sha.Write(p)
	}
	if d.md5 != nil {
		d.md5.Write(p)
	}
	return len(p), nil
}

// check compares the final size and digest with obj's.
func check(dst *os.File, obj proto.Object, h *digest, size int64) error {
	if obj.Size > 0 && size != obj.Size {
		return integrity(dst, "size", obj.Size, size)
	}
	if h.sha != nil {
		if got := hex.EncodeToString(h.sha.Sum(nil)); !strings.EqualFold(got, obj.SHA256) {
			return integrityErr(dst, &IntegrityError{What: "sha256", Want: strings.ToLower(obj.SHA256), Got: got})
		}
	}
	if h.md5 != nil {
		if got := hex.EncodeToString(h.md5.Sum(nil)); got != h.wantMD5 {
			return integrityErr(dst, &IntegrityError{What: "md5", Want: h.wantMD5, Got: got})
		}
	}
	return nil
}

func integrity(dst *os.File, what string, want, got int64) error {
	return integrityErr(dst, &IntegrityError{What: what, Want: strconv.FormatInt(want, 10), Got: strconv.FormatInt(got, 10)})
}

// integrityErr truncates dst, whose content is known bad, and returns e.
func integrityErr(dst *os.File, e *IntegrityError) error {
	if err := dst.Truncate(0); err != nil {
		return errors.Join(e, fmt.Errorf("download: truncate bad content: %w", err))
	}
	return e
}

// getObject sends the GET of an object URL: with the Range header rng when
// set, If-Match so that only the recorded version of the object is served,
// and the agent headers only when the URL is on the server's own host (a
// presigned store URL needs none and must not see them). Errors never show
// the URL's query.
func (c *Client) getObject(ctx context.Context, obj proto.Object, rng string) (*http.Response, error) {
	return c.getObject1(ctx, obj, rng, false)
}

func (c *Client) getObject1(ctx context.Context, obj proto.Object, rng string, sign bool) (*http.Response, error) {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, obj.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("bad object URL: %w", redact(err))
	}
	if rng != "" {
		r.Header.Set("Range", rng)
	}
	if obj.ETag != "" {
		r.Header.Set("If-Match", obj.ETag)
	}
	var s *session
	if c.sameHost(r.URL) && len(c.Key) == ed25519.PrivateKeySize {
		s = c.authorize(ctx, r, nil, sign)
	}
	resp, err := c.httpClient().Do(r)
	if err != nil {
		return nil, redact(err)
	}
	if s != nil && resp.StatusCode == http.StatusUnauthorized {
		// A refused session credential: once more, signed with the key.
		readHTTPError(resp)
		resp.Body.Close()
		c.dropSession(s)
		return c.getObject1(ctx, obj, rng, true)
	}
	return resp, nil
}

// sameHost reports whether u points at the server c talks to.
func (c *Client) sameHost(u *url.URL) bool {
	s, err := url.Parse(c.Server)
	return err == nil && s.Host != "" && strings.EqualFold(s.Host, u.Host)
}

// parseContentRange parses "bytes start-end/size"; size is -1 for "*". For
// "bytes */size" (a 416 answer) start and end are -1.
func parseContentRange(v string) (start, end, size int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, sz, found := strings.Cut(strings.TrimSpace(rest), "/")
	if !found {
		return 0, 0, 0, false
	}
	size = -1
	if sz != "*" {
		n, err := strconv.ParseInt(sz, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, 0, false
		}
		size = n
	}
	if rng == "*" {
		return -1, -1, size, true
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || (size >= 0 && end >= size) {
		return 0, 0, 0, false
	}
	return start, end, size, true
}
