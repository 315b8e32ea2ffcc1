package awsapi

import (
	"strconv"

	"github.com/fleetsync/fleetsync/internal/fleet"
)

// Epoch is a millisecond timestamp written as epoch seconds with a
// millisecond fraction, the restJson1 timestamp form.
type Epoch int64

// MarshalJSON writes seconds.milliseconds as a JSON number.
func (e Epoch) MarshalJSON() ([]byte, error) { return e.appendJSON(nil), nil }

// appendJSON appends what MarshalJSON returns.
func (e Epoch) appendJSON(b []byte) []byte {
	ms := int64(e)
	b = strconv.AppendInt(b, ms/1000, 10)
	if frac := ms % 1000; frac != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	}
	return b
}

// epochPtr returns nil for an unset (zero) time so the member is omitted.
func epochPtr(ms int64) *Epoch {
	if ms == 0 {
		return nil
	}
	e := Epoch(ms)
	return &e
}

// wireFilter is the model's Filter.
type wireFilter struct {
	Name   string   `json:"name"`
	Values []string `json:"values"`
}

// listInput is what every paginated list request shares.
type listInput struct {
	NextToken  string       `json:"nextToken"`
	MaxResults *int         `json:"maxResults"`
	Filters    []wireFilter `json:"filters"`
}

type wireRobot struct {
	ARN                string `json:"arn"`
	Name               string `json:"name"`
	FleetARN           string `json:"fleetArn,omitempty"`
	Status             string `json:"status"`
	GreenGrassGroupID  string `json:"greenGrassGroupId"`
	CreatedAt          Epoch  `json:"createdAt"`
	Architecture       string `json:"architecture"`
	LastDeploymentJob  string `json:"lastDeploymentJob,omitempty"`
	LastDeploymentTime *Epoch `json:"lastDeploymentTime,omitempty"`
}

func toWireRobot(r fleet.Robot) wireRobot {
	return wireRobot{
		ARN: r.ARN, Name: r.Name, FleetARN: r.FleetARN, Status: string(r.Status), GreenGrassGroupID: r.AgentID,
		CreatedAt: Epoch(r.CreatedMs), Architecture: string(r.Architecture),
		LastDeploymentJob: r.LastDeploymentJob, LastDeploymentTime: epochPtr(r.LastDeploymentTimeMs),
	}
}

type wireFleet struct {
	Name                 string `json:"name"`
	ARN                  string `json:"arn"`
	CreatedAt            Epoch  `json:"createdAt"`
	LastDeploymentStatus string `json:"lastDeploymentStatus,omitempty"`
	LastDeploymentJob    string `json:"lastDeploymentJob,omitempty"`
	LastDeploymentTime   *Epoch `json:"lastDeploymentTime,omitempty"`
}

func toWireFleet(f fleet.Fleet) wireFleet {
	return wireFleet{Name: f.Name, ARN: f.ARN, CreatedAt: Epoch(f.CreatedMs), LastDeploymentStatus: string(f.LastDeploymentStatus),
		LastDeploymentJob: f.LastDeploymentJob, LastDeploymentTime: epochPtr(f.LastDeploymentTimeMs)}
}

type wireSourceConfig struct {
	S3Bucket     string `json:"s3Bucket"`
	S3Key        string `json:"s3Key"`
	Architecture string `json:"architecture"`
}

type wireSource struct {
	S3Bucket     string `json:"s3Bucket"`
	S3Key        string `json:"s3Key"`
	ETag         string `json:"etag,omitempty"`
	Architecture string `json:"architecture"`
}

type wireSuite struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

func fromWireSources(in []wireSourceConfig) []fleet.Source {
	out := make([]fleet.Source, len(in))
	for i, s := range in {
		out[i] = fleet.Source{Bucket: s.S3Bucket, Key: s.S3Key, Architecture: fleet.Architecture(s.Architecture)}
	}
	return out
}

func toWireSources(in []fleet.Source) []wireSource {
	out := make([]wireSource, len(in))
	for i, s := range in {
		out[i] = wireSource{S3Bucket: s.Bucket, S3Key: s.Key, ETag: s.ETag, Architecture: string(s.Architecture)}
	}
	return out
}

// wireApplication is the union of the application responses' members; tags
// is a pointer so outputs without it (Update, CreateVersion) omit it.
type wireApplication struct {
	ARN                string       `json:"arn"`
	Name               string       `json:"name"`
	Version            string       `json:"version"`
	Sources            []wireSource `json:"sources"`
	RobotSoftwareSuite wireSuite    `json:"robotSoftwareSuite"`
	LastUpdatedAt      Epoch        `json:"lastUpdatedAt"`
	RevisionID         string       `json:"revisionId"`
	Tags               *fleet.Tags  `json:"tags,omitempty"`
}

func toWireApplication(a fleet.Application, withTags bool) wireApplication {
	w := wireApplication{ARN: a.ARN, Name: a.Name, Version: a.Version, Sources: toWireSources(a.Sources),
		RobotSoftwareSuite: wireSuite{a.SoftwareSuite.Name, a.SoftwareSuite.Version},
		LastUpdatedAt:      Epoch(a.LastUpdatedMs), RevisionID: a.RevisionID}
	if withTags {
		t := tagsOrEmpty(a.Tags)
		w.Tags = &t
	}
	return w
}

type wireApplicationSummary struct {
	Name               string    `json:"name"`
	ARN                string    `json:"arn"`
	Version            string    `json:"version"`
	LastUpdatedAt      Epoch     `json:"lastUpdatedAt"`
	RobotSoftwareSuite wireSuite `json:"robotSoftwareSuite"`
}

func tagsOrEmpty(t fleet.Tags) fleet.Tags {
	if t == nil {
		return fleet.Tags{}
	}
	return t
}
