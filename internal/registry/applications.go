package registry

import (
	"context"
	"errors"
	"slices"

	"github.com/fleetsync/fleetsync/internal/blob"
	"github.com/fleetsync/fleetsync/internal/deploy"
	"github.com/fleetsync/fleetsync/internal/fleet"
	"github.com/fleetsync/fleetsync/internal/store"
)

// checkSuite refuses suite/version pairs that do not go together (the model
// allows any combination of its two enums).
func checkSuite(s fleet.SoftwareSuite) error {
	valid := map[string][]string{
		"ROS":     {"", "Kinetic", "Melodic"},
		"ROS2":    {"", "Dashing", "Foxy"},
		"General": {""},
	}
	versions, ok := valid[s.Name]
	if !ok {
		return fleet.Errorf(fleet.Invalid, "robotSoftwareSuite.name %q is not supported", s.Name)
	}
	if !slices.Contains(versions, s.Version) {
		return fleet.Errorf(fleet.Invalid, "robotSoftwareSuite.version %q does not go with %s", s.Version, s.Name)
	}
	return nil
}

// checkSources validates $LATEST sources: at least one, one per architecture,
// each in a bucket the bundle store has and the account may use (a bucket
// it may not use answers exactly as one that does not exist).
func (s *Service) checkSources(ctx context.Context, account string, sources []fleet.Source) error {
	if len(sources) == 0 {
		return fleet.Errorf(fleet.Invalid, "sources: at least one source is required (container images are not supported)")
	}
	seen := map[fleet.Architecture]bool{}
	for _, src := range sources {
		if seen[src.Architecture] {
			return fleet.Errorf(fleet.Invalid, "sources: more than one source for architecture %s", src.Architecture)
		}
		seen[src.Architecture] = true
		switch err := s.Bundles.For(account).Bucket(ctx, src.Bucket); {
		case errors.Is(err, blob.ErrNotExist):
			return fleet.Errorf(fleet.Invalid, "sources: bucket %q does not exist in the bundle store", src.Bucket)
		case errors.Is(err, blob.ErrNotAllowed):
			// The configured bucket list is the operator's business, not
			// every account's: the message names only the bucket.
			return fleet.Errorf(fleet.Invalid, "sources: bucket %q is not one this server's bundle store is configured to use", src.Bucket)
		case err != nil:
			return fleet.Wrap(fleet.Unavailable, err, "bundle store unavailable")
		}
	}
	return nil
}

// withLiveETags fills each $LATEST source's ETag from the store, leaving it
// empty where the object is missing ($LATEST is read live).
func (s *Service) withLiveETags(ctx context.Context, a fleet.Application) fleet.Application {
	if a.Version != fleet.LatestVersion {
		return a
	}
	out := slices.Clone(a.Sources)
	for i, src := range out {
		if obj, err := s.Bundles.For(a.Account).Stat(ctx, src.Bucket, src.Key); err == nil {
			out[i].ETag = obj.ETag
		}
	}
	a.Sources = out
	return a
}

// CreateApplication registers a robot application ($LATEST).
func (s *Service) CreateApplication(ctx context.Context, account, name string, sources []fleet.Source, suite fleet.SoftwareSuite, tags fleet.Tags) (fleet.Application, error) {
	if err := checkSuite(suite); err != nil {
		return fleet.Application{}, err
	}
	if err := s.checkSources(ctx, account, sources); err != nil {
		return fleet.Application{}, err
	}
	if err := s.checkTags(tags); err != nil {
		return fleet.Application{}, err
	}
	arn, ms := s.newARN(account, fleet.TypeRobotApplication, name)
	a := fleet.Application{ARN: arn.String(), Account: account, Name: name, Version: fleet.LatestVersion,
		Sources: sources, SoftwareSuite: suite, RevisionID: newRevisionID(), CreatedMs: ms, LastUpdatedMs: ms, Tags: nonNil(tags)}
	switch err := s.Store.CreateApplication(ctx, a, s.Limits.ApplicationsPerAccount); {
	case errors.Is(err, store.ErrExists):
		return fleet.Application{}, fleet.Errorf(fleet.AlreadyExists, "a robot application named %q already exists", name)
	case errors.Is(err, store.ErrLimit):
		return fleet.Application{}, fleet.Errorf(fleet.LimitExceeded, "an account can have at most %d robot applications", s.Limits.ApplicationsPerAccount)
	case err != nil:
		return fleet.Application{}, fleet.Wrap(fleet.Internal, err, "store failure")
	}
	return s.withLiveETags(ctx, a), nil
}

// UpdateApplication replaces $LATEST's sources and suite. currentRevisionID,
// when given, must be $LATEST's revision.
func (s *Service) UpdateApplication(ctx context.Context, account, arn string, sources []fleet.Source, suite fleet.SoftwareSuite, currentRevisionID *string) (fleet.Application, error) {
	if _, err := s.resolve(account, "application", arn, fleet.TypeRobotApplication); err != nil {
		return fleet.Application{}, err
	}
	if err := checkSuite(suite); err != nil {
		return fleet.Application{}, err
	}
	if err := s.checkSources(ctx, account, sources); err != nil {
		return fleet.Application{}, err
	}
	latest, err := s.Store.GetApplication(ctx, account, arn, fleet.LatestVersion)
	if err != nil {
		return fleet.Application{}, mapStore(err, fleet.TypeRobotApplication, arn)
	}
	if currentRevisionID != nil && *currentRevisionID != latest.RevisionID {
		return fleet.Application{}, revisionMismatch(*currentRevisionID, latest.RevisionID)
	}
	updated := latest
	updated.Sources, updated.SoftwareSuite = sources, suite
	updated.RevisionID, updated.LastUpdatedMs = newRevisionID(), s.now().UnixMilli()
	switch err := s.Store.UpdateApplication(ctx, updated, latest.RevisionID); {
	case errors.Is(err, store.ErrConflict):
		return fleet.Application{}, fleet.Errorf(fleet.Invalid, "robot application %s was changed concurrently; read it again and retry", arn)
	case err != nil:
		return fleet.Application{}, mapStore(err, fleet.TypeRobotApplication, arn)
	}
	return s.withLiveETags(ctx, updated), nil
}

func revisionMismatch(given, current string) error {
	return fleet.Errorf(fleet.Invalid, "currentRevisionId %q does not match the current revision %q", given, current)
}

// CreateApplicationVersion snapshots $LATEST as the next numbered version,
// recording each source's ETag and SHA-256. s3Etags, when given, must be the
// ETags the sources have now (in any order).
func (s *Service) CreateApplicationVersion(ctx context.Context, account, arn string, currentRevisionID *string, s3Etags []string) (fleet.Application, error) {
	if _, err := s.resolve(account, "application", arn, fleet.TypeRobotApplication); err != nil {
		return fleet.Application{}, err
	}
	latest, err := s.Store.GetApplication(ctx, account, arn, fleet.LatestVersion)
	if err != nil {
		return fleet.Application{}, mapStore(err, fleet.TypeRobotApplication, arn)
	}
	if currentRevisionID != nil && *currentRevisionID != latest.RevisionID {
		return fleet.Application{}, revisionMismatch(*currentRevisionID, latest.RevisionID)
	}
	sources := slices.Clone(latest.Sources)
	var etags []string
	for i, src := range sources {
		bundles := s.Bundles.For(account)
		obj, err := deploy.CheckSource(ctx, bundles, src.Bucket, src.Key, "", true)
		if err == nil {
			obj, err = deploy.HeadDigest(ctx, bundles, src.Bucket, src.Key, obj)
		}
		if se, ok := errors.AsType[*deploy.SourceError](err); ok {
			if se.Code == deploy.CodeEtagMismatch {
				return fleet.Application{}, fleet.Errorf(fleet.Invalid, "sources: object s3://%s/%s changed while its version was being created; try again", src.Bucket, src.Key)
			}
			return fleet.Application{}, fleet.Errorf(fleet.Invalid, "sources: object s3://%s/%s does not exist", src.Bucket, src.Key)
		}
		if err != nil {
			return fleet.Application{}, fleet.Wrap(fleet.Unavailable, err, "bundle store unavailable")
		}
		sources[i].ETag, sources[i].SHA256 = obj.ETag, obj.SHA256
		sources[i].HeadSHA256, sources[i].HeadSize = obj.HeadSHA256, obj.HeadSize
		etags = append(etags, obj.ETag)
	}
	if s3Etags != nil && !sameETags(s3Etags, etags) {
		return fleet.Application{}, fleet.Errorf(fleet.Invalid, "s3Etags %v do not match the sources' current ETags %v", s3Etags, etags)
	}
	v, err := s.Store.CreateApplicationVersion(ctx, account, arn, latest.RevisionID, sources, s.now().UnixMilli(), s.Limits.VersionsPerApplication)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fleet.Application{}, fleet.Errorf(fleet.Invalid, "robot application %s was changed concurrently; read it again and retry", arn)
	case errors.Is(err, store.ErrLimit):
		return fleet.Application{}, fleet.Errorf(fleet.LimitExceeded, "a robot application can have at most %d versions", s.Limits.VersionsPerApplication)
	case err != nil:
		return fleet.Application{}, mapStore(err, fleet.TypeRobotApplication, arn)
	}
	return v, nil
}

// sameETags compares ETags as sets, ignoring surrounding quotes.
func sameETags(given, have []string) bool {
	norm := func(in []string) []string {
		out := make([]string, len(in))
		for i, e := range in {
			if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
				e = e[1 : len(e)-1]
			}
			out[i] = e
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(given), norm(have))
}

// DescribeApplication returns one version ("" means $LATEST).
func (s *Service) DescribeApplication(ctx context.Context, account, arn, version string) (fleet.Application, error) {
	if _, err := s.resolve(account, "application", arn, fleet.TypeRobotApplication); err != nil {
		return fleet.Application{}, err
	}
	if version == "" {
		version = fleet.LatestVersion
	}
	a, err := s.Store.GetApplication(ctx, account, arn, version)
	if errors.Is(err, store.ErrNotFound) && version != fleet.LatestVersion {
		return fleet.Application{}, s.missingVersion(ctx, account, arn, version)
	}
	if err != nil {
		return fleet.Application{}, mapStore(err, fleet.TypeRobotApplication, arn)
	}
	return s.withLiveETags(ctx, a), nil
}

// ListApplications pages applications ($LATEST rows, or every version with
// allVersions); filter "name".
func (s *Service) ListApplications(ctx context.Context, q fleet.ListQuery, allVersions bool) (fleet.Page[fleet.Application], error) {
	if err := checkFilters(q.Filters, "name"); err != nil {
		return fleet.Page[fleet.Application]{}, err
	}
	p, err := s.Store.ListApplications(ctx, q, allVersions)
	return p, mapStore(err, fleet.TypeRobotApplication, "")
}

// DeleteApplication deletes the whole application (version "") or one
// numbered version.
func (s *Service) DeleteApplication(ctx context.Context, account, arn, version string) error {
	if _, err := s.resolve(account, "application", arn, fleet.TypeRobotApplication); err != nil {
		return err
	}
	switch version {
	case "":
		return mapStore(s.Store.DeleteApplication(ctx, account, arn), fleet.TypeRobotApplication, arn)
	case fleet.LatestVersion:
		return fleet.Errorf(fleet.Invalid, "applicationVersion: $LATEST cannot be deleted alone; omit applicationVersion to delete the application")
	}
	err := s.Store.DeleteApplicationVersion(ctx, account, arn, version)
	if errors.Is(err, store.ErrNotFound) {
		return s.missingVersion(ctx, account, arn, version)
	}
	return mapStore(err, fleet.TypeRobotApplication, arn)
}

// missingVersion names what is missing: the whole application, or only the
// version.
func (s *Service) missingVersion(ctx context.Context, account, arn, version string) error {
	if _, err := s.Store.GetApplication(ctx, account, arn, fleet.LatestVersion); err != nil {
		return mapStore(err, fleet.TypeRobotApplication, arn)
	}
	return fleet.Errorf(fleet.NotFound, "robot application %s has no version %s", arn, version)
}
