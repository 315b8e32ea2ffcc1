package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// BenchmarkAgentPollReads measures the store reads behind one agent poll
// of a robot that is deploying: who signed (RobotByAgent) and what it must
// do (CurrentAssignment). Run: go test -run '^$' -bench AgentPollReads ./internal/store/sqlstore/
func BenchmarkAgentPollReads(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const acct = "123456789012"
	f := fleet.Fleet{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":fleet/f/1", Account: acct, Name: "f", CreatedMs: 1, Tags: fleet.Tags{}}
	r := fleet.Robot{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":robot/r/1", Account: acct, Name: "r", Architecture: fleet.ARM64,
		AgentID: "fsa1-bench", Status: fleet.RobotAvailable, CreatedMs: 1, Tags: fleet.Tags{"team": "blue"}}
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	must(s.CreateFleet(ctx, f, 10))
	must(s.CreateRobot(ctx, r, 10))
	must(s.RegisterRobot(ctx, acct, f.ARN, r.ARN, 10))
	spec := fleet.JobSpec{
		Apps:   []fleet.AppConfig{{Application: "arn:app", ApplicationVersion: "1", LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "l"}}},
		Config: fleet.DeploymentConfig{ConcurrentPercent: 100, FailureThresholdPercent: 50, RobotTimeoutSeconds: 60},
	}
	job := "arn:aws:robomaker:us-east-1:" + acct + ":deployment-job/j"
	must(s.CreateJob(ctx, store.NewJob{Job: fleet.Job{ARN: job, Account: acct, Fleet: f.ARN, Status: fleet.JobPending, Spec: spec,
		CreatedMs: 2, Operation: fleet.OpCreateDeploymentJob, Tags: fleet.Tags{}}, Operation: fleet.OpCreateDeploymentJob, ClientToken: "t", ParamsHash: "h"}, 10))
	must(s.StartPreparing(ctx, job))
	must(s.Prepare(ctx, job, []fleet.RobotDeployment{{Robot: r.ARN, Seq: 0, Status: fleet.RobotPendingNewDeployment}}, store.JobOutcome{}, 3))
	must(s.Apply(ctx, job, store.Step{Start: []string{r.ARN}}, 4))

	for _, mode := range []struct {
		name          string
		parseEachTime bool
	}{{"parsed each time", true}, {"prepared once", false}} {
		b.Run(mode.name, func(b *testing.B) {
			s.parseEachTime = mode.parseEachTime
			b.ReportAllocs()
			for b.Loop() {
				got, err := s.RobotByAgent(ctx, "", "fsa1-bench")
				if err != nil || got.ARN != r.ARN {
					b.Fatalf("RobotByAgent = %+v, %v", got, err)
				}
				as, err := s.CurrentAssignment(ctx, r.ARN)
				if err != nil || as.Job.ARN != job {
					b.Fatalf("CurrentAssignment = %+v, %v", as, err)
				}
			}
		})
	}
}

// deployingFixture makes a store with one fleet of n robots and a job
// deploying to the first; it returns the job ARN and the robots' ARNs.
func deployingFixture(b testing.TB, s *Store, n int) (string, []string) {
	ctx := context.Background()
	const acct = "123456789012"
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	f := fleet.Fleet{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":fleet/f/1", Account: acct, Name: "f", CreatedMs: 1, Tags: fleet.Tags{}}
	must(s.CreateFleet(ctx, f, 10))
	var arns []string
	for i := range n {
		name := fmt.Sprintf("r%06d", i)
		r := fleet.Robot{ARN: "arn:aws:robomaker:us-east-1:" + acct + ":robot/" + name + "/1", Account: acct, Name: name, Architecture: fleet.ARM64,
			AgentID: "fsa1-" + name, Status: fleet.RobotAvailable, CreatedMs: 1}
		must(s.CreateRobot(ctx, r, 1<<30))
		must(s.RegisterRobot(ctx, acct, f.ARN, r.ARN, 1<<30))
		arns = append(arns, r.ARN)
	}
	spec := fleet.JobSpec{
		Apps:   []fleet.AppConfig{{Application: "arn:app", ApplicationVersion: "1", LaunchConfig: fleet.LaunchConfig{PackageName: "p", LaunchFile: "l"}}},
		Config: fleet.DeploymentConfig{ConcurrentPercent: 100, FailureThresholdPercent: 50, RobotTimeoutSeconds: 60},
	}
	job := "arn:aws:robomaker:us-east-1:" + acct + ":deployment-job/j"
	must(s.CreateJob(ctx, store.NewJob{Job: fleet.Job{ARN: job, Account: acct, Fleet: f.ARN, Status: fleet.JobPending, Spec: spec,
		CreatedMs: 2, Operation: fleet.OpCreateDeploymentJob, Tags: fleet.Tags{}}, Operation: fleet.OpCreateDeploymentJob, ClientToken: "t", ParamsHash: "h"}, 10))
	must(s.StartPreparing(ctx, job))
	rows := make([]fleet.RobotDeployment, n)
	for i, a := range arns {
		rows[i] = fleet.RobotDeployment{Robot: a, Seq: i, Status: fleet.RobotPendingNewDeployment}
	}
	must(s.Prepare(ctx, job, rows, store.JobOutcome{}, 3))
	must(s.Apply(ctx, job, store.Step{Start: arns}, 4))
	return job, arns
}

// BenchmarkJobRobots is the read behind DescribeDeploymentJob of a job of
// 10,000 robots, all deploying.
// Run: go test -run '^$' -bench JobRobots ./internal/store/sqlstore/
func BenchmarkJobRobots(b *testing.B) {
	s := openBench(b)
	job, arns := deployingFixture(b, s, 10_000)
	b.ReportAllocs()
	for b.Loop() {
		rows, err := s.JobRobots(context.Background(), job)
		if err != nil || len(rows) != len(arns) || rows[0].Job != job {
			b.Fatalf("JobRobots = %d rows, %v", len(rows), err)
		}
	}
}

// BenchmarkRecordResultSuccess is a rollout's commonest write: a deploying
// robot's success, with its last progress still pending.
// Run: go test -run '^$' -bench RecordResultSuccess -benchtime 5000x ./internal/store/sqlstore/
func BenchmarkRecordResultSuccess(b *testing.B) {
	s := openBench(b)
	job, arns := deployingFixture(b, s, max(b.N, 1))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.RecordProgress(ctx, job, arns[i], "Launching", nil, nil); err != nil {
			b.Fatal(err)
		}
		if abort, err := s.RecordResult(ctx, job, arns[i], store.Result{Success: true, NowMs: 10}); err != nil || abort {
			b.Fatalf("RecordResult = %v, %v", abort, err)
		}
	}
}

// BenchmarkRecordResultConcurrent is a rollout's results arriving together,
// 32 callers per CPU at once, each a deploying robot's success: each
// result its own transaction and COMMIT beside results committed in
// groups (groupcommit.go). written-B/op is what the process wrote (WAL,
// checkpoints, temporary files). On one CPU few groups form: a caller runs
// its SQLite calls to the end without yielding, so no other waits.
// Run: go test -run '^$' -bench RecordResultConcurrent -benchtime 5000x -cpu 2 ./internal/store/sqlstore/
func BenchmarkRecordResultConcurrent(b *testing.B) {
	for _, mode := range []struct {
		name     string
		groupMax int
	}{{"alone", 1}, {"grouped", maxGroup}} {
		b.Run(mode.name, func(b *testing.B) {
			s := openBench(b)
			s.commits.limit = mode.groupMax
			job, arns := deployingFixture(b, s, max(b.N, 1))
			ctx := context.Background()
			// The fixture's frames are checkpointed now, not by the
			// first result's COMMIT.
			if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				b.Fatal(err)
			}
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism(32)
			written := writtenBytes(b)
			tx0, commits0 := s.WriteCommits()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := next.Add(1) - 1
					if abort, err := s.RecordResult(ctx, job, arns[i], store.Result{Success: true, NowMs: 10}); err != nil || abort {
						b.Errorf("RecordResult = %v, %v", abort, err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(writtenBytes(b)-written)/float64(b.N), "written-B/op")
			tx, commits := s.WriteCommits()
			b.ReportMetric(float64(tx-tx0)/float64(commits-commits0), "tx/commit")
		})
	}
}

// writtenBytes is how many bytes this process has written (wchar of
// /proc/self/io: write and pwrite calls, the WAL's frames among them).
func writtenBytes(b *testing.B) int64 {
	io, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Skipf("no /proc/self/io: %v", err)
	}
	for line := range strings.Lines(string(io)) {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal("no wchar in /proc/self/io")
	return 0
}

func openBench(b *testing.B) *Store {
	s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "bench.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkRecordResultFinished is the poll of an agent that runs a
// finished deployment: its Current names it again each time. Side by side:
// the write transaction every such poll ran before, and RecordResult, which
// answers from one read.
// Run: go test -run '^$' -bench RecordResultFinished -cpu 2 ./internal/store/sqlstore/
func BenchmarkRecordResultFinished(b *testing.B) {
	s := openBench(b)
	job, arns := deployingFixture(b, s, 1)
	ctx := context.Background()
	if _, err := s.RecordResult(ctx, job, arns[0], store.Result{Success: true, NowMs: 5}); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		fn   func(context.Context, string, string, store.Result) (bool, error)
	}{{"write transaction (before)", s.recordResultTx}, {"read first (after)", s.RecordResult}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if abort, err := mode.fn(ctx, job, arns[0], store.Result{Success: true, NowMs: 6}); err != nil || abort {
						b.Fatalf("RecordResult = %v, %v", abort, err)
					}
				}
			})
		})
	}
}

// BenchmarkPollReadsIdleConns runs the reads of an agent poll from many
// goroutines at once with the read pool keeping Go's default 2 idle
// connections (before) and all 8 (after): past 2 concurrent readers, the
// default closes and reopens connections, re-applying the pragmas.
// Run: go test -run '^$' -bench PollReadsIdleConns -cpu 2 ./internal/store/sqlstore/
func BenchmarkPollReadsIdleConns(b *testing.B) {
	s := openBench(b)
	job, arns := deployingFixture(b, s, 16)
	ctx := context.Background()
	for _, idle := range []int{2, 8} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) {
			s.ardb.SetMaxIdleConns(idle)
			b.ReportAllocs()
			b.SetParallelism(4) // 4 × GOMAXPROCS readers, as agents polling at once
			var i atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				r := arns[int(i.Add(1))%len(arns)]
				for pb.Next() {
					if _, err := s.RobotByAgent(ctx, "", "fsa1-"+strings.Split(r, "/")[1]); err != nil {
						b.Fatal(err)
					}
					if as, err := s.CurrentAssignment(ctx, r); err != nil || as.Job.ARN != job {
						b.Fatalf("CurrentAssignment = %+v, %v", as, err)
					}
				}
			})
		})
	}
	s.ardb.SetMaxIdleConns(8)
}

// createRobotCounting is CreateRobot as it was before robot_counts: a
// COUNT(*) of the account's robots inside the write transaction.
func (s *Store) createRobotCounting(ctx context.Context, r fleet.Robot, maxPerAccount int) error {
	return s.tx(ctx, func(tx wtx) error {
		n, err := count(ctx, tx, `SELECT COUNT(*) FROM robots WHERE account = $1`, r.Account)
		if err != nil {
			return err
		}
		if n >= maxPerAccount {
			return store.ErrLimit
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO robots (arn, account, name, architecture, agent_id, status, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			r.ARN, r.Account, r.Name, r.Architecture, r.AgentID, r.Status, r.CreatedMs)
		return s.insertErr(err)
	})
}

// BenchmarkCreateRobot creates robots in an account that already has 1,000
// or 50,000, with the row count of before and with robot_counts (after),
// side by side: after is flat, before grows with the account.
// Run: go test -run '^$' -bench CreateRobot -benchtime 2000x ./internal/store/sqlstore/
func BenchmarkCreateRobot(b *testing.B) {
	for _, size := range []int{1000, 50000} {
		s := openBench(b)
		ctx := context.Background()
		const acct = "123456789012"
		// Fill the account fast, in one transaction per 5,000.
		for i := 0; i < size; i += 5000 {
			err := s.tx(ctx, func(tx wtx) error {
				for j := i; j < min(i+5000, size); j++ {
					name := fmt.Sprintf("fill%06d", j)
					if _, err := tx.ExecContext(ctx, `INSERT INTO robots (arn, account, name, architecture, agent_id, status, created_ms) VALUES ($1, $2, $3, 'ARM64', $4, 'Available', 1)`,
						"arn:robot/"+name, acct, name, "fsa1-"+name); err != nil {
						return err
					}
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO robot_counts (scope, n) VALUES ($1, $2) ON CONFLICT (scope) DO UPDATE SET n = excluded.n`, accountScope(acct), min(i+5000, size))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		var seq atomic.Int64
		for _, mode := range []struct {
			name string
			fn   func(context.Context, fleet.Robot, int) error
		}{{"count rows (before)", s.createRobotCounting}, {"robot_counts (after)", s.CreateRobot}} {
			b.Run(fmt.Sprintf("account=%d/%s", size, mode.name), func(b *testing.B) {
				for b.Loop() {
					name := fmt.Sprintf("new%07d", seq.Add(1))
					r := fleet.Robot{ARN: "arn:robot/" + name, Account: acct, Name: name, Architecture: fleet.ARM64, AgentID: "fsa1-" + name, Status: fleet.RobotAvailable, CreatedMs: 1}
					if err := mode.fn(ctx, r, 1<<30); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkJobRobotsSince is the read behind a DescribeDeploymentJob of a
// job of 10,000 deploying robots that a client described before: all rows
// (the first Describe), none changed since, and 1 % changed since.
// Run: go test -run '^$' -bench JobRobotsSince ./internal/store/sqlstore/
func BenchmarkJobRobotsSince(b *testing.B) {
	ctx := context.Background()
	s := openBench(b)
	job, arns := deployingFixture(b, s, 10_000)
	_, before, err := s.JobRobotsSince(ctx, job, 0)
	if err != nil {
		b.Fatal(err)
	}
	pct := 50.0
	for _, a := range arns[:100] {
		if _, err := s.RecordProgress(ctx, job, a, "Launching", &pct, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := s.FlushProgress(ctx); err != nil {
		b.Fatal(err)
	}
	_, now, err := s.JobRobotsSince(ctx, job, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		since int64
		want  int
	}{{"all", 0, len(arns)}, {"none changed", now, 0}, {"1% changed", before, 100}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, _, err := s.JobRobotsSince(ctx, job, c.since)
				if err != nil || len(rows) != c.want {
					b.Fatalf("JobRobotsSince = %d rows, %v; want %d", len(rows), err, c.want)
				}
			}
		})
	}
}

// BenchmarkRobotPoll is the read behind an agent's poll during a rollout:
// the robot's latest row, its job and the job's tags (RobotPoll), for the
// robots of a job of 1,000, all deploying.
// Run: go test -run '^$' -bench RobotPoll ./internal/store/sqlstore/
func BenchmarkRobotPoll(b *testing.B) {
	ctx := context.Background()
	s, err := OpenSQLite(ctx, filepath.Join(b.TempDir(), "bench.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	job, robots := deployingFixture(b, s, 1000)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p, err := s.RobotPoll(ctx, robots[i%len(robots)])
		if err != nil || p.Assignment == nil || p.Assignment.Job.ARN != job {
			b.Fatalf("RobotPoll = %+v, %v", p, err)
		}
		i++
	}
}
