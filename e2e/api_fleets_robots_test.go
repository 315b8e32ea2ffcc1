// API conformance of the fleet and robot operations through the real SDK:
// CreateFleet, DeleteFleet, DescribeFleet, ListFleets, CreateRobot,
// DeleteRobot, DescribeRobot, ListRobots, RegisterRobot and DeregisterRobot.
// Success paths with every response member asserted (ARN shapes, createdAt
// against the ARN epoch, tags {}, greenGrassGroupId vs greengrassGroupId,
// the Available → Registered → Available robot states, DeleteFleet
// deregistering its robots) and the model errors each can answer here
// (ResourceNotFoundException, ResourceAlreadyExistsException,
// InvalidParameterException, LimitExceededException on the fleet quota).
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestAPIFleetsAndRobots(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	f := fixture{s, c}
	acct := testenv.Account

	t.Run("CreateFleetEchoesAndDescribes", func(t *testing.T) {
		name := uniq("fleet")
		out, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(name)})
		must(t, err)
		ms := checkARN(t, fleetARNRe, aws.StringValue(out.Arn), acct, name)
		if aws.StringValue(out.Name) != name {
			t.Errorf("CreateFleet name = %q, want %q", aws.StringValue(out.Name), name)
		}
		checkTime(t, "CreateFleet createdAt", out.CreatedAt, ms)
		checkNoTags(t, "CreateFleet", out.Tags)

		d, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: out.Arn})
		must(t, err)
		if aws.StringValue(d.Arn) != aws.StringValue(out.Arn) || aws.StringValue(d.Name) != name {
			t.Errorf("DescribeFleet = %s %s, want %s %s", aws.StringValue(d.Arn), aws.StringValue(d.Name), aws.StringValue(out.Arn), name)
		}
		checkTime(t, "DescribeFleet createdAt", d.CreatedAt, ms)
		checkNoTags(t, "DescribeFleet", d.Tags)
		if len(d.Robots) != 0 {
			t.Errorf("new fleet has robots %v", d.Robots)
		}
		if d.LastDeploymentJob != nil || d.LastDeploymentStatus != nil || d.LastDeploymentTime != nil {
			t.Errorf("new fleet has deployment members: %v", d)
		}
	})

	t.Run("CreateFleetWithTags", func(t *testing.T) {
		name := uniq("fleet")
		tags := map[string]string{"Owner": "ops team", "Stage": "", "a/b+c=d:e.f_g-h": "x/y+z=w:v"}
		out, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(name), Tags: aws.StringMap(tags)})
		must(t, err)
		checkTags(t, "CreateFleet", out.Tags, tags)
		d, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: out.Arn})
		must(t, err)
		checkTags(t, "DescribeFleet", d.Tags, tags)
	})

	t.Run("ListFleetsShowsFleetMembers", func(t *testing.T) {
		name := uniq("fleet")
		out := f.fleet(t, name)
		l, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{name})}}})
		must(t, err)
		if len(l.FleetDetails) != 1 {
			t.Fatalf("ListFleets name=%s = %v, want the one fleet", name, l.FleetDetails)
		}
		fd := l.FleetDetails[0]
		if aws.StringValue(fd.Arn) != aws.StringValue(out.Arn) || aws.StringValue(fd.Name) != name {
			t.Errorf("ListFleets item = %v, want %s", fd, aws.StringValue(out.Arn))
		}
		checkTime(t, "ListFleets createdAt", fd.CreatedAt, arnMillis(t, aws.StringValue(out.Arn)))
		if fd.LastDeploymentJob != nil || fd.LastDeploymentStatus != nil || fd.LastDeploymentTime != nil {
			t.Errorf("new fleet has deployment members: %v", fd)
		}
		if l.NextToken != nil {
			t.Errorf("single page has nextToken %q", aws.StringValue(l.NextToken))
		}
	})

	t.Run("CreateRobotEchoesAndDescribes", func(t *testing.T) {
		name := uniq("robot")
		tags := map[string]string{"Site": "north"}
		out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(name), Architecture: aws.String("ARMHF"),
			GreengrassGroupId: aws.String("agent-id-" + name), Tags: aws.StringMap(tags)})
		must(t, err)
		ms := checkARN(t, robotARNRe, aws.StringValue(out.Arn), acct, name)
		checkTime(t, "CreateRobot createdAt", out.CreatedAt, ms)
		if aws.StringValue(out.Name) != name || aws.StringValue(out.Architecture) != "ARMHF" ||
			aws.StringValue(out.GreengrassGroupId) != "agent-id-"+name {
			t.Errorf("CreateRobot echo = %v", out)
		}
		checkTags(t, "CreateRobot", out.Tags, tags)

		d, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: out.Arn})
		must(t, err)
		if aws.StringValue(d.Arn) != aws.StringValue(out.Arn) || aws.StringValue(d.Name) != name ||
			aws.StringValue(d.Architecture) != "ARMHF" || aws.StringValue(d.GreengrassGroupId) != "agent-id-"+name {
			t.Errorf("DescribeRobot = %v", d)
		}
		if aws.StringValue(d.Status) != "Available" {
			t.Errorf("new robot status = %q, want Available", aws.StringValue(d.Status))
		}
		if d.FleetArn != nil || d.LastDeploymentJob != nil || d.LastDeploymentTime != nil {
			t.Errorf("new robot has fleet or deployment members: %v", d)
		}
		checkTime(t, "DescribeRobot createdAt", d.CreatedAt, ms)
		checkTags(t, "DescribeRobot", d.Tags, tags)

		untagged := f.robot(t, uniq("robot"))
		checkNoTags(t, "CreateRobot", untagged.Tags)
		du, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: untagged.Arn})
		must(t, err)
		checkNoTags(t, "DescribeRobot", du.Tags)
	})

	t.Run("EveryArchitecture", func(t *testing.T) {
		for _, arch := range []string{"X86_64", "ARM64", "ARMHF"} {
			name := uniq("robot-" + strings.ToLower(arch))
			out, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(name), Architecture: aws.String(arch),
				GreengrassGroupId: aws.String("agent-" + name)})
			must(t, err)
			if aws.StringValue(out.Architecture) != arch {
				t.Errorf("architecture %s echoed as %s", arch, aws.StringValue(out.Architecture))
			}
		}
	})

	t.Run("RegisterDeregisterLifecycle", func(t *testing.T) {
		fleetName := uniq("fleet")
		fl := f.fleet(t, fleetName)
		r := f.robot(t, uniq("robot"))

		reg, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
		must(t, err)
		if aws.StringValue(reg.Fleet) != aws.StringValue(fl.Arn) || aws.StringValue(reg.Robot) != aws.StringValue(r.Arn) {
			t.Errorf("RegisterRobot echo = %v", reg)
		}
		d, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: r.Arn})
		must(t, err)
		if aws.StringValue(d.Status) != "Registered" || aws.StringValue(d.FleetArn) != aws.StringValue(fl.Arn) {
			t.Errorf("registered robot: status %q fleetArn %q, want Registered %s", aws.StringValue(d.Status), aws.StringValue(d.FleetArn), aws.StringValue(fl.Arn))
		}

		// Robot objects (DescribeFleet.robots, ListRobots) spell it greenGrassGroupId.
		df, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
		must(t, err)
		if len(df.Robots) != 1 {
			t.Fatalf("DescribeFleet robots = %v, want the registered robot", df.Robots)
		}
		checkRobotObject(t, "DescribeFleet.robots[0]", df.Robots[0], r, aws.StringValue(fl.Arn), "Registered")

		lr, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{{Name: aws.String("fleetName"), Values: aws.StringSlice([]string{fleetName})}}})
		must(t, err)
		if len(lr.Robots) != 1 {
			t.Fatalf("ListRobots fleetName=%s = %v, want the registered robot", fleetName, lr.Robots)
		}
		checkRobotObject(t, "ListRobots.robots[0]", lr.Robots[0], r, aws.StringValue(fl.Arn), "Registered")

		// Registering again to the same fleet changes nothing.
		_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
		must(t, err)

		// A robot belongs to one fleet at most.
		other := f.fleet(t, uniq("fleet"))
		_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: other.Arn, Robot: r.Arn})
		wantErr(t, err, "InvalidParameterException", aws.StringValue(r.Arn))

		dereg, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
		must(t, err)
		if aws.StringValue(dereg.Fleet) != aws.StringValue(fl.Arn) || aws.StringValue(dereg.Robot) != aws.StringValue(r.Arn) {
			t.Errorf("DeregisterRobot echo = %v", dereg)
		}
		d, err = c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: r.Arn})
		must(t, err)
		if aws.StringValue(d.Status) != "Available" || d.FleetArn != nil {
			t.Errorf("deregistered robot: status %q fleetArn %v, want Available and no fleetArn", aws.StringValue(d.Status), d.FleetArn)
		}
		df, err = c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
		must(t, err)
		if len(df.Robots) != 0 {
			t.Errorf("fleet still lists deregistered robot: %v", df.Robots)
		}
		lr, err = c.ListRobots(&robomaker.ListRobotsInput{Filters: []*robomaker.Filter{{Name: aws.String("fleetName"), Values: aws.StringSlice([]string{fleetName})}}})
		must(t, err)
		if len(lr.Robots) != 0 {
			t.Errorf("ListRobots fleetName still lists deregistered robot: %v", lr.Robots)
		}

		// Deregistering a robot that is not in the fleet is refused.
		_, err = c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
		wantErr(t, err, "InvalidParameterException", aws.StringValue(r.Arn))
		// Once free it may join the other fleet.
		_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: other.Arn, Robot: r.Arn})
		must(t, err)
	})

	t.Run("DeleteFleetDeregistersItsRobots", func(t *testing.T) {
		fl := f.fleet(t, uniq("fleet"))
		r1, r2 := f.robot(t, uniq("robot")), f.robot(t, uniq("robot"))
		for _, r := range []*robomaker.CreateRobotOutput{r1, r2} {
			_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
			must(t, err)
		}
		df, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
		must(t, err)
		if len(df.Robots) != 2 {
			t.Fatalf("DescribeFleet robots = %d, want 2", len(df.Robots))
		}
		// Stable order: creation time, then ARN.
		if aws.StringValue(df.Robots[0].Arn) != aws.StringValue(r1.Arn) || aws.StringValue(df.Robots[1].Arn) != aws.StringValue(r2.Arn) {
			t.Errorf("DescribeFleet robots not in creation order: %s, %s", aws.StringValue(df.Robots[0].Arn), aws.StringValue(df.Robots[1].Arn))
		}

		_, err = c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: fl.Arn})
		must(t, err)
		for _, r := range []*robomaker.CreateRobotOutput{r1, r2} {
			d, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: r.Arn})
			must(t, err)
			if aws.StringValue(d.Status) != "Available" || d.FleetArn != nil {
				t.Errorf("robot of a deleted fleet: status %q fleetArn %v, want Available, none", aws.StringValue(d.Status), d.FleetArn)
			}
		}
		_, err = c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(fl.Arn))
		_, err = c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: fl.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(fl.Arn))
		_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: r1.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(fl.Arn))
		_, err = c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: fl.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(fl.Arn))
	})

	t.Run("DeleteRobot", func(t *testing.T) {
		fl := f.fleet(t, uniq("fleet"))
		name := uniq("robot")
		r := f.robot(t, name)
		_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
		must(t, err)
		// A registered robot may be deleted; it leaves its fleet.
		_, err = c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: r.Arn})
		must(t, err)
		_, err = c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: r.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(r.Arn))
		df, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
		must(t, err)
		if len(df.Robots) != 0 {
			t.Errorf("fleet lists a deleted robot: %v", df.Robots)
		}
		_, err = c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: r.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(r.Arn))
		_, err = c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: r.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(r.Arn))

		// The name and the agent id are free again; the new robot has a new ARN.
		again := f.robot(t, name)
		if aws.StringValue(again.Arn) == aws.StringValue(r.Arn) {
			t.Errorf("re-created robot reuses ARN %s", aws.StringValue(r.Arn))
		}
		checkNoTags(t, "re-created robot", again.Tags)
	})

	t.Run("DuplicatesAreRefused", func(t *testing.T) {
		fname := uniq("fleet")
		f.fleet(t, fname)
		_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(fname)})
		wantErr(t, err, "ResourceAlreadyExistsException", fname)

		rname := uniq("robot")
		f.robot(t, rname) // greengrassGroupId agent-<rname>
		_, err = c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(rname), Architecture: aws.String("ARM64"),
			GreengrassGroupId: aws.String("some-other-agent-" + rname)})
		wantErr(t, err, "ResourceAlreadyExistsException", rname)
		_, err = c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(uniq("robot")), Architecture: aws.String("ARM64"),
			GreengrassGroupId: aws.String("agent-" + rname)})
		wantErr(t, err, "ResourceAlreadyExistsException", "agent-"+rname)

		// A fleet and a robot may share a name: uniqueness is per resource type.
		shared := uniq("shared")
		f.fleet(t, shared)
		f.robot(t, shared)
	})

	t.Run("UnknownARNsAreNotFound", func(t *testing.T) {
		fl := f.fleet(t, uniq("fleet"))
		r := f.robot(t, uniq("robot"))
		ghostFleet := "arn:aws:robomaker:us-east-1:" + acct + ":deployment-fleet/ghost/1600000000000"
		ghostRobot := "arn:aws:robomaker:us-east-1:" + acct + ":robot/ghost/1600000000000"
		otherRegion := "arn:aws:robomaker:us-west-2:" + acct + ":deployment-fleet/ghost/1600000000000"
		cases := []struct {
			name string
			call func() error
			arn  string
		}{
			{"DeleteFleet", func() error {
				_, err := c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: aws.String(ghostFleet)})
				return err
			}, ghostFleet},
			{"DescribeFleet", func() error {
				_, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String(ghostFleet)})
				return err
			}, ghostFleet},
			{"DescribeFleetOtherRegion", func() error {
				_, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: aws.String(otherRegion)})
				return err
			}, otherRegion},
			{"DeleteRobot", func() error {
				_, err := c.DeleteRobot(&robomaker.DeleteRobotInput{Robot: aws.String(ghostRobot)})
				return err
			}, ghostRobot},
			{"DescribeRobot", func() error {
				_, err := c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: aws.String(ghostRobot)})
				return err
			}, ghostRobot},
			{"RegisterRobotUnknownFleet", func() error {
				_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: aws.String(ghostFleet), Robot: r.Arn})
				return err
			}, ghostFleet},
			{"RegisterRobotUnknownRobot", func() error {
				_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: aws.String(ghostRobot)})
				return err
			}, ghostRobot},
			{"DeregisterRobotUnknownFleet", func() error {
				_, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: aws.String(ghostFleet), Robot: r.Arn})
				return err
			}, ghostFleet},
			{"DeregisterRobotUnknownRobot", func() error {
				_, err := c.DeregisterRobot(&robomaker.DeregisterRobotInput{Fleet: fl.Arn, Robot: aws.String(ghostRobot)})
				return err
			}, ghostRobot},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantErr(t, tc.call(), "ResourceNotFoundException", tc.arn, "does not exist")
			})
		}
	})

	t.Run("WrongResourceTypeIsInvalid", func(t *testing.T) {
		r := f.robot(t, uniq("robot"))
		fl := f.fleet(t, uniq("fleet"))
		_, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: r.Arn})
		wantErr(t, err, "InvalidParameterException", "fleet", aws.StringValue(r.Arn))
		_, err = c.DescribeRobot(&robomaker.DescribeRobotInput{Robot: fl.Arn})
		wantErr(t, err, "InvalidParameterException", "robot", aws.StringValue(fl.Arn))
		_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: r.Arn, Robot: fl.Arn})
		wantErr(t, err, "InvalidParameterException", "fleet")
	})
}

// checkRobotObject asserts a Robot structure (DescribeFleet.robots,
// ListRobots.robots) describes the created robot.
func checkRobotObject(t *testing.T, what string, got *robomaker.Robot, want *robomaker.CreateRobotOutput, fleetARN, status string) {
	t.Helper()
	if aws.StringValue(got.Arn) != aws.StringValue(want.Arn) || aws.StringValue(got.Name) != aws.StringValue(want.Name) ||
		aws.StringValue(got.Architecture) != aws.StringValue(want.Architecture) {
		t.Errorf("%s = %v, want robot %s", what, got, aws.StringValue(want.Arn))
	}
	if aws.StringValue(got.GreenGrassGroupId) != aws.StringValue(want.GreengrassGroupId) {
		t.Errorf("%s greenGrassGroupId = %q, want %q", what, aws.StringValue(got.GreenGrassGroupId), aws.StringValue(want.GreengrassGroupId))
	}
	if aws.StringValue(got.FleetArn) != fleetARN || aws.StringValue(got.Status) != status {
		t.Errorf("%s fleetArn %q status %q, want %q %q", what, aws.StringValue(got.FleetArn), aws.StringValue(got.Status), fleetARN, status)
	}
	checkTime(t, what+" createdAt", got.CreatedAt, arnMillis(t, aws.StringValue(want.Arn)))
}

// TestAPIFleetQuota fills an account's 1,000-fleet quota (the SPEC default)
// and expects LimitExceededException from CreateFleet; deleting one frees a slot.
func TestAPIFleetQuota(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	const quota = 1000
	var wg sync.WaitGroup
	errs := make(chan error, quota)
	names := make(chan string, quota)
	for i := range quota {
		names <- fmt.Sprintf("quota-%04d", i)
	}
	close(names)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range names {
				if _, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String(n)}); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("filling the quota: %v", err)
	}
	_, err := c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("one-too-many")})
	wantErr(t, err, "LimitExceededException", "1000")

	l, err := c.ListFleets(&robomaker.ListFleetsInput{Filters: []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{"quota-0000"})}}})
	must(t, err)
	if len(l.FleetDetails) != 1 {
		t.Fatalf("ListFleets quota-0000 = %v", l.FleetDetails)
	}
	_, err = c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: l.FleetDetails[0].Arn})
	must(t, err)
	_, err = c.CreateFleet(&robomaker.CreateFleetInput{Name: aws.String("one-too-many")})
	must(t, err)
}

// TestAPILargeFleet registers 1,001 robots in one fleet: DescribeFleet
// returns the model's cap of 1,000 Robot objects, and ListRobots filtered by
// fleetName reads them all in default pages of 200.
func TestAPILargeFleet(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	fl := fixture{s, c}.fleet(t, "large")
	const n = 1001
	idx := make(chan int, n)
	for i := range n {
		idx <- i
	}
	close(idx)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				name := fmt.Sprintf("large-%04d", i)
				r, err := c.CreateRobot(&robomaker.CreateRobotInput{Name: aws.String(name), Architecture: aws.String("ARM64"),
					GreengrassGroupId: aws.String("agent-" + name)})
				if err == nil {
					_, err = c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fl.Arn, Robot: r.Arn})
				}
				if err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("registering: %v", err)
	}

	d, err := c.DescribeFleet(&robomaker.DescribeFleetInput{Fleet: fl.Arn})
	must(t, err)
	if len(d.Robots) != 1000 {
		t.Errorf("DescribeFleet returned %d robots, want the cap of 1000", len(d.Robots))
	}

	in := &robomaker.ListRobotsInput{Filters: []*robomaker.Filter{{Name: aws.String("fleetName"), Values: aws.StringSlice([]string{"large"})}}}
	var sizes []int
	seen := map[string]bool{}
	var order []string
	for {
		out, err := c.ListRobots(in)
		must(t, err)
		sizes = append(sizes, len(out.Robots))
		for _, r := range out.Robots {
			arn := aws.StringValue(r.Arn)
			if seen[arn] {
				t.Errorf("robot %s listed twice", arn)
			}
			seen[arn] = true
			order = append(order, arn)
		}
		if out.NextToken == nil {
			break
		}
		if len(sizes) > 10 {
			t.Fatal("ListRobots does not end")
		}
		in.NextToken = out.NextToken
	}
	if want := []int{200, 200, 200, 200, 200, 1}; fmt.Sprint(sizes) != fmt.Sprint(want) {
		t.Errorf("default page sizes = %v, want %v", sizes, want)
	}
	if len(seen) != n {
		t.Errorf("listed %d distinct robots, want %d", len(seen), n)
	}
	if fmt.Sprint(order) != fmt.Sprint(stableOrder(t, order)) {
		t.Error("robots not in creation-time-then-ARN order across pages")
	}
	// The 1,000 described robots are the first 1,000 of that order.
	for i, r := range d.Robots {
		if i < len(order) && aws.StringValue(r.Arn) != order[i] {
			t.Fatalf("DescribeFleet robots[%d] = %s, want %s (same order as ListRobots)", i, aws.StringValue(r.Arn), order[i])
		}
	}
}
