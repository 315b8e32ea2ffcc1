// API conformance of the robot application operations through the real SDK:
// CreateRobotApplication, UpdateRobotApplication,
// CreateRobotApplicationVersion, DescribeRobotApplication,
// ListRobotApplications and DeleteRobotApplication. It covers $LATEST read
// live from the bundle store (ETag = "<md5 hex>"), numbered versions that
// snapshot it (1, 2, … never reused, at most 40), the currentRevisionId and
// s3Etags guards, missing buckets and objects, revision ids, versionQualifier
// ALL, deleting one version or the whole application, and the model errors.
package e2e

//lint:file-ignore SA1019 aws-sdk-go v1 (deprecated) and its RoboMaker fleet and robot operations (deprecated by AWS) are the reference client fleetsync serves.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/service/robomaker"

	"github.com/fleetsync/fleetsync/internal/testenv"
)

func TestAPIRobotApplications(t *testing.T) {
	t.Parallel()
	s := startAPI(t)
	c := quiet(s.Client())
	f := fixture{s, c}
	makeBucket(t, s, "bundles-x")

	src := func(bucket, key, arch string) *robomaker.SourceConfig {
		return &robomaker.SourceConfig{S3Bucket: aws.String(bucket), S3Key: aws.String(key), Architecture: aws.String(arch)}
	}
	ros := &robomaker.RobotSoftwareSuite{Name: aws.String("ROS"), Version: aws.String("Melodic")}

	// sourceETags maps each source's architecture to its ETag.
	sourceETags := func(sources []*robomaker.Source) map[string]string {
		m := map[string]string{}
		for _, s := range sources {
			m[aws.StringValue(s.Architecture)] = aws.StringValue(s.Etag)
		}
		return m
	}

	t.Run("CreateAndDescribeLatest", func(t *testing.T) {
		name := uniq("app")
		x86 := putObject(t, s, "bundles-x", name+"/x86.tar", []byte("x86 bundle "+name))
		arm := putObject(t, s, "bundles-x", name+"/arm64.tar.gz", []byte("arm64 bundle, longer "+name))
		out, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{
			Name: aws.String(name), RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("bundles-x", name+"/x86.tar", "X86_64"), src("bundles-x", name+"/arm64.tar.gz", "ARM64")},
		})
		must(t, err)
		ms := checkARN(t, appARNRe, aws.StringValue(out.Arn), testenv.Account, name)
		if aws.StringValue(out.Name) != name || aws.StringValue(out.Version) != "$LATEST" {
			t.Errorf("CreateRobotApplication name %q version %q, want %q $LATEST", aws.StringValue(out.Name), aws.StringValue(out.Version), name)
		}
		if aws.StringValue(out.RobotSoftwareSuite.Name) != "ROS" || aws.StringValue(out.RobotSoftwareSuite.Version) != "Melodic" {
			t.Errorf("robotSoftwareSuite = %v", out.RobotSoftwareSuite)
		}
		if !revisionRe.MatchString(aws.StringValue(out.RevisionId)) {
			t.Errorf("revisionId %q does not match the RevisionId shape", aws.StringValue(out.RevisionId))
		}
		checkTime(t, "CreateRobotApplication lastUpdatedAt", out.LastUpdatedAt, ms)
		checkNoTags(t, "CreateRobotApplication", out.Tags)
		if len(out.Sources) != 2 {
			t.Fatalf("sources = %v, want 2", out.Sources)
		}
		for i, want := range []struct{ key, arch, etag string }{{name + "/x86.tar", "X86_64", x86}, {name + "/arm64.tar.gz", "ARM64", arm}} {
			got := out.Sources[i]
			if aws.StringValue(got.S3Bucket) != "bundles-x" || aws.StringValue(got.S3Key) != want.key ||
				aws.StringValue(got.Architecture) != want.arch || aws.StringValue(got.Etag) != want.etag {
				t.Errorf("sources[%d] = %v, want bundles-x/%s %s etag %s", i, got, want.key, want.arch, want.etag)
			}
		}

		d, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: out.Arn})
		must(t, err)
		if aws.StringValue(d.Arn) != aws.StringValue(out.Arn) || aws.StringValue(d.Name) != name || aws.StringValue(d.Version) != "$LATEST" ||
			aws.StringValue(d.RevisionId) != aws.StringValue(out.RevisionId) {
			t.Errorf("DescribeRobotApplication = %v, want the created $LATEST", d)
		}
		checkTime(t, "DescribeRobotApplication lastUpdatedAt", d.LastUpdatedAt, ms)
		checkNoTags(t, "DescribeRobotApplication", d.Tags)
		if e := sourceETags(d.Sources); e["X86_64"] != x86 || e["ARM64"] != arm {
			t.Errorf("DescribeRobotApplication etags = %v, want %s %s", e, x86, arm)
		}
		dl, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: out.Arn, ApplicationVersion: aws.String("$LATEST")})
		must(t, err)
		if aws.StringValue(dl.Version) != "$LATEST" || aws.StringValue(dl.RevisionId) != aws.StringValue(out.RevisionId) {
			t.Errorf("DescribeRobotApplication $LATEST = %v", dl)
		}

		// $LATEST is read live: a new object shows its new ETag at once.
		x86b := putObject(t, s, "bundles-x", name+"/x86.tar", []byte("x86 bundle, second build, "+name))
		d, err = c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: out.Arn})
		must(t, err)
		if e := sourceETags(d.Sources); e["X86_64"] != x86b {
			t.Errorf("$LATEST etag after the object changed = %s, want %s", e["X86_64"], x86b)
		}
	})

	t.Run("CreateWithTagsAndSuites", func(t *testing.T) {
		for _, suite := range []*robomaker.RobotSoftwareSuite{
			{Name: aws.String("ROS"), Version: aws.String("Kinetic")},
			{Name: aws.String("ROS2"), Version: aws.String("Dashing")},
			{Name: aws.String("ROS2"), Version: aws.String("Foxy")},
			{Name: aws.String("General")},
		} {
			name := uniq("app")
			tags := map[string]string{"Team": "nav"}
			out, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(name), RobotSoftwareSuite: suite,
				Sources: []*robomaker.SourceConfig{src("bundles-x", "missing-is-fine-for-latest.tar", "ARMHF")}, Tags: aws.StringMap(tags)})
			must(t, err)
			if aws.StringValue(out.RobotSoftwareSuite.Name) != aws.StringValue(suite.Name) ||
				aws.StringValue(out.RobotSoftwareSuite.Version) != aws.StringValue(suite.Version) {
				t.Errorf("suite %v echoed as %v", suite, out.RobotSoftwareSuite)
			}
			checkTags(t, "CreateRobotApplication", out.Tags, tags)
			// A missing object has no ETag in $LATEST.
			if out.Sources[0].Etag != nil {
				t.Errorf("missing object has etag %q", aws.StringValue(out.Sources[0].Etag))
			}
			d, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: out.Arn})
			must(t, err)
			checkTags(t, "DescribeRobotApplication", d.Tags, tags)
		}
	})

	t.Run("MissingBucketAtCreate", func(t *testing.T) {
		_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("app")), RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("no-such-bucket", "a.tar", "X86_64")}})
		wantErr(t, err, "InvalidParameterException", "no-such-bucket")
	})

	t.Run("ServerRules", func(t *testing.T) {
		base := func() *robomaker.CreateRobotApplicationInput {
			return &robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("app")), RobotSoftwareSuite: ros,
				Sources: []*robomaker.SourceConfig{src("bundles-x", "a.tar", "X86_64")}}
		}
		in := base()
		in.Sources = nil
		_, err := c.CreateRobotApplication(in)
		wantErr(t, err, "InvalidParameterException", "sources")

		in = base()
		in.Sources = append(in.Sources, src("bundles-x", "b.tar", "X86_64"))
		_, err = c.CreateRobotApplication(in)
		wantErr(t, err, "InvalidParameterException", "X86_64")

		in = base()
		in.RobotSoftwareSuite = &robomaker.RobotSoftwareSuite{Name: aws.String("ROS"), Version: aws.String("Foxy")}
		_, err = c.CreateRobotApplication(in)
		wantErr(t, err, "InvalidParameterException", "Foxy")

		in = base()
		in.Environment = &robomaker.Environment{Uri: aws.String("registry.example/app:1")}
		_, err = c.CreateRobotApplication(in)
		wantErr(t, err, "InvalidParameterException", "environment")
	})

	t.Run("DuplicateName", func(t *testing.T) {
		name := uniq("app")
		f.app(t, name)
		_, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(name), RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("bundles-x", "a.tar", "X86_64")}})
		wantErr(t, err, "ResourceAlreadyExistsException", name)
	})

	t.Run("UpdateChangesRevision", func(t *testing.T) {
		name := uniq("app")
		app := f.app(t, name)
		armETag := putObject(t, s, "bundles-x", name+"/arm.tar", []byte("arm build for update "+name))
		up, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{
			Application: app.Arn, CurrentRevisionId: app.RevisionId,
			RobotSoftwareSuite: &robomaker.RobotSoftwareSuite{Name: aws.String("ROS2"), Version: aws.String("Foxy")},
			Sources:            []*robomaker.SourceConfig{src("bundles-x", name+"/arm.tar", "ARM64")},
		})
		must(t, err)
		if aws.StringValue(up.Arn) != aws.StringValue(app.Arn) || aws.StringValue(up.Name) != name || aws.StringValue(up.Version) != "$LATEST" {
			t.Errorf("UpdateRobotApplication = %v", up)
		}
		if r := aws.StringValue(up.RevisionId); r == aws.StringValue(app.RevisionId) || !revisionRe.MatchString(r) {
			t.Errorf("revisionId after update = %q (before %q), want a new one", r, aws.StringValue(app.RevisionId))
		}
		if aws.StringValue(up.RobotSoftwareSuite.Name) != "ROS2" || aws.StringValue(up.RobotSoftwareSuite.Version) != "Foxy" {
			t.Errorf("suite after update = %v", up.RobotSoftwareSuite)
		}
		if len(up.Sources) != 1 || aws.StringValue(up.Sources[0].Etag) != armETag || aws.StringValue(up.Sources[0].Architecture) != "ARM64" {
			t.Errorf("sources after update = %v, want one ARM64 source with etag %s", up.Sources, armETag)
		}
		if up.LastUpdatedAt == nil || up.LastUpdatedAt.Before(*app.LastUpdatedAt) {
			t.Errorf("lastUpdatedAt went from %v to %v", app.LastUpdatedAt, up.LastUpdatedAt)
		}
		d, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(d.RevisionId) != aws.StringValue(up.RevisionId) || aws.StringValue(d.RobotSoftwareSuite.Name) != "ROS2" {
			t.Errorf("Describe after update = %v", d)
		}

		// The old revision no longer matches.
		_, err = c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, CurrentRevisionId: app.RevisionId,
			RobotSoftwareSuite: ros, Sources: []*robomaker.SourceConfig{src("bundles-x", name+"/arm.tar", "ARM64")}})
		wantErr(t, err, "InvalidParameterException", "currentRevisionId", aws.StringValue(app.RevisionId))
		// Without currentRevisionId the update is unconditional.
		up2, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("bundles-x", name+"/arm.tar", "ARM64")}})
		must(t, err)
		if aws.StringValue(up2.RevisionId) == aws.StringValue(up.RevisionId) {
			t.Error("second update kept the revisionId")
		}
		// Update checks buckets as create does.
		_, err = c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: app.Arn, RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("gone-bucket", "a.tar", "ARM64")}})
		wantErr(t, err, "InvalidParameterException", "gone-bucket")
	})

	t.Run("VersionsSnapshotLatest", func(t *testing.T) {
		name := uniq("app")
		key := name + "/x86.tar"
		e1 := putObject(t, s, "bundles-x", key, []byte("build 1"))
		app, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(name), RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("bundles-x", key, "X86_64")}})
		must(t, err)

		v1, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn, CurrentRevisionId: app.RevisionId})
		must(t, err)
		if aws.StringValue(v1.Arn) != aws.StringValue(app.Arn) || aws.StringValue(v1.Name) != name || aws.StringValue(v1.Version) != "1" {
			t.Errorf("first version = %s %s %s, want %s %s 1", aws.StringValue(v1.Arn), aws.StringValue(v1.Name), aws.StringValue(v1.Version), aws.StringValue(app.Arn), name)
		}
		if aws.StringValue(v1.RevisionId) != aws.StringValue(app.RevisionId) {
			t.Errorf("version revisionId %q, want $LATEST's %q", aws.StringValue(v1.RevisionId), aws.StringValue(app.RevisionId))
		}
		if aws.StringValue(v1.RobotSoftwareSuite.Name) != "ROS" || aws.StringValue(v1.RobotSoftwareSuite.Version) != "Melodic" {
			t.Errorf("version suite = %v", v1.RobotSoftwareSuite)
		}
		if len(v1.Sources) != 1 || aws.StringValue(v1.Sources[0].Etag) != e1 || aws.StringValue(v1.Sources[0].S3Key) != key {
			t.Errorf("version sources = %v, want %s with etag %s", v1.Sources, key, e1)
		}
		if v1.LastUpdatedAt == nil {
			t.Error("version has no lastUpdatedAt")
		}

		// The object changes: $LATEST follows, version 1 keeps its snapshot.
		e2 := putObject(t, s, "bundles-x", key, []byte("build 2, a different size"))
		v2, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn,
			S3Etags: aws.StringSlice([]string{e2})})
		must(t, err)
		if aws.StringValue(v2.Version) != "2" || aws.StringValue(v2.Sources[0].Etag) != e2 {
			t.Errorf("second version = %s etag %s, want 2 %s", aws.StringValue(v2.Version), aws.StringValue(v2.Sources[0].Etag), e2)
		}
		d1, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("1")})
		must(t, err)
		if aws.StringValue(d1.Version) != "1" || aws.StringValue(d1.Sources[0].Etag) != e1 || aws.StringValue(d1.Arn) != aws.StringValue(app.Arn) {
			t.Errorf("DescribeRobotApplication version 1 = %v, want etag %s", d1, e1)
		}
		checkNoTags(t, "DescribeRobotApplication version 1", d1.Tags)
		dl, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(dl.Sources[0].Etag) != e2 {
			t.Errorf("$LATEST etag = %s, want %s", aws.StringValue(dl.Sources[0].Etag), e2)
		}

		// s3Etags unquoted are the same ETags.
		v3, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn,
			S3Etags: aws.StringSlice([]string{strings.Trim(e2, `"`)})})
		must(t, err)
		if aws.StringValue(v3.Version) != "3" {
			t.Errorf("third version = %s", aws.StringValue(v3.Version))
		}

		// Version numbers are never reused after a delete.
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("3")})
		must(t, err)
		_, err = c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("3")})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn), "3")
		v4, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(v4.Version) != "4" {
			t.Errorf("version after deleting 3 = %s, want 4", aws.StringValue(v4.Version))
		}

		// versionQualifier ALL lists $LATEST and each version, in order.
		nameFilter := []*robomaker.Filter{{Name: aws.String("name"), Values: aws.StringSlice([]string{name})}}
		all, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL"), Filters: nameFilter})
		must(t, err)
		var versions []string
		for _, sum := range all.RobotApplicationSummaries {
			versions = append(versions, aws.StringValue(sum.Version))
			if aws.StringValue(sum.Arn) != aws.StringValue(app.Arn) || aws.StringValue(sum.Name) != name ||
				aws.StringValue(sum.RobotSoftwareSuite.Name) != "ROS" || sum.LastUpdatedAt == nil {
				t.Errorf("summary = %v", sum)
			}
		}
		if got := strings.Join(versions, ","); got != "$LATEST,1,2,4" {
			t.Errorf("ListRobotApplications ALL versions = %s, want $LATEST,1,2,4", got)
		}
		latestOnly, err := c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{Filters: nameFilter})
		must(t, err)
		if len(latestOnly.RobotApplicationSummaries) != 1 || aws.StringValue(latestOnly.RobotApplicationSummaries[0].Version) != "$LATEST" {
			t.Errorf("ListRobotApplications without qualifier = %v, want only $LATEST", latestOnly.RobotApplicationSummaries)
		}

		// Deleting the whole application removes every version and its tags.
		_, err = c.TagResource(&robomaker.TagResourceInput{ResourceArn: app.Arn, Tags: aws.StringMap(map[string]string{"k": "v"})})
		must(t, err)
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn})
		must(t, err)
		for _, v := range []string{"", "$LATEST", "1", "2", "4"} {
			in := &robomaker.DescribeRobotApplicationInput{Application: app.Arn}
			if v != "" {
				in.ApplicationVersion = aws.String(v)
			}
			_, err = c.DescribeRobotApplication(in)
			wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn))
		}
		all, err = c.ListRobotApplications(&robomaker.ListRobotApplicationsInput{VersionQualifier: aws.String("ALL"), Filters: nameFilter})
		must(t, err)
		if len(all.RobotApplicationSummaries) != 0 {
			t.Errorf("deleted application still listed: %v", all.RobotApplicationSummaries)
		}
		_, err = c.ListTagsForResource(&robomaker.ListTagsForResourceInput{ResourceArn: app.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn))
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn))

		// The name is free again and starts over at version 1 under a new ARN.
		again, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(name), RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("bundles-x", key, "X86_64")}})
		must(t, err)
		checkNoTags(t, "re-created application", again.Tags)
		va, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: again.Arn})
		must(t, err)
		if aws.StringValue(va.Version) != "1" {
			t.Errorf("first version of a re-created application = %s, want 1", aws.StringValue(va.Version))
		}
	})

	t.Run("VersionGuards", func(t *testing.T) {
		name := uniq("app")
		app := f.app(t, name)
		_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn,
			CurrentRevisionId: aws.String("not-the-current-revision")})
		wantErr(t, err, "InvalidParameterException", "currentRevisionId", "not-the-current-revision")
		_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn,
			S3Etags: aws.StringSlice([]string{`"0123456789abcdef0123456789abcdef"`})})
		wantErr(t, err, "InvalidParameterException", "s3Etags", "0123456789abcdef0123456789abcdef")
		_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn,
			ImageDigest: aws.String("sha256:" + strings.Repeat("a", 64))})
		wantErr(t, err, "InvalidParameterException", "imageDigest")
		// None of the refused calls used a version number.
		v, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(v.Version) != "1" {
			t.Errorf("first successful version = %s, want 1", aws.StringValue(v.Version))
		}
	})

	t.Run("MissingObjectAtVersionTime", func(t *testing.T) {
		name := uniq("app")
		app, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(name), RobotSoftwareSuite: ros,
			Sources: []*robomaker.SourceConfig{src("bundles-x", name+"/not-uploaded.tar", "X86_64")}})
		must(t, err)
		_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		wantErr(t, err, "InvalidParameterException", "bundles-x", name+"/not-uploaded.tar")
		putObject(t, s, "bundles-x", name+"/not-uploaded.tar", []byte("now it is there"))
		v, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(v.Version) != "1" {
			t.Errorf("version after upload = %s, want 1", aws.StringValue(v.Version))
		}
	})

	t.Run("KeysThatCannotBeFiles", func(t *testing.T) {
		// Keys the model allows but that cannot name a file in the file
		// bundle store are missing objects too, not a store outage.
		name := uniq("app")
		putObject(t, s, "bundles-x", name+"/plain.tar", []byte("a file, not a directory"))
		for _, key := range []string{
			name + "/plain.tar/inner.tar",         // a path through a file (ENOTDIR)
			name + "/" + strings.Repeat("k", 300), // a component over 255 bytes (ENAMETOOLONG)
		} {
			odd, err := c.CreateRobotApplication(&robomaker.CreateRobotApplicationInput{Name: aws.String(uniq("app")), RobotSoftwareSuite: ros,
				Sources: []*robomaker.SourceConfig{src("bundles-x", key, "X86_64")}})
			must(t, err)
			_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: odd.Arn})
			wantErr(t, err, "InvalidParameterException", "bundles-x", key)
		}
	})

	t.Run("FortyVersionCap", func(t *testing.T) {
		app := f.app(t, uniq("app"))
		for i := 1; i <= 40; i++ {
			v, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
			must(t, err)
			if aws.StringValue(v.Version) != fmt.Sprint(i) {
				t.Fatalf("version %d numbered %s", i, aws.StringValue(v.Version))
			}
		}
		_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		wantErr(t, err, "LimitExceededException", "40")
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("7")})
		must(t, err)
		v, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(v.Version) != "41" {
			t.Errorf("version after freeing a slot = %s, want 41 (never reused)", aws.StringValue(v.Version))
		}
		_, err = c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		wantErr(t, err, "LimitExceededException", "40")
	})

	t.Run("DeleteVersionRules", func(t *testing.T) {
		app := f.app(t, uniq("app"))
		_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: app.Arn})
		must(t, err)
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("$LATEST")})
		wantErr(t, err, "InvalidParameterException", "$LATEST")
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("9")})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn), "9")
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("1")})
		must(t, err)
		_, err = c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String("1")})
		wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn), "1")
		// $LATEST survives deleting its versions.
		d, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn})
		must(t, err)
		if aws.StringValue(d.Version) != "$LATEST" {
			t.Errorf("after deleting version 1: %v", d)
		}
	})

	t.Run("DescribeMissingVersion", func(t *testing.T) {
		app := f.app(t, uniq("app"))
		for _, v := range []string{"1", "0", "999"} {
			_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: app.Arn, ApplicationVersion: aws.String(v)})
			wantErr(t, err, "ResourceNotFoundException", aws.StringValue(app.Arn))
		}
	})

	t.Run("UnknownApplicationIsNotFound", func(t *testing.T) {
		ghost := "arn:aws:robomaker:us-east-1:" + testenv.Account + ":robot-application/ghost/1600000000000"
		calls := map[string]func() error{
			"UpdateRobotApplication": func() error {
				_, err := c.UpdateRobotApplication(&robomaker.UpdateRobotApplicationInput{Application: aws.String(ghost), RobotSoftwareSuite: ros,
					Sources: []*robomaker.SourceConfig{src("bundles-x", "a.tar", "X86_64")}})
				return err
			},
			"CreateRobotApplicationVersion": func() error {
				_, err := c.CreateRobotApplicationVersion(&robomaker.CreateRobotApplicationVersionInput{Application: aws.String(ghost)})
				return err
			},
			"DescribeRobotApplication": func() error {
				_, err := c.DescribeRobotApplication(&robomaker.DescribeRobotApplicationInput{Application: aws.String(ghost)})
				return err
			},
			"DeleteRobotApplication": func() error {
				_, err := c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: aws.String(ghost)})
				return err
			},
			"DeleteRobotApplicationVersion": func() error {
				_, err := c.DeleteRobotApplication(&robomaker.DeleteRobotApplicationInput{Application: aws.String(ghost), ApplicationVersion: aws.String("1")})
				return err
			},
		}
		for name, call := range calls {
			t.Run(name, func(t *testing.T) {
				wantErr(t, call(), "ResourceNotFoundException", ghost)
			})
		}
	})
}
