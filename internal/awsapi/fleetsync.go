package awsapi

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Operations fleetsync adds beyond RoboMaker (SPEC §7) live under
// /fleetsync/v1/. They go through the same pipeline as the AWS operations
// (SigV4, rate limit, error envelope) but have no entry in the AWS model, so
// their input is checked here.

// OpGetFleetDrift is the drift report's operation name (in logs and metrics).
const OpGetFleetDrift = "GetFleetDrift"

func (a *API) routesFleetsync() {
	a.mux.Handle("GET /fleetsync/v1/fleets/{fleetArn}/drift", a.serve(OpGetFleetDrift, typed(a.fleetDrift)))
	a.routesControls()
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
