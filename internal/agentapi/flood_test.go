package agentapi_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/agentapi"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/proto"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
)

var floodN = flag.Int("flood", 3000, "signed requests of the replay-flood tests")

// TestReplayWindowRule: the window accepts each request once, out of order
// within its size, and refuses a request older than what it forgot.
func TestReplayWindowRule(t *testing.T) {
	var w agentapi.ReplayWindow
	if !w.Check(1000, "a") || w.Check(1000, "a") {
		t.Fatal("a request is accepted once")
	}
	if !w.Check(1000, "b") || !w.Check(999, "c") {
		t.Fatal("another nonce of the same date, and an earlier date within the window, are new")
	}
	for i := range agentapi.ReplayWindowSize {
		if !w.Check(int64(2000+i), fmt.Sprint("n", i)) {
			t.Fatalf("request %d refused", i)
		}
	}
	// a, b and c were forgotten: the floor (their latest date, 1000)
	// refuses them and anything as old.
	if w.FloorMs != 1000 || len(w.Entries) != agentapi.ReplayWindowSize {
		t.Fatalf("floor %d with %d entries, want 1000 and a full window", w.FloorMs, len(w.Entries))
	}
	for _, c := range []struct {
		ms    int64
		nonce string
	}{{1000, "a"}, {999, "c"}, {1000, "new"}, {2000, "n0"}} {
		if w.Check(c.ms, c.nonce) {
			t.Errorf("request %d/%s accepted after it was forgotten or while remembered", c.ms, c.nonce)
		}
	}
	b, err := w.MarshalBinary()
	must(t, err)
	var back agentapi.ReplayWindow
	must(t, back.UnmarshalBinary(b))
	if back.FloorMs != w.FloorMs || !slices.Equal(back.Entries, w.Entries) || len(b) != 8+16*agentapi.ReplayWindowSize {
		t.Fatalf("round trip of %d bytes changed the window", len(b))
	}
	for _, bad := range [][]byte{nil, make([]byte, 7), make([]byte, 8+15), make([]byte, 8+16*(agentapi.ReplayWindowSize+1))} {
		if back.UnmarshalBinary(bad) == nil {
			t.Errorf("a %d-byte window decoded", len(bad))
		}
	}
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// idleRobot creates a robot in no fleet for priv (its polls find nothing).
func (e *endpoint) idleRobot(t testing.TB, name string, priv ed25519.PrivateKey) {
	_, err := e.reg.CreateRobot(t.Context(), acct, name, fleet.X86_64, agentID(priv), nil)
	must(t, err)
}

// TestSignedFloodMemoryBounded: one registered key sending fresh signed
// requests, none a replay, costs its one window, however many it sends
// (issue 14: every nonce was kept ten minutes, ~370 bytes each), and
// replays are still refused, from before the window and within it.
// Run with -flood N -v for the heap figure.
func TestSignedFloodMemoryBounded(t *testing.T) {
	e := newEndpoint(t)
	priv := newAgent(t)
	e.idleRobot(t, "r", priv)
	body, _ := json.Marshal(proto.PollRequest{})
	first := e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body)
	if st, out := send(t, first, body); st != http.StatusOK {
		t.Fatalf("poll: %d %s", st, out)
	}
	h0 := heapAlloc()
	var last *http.Request
	for range *floodN {
		last = e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body)
		if st, out := send(t, last, body); st != http.StatusOK {
			t.Fatalf("poll: %d %s", st, out)
		}
	}
	h1 := heapAlloc()
	t.Logf("%d signed requests from one key: heap %d → %d bytes (%+.1f B/request)", *floodN, h0, h1, float64(int64(h1)-int64(h0))/float64(*floodN))
	agents, entries := agentapi.ReplayMemory(e.api)
	if agents != 1 || entries > agentapi.ReplayWindowSize {
		t.Fatalf("after %d requests from one key the replay protection holds %d agents and %d entries, want 1 and at most %d",
			*floodN+1, agents, entries, agentapi.ReplayWindowSize)
	}
	for name, r := range map[string]*http.Request{"the first request (forgotten)": first, "the last request (in the window)": last} {
		if st, _ := send(t, r, body); st != http.StatusUnauthorized {
			t.Errorf("replay of %s: %d, want 401", name, st)
		}
	}
}

// TestStoreReplayFlood: on the database (the replicas' replay
// protection), a replay-free flood from one key is one row, rewritten in
// place (it was a row per request, kept ten minutes); a request replayed
// to another replica is refused. On SQLite and, when configured,
// PostgreSQL; -v logs the table's size and the time per request.
func TestStoreReplayFlood(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	t.Run("SQLite", func(t *testing.T) {
		st, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "fleetsync.db"), log)
		must(t, err)
		t.Cleanup(func() { st.Close() })
		storeFlood(t, st, nil)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		pgtest.Require(t)
		dsn := pgtest.NewDatabase(t)
		st, err := sqlstore.OpenPostgres(t.Context(), dsn, sqlstore.PostgresOptions{MaxConns: 8}, log)
		must(t, err)
		t.Cleanup(func() { st.Close() })
		db, err := sql.Open("pgx", dsn)
		must(t, err)
		t.Cleanup(func() { db.Close() })
		storeFlood(t, st, db)
	})
}

func storeFlood(t *testing.T, st *sqlstore.Store, pg *sql.DB) {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, b := &agentapi.StoreNonces{Store: st, Log: log}, &agentapi.StoreNonces{Store: st, Log: log}
	now := time.Now().UnixMilli()
	start := time.Now()
	for i := range *floodN {
		n := a
		if i%2 == 1 {
			n = b // the other replica
		}
		ok, err := n.Fresh(ctx, "fsa1-flood", fmt.Sprintf("%032x", i), now+int64(i), now)
		if err != nil || !ok {
			t.Fatalf("request %d: %v, %v; want new", i, ok, err)
		}
	}
	per := time.Since(start) / time.Duration(*floodN)
	for _, i := range []int{0, *floodN - 1} {
		if ok, err := b.Fresh(ctx, "fsa1-flood", fmt.Sprintf("%032x", i), now+int64(i), now); err != nil || ok {
			t.Errorf("request %d replayed to the other replica: %v, %v; want refused", i, ok, err)
		}
	}
	if pg != nil {
		var size int64
		must(t, pg.QueryRow(`SELECT pg_total_relation_size('agent_replay')`).Scan(&size))
		t.Logf("PostgreSQL: %d signed requests from one key: agent_replay %d bytes, %v per request", *floodN, size, per)
	} else {
		t.Logf("SQLite: %d signed requests from one key: %v per request", *floodN, per)
	}
	// The whole flood is one row: sweeping everything deletes one.
	n, err := st.DeleteReplayWindowsBefore(ctx, now+int64(*floodN)+1)
	must(t, err)
	if n != 1 {
		t.Errorf("the flood left %d replay rows, want 1", n)
	}
}

// TestAgentRateLimit: a robot over its request rate is answered 429
// Throttling with Retry-After, without costing it a token; another robot
// is not affected, and the buckets are bounded by the robots.
func TestAgentRateLimit(t *testing.T) {
	e := newEndpoint(t, func(c *agentapi.Config) { c.RatePerSecond, c.Burst = 1, 5 })
	priv, other := newAgent(t), newAgent(t)
	e.idleRobot(t, "r", priv)
	e.idleRobot(t, "other", other)
	body, _ := json.Marshal(proto.PollRequest{})
	codes := map[int]int{}
	for range 20 {
		resp, err := http.DefaultClient.Do(e.signed(priv, http.MethodPost, e.srv.URL+proto.PathPoll, body))
		must(t, err)
		var perr proto.Error
		json.NewDecoder(resp.Body).Decode(&perr)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if resp.StatusCode == http.StatusTooManyRequests && (perr.Code != "Throttling" || resp.Header.Get("Retry-After") == "") {
			t.Errorf("429 with code %q and Retry-After %q, want Throttling and a delay", perr.Code, resp.Header.Get("Retry-After"))
		}
	}
	// 5 of burst, maybe one more refilled meanwhile.
	if codes[http.StatusOK] < 5 || codes[http.StatusOK] > 7 || codes[http.StatusTooManyRequests] != 20-codes[http.StatusOK] {
		t.Fatalf("20 quick polls at 1/s burst 5: %v, want 5 (or a refill more) 200 and the rest 429", codes)
	}
	if st := e.call(other, proto.PathPoll, proto.PollRequest{}, nil); st != http.StatusOK {
		t.Fatalf("another robot's poll: %d, want 200", st)
	}
	if n := agentapi.RateBuckets(e.api); n != 2 {
		t.Fatalf("%d rate buckets for 2 robots", n)
	}
	// The real agent client reads the refusal's Retry-After, and the
	// runner waits at least that long (client.Wait) before its next try.
	c := &client.Client{Server: e.srv.URL, Key: priv, Account: acct, NoSession: true}
	_, err := c.Poll(t.Context(), proto.PollRequest{})
	he, ok := errors.AsType[*client.HTTPError](err)
	if !ok || he.Status != http.StatusTooManyRequests || he.RetryAfter < time.Second || client.Wait(err, time.Millisecond) != he.RetryAfter {
		t.Fatalf("the agent client over the rate: %v, want a 429 with its Retry-After honoured", err)
	}
	// Strangers get no bucket.
	if st := e.call(newAgent(t), proto.PathPoll, proto.PollRequest{}, nil); st != http.StatusUnauthorized || agentapi.RateBuckets(e.api) != 2 {
		t.Fatalf("a stranger: %d, buckets %d; want 401 and still 2", st, agentapi.RateBuckets(e.api))
	}
}
