package runner

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
)

func TestSteps(t *testing.T) {
	full := []proto.Step{proto.StepValidating, proto.StepExecutingDownloadCondition, proto.StepDownloadingExtracting,
		proto.StepExecutingPreLaunch, proto.StepLaunching, proto.StepExecutingPostLaunch, proto.StepFinished}
	cases := []struct {
		name            string
		cond, pre, post bool
		want            []proto.Step
	}{
		{"bare", false, false, false, []proto.Step{proto.StepValidating, proto.StepDownloadingExtracting, proto.StepLaunching, proto.StepFinished}},
		{"condition", true, false, false, []proto.Step{proto.StepValidating, proto.StepExecutingDownloadCondition, proto.StepDownloadingExtracting, proto.StepLaunching, proto.StepFinished}},
		{"pre", false, true, false, []proto.Step{proto.StepValidating, proto.StepDownloadingExtracting, proto.StepExecutingPreLaunch, proto.StepLaunching, proto.StepFinished}},
		{"post", false, false, true, []proto.Step{proto.StepValidating, proto.StepDownloadingExtracting, proto.StepLaunching, proto.StepExecutingPostLaunch, proto.StepFinished}},
		{"all", true, true, true, full},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &proto.Assignment{}
			if c.cond {
				a.DownloadCondition = &proto.Object{URL: "http://x/c"}
			}
			if c.pre {
				a.LaunchConfig.PreLaunchFile = "pre.sh"
			}
			if c.post {
				a.LaunchConfig.PostLaunchFile = "post.sh"
			}
			got := Steps(a)
			if !slices.Equal(got, c.want) {
				t.Fatalf("Steps = %v, want %v", got, c.want)
			}
			// Whatever the options, the order is SPEC §6's.
			last := -1
			for _, s := range got {
				i := slices.Index(full, s)
				if i <= last {
					t.Fatalf("step %s out of order in %v", s, got)
				}
				last = i
			}
		})
	}
}

func TestFailureCode(t *testing.T) {
	dl := func(err error) error { return &downloadError{err: err} }
	cases := []struct {
		step proto.Step
		err  error
		want string
	}{
		{proto.StepValidating, errors.New("unknown suite"), "EnvironmentSetupError"},
		{proto.StepExecutingDownloadCondition, errors.New("exit 1"), "DownloadConditionFailed"},
		{proto.StepDownloadingExtracting, dl(&client.IntegrityError{What: "sha256"}), "EtagMismatch"},
		{proto.StepDownloadingExtracting, dl(fmt.Errorf("x: %w", &client.IntegrityError{What: "etag"})), "EtagMismatch"},
		{proto.StepDownloadingExtracting, dl(&client.HTTPError{Status: 404}), "ResourceNotFound"},
		{proto.StepDownloadingExtracting, dl(&client.HTTPError{Status: 503}), "DownloadingBundleFailure"},
		{proto.StepDownloadingExtracting, dl(errors.New("connection reset")), "DownloadingBundleFailure"},
		{proto.StepDownloadingExtracting, fmt.Errorf("x: %w", bundle.ErrUnsafe), "ExtractingBundleFailure"},
		{proto.StepDownloadingExtracting, errors.New("no space left on device"), "ExtractingBundleFailure"},
		{proto.StepExecutingPreLaunch, errors.New("exit 3"), "PreLaunchFileFailure"},
		{proto.StepLaunching, errors.New("exited during settle"), "EnvironmentSetupError"},
		{proto.StepExecutingPostLaunch, errors.New("exit 1"), "PostLaunchFileFailure"},
		{proto.Step("Bogus"), errors.New("?"), "InternalServerError"},
	}
	for _, c := range cases {
		if got := FailureCode(c.step, c.err); got != c.want {
			t.Errorf("FailureCode(%s, %v) = %s, want %s", c.step, c.err, got, c.want)
		}
	}
}
