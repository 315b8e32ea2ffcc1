// API conformance of account isolation: two credentials in two accounts on
// one server. Nothing of one account is visible to or changeable by the
// other — Describe*, Delete*, Register/Deregister, application updates and
// versions, Tag/Untag/ListTags all answer ResourceNotFoundException exactly
// as for an ARN that never existed, and the lists are empty — while names
// may repeat across accounts and each account's ARNs carry its own number.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/awserr"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestAPIAccountIsolation(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	a := quiet(s.Client()) // account 123456789012
	const accountB = "210987654321"
	keyB, secretB := newAccount(t, s, accountB)
	// B names the bucket "apps" too (granted to it here): this test is
	// about resources, bucket isolation is tenancy_test.go's.
	bucketsCmd(t, s, "grant", "--account", accountB, "apps")
	b := quiet(s.ClientFor(keyB, secretB))
	fa := fixture{s, a}
	fb := fixture{s, b}

	// Account A's resources, tagged.
	aFleet, err := a.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("shared-name"), Tags: aws.StringMap(map[string]string{"owner": "a"})})
	must(t, err)
	aRobot, err := a.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("shared-name"), Architecture: aws.String("X86_64"),
		GreengrassGroupId: aws.String("agent-of-a"), Tags: aws.StringMap(map[string]string{"owner": "a"})})
	must(t, err)
	_, err = a.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aFleet.Arn, Robot: aRobot.Arn})
	must(t, err)
	aApp := fa.app(t, "shared-name")
	_, err = a.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aApp.Arn})
	must(t, err)

	t.Run("NamesRepeatAcrossAccounts", func(t *testing.T) {
		bFleet, err := b.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("shared-name")})
		must(t, err)
		checkARN(t, fleetARNRe, aws.StringValue(bFleet.Arn), accountB, "shared-name")
		bRobot, err := b.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String("shared-name"), Architecture: aws.String("ARM64"),
			GreengrassGroupId: aws.String("agent-of-b")})
		must(t, err)
		checkARN(t, robotARNRe, aws.StringValue(bRobot.Arn), accountB, "shared-name")
		bApp := fb.app(t, "shared-name")
		checkARN(t, appARNRe, aws.StringValue(bApp.Arn), accountB, "shared-name")
		checkARN(t, fleetARNRe, aws.StringValue(aFleet.Arn), testenv.Account, "shared-name")

		// B's new fleet has no robots and no tags; A's is untouched.
		d, err := b.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: bFleet.Arn})
		must(t, err)
		if len(d.Robots) != 0 {
			t.Errorf("B's fleet shows robots %v", d.Robots)
		}
		checkNoTags(t, "B's fleet", d.Tags)
		// B's first version of its application is 1, whatever A did.
		v, err := b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: bApp.Arn})
		must(t, err)
		if aws.StringValue(v.Version) != "1" {
			t.Errorf("B's first version = %s", aws.StringValue(v.Version))
		}
	})

	t.Run("ListsShowOnlyOwnResources", func(t *testing.T) {
		lf, err := b.ListFleets(&robomaker.ListFleetsInput{})
		must(t, err)
		for _, f := range lf.FleetDetails {
			if strings.Contains(aws.StringValue(f.Arn), testenv.Account) {
				t.Errorf("B lists A's fleet %s", aws.StringValue(f.Arn))
			}
		}
		lr, err := b.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{{Name: aws.String("status"), Values: aws.StringSlice([]string{"Registered"})}}})
		must(t, err)
		if len(lr.Robots) != 0 {
			t.Errorf("B lists registered robots %v (only A has one)", lr.Robots)
		}
		la, err := b.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL")})
		must(t, err)
		for _, s := range la.RobotApplicationSummaries {
			if strings.Contains(aws.StringValue(s.Arn), testenv.Account) {
				t.Errorf("B lists A's application %s", aws.StringValue(s.Arn))
			}
		}

		// A fresh account sees nothing at all.
		keyC, secretC := newAccount(t, s, "333333333333")
		cc := quiet(s.ClientFor(keyC, secretC))
		lf, err = cc.ListFleets(&robomaker.ListFleetsInput{})
		must(t, err)
		lr, err = cc.ListRobots(&robomaker.ListRobotsInput{})
		must(t, err)
		la, err = cc.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL")})
		must(t, err)
		if len(lf.FleetDetails)+len(lr.Robots)+len(la.RobotApplicationSummaries) != 0 || lf.NextToken != nil {
			t.Errorf("a new account lists %d fleets, %d robots, %d applications; want none",
				len(lf.FleetDetails), len(lr.Robots), len(la.RobotApplicationSummaries))
		}
		// fleetName matches only the caller's fleets.
		lr, err = cc.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{{Name: aws.String("fleetName"), Values: aws.StringSlice([]string{"shared-name"})}}})
		must(t, err)
		if len(lr.Robots) != 0 {
			t.Errorf("fleetName filter shows another account's robots: %v", lr.Robots)
		}
	})

	// Every operation that takes an ARN answers B about A's resource exactly
	// as about one that does not exist in B's own account.
	t.Run("ForeignARNsAreNotFound", func(t *testing.T) {
		bFleet := fb.fleet(t, uniq("bfleet"))
		bRobot := fb.robot(t, uniq("brobot"))
		ghost := func(arn string) string { return strings.Replace(arn, testenv.Account, accountB, 1) }
		suite := &robomaker.RobotSoftwareSuite{Name: aws.String("General")}
		sources := []*robomaker.SourceConfig{{S3Bucket: aws.String("apps"), S3Key: aws.String("a.tar"), Architecture: aws.String("X86_64")}}
		cases := []struct {
			name string
			arn  string
			call func(arn string) error
		}{
			// (The version cases word a missing application in the caller's
			// own account "has no version N", so only the code is compared.)
			{"DescribeFleet", aws.StringValue(aFleet.Arn), func(arn string) error {
				_, err := b.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String(arn)})
				return err
			}},
			{"DeleteFleet", aws.StringValue(aFleet.Arn), func(arn string) error {
				_, err := b.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: aws.String(arn)})
				return err
			}},
			{"DescribeRobot", aws.StringValue(aRobot.Arn), func(arn string) error {
				_, err := b.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String(arn)})
				return err
			}},
			{"DeleteRobot", aws.StringValue(aRobot.Arn), func(arn string) error {
				_, err := b.DeleteRobot(&robomaker.DeleteRobotInput{Robot: aws.String(arn)})
				return err
			}},
			{"RegisterForeignRobot", aws.StringValue(aRobot.Arn), func(arn string) error {
				_, err := b.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: bFleet.Arn, Robot: aws.String(arn)})
				return err
			}},
			{"RegisterIntoForeignFleet", aws.StringValue(aFleet.Arn), func(arn string) error {
				_, err := b.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(arn), Robot: bRobot.Arn})
				return err
			}},
			{"DeregisterForeignRobot", aws.StringValue(aRobot.Arn), func(arn string) error {
				_, err := b.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: bFleet.Arn, Robot: aws.String(arn)})
				return err
			}},
			{"DeregisterFromForeignFleet", aws.StringValue(aFleet.Arn), func(arn string) error {
				_, err := b.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: aws.String(arn), Robot: bRobot.Arn})
				return err
			}},
			{"DescribeRobotApplication", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(arn)})
				return err
			}},
			{"DescribeRobotApplicationVersion", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(arn), ApplicationVersion: aws.String("1")})
				return err
			}},
			{"UpdateRobotApplication", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: aws.String(arn), RobotSoftwareSuite: suite, Sources: sources})
				return err
			}},
			{"CreateRobotApplicationVersion", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(arn)})
				return err
			}},
			{"DeleteRobotApplication", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: aws.String(arn)})
				return err
			}},
			{"DeleteRobotApplicationVersion", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: aws.String(arn), ApplicationVersion: aws.String("1")})
				return err
			}},
			{"TagResourceFleet", aws.StringValue(aFleet.Arn), func(arn string) error {
				_, err := b.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(arn), Tags: aws.StringMap(map[string]string{"owner": "b"})})
				return err
			}},
			{"TagResourceRobot", aws.StringValue(aRobot.Arn), func(arn string) error {
				_, err := b.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(arn), Tags: aws.StringMap(map[string]string{"owner": "b"})})
				return err
			}},
			{"UntagResource", aws.StringValue(aRobot.Arn), func(arn string) error {
				_, err := b.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: aws.StringSlice([]string{"owner"})})
				return err
			}},
			{"ListTagsForResource", aws.StringValue(aApp.Arn), func(arn string) error {
				_, err := b.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
				return err
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				foreign := tc.call(tc.arn)
				wantErr(t, foreign, "ResourceNotFoundException", tc.arn)
				// The same ARN in B's own account, where it never existed.
				missing := tc.call(ghost(tc.arn))
				wantErr(t, missing, "ResourceNotFoundException", ghost(tc.arn))
				var fe, me awserr.Error
				versioned := tc.name == "DescribeRobotApplicationVersion" || tc.name == "DeleteRobotApplicationVersion"
				if !versioned && errors.As(foreign, &fe) && errors.As(missing, &me) {
					if got, want := strings.ReplaceAll(fe.Message(), testenv.Account, accountB), me.Message(); got != want {
						t.Errorf("foreign ARN answered %q, a missing one %q: they must read alike", fe.Message(), me.Message())
					}
				}
			})
		}
	})

	t.Run("ForeignResourcesUnchanged", func(t *testing.T) {
		d, err := a.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aFleet.Arn})
		must(t, err)
		checkTags(t, "A's fleet", d.Tags, map[string]string{"owner": "a"})
		if len(d.Robots) != 1 || aws.StringValue(d.Robots[0].Arn) != aws.StringValue(aRobot.Arn) {
			t.Errorf("A's fleet robots = %v", d.Robots)
		}
		r, err := a.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aRobot.Arn})
		must(t, err)
		checkTags(t, "A's robot", r.Tags, map[string]string{"owner": "a"})
		if aws.StringValue(r.Status) != "Registered" {
			t.Errorf("A's robot status = %s", aws.StringValue(r.Status))
		}
		app, err := a.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aApp.Arn, ApplicationVersion: aws.String("1")})
		must(t, err)
		if aws.StringValue(app.Version) != "1" {
			t.Errorf("A's version 1 = %v", app)
		}
		l, err := a.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL"),
			Filters: []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{"shared-name"})}}})
		must(t, err)
		if len(l.RobotApplicationSummaries) != 2 {
			t.Errorf("A's application rows = %d, want $LATEST and 1", len(l.RobotApplicationSummaries))
		}
		for _, s := range l.RobotApplicationSummaries {
			if !strings.Contains(aws.StringValue(s.Arn), testenv.Account) {
				t.Errorf("A lists B's application %s", aws.StringValue(s.Arn))
			}
		}
	})
}
