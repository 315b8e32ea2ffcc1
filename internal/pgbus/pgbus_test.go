package pgbus

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/pgtest"
)

// recorder is a Local that records what it is told, in the wire's words.
type recorder struct {
	got      chan string
	resynced chan struct{}
}

func (r recorder) WakeRobot(arn string)   { r.got <- "r " + arn }
func (r recorder) WakeEngine()            { r.got <- "e" }
func (r recorder) WakeAll()               { r.resynced <- struct{}{} }
func (r recorder) ForgetRobot(arn string) { r.got <- "f " + arn }

// started runs a bus until the test ends and returns what it delivers and
// a channel ticked at each resync.
func started(t *testing.T, url, node string) (*Bus, chan string, chan struct{}) {
	t.Helper()
	b, err := New(url, node, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1000)
	resynced := make(chan struct{}, 10)
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		b.Run(ctx, recorder{got, resynced}, ready)
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("bus not listening after 30s")
	}
	return b, got, resynced
}

func receive(t *testing.T, ch chan string, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	timeout := time.After(30 * time.Second)
	for i := 0; i < n; i++ {
		select {
		case m := <-ch:
			out[m]++
		case <-timeout:
			t.Fatalf("received %d of %d messages: %v", i, n, out)
		}
	}
	return out
}

func TestBusAcrossReplicas(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, fromB, _ := started(t, url, "node-a")
	b, fromA, _ := started(t, url, "node-b")

	a.WakeRobot("arn:robot/1")
	got := receive(t, fromA, 1)
	if got["r arn:robot/1"] != 1 {
		t.Fatalf("b received %v", got)
	}
	// A deletion reaches the other replica as itself, not as a wake-up.
	a.ForgetRobot("arn:robot/2")
	if got := receive(t, fromA, 1); got["f arn:robot/2"] != 1 {
		t.Fatalf("b received %v", got)
	}
	// Many messages, more than one NOTIFY payload holds: all arrive, once each.
	long := strings.Repeat("x", 200)
	for i := range 300 {
		b.WakeRobot(fmt.Sprintf("%s/%d", long, i))
	}
	got = receive(t, fromB, 300)
	for i := range 300 {
		if n := got[fmt.Sprintf("r %s/%d", long, i)]; n != 1 {
			t.Fatalf("message %d received %d times", i, n)
		}
	}
	// A replica never hears itself: a's own messages did not come back to a.
	a.WakeEngine()
	if m := receive(t, fromA, 1); m["e"] != 1 {
		t.Fatalf("b received %v", m)
	}
	select {
	case m := <-fromB:
		t.Fatalf("a received %q, which b did not send", m)
	default:
	}
}

func TestBusResyncsAfterLosingItsConnection(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, _, _ := started(t, url, "node-a")
	_, fromA, resynced := started(t, url, "node-b")
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Cut every listening connection, as a database restart or network failure would.
	if _, err := db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE 'LISTEN%'`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resynced:
	case <-time.After(30 * time.Second):
		t.Fatal("no resync after the listening connection was cut")
	}
	a.WakeRobot("after-reconnect")
	if m := receive(t, fromA, 1); m["r after-reconnect"] != 1 {
		t.Fatalf("after reconnecting b received %v", m)
	}
}
