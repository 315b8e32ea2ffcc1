package awsapi

import (
	"context"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// routes registers every served operation.
func (a *API) routes() {
	a.handle("CreateFleet", typed(a.createFleet))
	a.handle("DeleteFleet", typed(a.deleteFleet))
	a.handle("DescribeFleet", typed(a.describeFleet))
	a.handle("ListFleets", typed(a.listFleets))
	a.handle("CreateRobot", typed(a.createRobot))
	a.handle("DeleteRobot", typed(a.deleteRobot))
	a.handle("DescribeRobot", typed(a.describeRobot))
	a.handle("ListRobots", typed(a.listRobots))
	a.handle("RegisterRobot", typed(a.registerRobot))
	a.handle("DeregisterRobot", typed(a.deregisterRobot))
	a.handle("CreateRobotApplication", typed(a.createRobotApplication))
	a.handle("UpdateRobotApplication", typed(a.updateRobotApplication))
	a.handle("CreateRobotApplicationVersion", typed(a.createRobotApplicationVersion))
	a.handle("DescribeRobotApplication", typed(a.describeRobotApplication))
	a.handle("ListRobotApplications", typed(a.listRobotApplications))
	a.handle("DeleteRobotApplication", typed(a.deleteRobotApplication))
	a.handle("CreateDeploymentJob", typed(a.createDeploymentJob))
	a.handle("SyncDeploymentJob", typed(a.syncDeploymentJob))
	a.handle("DescribeDeploymentJob", typed(a.describeDeploymentJob))
	a.handle("ListDeploymentJobs", typed(a.listDeploymentJobs))
	a.handle("CancelDeploymentJob", typed(a.cancelDeploymentJob))
	a.handle("TagResource", typed(a.tagResource))
	a.handle("UntagResource", typed(a.untagResource))
	a.handle("ListTagsForResource", typed(a.listTagsForResource))
	a.routesFleetsync()
	a.mux.HandleFunc("/", a.notServed)
}

// empty is the output of operations that return nothing.
type empty struct{}

// listQuery turns a list request into a store query: it checks maxResults
// against the list's bounds, opens the token and folds the filters (up to
// three, ANDed, one value each, no name twice).
func (a *API) listQuery(c caller, op string, in listInput, maxLimit int) (fleet.ListQuery, error) {
	q := fleet.ListQuery{Account: c.account, Limit: maxLimit, Filters: map[string]string{}}
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > maxLimit {
			return q, fleet.Errorf(fleet.Invalid, "1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value %s %d", *in.MaxResults, map[bool]string{true: "greater than or equal to", false: "less than or equal to"}[*in.MaxResults < 1], min(max(*in.MaxResults, 1), maxLimit))
		}
		q.Limit = *in.MaxResults
	}
	after, err := a.tokens.open(c.account, op, in.NextToken)
	if err != nil {
		return q, err
	}
	q.After = after
	for _, f := range in.Filters {
		if len(f.Values) != 1 {
			return q, fleet.Errorf(fleet.Invalid, "filter %q must have exactly one value", f.Name)
		}
		if _, dup := q.Filters[f.Name]; dup {
			return q, fleet.Errorf(fleet.Invalid, "filter %q is given more than once", f.Name)
		}
		q.Filters[f.Name] = f.Values[0]
	}
	return q, nil
}

// --- fleets ---

type createFleetIn struct {
	Name string     `json:"name"`
	Tags fleet.Tags `json:"tags"`
}

type createFleetOut struct {
	ARN       string     `json:"arn"`
	Name      string     `json:"name"`
	CreatedAt Epoch      `json:"createdAt"`
	Tags      fleet.Tags `json:"tags"`
}

func (a *API) createFleet(ctx context.Context, c caller, in *createFleetIn) (any, error) {
	f, err := a.cfg.Registry.CreateFleet(ctx, c.account, in.Name, in.Tags)
	if err != nil {
		return nil, err
	}
	return createFleetOut{f.ARN, f.Name, Epoch(f.CreatedMs), tagsOrEmpty(f.Tags)}, nil
}

type fleetIn struct {
	Fleet string `json:"fleet"`
}

func (a *API) deleteFleet(ctx context.Context, c caller, in *fleetIn) (any, error) {
	return empty{}, a.cfg.Registry.DeleteFleet(ctx, c.account, in.Fleet)
}

type describeFleetOut struct {
	wireFleet
	Robots []wireRobot `json:"robots"`
	Tags   fleet.Tags  `json:"tags"`
}

func (a *API) describeFleet(ctx context.Context, c caller, in *fleetIn) (any, error) {
	f, robots, err := a.cfg.Registry.DescribeFleet(ctx, c.account, in.Fleet)
	if err != nil {
		return nil, err
	}
	out := describeFleetOut{wireFleet: toWireFleet(f), Robots: make([]wireRobot, len(robots)), Tags: tagsOrEmpty(f.Tags)}
	for i, r := range robots {
		out.Robots[i] = toWireRobot(r)
	}
	return out, nil
}

type listFleetsOut struct {
	FleetDetails []wireFleet `json:"fleetDetails"`
	NextToken    string      `json:"nextToken,omitempty"`
}

func (a *API) listFleets(ctx context.Context, c caller, in *listInput) (any, error) {
	q, err := a.listQuery(c, "ListFleets", *in, 200)
	if err != nil {
		return nil, err
	}
	p, err := a.cfg.Registry.ListFleets(ctx, q)
	if err != nil {
		return nil, err
	}
	out := listFleetsOut{FleetDetails: make([]wireFleet, len(p.Items)), NextToken: a.tokens.seal(c.account, "ListFleets", p.Next)}
	for i, f := range p.Items {
		out.FleetDetails[i] = toWireFleet(f)
	}
	return out, nil
}

// --- robots ---

type createRobotIn struct {
	Name              string     `json:"name"`
	Architecture      string     `json:"architecture"`
	GreengrassGroupID string     `json:"greengrassGroupId"`
	Tags              fleet.Tags `json:"tags"`
}

type createRobotOut struct {
	ARN               string     `json:"arn"`
	Name              string     `json:"name"`
	CreatedAt         Epoch      `json:"createdAt"`
	GreengrassGroupID string     `json:"greengrassGroupId"`
	Architecture      string     `json:"architecture"`
	Tags              fleet.Tags `json:"tags"`
}

func (a *API) createRobot(ctx context.Context, c caller, in *createRobotIn) (any, error) {
	r, err := a.cfg.Registry.CreateRobot(ctx, c.account, in.Name, fleet.Architecture(in.Architecture), in.GreengrassGroupID, in.Tags)
	if err != nil {
		return nil, err
	}
	return createRobotOut{r.ARN, r.Name, Epoch(r.CreatedMs), r.AgentID, string(r.Architecture), tagsOrEmpty(r.Tags)}, nil
}

type robotIn struct {
	Robot string `json:"robot"`
}

func (a *API) deleteRobot(ctx context.Context, c caller, in *robotIn) (any, error) {
	return empty{}, a.cfg.Registry.DeleteRobot(ctx, c.account, in.Robot)
}

type describeRobotOut struct {
	ARN                string     `json:"arn"`
	Name               string     `json:"name"`
	FleetARN           string     `json:"fleetArn,omitempty"`
	Status             string     `json:"status"`
	GreengrassGroupID  string     `json:"greengrassGroupId"`
	CreatedAt          Epoch      `json:"createdAt"`
	Architecture       string     `json:"architecture"`
	LastDeploymentJob  string     `json:"lastDeploymentJob,omitempty"`
	LastDeploymentTime *Epoch     `json:"lastDeploymentTime,omitempty"`
	Tags               fleet.Tags `json:"tags"`
}

func (a *API) describeRobot(ctx context.Context, c caller, in *robotIn) (any, error) {
	r, err := a.cfg.Registry.DescribeRobot(ctx, c.account, in.Robot)
	if err != nil {
		return nil, err
	}
	return describeRobotOut{
		ARN: r.ARN, Name: r.Name, FleetARN: r.FleetARN, Status: string(r.Status), GreengrassGroupID: r.AgentID,
		CreatedAt: Epoch(r.CreatedMs), Architecture: string(r.Architecture), LastDeploymentJob: r.LastDeploymentJob,
		LastDeploymentTime: epochPtr(r.LastDeploymentTimeMs), Tags: tagsOrEmpty(r.Tags),
	}, nil
}

type listRobotsOut struct {
	Robots    []wireRobot `json:"robots"`
	NextToken string      `json:"nextToken,omitempty"`
}

func (a *API) listRobots(ctx context.Context, c caller, in *listInput) (any, error) {
	q, err := a.listQuery(c, "ListRobots", *in, 200)
	if err != nil {
		return nil, err
	}
	p, err := a.cfg.Registry.ListRobots(ctx, q)
	if err != nil {
		return nil, err
	}
	out := listRobotsOut{Robots: make([]wireRobot, len(p.Items)), NextToken: a.tokens.seal(c.account, "ListRobots", p.Next)}
	for i, r := range p.Items {
		out.Robots[i] = toWireRobot(r)
	}
	return out, nil
}

type fleetRobotIn struct {
	Fleet string `json:"fleet"`
	Robot string `json:"robot"`
}

func (a *API) registerRobot(ctx context.Context, c caller, in *fleetRobotIn) (any, error) {
	if err := a.cfg.Registry.RegisterRobot(ctx, c.account, in.Fleet, in.Robot); err != nil {
		return nil, err
	}
	return in, nil
}

func (a *API) deregisterRobot(ctx context.Context, c caller, in *fleetRobotIn) (any, error) {
	if err := a.cfg.Registry.DeregisterRobot(ctx, c.account, in.Fleet, in.Robot); err != nil {
		return nil, err
	}
	return in, nil
}

// --- robot applications ---

type environmentIn struct {
	URI string `json:"uri"`
}

type createRobotApplicationIn struct {
	Name               string             `json:"name"`
	Sources            []wireSourceConfig `json:"sources"`
	RobotSoftwareSuite wireSuite          `json:"robotSoftwareSuite"`
	Tags               fleet.Tags         `json:"tags"`
	Environment        *environmentIn     `json:"environment"`
}

var errContainers = fleet.Errorf(fleet.Invalid, "environment: container images are not supported by fleetsync; give sources (bundles in object storage)")

func (a *API) createRobotApplication(ctx context.Context, c caller, in *createRobotApplicationIn) (any, error) {
	if in.Environment != nil {
		return nil, errContainers
	}
	app, err := a.cfg.Registry.CreateApplication(ctx, c.account, in.Name, fromWireSources(in.Sources),
		fleet.SoftwareSuite{Name: in.RobotSoftwareSuite.Name, Version: in.RobotSoftwareSuite.Version}, in.Tags)
	if err != nil {
		return nil, err
	}
	return toWireApplication(app, true), nil
}

type updateRobotApplicationIn struct {
	Application        string             `json:"application"`
	Sources            []wireSourceConfig `json:"sources"`
	RobotSoftwareSuite wireSuite          `json:"robotSoftwareSuite"`
	CurrentRevisionID  *string            `json:"currentRevisionId"`
	Environment        *environmentIn     `json:"environment"`
}

func (a *API) updateRobotApplication(ctx context.Context, c caller, in *updateRobotApplicationIn) (any, error) {
	if in.Environment != nil {
		return nil, errContainers
	}
	app, err := a.cfg.Registry.UpdateApplication(ctx, c.account, in.Application, fromWireSources(in.Sources),
		fleet.SoftwareSuite{Name: in.RobotSoftwareSuite.Name, Version: in.RobotSoftwareSuite.Version}, in.CurrentRevisionID)
	if err != nil {
		return nil, err
	}
	return toWireApplication(app, false), nil
}

type createRobotApplicationVersionIn struct {
	Application       string   `json:"application"`
	CurrentRevisionID *string  `json:"currentRevisionId"`
	S3Etags           []string `json:"s3Etags"`
	ImageDigest       string   `json:"imageDigest"`
}

func (a *API) createRobotApplicationVersion(ctx context.Context, c caller, in *createRobotApplicationVersionIn) (any, error) {
	if in.ImageDigest != "" {
		return nil, fleet.Errorf(fleet.Invalid, "imageDigest: container images are not supported by fleetsync")
	}
	app, err := a.cfg.Registry.CreateApplicationVersion(ctx, c.account, in.Application, in.CurrentRevisionID, in.S3Etags)
	if err != nil {
		return nil, err
	}
	return toWireApplication(app, false), nil
}

type applicationVersionIn struct {
	Application        string `json:"application"`
	ApplicationVersion string `json:"applicationVersion"`
}

func (a *API) describeRobotApplication(ctx context.Context, c caller, in *applicationVersionIn) (any, error) {
	app, err := a.cfg.Registry.DescribeApplication(ctx, c.account, in.Application, in.ApplicationVersion)
	if err != nil {
		return nil, err
	}
	return toWireApplication(app, true), nil
}

type listRobotApplicationsIn struct {
	listInput
	VersionQualifier string `json:"versionQualifier"`
}

type listRobotApplicationsOut struct {
	Summaries []wireApplicationSummary `json:"robotApplicationSummaries"`
	NextToken string                   `json:"nextToken,omitempty"`
}

func (a *API) listRobotApplications(ctx context.Context, c caller, in *listRobotApplicationsIn) (any, error) {
	q, err := a.listQuery(c, "ListRobotApplications", in.listInput, 100)
	if err != nil {
		return nil, err
	}
	p, err := a.cfg.Registry.ListApplications(ctx, q, in.VersionQualifier == "ALL")
	if err != nil {
		return nil, err
	}
	out := listRobotApplicationsOut{Summaries: make([]wireApplicationSummary, len(p.Items)), NextToken: a.tokens.seal(c.account, "ListRobotApplications", p.Next)}
	for i, app := range p.Items {
		out.Summaries[i] = wireApplicationSummary{Name: app.Name, ARN: app.ARN, Version: app.Version,
			LastUpdatedAt: Epoch(app.LastUpdatedMs), RobotSoftwareSuite: wireSuite{app.SoftwareSuite.Name, app.SoftwareSuite.Version}}
	}
	return out, nil
}

func (a *API) deleteRobotApplication(ctx context.Context, c caller, in *applicationVersionIn) (any, error) {
	return empty{}, a.cfg.Registry.DeleteApplication(ctx, c.account, in.Application, in.ApplicationVersion)
}

// --- tags ---

type tagsIn struct {
	ResourceARN string     `json:"resourceArn"`
	Tags        fleet.Tags `json:"tags"`
	TagKeys     []string   `json:"tagKeys"`
}

func (a *API) tagResource(ctx context.Context, c caller, in *tagsIn) (any, error) {
	return empty{}, a.cfg.Registry.TagResource(ctx, c.account, in.ResourceARN, in.Tags)
}

func (a *API) untagResource(ctx context.Context, c caller, in *tagsIn) (any, error) {
	return empty{}, a.cfg.Registry.UntagResource(ctx, c.account, in.ResourceARN, in.TagKeys)
}

type listTagsOut struct {
	Tags fleet.Tags `json:"tags"`
}

func (a *API) listTagsForResource(ctx context.Context, c caller, in *tagsIn) (any, error) {
	t, err := a.cfg.Registry.ListTags(ctx, c.account, in.ResourceARN)
	if err != nil {
		return nil, err
	}
	return listTagsOut{tagsOrEmpty(t)}, nil
}
