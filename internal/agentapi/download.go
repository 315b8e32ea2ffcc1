package agentapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/forwarded"
	"github.com/fleetsync/fleetsync/internal/proto"
)

// downloadURL returns a short-lived URL of obj for a robot: the store's own
// presigned URL when it has them, else one of this endpoint.
func (a *API) downloadURL(ctx context.Context, o origin, robotARN string, obj blob.Object) (string, error) {
	if a.cfg.Presign != nil {
		return a.cfg.Presign.PresignGet(ctx, obj.Bucket, obj.Key, robotARN, a.cfg.URLTTL)
	}
	base := "http://" + o.host
	if o.secure {
		base = "https://" + o.host
	}
	return base + a.signURL(obj.Bucket, obj.Key, obj.ETag, robotARN), nil
}

// origin is what a download URL given in answer to a request starts from:
// the request's host, and whether it came over TLS (here or at a trusted
// TLS proxy). A poll keeps it, not its request, while it is held.
type origin struct {
	host   string
	secure bool
}

func originOf(r *http.Request) origin { return origin{host: r.Host, secure: forwarded.Secure(r)} }

// urlToken is what a signed bundle URL grants: one object with one ETag, to
// one robot, until an expiry.
type urlToken struct {
	Bucket  string `json:"b"`
	Key     string `json:"k"`
	ETag    string `json:"t"`
	Robot   string `json:"r"`
	Expires int64  `json:"e"`
}

func (a *API) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, a.cfg.URLKey)
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// signURL returns the path of a download URL for one object and robot.
func (a *API) signURL(bucket, key, etag, robotARN string) string {
	payload, _ := json.Marshal(urlToken{bucket, key, etag, robotARN, a.cfg.Now().Add(a.cfg.URLTTL).UnixMilli()})
	enc := base64.RawURLEncoding
	return proto.PathBundle + enc.EncodeToString(payload) + "." + enc.EncodeToString(a.mac(payload))
}

// sourceRefusal answers a download of an object that is gone (404) or was
// overwritten since its URL was issued (412).
func sourceRefusal(w http.ResponseWriter, se *deploy.SourceError) {
	status := http.StatusNotFound
	if se.Code == deploy.CodeEtagMismatch {
		status = http.StatusPreconditionFailed
	}
	writeErr(w, status, se.Code, se.Reason)
}

// bundle streams an object to the robot its URL was issued to. The request
// must carry that robot's agent signature, so a URL that leaks is of no use
// to anyone else. Range and If-Match are served by http.ServeContent; the
// store is read in a stream from the first byte asked for, so no bundle is
// ever held in memory.
func (a *API) bundle(w http.ResponseWriter, r *http.Request) {
	p, m, ok := strings.Cut(r.PathValue("token"), ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(m)
	var tok urlToken
	if !ok || err1 != nil || err2 != nil || !hmac.Equal(mac, a.mac(payload)) || json.Unmarshal(payload, &tok) != nil {
		writeErr(w, http.StatusForbidden, "Forbidden", "this download URL was not issued by this server")
		return
	}
	if a.cfg.Now().UnixMilli() > tok.Expires {
		writeErr(w, http.StatusForbidden, "Expired", "this download URL has expired; poll again for a fresh one")
		return
	}
	otherRobot := &refusal{http.StatusForbidden, "Forbidden", "this download URL was issued to another robot", 0}
	robot, ref := a.verifyAgent(r, nil, otherRobot)
	if ref == nil && robot.ARN != tok.Robot {
		ref = otherRobot
	}
	if ref != nil {
		ref.write(w)
		return
	}
	ctx := r.Context()
	bundles := a.cfg.Bundles.For(robot.Account)
	obj, err := deploy.CheckSource(ctx, bundles, tok.Bucket, tok.Key, tok.ETag, false)
	if se, ok := errors.AsType[*deploy.SourceError](err); ok {
		sourceRefusal(w, se)
		return
	}
	if err != nil {
		a.logFailure(ctx, "bundle store failed", "bucket", tok.Bucket, "key", tok.Key, "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "bundle store unavailable")
		return
	}
	start := rangeStart(r.Header.Get("Range"), obj.Size)
	rc, err := bundles.Open(ctx, obj.Bucket, obj.Key, start, obj.ETag)
	if err != nil {
		if se, ok := deploy.SourceErrorOf(obj.Bucket, obj.Key, err); ok {
			writeErr(w, http.StatusPreconditionFailed, se.Code, se.Reason)
			return
		}
		a.logFailure(ctx, "bundle store failed", "bucket", tok.Bucket, "key", tok.Key, "error", err)
		writeErr(w, http.StatusServiceUnavailable, "Unavailable", "bundle store unavailable")
		return
	}
	defer rc.Close()
	w.Header().Set("ETag", obj.ETag)
	w.Header().Set("Content-Type", "application/octet-stream")
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, "", time.Time{}, rs) // a local file: sendfile
		return
	}
	sr := &storeReader{ctx: ctx, store: bundles, obj: obj.Object, pos: start, rc: rc, rcPos: start}
	defer sr.close()
	http.ServeContent(w, r, "", time.Time{}, sr)
}

// rangeStart returns the first byte a single-range Range header asks for
// ("bytes=N-", "bytes=N-M", "bytes=-SUFFIX"), so the store is opened there;
// 0 for anything else (ServeContent still answers it right, reopening the
// store where needed).
func rangeStart(h string, size int64) int64 {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return 0
	}
	if first == "" { // the last SUFFIX bytes
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n <= 0 {
			return 0
		}
		return max(size-n, 0)
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n < 0 || n >= size {
		return 0
	}
	return n
}

// storeReader is an io.ReadSeeker over an object of a store that streams:
// a read continues the open stream when it is where the reader is, and
// otherwise opens a new one at that offset (one GET per range served).
type storeReader struct {
	ctx   context.Context
	store blob.Store
	obj   blob.Object
	pos   int64
	rc    io.ReadCloser
	rcPos int64
}

func (s *storeReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += s.pos
	case io.SeekEnd:
		offset += s.obj.Size
	default:
		return 0, errors.New("storeReader: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("storeReader: negative position")
	}
	s.pos = offset
	return offset, nil
}

func (s *storeReader) Read(p []byte) (int, error) {
	if s.pos >= s.obj.Size {
		return 0, io.EOF
	}
	if s.rc != nil && s.rcPos != s.pos {
		s.close()
	}
	if s.rc == nil {
		rc, err := s.store.Open(s.ctx, s.obj.Bucket, s.obj.Key, s.pos, s.obj.ETag)
		if err != nil {
			return 0, err
		}
		s.rc, s.rcPos = rc, s.pos
	}
	n, err := s.rc.Read(p)
	s.pos += int64(n)
	s.rcPos += int64(n)
	if err == io.EOF && s.pos < s.obj.Size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (s *storeReader) close() {
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
}
