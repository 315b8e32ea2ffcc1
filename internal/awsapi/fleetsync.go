package awsapi

import (
	"context"
	"strconv"
	"time"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Operations fleetsync adds beyond RoboMaker (SPEC §7) live under
// /fleetsync/v1/. They go through the same pipeline as the AWS operations
// (SigV4, rate limit, error envelope) but have no entry in the AWS model, so
// their input is checked here.

// Operation names of the fleetsync endpoints (in logs and metrics).
const (
	OpGetFleetDrift            = "GetFleetDrift"
	OpGetDeploymentJobFailures = "GetDeploymentJobFailures"
	OpRequestRobotLog          = "RequestRobotLog"
	OpGetRobotLog              = "GetRobotLog"
)

func (a *API) routesFleetsync() {
	a.mux.Handle("GET /fleetsync/v1/fleets/{fleetArn}/drift", a.serve(OpGetFleetDrift, typed(a.fleetDrift)))
	a.routesControls()
	a.mux.Handle("GET /fleetsync/v1/jobs/{jobArn}/failures", a.serve(OpGetDeploymentJobFailures, typed(a.jobFailures)))
	a.mux.Handle("POST /fleetsync/v1/robots/{robotArn}/log", a.serve(OpRequestRobotLog, typed(a.requestRobotLog)))
	a.mux.Handle("GET /fleetsync/v1/robots/{robotArn}/log", a.serve(OpGetRobotLog, typed(a.robotLog)))
}

type fleetDriftIn struct {
	FleetARN string `json:"fleetArn"`
}

// wireDriftRobot is one robot of the drift report.
type wireDriftRobot struct {
	ARN               string `json:"arn"`
	Name              string `json:"name"`
	Status            string `json:"status"`
	Architecture      string `json:"architecture"`
	Reason            string `json:"reason"`
	LastDeploymentJob string `json:"lastDeploymentJob,omitempty"`
}

type fleetDriftOut struct {
	Fleet                  string           `json:"fleet"`
	FleetName              string           `json:"fleetName"`
	LatestDeploymentJob    string           `json:"latestDeploymentJob"`
	LatestDeploymentStatus string           `json:"latestDeploymentStatus"`
	Robots                 []wireDriftRobot `json:"robots"`
	// Excluded are robots off the latest deployment that Sync leaves out
	// (reason Quarantined).
	Excluded []wireDriftRobot `json:"excluded"`
}

// toWireDrift is the drift report as the API and the console send it.
func toWireDrift(d deploy.Drift) fleetDriftOut {
	out := fleetDriftOut{Fleet: d.Fleet.ARN, FleetName: d.Fleet.Name, LatestDeploymentJob: d.Source.ARN,
		LatestDeploymentStatus: string(d.Source.Status), Robots: make([]wireDriftRobot, 0, len(d.Robots)),
		Excluded: make([]wireDriftRobot, 0, len(d.Excluded))}
	for _, x := range d.Excluded {
		out.Excluded = append(out.Excluded, wireDriftRobot{ARN: x.Robot.ARN, Name: x.Robot.Name, Status: string(x.Robot.Status),
			Architecture: string(x.Robot.Architecture), Reason: x.Reason, LastDeploymentJob: x.Robot.LastDeploymentJob})
	}
	for _, r := range d.Robots {
		out.Robots = append(out.Robots, wireDriftRobot{ARN: r.Robot.ARN, Name: r.Robot.Name, Status: string(r.Robot.Status),
			Architecture: string(r.Robot.Architecture), Reason: r.Reason, LastDeploymentJob: r.Robot.LastDeploymentJob})
	}
	return out
}

func (a *API) fleetDrift(ctx context.Context, c caller, in *fleetDriftIn) (any, error) {
	if in.FleetARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "fleetArn: a deployment-fleet ARN is required in the path")
	}
	d, err := a.cfg.Deploy.Drift(ctx, c.account, in.FleetARN)
	if err != nil {
		return nil, err
	}
	return toWireDrift(d), nil
}

type jobFailuresIn struct {
	JobARN string `json:"jobArn"`
	// MaxResults and NextToken page the robots, as in the AWS list
	// operations (query parameters, strings as a query has them).
	MaxResults string `json:"maxResults"`
	NextToken  string `json:"nextToken"`
}

// wireRobotFailure is one robot of a job that did not succeed, with the
// output its agent sent.
type wireRobotFailure struct {
	ARN             string `json:"arn"`
	Status          string `json:"status"`
	CurrentProgress string `json:"currentProgress,omitempty"`
	FailureCode     string `json:"failureCode,omitempty"`
	FailureReason   string `json:"failureReason,omitempty"`
	Output          string `json:"output"`
}

type jobFailuresOut struct {
	Job       string             `json:"job"`
	Status    string             `json:"status"`
	Robots    []wireRobotFailure `json:"robots"`
	NextToken string             `json:"nextToken,omitempty"`
}

func (a *API) jobFailures(ctx context.Context, c caller, in *jobFailuresIn) (any, error) {
	if in.JobARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "jobArn: a deployment-job ARN is required in the path")
	}
	limit := deploy.MaxFailuresPage
	if in.MaxResults != "" {
		n, err := strconv.Atoi(in.MaxResults)
		if err != nil || n < 1 || n > deploy.MaxFailuresPage {
			return nil, fleet.Errorf(fleet.Invalid, "1 validation error detected: Value '%.20s' at 'maxResults' failed to satisfy constraint: Member must be an integer from 1 to %d", in.MaxResults, deploy.MaxFailuresPage)
		}
		limit = n
	}
	from := 0
	after, err := a.tokens.open(c.account, OpGetDeploymentJobFailures, in.NextToken)
	if err != nil {
		return nil, err
	}
	if after != nil {
		if after.ARN != in.JobARN {
			return nil, fleet.Errorf(fleet.Invalid, "nextToken is not a token this list issued")
		}
		from = after.Seq
	}
	j, fails, next, err := a.cfg.Evidence.JobFailures(ctx, c.account, in.JobARN, from, limit)
	if err != nil {
		return nil, err
	}
	out := jobFailuresOut{Job: j.ARN, Status: string(j.Status), Robots: make([]wireRobotFailure, 0, len(fails))}
	if next >= 0 {
		out.NextToken = a.tokens.seal(c.account, OpGetDeploymentJobFailures, &fleet.Cursor{ARN: j.ARN, Seq: next})
	}
	for _, f := range fails {
		out.Robots = append(out.Robots, wireRobotFailure{ARN: f.Robot, Status: string(f.Status), CurrentProgress: f.Step,
			FailureCode: f.FailureCode, FailureReason: f.FailureReason, Output: f.Output})
	}
	return out, nil
}

type robotLogIn struct {
	RobotARN string `json:"robotArn"`
	// KB is how many KiB of the log's end to ask for (deploy.DefaultRobotLogKB if 0).
	KB int `json:"kb"`
}

// wireRobotLog is a robot log request and, once the agent answered, the
// log's tail with the time it was read.
type wireRobotLog struct {
	Robot       string `json:"robot"`
	Status      string `json:"status"` // Requested, then Taken
	RequestedAt string `json:"requestedAt"`
	MaxBytes    int    `json:"maxBytes"`
	TakenAt     string `json:"takenAt,omitempty"`
	Content     string `json:"content"`
	Error       string `json:"error,omitempty"`
}

// toWireRobotLog is a robot log as the API and the console send it.
func toWireRobotLog(l deploy.RobotLog) wireRobotLog {
	out := wireRobotLog{Robot: l.Robot, Status: "Requested", RequestedAt: rfc3339(l.RequestedMs), MaxBytes: l.MaxBytes, Content: l.Content, Error: l.Error}
	if l.TakenMs != 0 {
		out.Status, out.TakenAt = "Taken", rfc3339(l.TakenMs)
	}
	return out
}

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }

func (a *API) requestRobotLog(ctx context.Context, c caller, in *robotLogIn) (any, error) {
	if in.RobotARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "robotArn: a robot ARN is required in the path")
	}
	l, err := a.cfg.Evidence.RequestLog(ctx, c.account, in.RobotARN, in.KB)
	if err != nil {
		return nil, err
	}
	return toWireRobotLog(l), nil
}

func (a *API) robotLog(ctx context.Context, c caller, in *robotLogIn) (any, error) {
	if in.RobotARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "robotArn: a robot ARN is required in the path")
	}
	l, err := a.cfg.Evidence.RobotLog(ctx, c.account, in.RobotARN)
	if err != nil {
		return nil, err
	}
	return toWireRobotLog(l), nil
}
