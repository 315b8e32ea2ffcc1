package awsapi

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/awsapi/model"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
)

// The sync plan (docs/rollout-controls.md): what SyncDeploymentJob, or a
// proposed CreateDeploymentJob, would do on a fleet now.

// Operation names of the plan (in logs and metrics).
const (
	OpPlanSync   = "PlanSyncDeploymentJob"
	OpPlanCreate = "PlanCreateDeploymentJob"
)

func (a *API) routesPlan() {
	a.mux.Handle("GET /fleetsync/v1/fleets/{fleetArn}/plan", a.serve(OpPlanSync, typed(a.planSync)))
	a.mux.Handle("POST /fleetsync/v1/fleets/{fleetArn}/plan", a.serve(OpPlanCreate, a.planCreate))
}

type wirePlanRobot struct {
	ARN            string `json:"arn"`
	Name           string `json:"name"`
	Architecture   string `json:"architecture"`
	Status         string `json:"status"`
	Reason         string `json:"reason"`
	Batch          int    `json:"batch,omitempty"`
	Canary         bool   `json:"canary,omitempty"`
	Bytes          int64  `json:"bytes"`
	OverlaysCached int    `json:"overlaysCached,omitempty"`
	OverlaysTotal  int    `json:"overlaysTotal,omitempty"`
	FailureCode    string `json:"failureCode,omitempty"`
	FailureReason  string `json:"failureReason,omitempty"`
}

type wirePlanOutcome struct {
	Status string `json:"status"`
	Code   string `json:"failureCode,omitempty"`
	Reason string `json:"failureReason,omitempty"`
}

type wirePlan struct {
	Fleet               string               `json:"fleet"`
	Operation           string               `json:"operation"`
	SourceDeploymentJob string               `json:"sourceDeploymentJob,omitempty"`
	DeploymentConfig    wireDeploymentConfig `json:"deploymentConfig"`
	Window              int                  `json:"window"`
	Canary              int                  `json:"canary,omitempty"`
	HealthSeconds       int64                `json:"healthSeconds"`
	HealthSecondsFrom   string               `json:"healthSecondsFrom"`
	Targets             []wirePlanRobot      `json:"targets"`
	Excluded            []wireDriftRobot     `json:"excluded"`
	Batches             int                  `json:"batches"`
	TotalBytes          int64                `json:"totalBytes"`
	ETASeconds          *int64               `json:"etaSeconds,omitempty"`
	MedianSeconds       *float64             `json:"medianRobotSeconds,omitempty"`
	MedianSamples       int                  `json:"medianSamples"`
	// Outcome is set when the job would end at preparation (failed as a
	// whole, or over at once).
	Outcome *wirePlanOutcome `json:"outcomeAtPreparation,omitempty"`
}

func toWirePlan(p deploy.DryRun) wirePlan {
	out := wirePlan{Fleet: p.Fleet.ARN, Operation: p.Operation, SourceDeploymentJob: p.Source.ARN, DeploymentConfig: toWireConfig(p.Spec.Config),
		Window: p.Window, Canary: p.Canary, HealthSeconds: p.HealthSeconds, HealthSecondsFrom: p.HealthFrom,
		Targets: make([]wirePlanRobot, 0, len(p.Targets)), Excluded: make([]wireDriftRobot, 0, len(p.Excluded)),
		Batches: p.Batches, TotalBytes: p.TotalBytes, ETASeconds: p.ETASeconds, MedianSeconds: p.MedianSeconds, MedianSamples: p.MedianSamples}
	for _, r := range p.Targets {
		out.Targets = append(out.Targets, wirePlanRobot{ARN: r.Robot.ARN, Name: r.Robot.Name, Architecture: string(r.Robot.Architecture),
			Status: string(r.Robot.Status), Reason: r.Reason, Batch: r.Batch, Canary: r.Canary, Bytes: r.Bytes,
			OverlaysCached: r.OverlaysCached, OverlaysTotal: r.OverlaysTotal, FailureCode: r.FailureCode, FailureReason: r.FailureReason})
	}
	for _, x := range p.Excluded {
		out.Excluded = append(out.Excluded, wireDriftRobot{ARN: x.Robot.ARN, Name: x.Robot.Name, Status: string(x.Robot.Status),
			Architecture: string(x.Robot.Architecture), Reason: x.Reason, LastDeploymentJob: x.Robot.LastDeploymentJob})
	}
	if f := p.Fail; f != nil {
		out.Outcome = &wirePlanOutcome{string(f.Status), f.Code, f.Reason}
	} else if f := p.Finish; f != nil {
		out.Outcome = &wirePlanOutcome{string(f.Status), f.Code, f.Reason}
	}
	return out
}

func (a *API) planSync(ctx context.Context, c caller, in *fleetDriftIn) (any, error) {
	if in.FleetARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "fleetArn: a deployment-fleet ARN is required in the path")
	}
	p, err := a.cfg.Deploy.PlanSync(ctx, c.account, in.FleetARN)
	if err != nil {
		return nil, err
	}
	return toWirePlan(p), nil
}

// planCreate takes CreateDeploymentJob's body without fleet and
// clientRequestToken, checked against that operation's model.
func (a *API) planCreate(ctx context.Context, c caller, raw map[string]any, _ []byte) (any, error) {
	fleetARN, _ := raw["fleetArn"].(string)
	if fleetARN == "" {
		return nil, fleet.Errorf(fleet.Invalid, "fleetArn: a deployment-fleet ARN is required in the path")
	}
	for _, k := range []string{"fleet", "clientRequestToken"} {
		if _, ok := raw[k]; ok {
			return nil, fleet.Errorf(fleet.Invalid, "%s: not part of a plan request (the fleet is in the path; a plan creates nothing)", k)
		}
	}
	delete(raw, "fleetArn")
	raw["fleet"], raw["clientRequestToken"] = fleetARN, "plan"
	if err := model.Validate("CreateDeploymentJob", raw); err != nil {
		return nil, err
	}
	in, err := bind[createDeploymentJobIn](raw)
	if err != nil {
		return nil, err
	}
	cfg := configInput(in.DeploymentConfig)
	p, err := a.cfg.Deploy.PlanCreate(ctx, c.account, fleetARN, fromWireApps(in.DeploymentApplicationConfigs), cfg, in.Tags)
	if err != nil {
		return nil, err
	}
	return toWirePlan(p), nil
}
