// API conformance of input validation, table-driven over the 19 operations:
// at least one case per length, pattern, enum, range, list-size, map-size
// and required rule of each operation's input (plus the server's own list
// rules: maxResults ranges, tampered nextToken, filter names and counts),
// each answered InvalidParameterException with AWS's wording and the member
// path, e.g. "Value 'bad name!' at 'name' failed to satisfy constraint:
// Member must satisfy regular expression pattern: [a-zA-Z0-9_\-]*". The SDK
// client has its own validation removed, so every case reaches the server.
// Values exactly at each bound are accepted.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
)

// Clauses of AWS's validation messages.
const (
	notNull     = "failed to satisfy constraint: Member must not be null"
	namePattern = `failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_\-]*`
	arnPattern  = "failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.*"
	tagPattern  = `Member must satisfy regular expression pattern: [a-zA-Z0-9 _.\-\/+=:]*`
	minLen1     = "failed to satisfy constraint: Member must have length greater than or equal to 1"
)

func maxLen(n int) string {
	return fmt.Sprintf("failed to satisfy constraint: Member must have length less than or equal to %d", n)
}

// tamper changes one character of a token's payload, keeping it within the
// PaginationToken pattern so the change reaches the token check.
func tamper(token string) string { return flipAt(token, 2) }

// tamperMAC changes the first character of the token's MAC (after its
// last '.'): one that always changes the MAC's bytes, where its last
// characters' spare bits may decode to the same bytes.
func tamperMAC(token string) string { return flipAt(token, strings.LastIndex(token, ".")+1) }

// flipAt replaces token's character at i with another base64url one.
func flipAt(token string, i int) string {
	b := []byte(token)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestAPIValidation(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	f := fixture{s, c}

	fl := f.fleet(t, uniq("fleet"))
	f.fleet(t, uniq("fleet"))
	r := f.robot(t, uniq("robot"))
	f.robot(t, uniq("robot"))
	app := f.app(t, uniq("app"))
	f.app(t, uniq("app"))
	fleetARN, robotARN, appARN := aws.StringValue(fl.Arn), aws.StringValue(r.Arn), aws.StringValue(app.Arn)

	lf, err := c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(1)})
	must(t, err)
	lr, err := c.ListRobots(&robomaker.ListRobotsInput{MaxResults: aws.Int64(1)})
	must(t, err)
	la, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{MaxResults: aws.Int64(1)})
	must(t, err)
	if lf.NextToken == nil || lr.NextToken == nil || la.NextToken == nil {
		t.Fatal("lists of two with maxResults 1 returned no nextToken")
	}
	fleetToken, robotToken, appToken := aws.StringValue(lf.NextToken), aws.StringValue(lr.NextToken), aws.StringValue(la.NextToken)

	long := strings.Repeat
	arn1225 := "arn:" + long("a", 1221)
	name256 := long("n", 256)
	key129 := long("k", 129)
	value257 := long("v", 257)
	tags51 := map[string]*string{}
	for i := range 51 {
		tags51[fmt.Sprintf("k%02d", i)] = aws.String("v")
	}
	tags := func(k, v string) map[string]*string { return map[string]*string{k: aws.String(v)} }
	filter := func(name string, values ...string) *robomaker.Filter {
		return &robomaker.Filter{Name: aws.String(name), Values: aws.StringSlice(values)}
	}
	suite := &robomaker.RobotSoftwareSuite{Name: aws.String("General")}
	source := func(bucket, key, arch string) []*robomaker.SourceConfig {
		return []*robomaker.SourceConfig{{S3Bucket: aws.String(bucket), S3Key: aws.String(key), Architecture: aws.String(arch)}}
	}
	goodSource := source("apps", "a.tar", "X86_64")

	type tc struct {
		name string
		call func() error
		// want are substrings of the message; want[0] is the full clause.
		want []string
	}
	ops := []struct {
		op    string
		cases []tc
	}{
		{"CreateFleet", []tc{
			{"NameMissing", func() error { _, err := c.CreateFleet(&robomaker.CreateFleetInput{}); return err },
				[]string{"Value null at 'name' " + notNull}},
			{"NameEmpty", func() error { _, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("")}); return err },
				[]string{"Value '' at 'name' " + minLen1}},
			{"NameTooLong", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(name256)})
				return err
			},
				[]string{"Value '" + name256 + "' at 'name' " + maxLen(255)}},
			{"NamePattern", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("bad name!")})
				return err
			},
				[]string{"Value 'bad name!' at 'name' " + namePattern}},
			{"TagKeyTooLong", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("f")), Tags: tags(key129, "v")})
				return err
			}, []string{"Value '" + key129 + "' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128]"}},
			{"TagKeyEmpty", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("f")), Tags: tags("", "v")})
				return err
			}, []string{"Value '' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length greater than or equal to 1]"}},
			{"TagKeyPattern", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("f")), Tags: tags("bad key!", "v")})
				return err
			}, []string{"Value 'bad key!' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [" + tagPattern + "]"}},
			{"TagValueTooLong", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("f")), Tags: tags("k", value257)})
				return err
			}, []string{"at 'tags.k' " + maxLen(256)}},
			{"TagValuePattern", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("f")), Tags: tags("k", "v@lue")})
				return err
			}, []string{"Value 'v@lue' at 'tags.k' failed to satisfy constraint: " + tagPattern}},
			{"TooManyTags", func() error {
				_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("f")), Tags: tags51})
				return err
			}, []string{"at 'tags' " + maxLen(50)}},
		}},
		{"DeleteFleet", []tc{
			{"FleetMissing", func() error { _, err := c.DeleteFleet(&robomaker.DeleteFleetInput{}); return err },
				[]string{"Value null at 'fleet' " + notNull}},
			{"FleetEmpty", func() error { _, err := c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: aws.String("")}); return err },
				[]string{"Value '' at 'fleet' " + minLen1}},
			{"FleetPattern", func() error {
				_, err := c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: aws.String("my-fleet")})
				return err
			},
				[]string{"Value 'my-fleet' at 'fleet' " + arnPattern}},
			{"FleetTooLong", func() error {
				_, err := c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: aws.String(arn1225)})
				return err
			},
				[]string{"at 'fleet' " + maxLen(1224)}},
		}},
		{"DescribeFleet", []tc{
			{"FleetMissing", func() error { _, err := c.DescribeFleet(&robomaker.DescribeFleetInput{}); return err },
				[]string{"Value null at 'fleet' " + notNull}},
			{"FleetEmpty", func() error {
				_, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String("")})
				return err
			},
				[]string{"Value '' at 'fleet' " + minLen1}},
			{"FleetPattern", func() error {
				_, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String("deployment-fleet/x/1")})
				return err
			}, []string{"Value 'deployment-fleet/x/1' at 'fleet' " + arnPattern}},
			{"FleetTooLong", func() error {
				_, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String(arn1225)})
				return err
			},
				[]string{"at 'fleet' " + maxLen(1224)}},
		}},
		{"ListFleets", []tc{
			{"MaxResultsZero", func() error { _, err := c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(0)}); return err },
				[]string{"Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"}},
			{"MaxResults201", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(201)})
				return err
			},
				[]string{"Value '201' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 200"}},
			{"NextTokenEmpty", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{NextToken: aws.String("")})
				return err
			},
				[]string{"Value '' at 'nextToken' " + minLen1}},
			{"NextTokenTooLong", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{NextToken: aws.String(long("t", 2049))})
				return err
			}, []string{"at 'nextToken' " + maxLen(2048)}},
			{"NextTokenPattern", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{NextToken: aws.String("bad token!")})
				return err
			}, []string{`Value 'bad token!' at 'nextToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-\/+=]*`}},
			{"NextTokenTamperedPayload", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{NextToken: aws.String(tamper(fleetToken))})
				return err
			}, []string{"nextToken"}},
			{"NextTokenTamperedMAC", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{NextToken: aws.String(tamperMAC(fleetToken))})
				return err
			}, []string{"nextToken"}},
			{"NextTokenForged", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{NextToken: aws.String("eyJjIjowLCJhIjoiIn0.AAAAAAAAAAAAAAAAAAAAAA")})
				return err
			}, []string{"nextToken"}},
			{"FiltersEmpty", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{}})
				return err
			},
				[]string{"at 'filters' " + minLen1}},
			{"FourFilters", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{filter("name", "a"), filter("name", "b"), filter("name", "c"), filter("name", "d")}})
				return err
			}, []string{"at 'filters' " + maxLen(3)}},
			{"FilterTwoValues", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{filter("name", "a", "b")}})
				return err
			}, []string{"Value '[\"a\",\"b\"]' at 'filters.1.member.values' " + maxLen(1)}},
			{"FilterNoValues", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{filter("name")}})
				return err
			}, []string{"at 'filters.1.member.values' " + minLen1}},
			{"FilterValuesMissing", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{{Name: aws.String("name")}}})
				return err
			}, []string{"name", "value"}},
			{"FilterNamePattern", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{filter("bad name!", "a")}})
				return err
			}, []string{"Value 'bad name!' at 'filters.1.member.name' " + namePattern}},
			{"FilterValuePattern", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{filter("name", "bad value!")}})
				return err
			}, []string{"Value 'bad value!' at 'filters.1.member.values.1.member' " + namePattern}},
			{"FilterUnknownName", func() error {
				_, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{filter("status", "Available")}})
				return err
			}, []string{`filter "status"`, "name"}},
		}},
		{"CreateRobot", []tc{
			{"AllMissing", func() error { _, err := c.CreateRobot(&robomaker.CreateRobotInput{}); return err },
				[]string{"3 validation errors detected: Value null at 'name' " + notNull + "; Value null at 'architecture' " + notNull + "; Value null at 'greengrassGroupId' " + notNull}},
			{"NameMissing", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(uniq("g"))})
				return err
			}, []string{"1 validation error detected: Value null at 'name' " + notNull}},
			{"NamePattern", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("robot/1"), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(uniq("g"))})
				return err
			}, []string{"Value 'robot/1' at 'name' " + namePattern}},
			{"NameTooLong", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(name256), Architecture: aws.String("X86_64"), GreengrassGroupId: aws.String(uniq("g"))})
				return err
			}, []string{"at 'name' " + maxLen(255)}},
			{"ArchitectureMissing", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), GreengrassGroupId: aws.String(uniq("g"))})
				return err
			}, []string{"Value null at 'architecture' " + notNull}},
			{"ArchitectureEnum", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("SPARC"), GreengrassGroupId: aws.String(uniq("g"))})
				return err
			}, []string{"Value 'SPARC' at 'architecture' failed to satisfy constraint: Member must satisfy enum value set: [X86_64, ARM64, ARMHF]"}},
			{"ArchitectureCase", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("x86_64"), GreengrassGroupId: aws.String(uniq("g"))})
				return err
			}, []string{"Value 'x86_64' at 'architecture' failed to satisfy constraint: Member must satisfy enum value set"}},
			{"GreengrassGroupIdMissing", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("ARM64")})
				return err
			}, []string{"Value null at 'greengrassGroupId' " + notNull}},
			{"GreengrassGroupIdEmpty", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("ARM64"), GreengrassGroupId: aws.String("")})
				return err
			}, []string{"Value '' at 'greengrassGroupId' " + minLen1}},
			{"GreengrassGroupIdTooLong", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("ARM64"), GreengrassGroupId: aws.String(long("g", 1225))})
				return err
			}, []string{"at 'greengrassGroupId' " + maxLen(1224)}},
			{"TooManyTags", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("ARM64"), GreengrassGroupId: aws.String(uniq("g")), Tags: tags51})
				return err
			}, []string{"at 'tags' " + maxLen(50)}},
			{"TagValueTooLong", func() error {
				_, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("r")), Architecture: aws.String("ARM64"), GreengrassGroupId: aws.String(uniq("g")), Tags: tags("k", value257)})
				return err
			}, []string{"at 'tags.k' " + maxLen(256)}},
		}},
		{"DeleteRobot", []tc{
			{"RobotMissing", func() error { _, err := c.DeleteRobot(&robomaker.DeleteRobotInput{}); return err },
				[]string{"Value null at 'robot' " + notNull}},
			{"RobotPattern", func() error {
				_, err := c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: aws.String("robot-1")})
				return err
			},
				[]string{"Value 'robot-1' at 'robot' " + arnPattern}},
			{"RobotTooLong", func() error {
				_, err := c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: aws.String(arn1225)})
				return err
			},
				[]string{"at 'robot' " + maxLen(1224)}},
		}},
		{"DescribeRobot", []tc{
			{"RobotMissing", func() error { _, err := c.DescribeRobot(&robomaker.DescribeRobotInput{}); return err },
				[]string{"Value null at 'robot' " + notNull}},
			{"RobotEmpty", func() error {
				_, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String("")})
				return err
			},
				[]string{"Value '' at 'robot' " + minLen1}},
			{"RobotPattern", func() error {
				_, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String("ARN:x")})
				return err
			},
				[]string{"Value 'ARN:x' at 'robot' " + arnPattern}},
			{"RobotTooLong", func() error {
				_, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String(arn1225)})
				return err
			},
				[]string{"at 'robot' " + maxLen(1224)}},
		}},
		{"ListRobots", []tc{
			{"MaxResultsZero", func() error { _, err := c.ListRobots(&robomaker.ListRobotsInput{MaxResults: aws.Int64(0)}); return err },
				[]string{"Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"}},
			{"MaxResults201", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{MaxResults: aws.Int64(201)})
				return err
			},
				[]string{"Value '201' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 200"}},
			{"MaxResultsNegative", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{MaxResults: aws.Int64(-1)})
				return err
			},
				[]string{"Value '-1' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"}},
			{"MaxResultsOverflow", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{MaxResults: aws.Int64(1 << 40)})
				return err
			}, []string{"at 'maxResults'"}},
			{"NextTokenPattern", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{NextToken: aws.String("a b")})
				return err
			},
				[]string{"Value 'a b' at 'nextToken' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
			{"NextTokenTampered", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{NextToken: aws.String(tamper(robotToken))})
				return err
			}, []string{"nextToken"}},
			{"NextTokenOfAnotherList", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{NextToken: aws.String(fleetToken)})
				return err
			}, []string{"nextToken"}},
			{"FourFilters", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{filter("status", "Available"), filter("fleetName", "a"), filter("status", "Registered"), filter("fleetName", "b")}})
				return err
			}, []string{"at 'filters' " + maxLen(3)}},
			{"FilterTwoValues", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{filter("status", "Available", "Registered")}})
				return err
			}, []string{"at 'filters.1.member.values' " + maxLen(1)}},
			{"FilterUnknownName", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{filter("name", "x")}})
				return err
			}, []string{`filter "name"`, "status", "fleetName"}},
			{"FilterRepeated", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{filter("status", "Available"), filter("status", "Registered")}})
				return err
			}, []string{`filter "status"`}},
			{"StatusFilterValue", func() error {
				_, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{filter("status", "Sleeping")}})
				return err
			}, []string{"status", "Sleeping"}},
		}},
		{"RegisterRobot", []tc{
			{"BothMissing", func() error { _, err := c.RegisterRobot(&robomaker.RegisterRobotInput{}); return err },
				[]string{"2 validation errors detected: Value null at 'fleet' " + notNull + "; Value null at 'robot' " + notNull}},
			{"FleetPattern", func() error {
				_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String("fleet"), Robot: r.Arn})
				return err
			}, []string{"Value 'fleet' at 'fleet' " + arnPattern}},
			{"RobotMissing", func() error { _, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn}); return err },
				[]string{"1 validation error detected: Value null at 'robot' " + notNull}},
			{"RobotTooLong", func() error {
				_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: aws.String(arn1225)})
				return err
			}, []string{"at 'robot' " + maxLen(1224)}},
		}},
		{"DeregisterRobot", []tc{
			{"FleetMissing", func() error { _, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Robot: r.Arn}); return err },
				[]string{"Value null at 'fleet' " + notNull}},
			{"FleetTooLong", func() error {
				_, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: aws.String(arn1225), Robot: r.Arn})
				return err
			}, []string{"at 'fleet' " + maxLen(1224)}},
			{"RobotPattern", func() error {
				_, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: fl.Arn, Robot: aws.String("robot")})
				return err
			}, []string{"Value 'robot' at 'robot' " + arnPattern}},
			{"RobotEmpty", func() error {
				_, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: fl.Arn, Robot: aws.String("")})
				return err
			}, []string{"Value '' at 'robot' " + minLen1}},
		}},
		{"CreateRobotApplication", []tc{
			{"NameMissing", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{RobotSoftwareSuite: suite, Sources: goodSource})
				return err
			}, []string{"Value null at 'name' " + notNull}},
			{"NamePattern", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String("bad name!"), RobotSoftwareSuite: suite, Sources: goodSource})
				return err
			}, []string{"Value 'bad name!' at 'name' " + namePattern}},
			{"NameTooLong", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(name256), RobotSoftwareSuite: suite, Sources: goodSource})
				return err
			}, []string{"at 'name' " + maxLen(255)}},
			{"SuiteMissing", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), Sources: goodSource})
				return err
			}, []string{"Value null at 'robotSoftwareSuite' " + notNull}},
			{"SuiteNameEnum", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), Sources: goodSource,
					RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("ROS3")}})
				return err
			}, []string{"Value 'ROS3' at 'robotSoftwareSuite.name' failed to satisfy constraint: Member must satisfy enum value set: [ROS, ROS2, General]"}},
			{"SuiteVersionEnum", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), Sources: goodSource,
					RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("ROS"), Version: aws.String("Noetic")}})
				return err
			}, []string{"Value 'Noetic' at 'robotSoftwareSuite.version' failed to satisfy constraint: Member must satisfy enum value set: [Kinetic, Melodic, Dashing, Foxy]"}},
			{"S3BucketTooShort", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: source("ab", "a.tar", "X86_64")})
				return err
			}, []string{"Value 'ab' at 'sources.1.member.s3Bucket' failed to satisfy constraint: Member must have length greater than or equal to 3"}},
			{"S3BucketTooLong", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: source(long("b", 64), "a.tar", "X86_64")})
				return err
			}, []string{"at 'sources.1.member.s3Bucket' " + maxLen(63)}},
			{"S3BucketPattern", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: source("Bad_Bucket", "a.tar", "X86_64")})
				return err
			}, []string{`Value 'Bad_Bucket' at 'sources.1.member.s3Bucket' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-z0-9][a-z0-9.\-]*[a-z0-9]`}},
			{"S3KeyEmpty", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: source("apps", "", "X86_64")})
				return err
			}, []string{"Value '' at 'sources.1.member.s3Key' " + minLen1}},
			{"S3KeyTooLong", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: source("apps", long("k", 1025), "X86_64")})
				return err
			}, []string{"at 'sources.1.member.s3Key' " + maxLen(1024)}},
			{"SourceArchitectureEnum", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite,
					Sources: append(source("apps", "a.tar", "X86_64"), source("apps", "b.tar", "MIPS")...)})
				return err
			}, []string{"Value 'MIPS' at 'sources.2.member.architecture' failed to satisfy constraint: Member must satisfy enum value set: [X86_64, ARM64, ARMHF]"}},
			{"EnvironmentURIEmpty", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite,
					Environment: &robomaker.Environment{Uri: aws.String("")}})
				return err
			}, []string{"Value '' at 'environment.uri' " + minLen1}},
			{"TagKeyTooLong", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: goodSource, Tags: tags(key129, "v")})
				return err
			}, []string{"at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128]"}},
			{"TooManyTags", func() error {
				_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("a")), RobotSoftwareSuite: suite, Sources: goodSource, Tags: tags51})
				return err
			}, []string{"at 'tags' " + maxLen(50)}},
		}},
		{"UpdateRobotApplication", []tc{
			{"ApplicationMissing", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{RobotSoftwareSuite: suite, Sources: goodSource})
				return err
			}, []string{"Value null at 'application' " + notNull}},
			{"ApplicationPattern", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: aws.String("my-app"), RobotSoftwareSuite: suite, Sources: goodSource})
				return err
			}, []string{"Value 'my-app' at 'application' " + arnPattern}},
			{"SuiteMissing", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, Sources: goodSource})
				return err
			}, []string{"Value null at 'robotSoftwareSuite' " + notNull}},
			{"SuiteNameEnum", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, Sources: goodSource,
					RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("ros")}})
				return err
			}, []string{"Value 'ros' at 'robotSoftwareSuite.name' failed to satisfy constraint: Member must satisfy enum value set"}},
			{"CurrentRevisionIdEmpty", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: suite, Sources: goodSource, CurrentRevisionId: aws.String("")})
				return err
			}, []string{"Value '' at 'currentRevisionId' " + minLen1}},
			{"CurrentRevisionIdTooLong", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: suite, Sources: goodSource, CurrentRevisionId: aws.String(long("r", 41))})
				return err
			}, []string{"at 'currentRevisionId' " + maxLen(40)}},
			{"CurrentRevisionIdPattern", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: suite, Sources: goodSource, CurrentRevisionId: aws.String("rev id!")})
				return err
			}, []string{`Value 'rev id!' at 'currentRevisionId' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]*`}},
			{"S3BucketPattern", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: suite, Sources: source("-bucket", "a.tar", "X86_64")})
				return err
			}, []string{"Value '-bucket' at 'sources.1.member.s3Bucket' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
			{"SourceArchitectureEnum", func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: suite, Sources: source("apps", "a.tar", "RISCV")})
				return err
			}, []string{"Value 'RISCV' at 'sources.1.member.architecture' failed to satisfy constraint: Member must satisfy enum value set"}},
		}},
		{"CreateRobotApplicationVersion", []tc{
			{"ApplicationMissing", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{})
				return err
			}, []string{"Value null at 'application' " + notNull}},
			{"ApplicationPattern", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String("robot-application/x/1")})
				return err
			}, []string{"Value 'robot-application/x/1' at 'application' " + arnPattern}},
			{"ApplicationTooLong", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(arn1225)})
				return err
			}, []string{"at 'application' " + maxLen(1224)}},
			{"CurrentRevisionIdPattern", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn, CurrentRevisionId: aws.String("a/b")})
				return err
			}, []string{"Value 'a/b' at 'currentRevisionId' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
			{"CurrentRevisionIdTooLong", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn, CurrentRevisionId: aws.String(long("r", 41))})
				return err
			}, []string{"at 'currentRevisionId' " + maxLen(40)}},
			{"ImageDigestPattern", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn, ImageDigest: aws.String("sha256:xyz")})
				return err
			}, []string{"Value 'sha256:xyz' at 'imageDigest' failed to satisfy constraint: Member must satisfy regular expression pattern: [Ss][Hh][Aa]256:[0-9a-fA-F]{64}"}},
			{"ImageDigestTooLong", func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn, ImageDigest: aws.String("sha256:" + long("a", 66))})
				return err
			}, []string{"at 'imageDigest' " + maxLen(72)}},
		}},
		{"DescribeRobotApplication", []tc{
			{"ApplicationMissing", func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{})
				return err
			}, []string{"Value null at 'application' " + notNull}},
			{"ApplicationPattern", func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String("app")})
				return err
			}, []string{"Value 'app' at 'application' " + arnPattern}},
			{"VersionPattern", func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("v1")})
				return err
			}, []string{`Value 'v1' at 'applicationVersion' failed to satisfy constraint: Member must satisfy regular expression pattern: (\$LATEST)|[0-9]*`}},
			{"VersionLatestLowercase", func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("$latest")})
				return err
			}, []string{"Value '$latest' at 'applicationVersion' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
			{"VersionEmpty", func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("")})
				return err
			}, []string{"Value '' at 'applicationVersion' " + minLen1}},
			{"VersionTooLong", func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String(long("1", 256))})
				return err
			}, []string{"at 'applicationVersion' " + maxLen(255)}},
		}},
		{"ListRobotApplications", []tc{
			{"VersionQualifierSOME", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("SOME")})
				return err
			}, []string{"Value 'SOME' at 'versionQualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ALL"}},
			{"VersionQualifierEmpty", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("")})
				return err
			}, []string{"Value '' at 'versionQualifier' " + minLen1}},
			{"VersionQualifierTooLong", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String(long("A", 256))})
				return err
			}, []string{"at 'versionQualifier' " + maxLen(255)}},
			{"MaxResultsZero", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{MaxResults: aws.Int64(0)})
				return err
			}, []string{"Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"}},
			{"MaxResults101", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{MaxResults: aws.Int64(101)})
				return err
			}, []string{"Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"}},
			{"NextTokenTampered", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{NextToken: aws.String(tamper(appToken))})
				return err
			}, []string{"nextToken"}},
			{"NextTokenTooLong", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{NextToken: aws.String(long("x", 2049))})
				return err
			}, []string{"at 'nextToken' " + maxLen(2048)}},
			{"FourFilters", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{Filters: []*robomaker.Filter{filter("name", "a"), filter("name", "b"), filter("name", "c"), filter("name", "d")}})
				return err
			}, []string{"at 'filters' " + maxLen(3)}},
			{"FilterTwoValues", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{Filters: []*robomaker.Filter{filter("name", "a", "b")}})
				return err
			}, []string{"at 'filters.1.member.values' " + maxLen(1)}},
			{"FilterUnknownName", func() error {
				_, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{Filters: []*robomaker.Filter{filter("version", "1")}})
				return err
			}, []string{`filter "version"`, "name"}},
		}},
		{"DeleteRobotApplication", []tc{
			{"ApplicationMissing", func() error {
				_, err := c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{})
				return err
			}, []string{"Value null at 'application' " + notNull}},
			{"ApplicationPattern", func() error {
				_, err := c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: aws.String("x")})
				return err
			}, []string{"Value 'x' at 'application' " + arnPattern}},
			{"VersionPattern", func() error {
				_, err := c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("latest")})
				return err
			}, []string{"Value 'latest' at 'applicationVersion' failed to satisfy constraint: Member must satisfy regular expression pattern"}},
			{"VersionTooLong", func() error {
				_, err := c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String(long("9", 256))})
				return err
			}, []string{"at 'applicationVersion' " + maxLen(255)}},
		}},
		{"TagResource", []tc{
			{"ResourceArnPattern", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String("not-an-arn"), Tags: tags("k", "v")})
				return err
			}, []string{"Value 'not-an-arn' at 'resourceArn' " + arnPattern}},
			{"ResourceArnTooLong", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(arn1225), Tags: tags("k", "v")})
				return err
			}, []string{"at 'resourceArn' " + maxLen(1224)}},
			{"TagsMissing", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn})
				return err
			}, []string{"Value null at 'tags' " + notNull}},
			{"TagKeyTooLong", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn, Tags: tags(key129, "v")})
				return err
			}, []string{"Value '" + key129 + "' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 128]"}},
			{"TagKeyPattern", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn, Tags: tags("key#1", "v")})
				return err
			}, []string{"Value 'key#1' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [" + tagPattern + "]"}},
			{"TagValueTooLong", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn, Tags: tags("k", value257)})
				return err
			}, []string{"Value '" + value257[:256] + "...' at 'tags.k' " + maxLen(256)}},
			{"TagValuePattern", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn, Tags: tags("k", "a;b")})
				return err
			}, []string{"Value 'a;b' at 'tags.k' failed to satisfy constraint: " + tagPattern}},
			{"TooManyTags", func() error {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn, Tags: tags51})
				return err
			}, []string{"at 'tags' " + maxLen(50)}},
		}},
		{"UntagResource", []tc{
			{"ResourceArnPattern", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String("fleet"), TagKeys: aws.StringSlice([]string{"k"})})
				return err
			}, []string{"Value 'fleet' at 'resourceArn' " + arnPattern}},
			{"ResourceArnTooLong", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(arn1225), TagKeys: aws.StringSlice([]string{"k"})})
				return err
			}, []string{"at 'resourceArn' " + maxLen(1224)}},
			{"TagKeysMissing", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: fl.Arn})
				return err
			}, []string{"Value null at 'tagKeys' " + notNull}},
			{"TagKeysEmpty", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: fl.Arn, TagKeys: []*string{}})
				return err
			}, []string{"at 'tagKeys' "}},
			{"TagKeyEmptyString", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: fl.Arn, TagKeys: aws.StringSlice([]string{""})})
				return err
			}, []string{"Value '' at 'tagKeys.1.member' " + minLen1}},
			{"TagKeyTooLong", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: fl.Arn, TagKeys: aws.StringSlice([]string{key129})})
				return err
			}, []string{"Value '" + key129 + "' at 'tagKeys.1.member' " + maxLen(128)}},
			{"TagKeyPattern", func() error {
				_, err := c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: fl.Arn, TagKeys: aws.StringSlice([]string{"bad!"})})
				return err
			}, []string{"Value 'bad!' at 'tagKeys.1.member' failed to satisfy constraint: " + tagPattern}},
		}},
		{"ListTagsForResource", []tc{
			{"ResourceArnPattern", func() error {
				_, err := c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String("robot/x/1")})
				return err
			}, []string{"Value 'robot/x/1' at 'resourceArn' " + arnPattern}},
			{"ResourceArnTooLong", func() error {
				_, err := c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String(arn1225)})
				return err
			}, []string{"at 'resourceArn' " + maxLen(1224)}},
			{"ResourceArnNotRoboMaker", func() error {
				_, err := c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket")})
				return err
			}, []string{"arn:aws:s3:::bucket"}},
		}},
	}

	for _, op := range ops {
		t.Run(op.op, func(t *testing.T) {
			for _, tc := range op.cases {
				t.Run(tc.name, func(t *testing.T) {
					err := tc.call()
					wantErr(t, err, "InvalidParameterException", tc.want...)
					if t.Failed() || !strings.Contains(tc.want[0], "failed to satisfy constraint") {
						return
					}
					if msg := err.Error(); !strings.Contains(msg, "validation error") || !strings.Contains(msg, "detected: ") {
						t.Errorf("message %q does not start with AWS's \"N validation error(s) detected: \"", msg)
					}
				})
			}
		})
	}

	// Nothing that was refused was created or changed.
	t.Run("RefusedCallsChangedNothing", func(t *testing.T) {
		lf, err := c.ListFleets(&robomaker.ListFleetsInput{})
		must(t, err)
		lr, err := c.ListRobots(&robomaker.ListRobotsInput{})
		must(t, err)
		la, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL")})
		must(t, err)
		if len(lf.FleetDetails) != 2 || len(lr.Robots) != 2 || len(la.RobotApplicationSummaries) != 2 {
			t.Errorf("after refused calls: %d fleets, %d robots, %d application rows; want 2 each",
				len(lf.FleetDetails), len(lr.Robots), len(la.RobotApplicationSummaries))
		}
		tl, err := c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: fl.Arn})
		must(t, err)
		checkNoTags(t, "fleet after refused TagResource calls", tl.Tags)
	})

	// Values exactly at each bound are accepted.
	t.Run("Boundaries", func(t *testing.T) {
		name255 := long("n", 255)
		bf, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(name255)})
		must(t, err)
		checkARN(t, fleetARNRe, aws.StringValue(bf.Arn), "123456789012", name255)
		_, err = c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(name255), Architecture: aws.String("ARM64"), GreengrassGroupId: aws.String(long("g", 1224))})
		must(t, err)
		tags50 := map[string]*string{}
		for i := range 49 {
			tags50[fmt.Sprintf("k%02d", i)] = aws.String("")
		}
		tags50[long("k", 128)] = aws.String(long("v", 256))
		_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(robotARN), Tags: tags50})
		must(t, err)
		_, err = c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(robotARN), TagKeys: aws.StringSlice([]string{long("k", 128)})})
		must(t, err)
		_, err = c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(200)})
		must(t, err)
		_, err = c.ListRobots(&robomaker.ListRobotsInput{MaxResults: aws.Int64(1)})
		must(t, err)
		_, err = c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{MaxResults: aws.Int64(100), VersionQualifier: aws.String("ALL")})
		must(t, err)
		_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(appARN), CurrentRevisionId: app.RevisionId})
		must(t, err)
		_, err = c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(appARN), ApplicationVersion: aws.String("$LATEST")})
		must(t, err)
		_, err = c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String(fleetARN)})
		must(t, err)
		_, err = c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("app")), RobotSoftwareSuite: suite,
			Sources: append(source("apps", long("k", 1024), "ARMHF"), source("apps", "a.tar", "ARM64")...)})
		must(t, err)
	})
}
