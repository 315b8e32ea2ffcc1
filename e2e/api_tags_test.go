// API conformance of TagResource, UntagResource and ListTagsForResource
// through the real SDK, on fleets, robots and robot applications: tags set,
// overwritten, emptied and removed, Describe* seeing the same tags, the
// 50-tag cap (per call and in total), the reserved aws: prefix on every path
// that sets tags, and ResourceNotFoundException for unknown, deleted,
// deployment-job and other-region ARNs.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestAPITags(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	f := fixture{s, c}

	// describeTags reads a resource's tags through its own Describe operation.
	type resource struct {
		kind     string
		arn      string
		describe func() (map[string]*string, error)
	}
	newResources := func(t *testing.T) []resource {
		fl := f.fleet(t, uniq("fleet"))
		r := f.robot(t, uniq("robot"))
		app := f.app(t, uniq("app"))
		return []resource{
			{"Fleet", aws.StringValue(fl.Arn), func() (map[string]*string, error) {
				d, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
				if err != nil {
					return nil, err
				}
				return d.Tags, nil
			}},
			{"Robot", aws.StringValue(r.Arn), func() (map[string]*string, error) {
				d, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: r.Arn})
				if err != nil {
					return nil, err
				}
				return d.Tags, nil
			}},
			{"RobotApplication", aws.StringValue(app.Arn), func() (map[string]*string, error) {
				d, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn})
				if err != nil {
					return nil, err
				}
				return d.Tags, nil
			}},
		}
	}
	listTags := func(t *testing.T, arn string) map[string]*string {
		t.Helper()
		out, err := c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
		must(t, err)
		return out.Tags
	}

	t.Run("SetOverwriteRemove", func(t *testing.T) {
		for _, res := range newResources(t) {
			t.Run(res.kind, func(t *testing.T) {
				checkNoTags(t, "ListTagsForResource of an untagged resource", listTags(t, res.arn))
				tags, err := res.describe()
				must(t, err)
				checkNoTags(t, "Describe", tags)

				_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res.arn),
					Tags: aws.StringMap(map[string]string{"Env": "prod", "Owner": "team a", "Empty": ""})})
				must(t, err)
				want := map[string]string{"Env": "prod", "Owner": "team a", "Empty": ""}
				checkTags(t, "ListTagsForResource", listTags(t, res.arn), want)

				// New keys are added, existing keys overwritten, others kept.
				_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res.arn),
					Tags: aws.StringMap(map[string]string{"Env": "staging", "Site": "north"})})
				must(t, err)
				want = map[string]string{"Env": "staging", "Owner": "team a", "Empty": "", "Site": "north"}
				checkTags(t, "ListTagsForResource after overwrite", listTags(t, res.arn), want)
				tags, err = res.describe()
				must(t, err)
				checkTags(t, "Describe after overwrite", tags, want)

				// An empty map changes nothing.
				_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res.arn), Tags: map[string]*string{}})
				must(t, err)
				checkTags(t, "ListTagsForResource after empty TagResource", listTags(t, res.arn), want)

				// Untag removes the named keys; unknown keys are ignored.
				_, err = c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(res.arn),
					TagKeys: aws.StringSlice([]string{"Owner", "Empty", "NeverSet"})})
				must(t, err)
				checkTags(t, "ListTagsForResource after untag", listTags(t, res.arn), map[string]string{"Env": "staging", "Site": "north"})

				_, err = c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(res.arn),
					TagKeys: aws.StringSlice([]string{"Env", "Site"})})
				must(t, err)
				checkNoTags(t, "ListTagsForResource after removing every tag", listTags(t, res.arn))
				tags, err = res.describe()
				must(t, err)
				checkNoTags(t, "Describe after removing every tag", tags)
			})
		}
	})

	t.Run("FiftyTagCap", func(t *testing.T) {
		for _, res := range newResources(t) {
			t.Run(res.kind, func(t *testing.T) {
				fifty := map[string]string{}
				for i := range 50 {
					fifty[fmt.Sprintf("k%02d", i)] = fmt.Sprintf("v%d", i)
				}
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res.arn), Tags: aws.StringMap(fifty)})
				must(t, err)
				checkTags(t, "50 tags", listTags(t, res.arn), fifty)

				// Overwriting existing keys stays within the cap.
				_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res.arn),
					Tags: aws.StringMap(map[string]string{"k00": "changed"})})
				must(t, err)

				// A 51st key is over the cap and changes nothing.
				_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res.arn),
					Tags: aws.StringMap(map[string]string{"k50": "one too many", "k01": "not applied"})})
				wantErr(t, err, "LimitExceededException", "50")
				got := aws.StringValueMap(listTags(t, res.arn))
				if len(got) != 50 || got["k01"] != "v1" || got["k00"] != "changed" {
					t.Errorf("tags after a refused TagResource: %d tags, k00=%q k01=%q", len(got), got["k00"], got["k01"])
				}
			})
		}
	})

	t.Run("ReservedAWSPrefix", func(t *testing.T) {
		res := newResources(t)
		for _, key := range []string{"aws:owner", "AWS:Owner", "Aws:x"} {
			_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res[0].arn),
				Tags: aws.StringMap(map[string]string{key: "v"})})
			wantErr(t, err, "InvalidParameterException", key, "aws:")
		}
		checkNoTags(t, "after refused aws: tags", listTags(t, res[0].arn))
		// "aws" without the colon is an ordinary key.
		_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(res[0].arn), Tags: aws.StringMap(map[string]string{"awsome": "v"})})
		must(t, err)

		reserved := aws.StringMap(map[string]string{"aws:reserved": "v"})
		_, err = c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(uniq("fleet")), Tags: reserved})
		wantErr(t, err, "InvalidParameterException", "aws:reserved")
		_, err = c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("robot")), Architecture: aws.String("ARM64"),
			GreengrassGroupId: aws.String(uniq("agent")), Tags: reserved})
		wantErr(t, err, "InvalidParameterException", "aws:reserved")
		_, err = c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("app")),
			RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("General")},
			Sources:            []*robomaker.SourceConfig{{S3Bucket: aws.String("apps"), S3Key: aws.String("a.tar"), Architecture: aws.String("X86_64")}},
			Tags:               reserved})
		wantErr(t, err, "InvalidParameterException", "aws:reserved")
	})

	t.Run("UnknownARNsAreNotFound", func(t *testing.T) {
		acct := testenv.Account
		arns := map[string]string{
			"Fleet":            "arn:aws:robomaker:us-east-1:" + acct + ":deployment-fleet/ghost/1600000000000",
			"Robot":            "arn:aws:robomaker:us-east-1:" + acct + ":robot/ghost/1600000000000",
			"RobotApplication": "arn:aws:robomaker:us-east-1:" + acct + ":robot-application/ghost/1600000000000",
			"DeploymentJob":    "arn:aws:robomaker:us-east-1:" + acct + ":deployment-job/deployment-abcdef123456",
			"OtherRegion":      "arn:aws:robomaker:eu-west-1:" + acct + ":robot/ghost/1600000000000",
		}
		for kind, arn := range arns {
			t.Run(kind, func(t *testing.T) {
				_, err := c.TagResource(&robomaker.TagResourceInput{ResourceArn: aws.String(arn), Tags: aws.StringMap(map[string]string{"k": "v"})})
				wantErr(t, err, "ResourceNotFoundException", arn)
				_, err = c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: aws.String(arn), TagKeys: aws.StringSlice([]string{"k"})})
				wantErr(t, err, "ResourceNotFoundException", arn)
				_, err = c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: aws.String(arn)})
				wantErr(t, err, "ResourceNotFoundException", arn)
			})
		}
	})

	t.Run("DeletedResourceLosesTags", func(t *testing.T) {
		name := uniq("fleet")
		fl, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(name), Tags: aws.StringMap(map[string]string{"k": "v"})})
		must(t, err)
		_, err = c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: fl.Arn})
		must(t, err)
		_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: fl.Arn, Tags: aws.StringMap(map[string]string{"k": "v"})})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(fl.Arn))
		_, err = c.UntagResource(&robomaker.UntagResourceInput{ResourceArn: fl.Arn, TagKeys: aws.StringSlice([]string{"k"})})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(fl.Arn))
		again := f.fleet(t, name)
		checkNoTags(t, "fleet re-created under a deleted fleet's name", listTags(t, aws.StringValue(again.Arn)))
	})
}
