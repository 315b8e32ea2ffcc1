package e2e

import (
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

// TestH2CKeepalivePing speaks raw HTTP/2 with prior knowledge (h2c) to a
// real fleetsyncd, as a client holding a poll does, and then stays silent:
// the server announces at most 250 concurrent streams per connection, and
// after a minute without a frame from the client it sends a PING, the
// traffic that keeps NATs and middleboxes from dropping a connection whose
// poll is held for minutes (docs/agent-protocol.md, "Idle wait").
func TestH2CKeepalivePing(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	u, err := url.Parse(s.URL)
	must(t, err)
	conn, err := net.Dial("tcp", u.Host)
	must(t, err)
	defer conn.Close()
	// The client preface, an empty SETTINGS frame.
	_, err = conn.Write(append([]byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 0, 0, 0, 4, 0, 0, 0, 0, 0))
	must(t, err)
	const (
		frameSettings = 4
		framePing     = 6
		flagAck       = 1
		maxStreams    = 3 // SETTINGS_MAX_CONCURRENT_STREAMS
	)
	start := time.Now()
	conn.SetReadDeadline(start.Add(100 * time.Second))
	streams := uint32(0)
	for {
		var h [9]byte
		if _, err := io.ReadFull(conn, h[:]); err != nil {
			t.Fatalf("no PING after %v: %v", time.Since(start).Round(time.Second), err)
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		typ, flags := h[3], h[4]
		payload := make([]byte, n)
		_, err := io.ReadFull(conn, payload)
		must(t, err)
		switch {
		case typ == frameSettings && flags&flagAck == 0:
			for i := 0; i+6 <= len(payload); i += 6 {
				if binary.BigEndian.Uint16(payload[i:]) == maxStreams {
					streams = binary.BigEndian.Uint32(payload[i+2:])
				}
			}
			// Acknowledge the server's settings, then say nothing more.
			_, err = conn.Write([]byte{0, 0, 0, frameSettings, flagAck, 0, 0, 0, 0})
			must(t, err)
			start = time.Now()
		case typ == framePing && flags&flagAck == 0:
			quiet := time.Since(start)
			t.Logf("PING after %v of silence; SETTINGS_MAX_CONCURRENT_STREAMS %d", quiet.Round(time.Second), streams)
			if streams != 250 {
				t.Errorf("SETTINGS_MAX_CONCURRENT_STREAMS = %d, want 250 (sim.DefaultRobotsPerConn relies on it)", streams)
			}
			if quiet < 50*time.Second {
				t.Errorf("PING after %v of silence, want about a minute (not a ping storm)", quiet)
			}
			return
		}
	}
}
