// API conformance of pagination and filters on ListFleets, ListRobots and
// ListRobotApplications: pages of maxResults in a stable order (creation
// time, then ARN) with no duplicates and no gaps, the default page size,
// tokens bound to their list and account, a token that stays valid while
// the list changes (keyset cursor, not an offset), versionQualifier ALL
// paged across one application's versions, and exact-match filters
// (name, status, fleetName) ANDed.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"
)

// stableOrder sorts ARNs as the lists must: creation epoch, then ARN.
func stableOrder(t *testing.T, arns []string) []string {
	out := slices.Clone(arns)
	slices.SortFunc(out, func(a, b string) int {
		if ma, mb := arnMillis(t, a), arnMillis(t, b); ma != mb {
			return int(ma - mb)
		}
		return strings.Compare(a, b)
	})
	return out
}

func TestAPIPagination(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	f := fixture{s, c}

	var fleetARNs, fleetNames []string
	for range 7 {
		n := uniq("pfleet")
		fleetNames = append(fleetNames, n)
		fleetARNs = append(fleetARNs, aws.StringValue(f.fleet(t, n).Arn))
	}
	wantFleets := stableOrder(t, fleetARNs)

	listFleets := func(t *testing.T, max int64, filters []*robomaker.Filter) (pages [][]string) {
		t.Helper()
		in := &robomaker.ListFleetsInput{Filters: filters}
		if max > 0 {
			in.MaxResults = aws.Int64(max)
		}
		for {
			out, err := c.ListFleets(in)
			must(t, err)
			var page []string
			for _, fd := range out.FleetDetails {
				page = append(page, aws.StringValue(fd.Arn))
			}
			pages = append(pages, page)
			if out.NextToken == nil {
				return pages
			}
			if len(pages) > 50 {
				t.Fatal("ListFleets does not end")
			}
			in.NextToken = out.NextToken
		}
	}

	t.Run("ListFleetsPagesOf3", func(t *testing.T) {
		pages := listFleets(t, 3, nil)
		var sizes []int
		var all []string
		for _, p := range pages {
			sizes = append(sizes, len(p))
			all = append(all, p...)
		}
		if !slices.Equal(sizes, []int{3, 3, 1}) {
			t.Errorf("page sizes = %v, want [3 3 1]", sizes)
		}
		if !slices.Equal(all, wantFleets) {
			t.Errorf("paged fleets =\n%v\nwant (creation time, then ARN)\n%v", all, wantFleets)
		}
	})

	t.Run("ListFleetsDefaultPageHoldsAll", func(t *testing.T) {
		pages := listFleets(t, 0, nil)
		if len(pages) != 1 || !slices.Equal(pages[0], wantFleets) {
			t.Errorf("default page = %v, want all 7 in one page", pages)
		}
	})

	t.Run("ExactPageBoundaryHasNoToken", func(t *testing.T) {
		pages := listFleets(t, 7, nil)
		if len(pages) != 1 || len(pages[0]) != 7 {
			t.Errorf("maxResults 7 over 7 fleets = %v, want one page and no nextToken", pages)
		}
		pages = listFleets(t, 1, nil)
		if len(pages) != 7 {
			t.Errorf("maxResults 1 over 7 fleets gave %d pages", len(pages))
		}
	})

	t.Run("TokenIsAKeysetCursor", func(t *testing.T) {
		first, err := c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(3)})
		must(t, err)
		// Delete a fleet already returned and add one: the next page
		// continues after the last fleet seen, skipping and repeating nothing.
		gone := first.FleetDetails[0].Arn
		_, err = c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: gone})
		must(t, err)
		added := aws.StringValue(f.fleet(t, uniq("pfleet-late")).Arn)
		var rest []string
		in := &robomaker.ListFleetsInput{MaxResults: aws.Int64(3), NextToken: first.NextToken}
		for {
			out, err := c.ListFleets(in)
			must(t, err)
			for _, fd := range out.FleetDetails {
				rest = append(rest, aws.StringValue(fd.Arn))
			}
			if out.NextToken == nil {
				break
			}
			in.NextToken = out.NextToken
		}
		want := append(slices.Clone(wantFleets[3:]), added)
		if !slices.Equal(rest, want) {
			t.Errorf("pages after the first = %v, want %v", rest, want)
		}
		// Restore the shape the following subtests expect.
		_, err = c.DeleteFleet(&robomaker.DeleteFleetInput{Fleet: aws.String(added)})
		must(t, err)
		wantFleets = wantFleets[1:]
		fleetNames = fleetNames[1:]
	})

	t.Run("TokenBoundToAccountAndList", func(t *testing.T) {
		out, err := c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(2)})
		must(t, err)
		if out.NextToken == nil {
			t.Fatal("no nextToken")
		}
		keyID, secret := newAccount(t, s, "210987654321")
		other := quiet(s.ClientFor(keyID, secret))
		_, err = other.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(2), NextToken: out.NextToken})
		wantErr(t, err, "InvalidParameterException", "nextToken")
		_, err = c.ListRobots(&robomaker.ListRobotsInput{NextToken: out.NextToken})
		wantErr(t, err, "InvalidParameterException", "nextToken")
		_, err = c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{NextToken: out.NextToken})
		wantErr(t, err, "InvalidParameterException", "nextToken")
		// The owner may use it, with another page size too.
		_, err = c.ListFleets(&robomaker.ListFleetsInput{MaxResults: aws.Int64(5), NextToken: out.NextToken})
		must(t, err)
	})

	t.Run("ListFleetsNameFilterIsExact", func(t *testing.T) {
		name := fleetNames[2]
		pages := listFleets(t, 0, []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{name})}})
		if len(pages) != 1 || len(pages[0]) != 1 {
			t.Fatalf("name=%s = %v, want exactly one fleet", name, pages)
		}
		for _, partial := range []string{"pfleet", name[:len(name)-1], strings.ToUpper(name)} {
			pages = listFleets(t, 0, []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{partial})}})
			if len(pages[0]) != 0 {
				t.Errorf("name=%s (not exact) matched %v", partial, pages[0])
			}
		}
	})

	// Robots: two fleets, robots in each and some free.
	fleetA, fleetB := uniq("pfleetA"), uniq("pfleetB")
	fa, fb := f.fleet(t, fleetA), f.fleet(t, fleetB)
	var robotARNs, inA, inB, free []string
	for i := range 7 {
		r := f.robot(t, uniq("probot"))
		arn := aws.StringValue(r.Arn)
		robotARNs = append(robotARNs, arn)
		switch i % 3 {
		case 0:
			_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fa.Arn, Robot: r.Arn})
			must(t, err)
			inA = append(inA, arn)
		case 1:
			_, err := c.RegisterRobot(&robomaker.RegisterRobotInput{Fleet: fb.Arn, Robot: r.Arn})
			must(t, err)
			inB = append(inB, arn)
		default:
			free = append(free, arn)
		}
	}
	listRobots := func(t *testing.T, max int64, filters ...*robomaker.Filter) (all []string, sizes []int) {
		t.Helper()
		in := &robomaker.ListRobotsInput{}
		if len(filters) > 0 {
			in.Filters = filters
		}
		if max > 0 {
			in.MaxResults = aws.Int64(max)
		}
		for {
			out, err := c.ListRobots(in)
			must(t, err)
			sizes = append(sizes, len(out.Robots))
			for _, r := range out.Robots {
				all = append(all, aws.StringValue(r.Arn))
			}
			if out.NextToken == nil {
				return all, sizes
			}
			if len(sizes) > 50 {
				t.Fatal("ListRobots does not end")
			}
			in.NextToken = out.NextToken
		}
	}
	filter := func(name, value string) *robomaker.Filter {
		return &robomaker.Filter{Name: aws.String(name), Values: aws.StringSlice([]string{value})}
	}

	t.Run("ListRobotsPagesOf3", func(t *testing.T) {
		all, sizes := listRobots(t, 3)
		if !slices.Equal(sizes, []int{3, 3, 1}) {
			t.Errorf("page sizes = %v, want [3 3 1]", sizes)
		}
		if want := stableOrder(t, robotARNs); !slices.Equal(all, want) {
			t.Errorf("paged robots = %v, want %v", all, want)
		}
	})

	t.Run("ListRobotsFilters", func(t *testing.T) {
		cases := []struct {
			name    string
			filters []*robomaker.Filter
			want    []string
			// invalid, when set, is a substring of the InvalidParameterException expected.
			invalid string
		}{
			{"FleetNameA", []*robomaker.Filter{filter("fleetName", fleetA)}, inA, ""},
			{"FleetNameB", []*robomaker.Filter{filter("fleetName", fleetB)}, inB, ""},
			{"FleetNameNotExact", []*robomaker.Filter{filter("fleetName", "pfleetA")}, nil, ""},
			{"StatusRegistered", []*robomaker.Filter{filter("status", "Registered")}, append(slices.Clone(inA), inB...), ""},
			{"StatusAvailable", []*robomaker.Filter{filter("status", "Available")}, free, ""},
			{"StatusInSync", []*robomaker.Filter{filter("status", "InSync")}, nil, ""},
			{"FleetNameAndStatus", []*robomaker.Filter{filter("fleetName", fleetA), filter("status", "Registered")}, inA, ""},
			{"FleetNameAndOtherStatus", []*robomaker.Filter{filter("fleetName", fleetA), filter("status", "Available")}, nil, ""},
			{"StatusAndFleetNameOrderFree", []*robomaker.Filter{filter("status", "Registered"), filter("fleetName", fleetB)}, inB, ""},
			// A filter value is a Name: an ARN breaks its pattern.
			{"FleetNameIsNotTheARN", []*robomaker.Filter{filter("fleetName", aws.StringValue(fa.Arn))}, nil,
				"at 'filters.1.member.values.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern"},
			{"ThreeFiltersOneRepeated", []*robomaker.Filter{filter("status", "Registered"), filter("fleetName", fleetB), filter("fleetName", fleetB)}, nil,
				`filter "fleetName"`},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if tc.invalid != "" {
					_, err := c.ListRobots(&robomaker.ListRobotsInput{Filters: tc.filters})
					wantErr(t, err, "InvalidParameterException", tc.invalid)
					return
				}
				all, _ := listRobots(t, 2, tc.filters...)
				if want := stableOrder(t, tc.want); !slices.Equal(all, want) {
					t.Errorf("robots = %v, want %v", all, want)
				}
			})
		}
	})

	t.Run("FilteredPagesOf1", func(t *testing.T) {
		all, sizes := listRobots(t, 1, filter("fleetName", fleetA))
		if len(sizes) != len(inA) || !slices.Equal(all, stableOrder(t, inA)) {
			t.Errorf("fleetName=%s in pages of 1: %v (sizes %v), want %v", fleetA, all, sizes, inA)
		}
	})

	t.Run("ListRobotApplicationsAllVersionsPaged", func(t *testing.T) {
		// Three applications; the middle one has three versions. Pages of 2
		// must cut through its versions without losing or repeating any.
		a1 := f.app(t, uniq("papp"))
		a2 := f.app(t, uniq("papp"))
		for range 3 {
			_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: a2.Arn})
			must(t, err)
		}
		a3 := f.app(t, uniq("papp"))
		type row struct{ arn, version string }
		var got []row
		var sizes []int
		in := &robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL"), MaxResults: aws.Int64(2)}
		for {
			out, err := c.ListRobotApplications(in)
			must(t, err)
			sizes = append(sizes, len(out.RobotApplicationSummaries))
			for _, s := range out.RobotApplicationSummaries {
				got = append(got, row{aws.StringValue(s.Arn), aws.StringValue(s.Version)})
			}
			if out.NextToken == nil {
				break
			}
			if len(sizes) > 20 {
				t.Fatal("ListRobotApplications does not end")
			}
			in.NextToken = out.NextToken
		}
		order := stableOrder(t, []string{aws.StringValue(a1.Arn), aws.StringValue(a2.Arn), aws.StringValue(a3.Arn)})
		var want []row
		for _, arn := range order {
			want = append(want, row{arn, "$LATEST"})
			if arn == aws.StringValue(a2.Arn) {
				want = append(want, row{arn, "1"}, row{arn, "2"}, row{arn, "3"})
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("ALL rows = %v, want %v", got, want)
		}
		if !slices.Equal(sizes, []int{2, 2, 2}) {
			t.Errorf("page sizes = %v, want [2 2 2]", sizes)
		}

		// Without the qualifier only $LATEST rows, in the same order.
		out, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{MaxResults: aws.Int64(100)})
		must(t, err)
		var latest []string
		for _, s := range out.RobotApplicationSummaries {
			if aws.StringValue(s.Version) != "$LATEST" {
				t.Errorf("row without qualifier has version %s", aws.StringValue(s.Version))
			}
			latest = append(latest, aws.StringValue(s.Arn))
		}
		if !slices.Equal(latest, order) {
			t.Errorf("$LATEST rows = %v, want %v", latest, order)
		}

		// The name filter is exact.
		name := aws.StringValue(a3.Name)
		out, err = c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{Filters: []*robomaker.Filter{filter("name", name)}})
		must(t, err)
		if len(out.RobotApplicationSummaries) != 1 || aws.StringValue(out.RobotApplicationSummaries[0].Arn) != aws.StringValue(a3.Arn) {
			t.Errorf("name=%s = %v", name, out.RobotApplicationSummaries)
		}
		out, err = c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{Filters: []*robomaker.Filter{filter("name", "papp")}})
		must(t, err)
		if len(out.RobotApplicationSummaries) != 0 {
			t.Errorf("name=papp (not exact) = %v", out.RobotApplicationSummaries)
		}
	})
}
