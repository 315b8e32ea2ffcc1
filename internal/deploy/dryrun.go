package deploy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// The sync plan (issue 16): what SyncDeploymentJob (or a proposed
// CreateDeploymentJob) would do now, without doing it. It is computed by
// the code the job itself runs: the targets by SyncSelection (Sync) or the
// fleet's robots (Create), the rows and source checks by prepareSources and
// preparation.rows, the outcome at preparation by Decide, the window by
// Window and the canary by CanarySize; only the bytes and the ETA are its
// own estimates.

// etaSamples is how many of the fleet's latest robot deployments the ETA
// is taken from.
const etaSamples = 50

// DryRun is a plan of a deployment job that is not created.
type DryRun struct {
	Fleet     fleet.Fleet
	Operation string
	// Source is the job a Sync would copy (zero for a proposed Create).
	Source fleet.Job
	Spec   fleet.JobSpec
	// Fail, when set, is how the job would fail at preparation as a whole
	// (a version no longer exists); Finish is how it would end at once
	// otherwise (no targets; every target failing its checks).
	Fail, Finish *Finish
	// Window is the concurrency window and Canary the canary size.
	Window, Canary int
	// HealthSeconds is the effective health gate (HealthFrom says whence).
	HealthSeconds int64
	HealthFrom    string
	// Targets are the robots the job would have rows for, in start order.
	Targets []DryRunRobot
	// Excluded are robots Sync leaves out (quarantined).
	Excluded []Excluded
	// Batches is how many waves the window makes of the robots that would
	// start (canary waves first).
	Batches int
	// TotalBytes is what the robots that would start download in all.
	TotalBytes int64
	// ETASeconds estimates the job's duration: Batches × the median of
	// MedianSamples recent robot deployments of the fleet; nil without any.
	ETASeconds    *int64
	MedianSeconds *float64
	MedianSamples int
}

// DryRunRobot is one target robot of a plan.
type DryRunRobot struct {
	Robot fleet.Robot
	// Reason is why it is targeted: the drift reason for a Sync, "InFleet"
	// for a Create (every robot of the fleet is).
	Reason string
	// FailureCode and FailureReason are set when it would fail at
	// preparation (its architecture's bundle cannot be deployed).
	FailureCode, FailureReason string
	// Batch is its wave (1-based), 0 when it would fail at preparation;
	// Canary marks the canary's robots.
	Batch  int
	Canary bool
	// Bytes is what its agent would download: the whole bundle, or for a
	// colcon v2 bundle whose overlays it partly holds the index region and
	// the overlays it lacks (OverlaysCached of OverlaysTotal reused).
	Bytes                         int64
	OverlaysCached, OverlaysTotal int
}

// ReasonInFleet is a Create plan's reason: the job targets every robot.
const ReasonInFleet = "InFleet"

// PlanSync answers what SyncDeploymentJob on the fleet would do now.
func (s *Service) PlanSync(ctx context.Context, account, fleetARN string) (DryRun, error) {
	d, err := s.Drift(ctx, account, fleetARN)
	if err != nil {
		return DryRun{}, err
	}
	j := fleet.Job{ARN: "plan", Account: account, Fleet: fleetARN, Status: fleet.JobPreparing, Spec: d.Source.Spec,
		CreatedMs: s.now().UnixMilli(), Operation: fleet.OpSyncDeploymentJob, Tags: fleet.Tags{}} // Sync copies no tags
	robots := make([]fleet.Robot, len(d.Robots))
	reasons := make([]string, len(d.Robots))
	for i, r := range d.Robots {
		robots[i], reasons[i] = r.Robot, r.Reason
	}
	out, err := s.dryRun(ctx, d.Fleet, j, robots, reasons)
	out.Source, out.Excluded = d.Source, d.Excluded
	return out, err
}

// PlanCreate answers what CreateDeploymentJob of apps with cfg and tags on
// the fleet would do now, after the same checks as Create itself.
func (s *Service) PlanCreate(ctx context.Context, account, fleetARN string, apps []fleet.AppConfig, cfg *ConfigInput, tags fleet.Tags) (DryRun, error) {
	if err := s.resolveFleet(account, fleetARN); err != nil {
		return DryRun{}, err
	}
	spec, err := createSpec(apps, cfg, tags)
	if err != nil {
		return DryRun{}, err
	}
	if err := s.checkApps(ctx, account, apps); err != nil {
		return DryRun{}, err
	}
	f, err := s.Store.GetFleet(ctx, account, fleetARN)
	if errors.Is(err, store.ErrNotFound) {
		return DryRun{}, fleet.Errorf(fleet.NotFound, "fleet %s does not exist", fleetARN)
	} else if err != nil {
		return DryRun{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	robots, err := s.Store.FleetRobots(ctx, account, fleetARN, 1<<30)
	if err != nil {
		return DryRun{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	reasons := make([]string, len(robots))
	for i := range reasons {
		reasons[i] = ReasonInFleet
	}
	j := fleet.Job{ARN: "plan", Account: account, Fleet: fleetARN, Status: fleet.JobPreparing, Spec: spec,
		CreatedMs: s.now().UnixMilli(), Operation: fleet.OpCreateDeploymentJob, Tags: nonNil(tags)}
	return s.dryRun(ctx, f, j, robots, reasons)
}

// dryRun prepares j for robots as the engine would, without writing.
func (s *Service) dryRun(ctx context.Context, f fleet.Fleet, j fleet.Job, robots []fleet.Robot, reasons []string) (DryRun, error) {
	out := DryRun{Fleet: f, Operation: j.Operation, Spec: j.Spec, Canary: CanarySize(j)}
	out.HealthSeconds, out.HealthFrom = HealthSeconds(j.Tags, f.Tags)
	bundles := s.Bundles.For(j.Account)
	prep, err := prepareSources(ctx, s.Store, bundles, j)
	if err != nil {
		return out, fleet.Wrap(fleet.Internal, err, "bundle store failure")
	}
	if prep.fail != nil {
		out.Fail = prep.fail
		return out, nil
	}
	rows := prep.rows(j.ARN, robots)
	if plan := Decide(ObservePrepared(j, rows), s.Limits, j.CreatedMs); plan.Finish != nil {
		out.Finish = plan.Finish
	}
	out.Window = Window(len(rows), j.Spec.Config.ConcurrentPercent)
	cached, err := s.Store.FleetOverlays(ctx, j.Account, j.Fleet)
	if err != nil {
		return out, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	indexes := map[fleet.Architecture]v2Layout{}
	for arch, src := range prep.objects {
		if src.Object.HeadSHA256 == "" {
			continue // no head digest recorded: agents fetch the bundle whole
		}
		if indexes[arch], err = v2Index(ctx, bundles, src); err != nil {
			return out, fleet.Wrap(fleet.Internal, err, "bundle store failure")
		}
	}
	batches := Waves(rows, out.Canary, out.Window)
	for i, row := range rows {
		r := DryRunRobot{Robot: robots[i], Reason: reasons[i], Canary: row.Seq < out.Canary, Batch: batches[i]}
		if row.Status == fleet.RobotFailed {
			r.FailureCode, r.FailureReason = row.FailureCode, row.FailureReason
			out.Targets = append(out.Targets, r)
			continue
		}
		src := prep.objects[robots[i].Architecture]
		r.Bytes, r.OverlaysCached, r.OverlaysTotal = downloadBytes(src.Object.Size, indexes[robots[i].Architecture], cached[robots[i].ARN])
		out.TotalBytes += r.Bytes
		out.Batches = max(out.Batches, r.Batch)
		out.Targets = append(out.Targets, r)
	}
	if out.Batches > 0 {
		if err := s.estimate(ctx, j, &out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// Waves numbers the wave (1-based) in which each row would start, 0 for
// rows failed at preparation: the canary's rows first, window by window,
// then the others. A sliding window starts robots as slots free up, so
// waves are what the window allows when robots take alike long.
func Waves(rows []fleet.RobotDeployment, canary, window int) []int {
	out := make([]int, len(rows))
	window = max(window, 1)
	canaryStarted := 0
	for _, r := range rows {
		if r.Status == fleet.RobotFailed || r.Seq >= canary {
			continue
		}
		canaryStarted++
	}
	canaryWaves := (canaryStarted + window - 1) / window
	c, o := 0, 0
	for i, r := range rows {
		switch {
		case r.Status == fleet.RobotFailed:
			continue
		case r.Seq < canary:
			out[i] = c/window + 1
			c++
		default:
			out[i] = canaryWaves + o/window + 1
			o++
		}
	}
	return out
}

// estimate fills in the ETA from the fleet's recent robot deployments.
func (s *Service) estimate(ctx context.Context, j fleet.Job, out *DryRun) error {
	d, err := s.Store.RecentDurations(ctx, j.Account, j.Fleet, etaSamples)
	if err != nil {
		return fleet.Wrap(fleet.Internal, err, "store failure")
	}
	out.MedianSamples = len(d)
	if len(d) == 0 {
		return nil
	}
	slices.Sort(d)
	median := float64(d[len(d)/2])
	if len(d)%2 == 0 {
		median = float64(d[len(d)/2-1]+d[len(d)/2]) / 2
	}
	median /= 1000
	eta := int64(median*float64(out.Batches) + 0.999)
	out.MedianSeconds, out.ETASeconds = &median, &eta
	return nil
}

// v2Layout is what an agent reads of a colcon v2 bundle before it
// fetches the overlays it lacks: its head (version and index) and the
// overlays; zero for any other bundle.
type v2Layout struct {
	head     int64
	overlays []bundle.Overlay
}

// downloadBytes is what an agent holding the overlays cached downloads of a
// bundle of size: as the agent runner's fetchSparse does it, the head plus
// the missing overlays when it holds some of them, else the whole bundle.
func downloadBytes(size int64, l v2Layout, cached []string) (bytes int64, reused, total int) {
	if len(l.overlays) == 0 {
		return size, 0, 0
	}
	var missing int64
	for _, o := range l.overlays {
		if slices.Contains(cached, o.SHA256) {
			reused++
		} else {
			missing += o.Size
		}
	}
	if reused == 0 {
		return size, 0, len(l.overlays)
	}
	return l.head + missing, reused, len(l.overlays)
}

// v2Index reads a colcon v2 bundle's head and overlay index (v2Head);
// zero for any other bundle.
func v2Index(ctx context.Context, bundles blob.Store, src preparedSource) (v2Layout, error) {
	head, overlays, err := v2Head(ctx, bundles, src)
	if err != nil || head == nil {
		return v2Layout{}, err
	}
	return v2Layout{head: int64(len(head)), overlays: overlays}, nil
}

// v2Head reads a colcon v2 bundle's head from the store (bundle.MinV2Head
// bytes, then as many as bundle.V2HeadSize says) and its overlay index:
// the bytes an agent holding some of the overlays fetches and trusts. Nil
// for any other bundle, and for one that changed since src was checked.
func v2Head(ctx context.Context, bundles blob.Store, src preparedSource) ([]byte, []bundle.Overlay, error) {
	size := src.Object.Size
	if size <= bundle.MinV2Head {
		return nil, nil, nil
	}
	first, err := readPrefix(ctx, bundles, src, bundle.MinV2Head)
	if err != nil || first == nil {
		return nil, nil, err
	}
	version, n, err := bundle.V2HeadSize(first)
	if err != nil || version != 2 || n > size {
		return nil, nil, nil // not a v2 bundle the agent reads sparsely: it fetches it whole
	}
	head := first
	if n > int64(len(first)) {
		if head, err = readPrefix(ctx, bundles, src, n); err != nil || head == nil {
			return nil, nil, err
		}
	}
	version, overlays, err := bundle.V2Overlays(bytes.NewReader(head), size)
	if err != nil || version != 2 {
		return nil, nil, nil
	}
	return head, overlays, nil
}

// readPrefix reads the first n bytes of a bundle (nil, no error, when the
// object changed since preparation checked it: the job would fail it).
func readPrefix(ctx context.Context, bundles blob.Store, src preparedSource, n int64) ([]byte, error) {
	rc, err := bundles.Open(ctx, src.Bucket, src.Key, 0, src.Object.ETag)
	if err != nil {
		if _, ok := SourceErrorOf(src.Bucket, src.Key, err); ok {
			return nil, nil
		}
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, n))
}
