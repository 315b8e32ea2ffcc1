package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// FetchRange fetches bytes [off, off+n) of obj into dst at the same
// offsets, with one "Range: bytes=off-(off+n-1)" request. The agent uses it
// to read a colcon v2 bundle's index and then only the overlays it does not
// have; the caller verifies what it fetched (the overlays carry their own
// SHA-256). The server must answer 206 with exactly that range; anything
// else is an error (an *HTTPError for a non-2xx answer: 412 when the object
// is no longer obj.ETag's) and the caller falls back to Download. As with Download, the agent headers are sent only to
// the server's own host, and the URL's query never appears in errors.
func (c *Client) FetchRange(ctx context.Context, obj proto.Object, dst *os.File, off, n int64) error {
	if off < 0 || n <= 0 || (obj.Size > 0 && off+n > obj.Size) {
		return fmt.Errorf("fetch range: bytes %d+%d outside the %d-byte object", off, n, obj.Size)
	}
	// Bounded: RequestTimeout, plus a second per 64 KiB at worst.
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout+time.Duration(n/(64<<10))*time.Second)
	defer cancel()
	resp, err := c.getObject(ctx, obj, "bytes="+strconv.FormatInt(off, 10)+"-"+strconv.FormatInt(off+n-1, 10))
	if err != nil {
		return fmt.Errorf("fetch range: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readHTTPError(resp)
	}
	start, end, _, ok := parseContentRange(resp.Header.Get("Content-Range"))
	if resp.StatusCode != http.StatusPartialContent || !ok || start != off || end != off+n-1 {
		return fmt.Errorf("fetch range: asked for bytes %d-%d, got HTTP %d Content-Range %q",
			off, off+n-1, resp.StatusCode, resp.Header.Get("Content-Range"))
	}
	w := io.NewOffsetWriter(dst, off)
	got, err := io.Copy(w, io.LimitReader(resp.Body, n))
	if err != nil {
		return fmt.Errorf("fetch range: after %d bytes: %w", got, redact(err))
	}
	if got != n {
		return fmt.Errorf("fetch range: body ended after %d of %d bytes", got, n)
	}
	return nil
}
