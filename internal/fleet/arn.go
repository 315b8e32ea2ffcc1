package fleet

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ResourceType is the resource-type segment of a RoboMaker ARN.
type ResourceType string

// The resource types fleetsync mints ARNs for.
const (
	TypeFleet            ResourceType = "deployment-fleet"
	TypeRobot            ResourceType = "robot"
	TypeRobotApplication ResourceType = "robot-application"
	TypeDeploymentJob    ResourceType = "deployment-job"
)

// ARN is a parsed RoboMaker resource name.
type ARN struct {
	Region  string
	Account string
	Type    ResourceType
	// Name is the resource name; for a deployment job, its id ("deployment-…").
	Name string
	// CreatedMs is the millisecond epoch embedded in named resources' ARNs.
	CreatedMs int64
}

// String formats the ARN exactly as AWS RoboMaker did.
func (a ARN) String() string {
	if a.Type == TypeDeploymentJob {
		return fmt.Sprintf("arn:aws:robomaker:%s:%s:%s/%s", a.Region, a.Account, a.Type, a.Name)
	}
	return fmt.Sprintf("arn:aws:robomaker:%s:%s:%s/%s/%d", a.Region, a.Account, a.Type, a.Name, a.CreatedMs)
}

// MaxARN is the longest ARN the RoboMaker model allows (its Arn shape).
const MaxARN = 1224

// ParseARN parses a RoboMaker ARN of one of the four supported resource
// types. It is the one check every ARN from a client passes, including
// those of operations outside the model (path values arrive decoded): an
// ARN no store can hold (too long, NUL, not UTF-8) is Invalid here rather
// than an error from PostgreSQL.
func ParseARN(s string) (ARN, error) {
	if len(s) > MaxARN || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return ARN{}, Errorf(Invalid, "%.80q is not a RoboMaker ARN: it must be at most %d bytes of UTF-8 without NUL", s, MaxARN)
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] != "aws" || parts[2] != "robomaker" {
		return ARN{}, Errorf(Invalid, "%q is not a RoboMaker ARN", s)
	}
	a := ARN{Region: parts[3], Account: parts[4]}
	rest := strings.Split(parts[5], "/")
	a.Type = ResourceType(rest[0])
	switch a.Type {
	case TypeDeploymentJob:
		if len(rest) != 2 || rest[1] == "" {
			return ARN{}, Errorf(Invalid, "%q is not a deployment job ARN", s)
		}
		a.Name = rest[1]
	case TypeFleet, TypeRobot, TypeRobotApplication:
		if len(rest) != 3 || rest[1] == "" {
			return ARN{}, Errorf(Invalid, "%q is not a %s ARN", s, a.Type)
		}
		ms, err := strconv.ParseInt(rest[2], 10, 64)
		if err != nil {
			return ARN{}, Errorf(Invalid, "%q is not a %s ARN: bad creation epoch", s, a.Type)
		}
		a.Name, a.CreatedMs = rest[1], ms
	default:
		return ARN{}, Errorf(Invalid, "%q names an unsupported resource type %q", s, rest[0])
	}
	return a, nil
}
