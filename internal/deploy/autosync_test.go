package deploy_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/pgtest"
	"github.com/fleetsync/fleetsync/internal/store"
	"github.com/fleetsync/fleetsync/internal/store/sqlstore"
)

const acct = "123456789012"

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func arn(typ fleet.ResourceType, name string, ms int64) string {
	return fleet.ARN{Region: "us-east-1", Account: acct, Type: typ, Name: name, CreatedMs: ms}.String()
}

// replicas opens the same database twice, as two fleetsyncd replicas do.
type opener func(t *testing.T) (store.Store, store.Store)

func sqliteReplicas(t *testing.T) (store.Store, store.Store) {
	path := filepath.Join(t.TempDir(), "fleetsync.db")
	log := slog.New(slog.DiscardHandler)
	a, err := sqlstore.OpenSQLite(t.Context(), path, log)
	must(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := sqlstore.OpenSQLite(t.Context(), path, log)
	must(t, err)
	t.Cleanup(func() { b.Close() })
	return a, b
}

func postgresReplicas(t *testing.T) (store.Store, store.Store) {
	dsn := pgtest.NewDatabase(t)
	log := slog.New(slog.DiscardHandler)
	a, err := sqlstore.OpenPostgres(t.Context(), dsn, sqlstore.PostgresOptions{MaxConns: 4, StatementTimeout: 30 * time.Second}, log)
	must(t, err)
	t.Cleanup(func() { a.Close() })
	b, err := sqlstore.OpenPostgres(t.Context(), dsn, sqlstore.PostgresOptions{MaxConns: 4, StatementTimeout: 30 * time.Second}, log)
	must(t, err)
	t.Cleanup(func() { b.Close() })
	return a, b
}

// world is a fleet tagged for continuous sync with one application version.
type world struct {
	t     *testing.T
	st    store.Store
	svc   *deploy.Service
	fleet string
	apps  []fleet.AppConfig
	ms    int64
}

func (w *world) tick() int64 { w.ms++; return w.ms }

func (w *world) addRobot(name string) string {
	w.t.Helper()
	ctx := w.t.Context()
	r := fleet.Robot{ARN: arn(fleet.TypeRobot, name, w.tick()), Account: acct, Name: name, Architecture: fleet.X86_64,
		AgentID: "agent-" + name, Status: fleet.RobotAvailable, CreatedMs: w.ms, Tags: fleet.Tags{}}
	must(w.t, w.st.CreateRobot(ctx, r, 100))
	must(w.t, w.st.RegisterRobot(ctx, acct, w.fleet, r.ARN, 100))
	return r.ARN
}

// finish prepares a job and runs its rows to success through the store, as
// the engine and agents would.
func (w *world) finish(jobARN string) {
	w.t.Helper()
	w.complete(w.prepare(jobARN))
}

// prepare resolves a Pending job's targets and writes its rows.
func (w *world) prepare(jobARN string) string {
	w.t.Helper()
	ctx := w.t.Context()
	must(w.t, w.st.StartPreparing(ctx, jobARN))
	j, err := w.st.GetJob(ctx, acct, jobARN)
	must(w.t, err)
	targets, err := deploy.SyncTargets(ctx, w.st, acct, w.fleet, j.Spec)
	must(w.t, err)
	var rows []fleet.RobotDeployment
	for i, r := range targets {
		rows = append(rows, fleet.RobotDeployment{Job: jobARN, Robot: r.ARN, Seq: i, Status: fleet.RobotPendingNewDeployment})
	}
	must(w.t, w.st.Prepare(ctx, jobARN, rows, store.JobOutcome{}, w.tick()))
	return jobARN
}

// complete runs a prepared job's rows to success.
func (w *world) complete(jobARN string) {
	w.t.Helper()
	ctx := w.t.Context()
	rows, err := w.st.JobRobots(ctx, jobARN)
	must(w.t, err)
	if len(rows) == 0 {
		return
	}
	var start []string
	for _, r := range rows {
		start = append(start, r.Robot)
	}
	must(w.t, w.st.Apply(ctx, jobARN, store.Step{Start: start}, w.tick()))
	for _, r := range start {
		_, err := w.st.RecordResult(ctx, jobARN, r, store.Result{Success: true, NowMs: w.tick()})
		must(w.t, err)
	}
	must(w.t, w.st.Apply(ctx, jobARN, store.Step{Finish: store.JobOutcome{Status: fleet.JobSucceeded}}, w.tick()))
}

func newWorld(t *testing.T, st store.Store) *world {
	ctx := t.Context()
	w := &world{t: t, st: st, ms: 1_700_000_000_000}
	w.svc = &deploy.Service{Store: st, Region: "us-east-1", MaxActiveJobs: 100}
	w.fleet = arn(fleet.TypeFleet, "auto", w.tick())
	must(t, st.CreateFleet(ctx, fleet.Fleet{ARN: w.fleet, Account: acct, Name: "auto", CreatedMs: w.ms, Tags: fleet.Tags{}}, 10))
	app := arn(fleet.TypeRobotApplication, "app", w.tick())
	src := []fleet.Source{{Bucket: "b", Key: "k", Architecture: fleet.X86_64, ETag: `"e"`, SHA256: "s"}}
	must(t, st.CreateApplication(ctx, fleet.Application{ARN: app, Account: acct, Name: "app", Version: fleet.LatestVersion, Sources: src,
		SoftwareSuite: fleet.SoftwareSuite{Name: "General"}, RevisionID: "r1", CreatedMs: w.ms, LastUpdatedMs: w.ms, Tags: fleet.Tags{}}, 10))
	_, err := st.CreateApplicationVersion(ctx, acct, app, "r1", src, w.tick(), 40)
	must(t, err)
	w.apps = []fleet.AppConfig{{Application: app, ApplicationVersion: "1", LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "l"}}}
	w.addRobot("first")
	j, err := w.svc.Create(ctx, acct, "source", w.fleet, w.apps, nil, nil)
	must(t, err)
	w.finish(j.ARN)
	must(t, st.TagResource(ctx, w.fleet, fleet.Tags{deploy.AutoSyncTag: "true"}, 50))
	return w
}

func jobCount(t *testing.T, st store.Store) int {
	t.Helper()
	p, err := st.ListJobs(t.Context(), fleet.ListQuery{Account: acct, Limit: 200, Filters: map[string]string{}})
	must(t, err)
	return len(p.Items)
}

// TestAutoSyncReplicasStartOneJob races two replicas' continuous sync on one
// database: a newcomer gets exactly one Sync job, whoever wins.
func TestAutoSyncReplicasStartOneJob(t *testing.T) {
	for name, open := range map[string]opener{"SQLite": sqliteReplicas, "PostgreSQL": postgresReplicas} {
		t.Run(name, func(t *testing.T) {
			a, b := open(t)
			w := newWorld(t, a)
			log := slog.New(slog.DiscardHandler)
			replicas := []*deploy.AutoSync{
				{Jobs: w.svc, Log: log},
				{Jobs: &deploy.Service{Store: b, Region: "us-east-1", MaxActiveJobs: 100}, Log: log},
			}
			race := func() []fleet.Job {
				var mu sync.Mutex
				var started []fleet.Job
				var wg sync.WaitGroup
				for i := range 8 {
					wg.Go(func() {
						for range 2 {
							js := replicas[i%2].RunOnce(context.Background())
							mu.Lock()
							started = append(started, js...)
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				return started
			}

			// Nothing to do: every robot is on the deployment.
			if js := race(); len(js) != 0 || jobCount(t, a) != 1 {
				t.Fatalf("with nothing to sync, continuous sync started %v", js)
			}
			newcomer := w.addRobot("newcomer")
			started := race()
			if len(started) != 1 || jobCount(t, a) != 2 || started[0].Operation != fleet.OpSyncDeploymentJob {
				t.Fatalf("racing replicas started %+v; the account has %d jobs, want 2", started, jobCount(t, a))
			}
			// While that job is active, another newcomer waits for it.
			w.prepare(started[0].ARN)
			later := w.addRobot("later")
			if js := race(); len(js) != 0 {
				t.Fatalf("continuous sync started %v beside an active job", js)
			}
			w.complete(started[0].ARN)
			if r, _ := a.GetRobot(t.Context(), acct, newcomer); r.Status != fleet.RobotInSync {
				t.Fatalf("newcomer after the auto-sync job = %s", r.Status)
			}
			again := race()
			if len(again) != 1 || jobCount(t, a) != 3 {
				t.Fatalf("after the first auto-sync job ended, started %+v, want one job for the later robot", again)
			}
			// An operator cancels it: it is not started again for the same robot.
			must(t, w.svc.Cancel(t.Context(), acct, again[0].ARN))
			if js := race(); len(js) != 0 || jobCount(t, a) != 3 {
				t.Errorf("after a cancel, continuous sync started %v", js)
			}
			if r, _ := a.GetRobot(t.Context(), acct, later); r.Status != fleet.RobotRegistered {
				t.Errorf("later robot after the canceled job = %s, want Registered", r.Status)
			}
		})
	}
}

// reportCounter counts the drift reports built on a store (each reads
// every robot's last row: LastRows).
type reportCounter struct {
	store.Store
	reports atomic.Int32
}

func (c *reportCounter) LastRows(ctx context.Context, account, fleetARN string) ([]fleet.RobotDeployment, error) {
	c.reports.Add(1)
	return c.Store.LastRows(ctx, account, fleetARN)
}

// TestAutoSyncDoesNotReportAnUnchangedFleetEveryTick: a fleet whose robot
// waits for the operator (the job that was to reach it was canceled) is
// reported on once, not on every tick (a report reads every robot of the
// fleet: 200,000 rows a second at 100,000 robots); a robot that joins is
// seen on the next tick.
func TestAutoSyncDoesNotReportAnUnchangedFleetEveryTick(t *testing.T) {
	a, _ := sqliteReplicas(t)
	w := newWorld(t, a)
	counted := &reportCounter{Store: a}
	auto := &deploy.AutoSync{Jobs: &deploy.Service{Store: counted, Region: "us-east-1", MaxActiveJobs: 100}, Log: slog.New(slog.DiscardHandler)}
	ctx := t.Context()
	w.addRobot("waits")
	started := auto.RunOnce(ctx)
	if len(started) != 1 {
		t.Fatalf("continuous sync started %v, want one job for the new robot", started)
	}
	must(t, w.svc.Cancel(ctx, acct, started[0].ARN))
	counted.reports.Store(0)
	for range 5 {
		if js := auto.RunOnce(ctx); len(js) != 0 {
			t.Fatalf("after the cancel, continuous sync started %v", js)
		}
	}
	if n := counted.reports.Load(); n != 1 {
		t.Errorf("5 ticks with nothing changed built %d drift reports, want 1", n)
	}
	w.addRobot("joins")
	if js := auto.RunOnce(ctx); len(js) != 1 {
		t.Errorf("a robot that joined: continuous sync started %v, want one job", js)
	}
}
