package runner

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fleetsync/fleetsync/internal/agent/bundle"
	"github.com/fleetsync/fleetsync/internal/agent/client"
	"github.com/fleetsync/fleetsync/internal/proto"
)

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
		{proto.StepDownloadingExtracting, fmt.Errorf("x: %w", bundle.ErrInvalid), "ExtractingBundleFailure"},
		{proto.StepDownloadingExtracting, fmt.Errorf("x: %w", bundle.ErrTooLarge), "ExtractingBundleFailure"},
		{proto.StepDownloadingExtracting, errors.New("no space left on device"), "ExtractingBundleFailure"},
		{proto.StepExecutingPreLaunch, errors.New("exit 3"), "PreLaunchFileFailure"},
		{proto.StepLaunching, errors.New("exited during settle"), "EnvironmentSetupError"},
		{proto.StepExecutingPostLaunch, errors.New("exit 1"), "PostLaunchFileFailure"},
		{proto.Step("Bogus"), errors.New("?"), "InternalServerError"},
		{proto.StepExecutingPostLaunch, &healthGateError{"exited"}, "EnvironmentSetupError"},
		{proto.StepLaunching, fmt.Errorf("x: %w", &healthGateError{"exited"}), "EnvironmentSetupError"},
	}
	for _, c := range cases {
		if got := FailureCode(c.step, c.err); got != c.want {
			t.Errorf("FailureCode(%s, %v) = %s, want %s", c.step, c.err, got, c.want)
		}
	}
}

func TestIsLastLaunchStep(t *testing.T) {
	plain := &proto.Assignment{}
	post := &proto.Assignment{LaunchConfig: proto.LaunchConfig{PostLaunchFile: "post.sh"}}
	for _, c := range []struct {
		a    *proto.Assignment
		step proto.Step
		want bool
	}{
		{plain, proto.StepLaunching, true},
		{plain, proto.StepDownloadingExtracting, false},
		{post, proto.StepLaunching, false},
		{post, proto.StepExecutingPostLaunch, true},
	} {
		if got := isLastLaunchStep(c.a, c.step); got != c.want {
			t.Errorf("isLastLaunchStep(post=%q, %s) = %v", c.a.LaunchConfig.PostLaunchFile, c.step, got)
		}
	}
}

func TestGateOutcome(t *testing.T) {
	gated := &proto.Assignment{HealthSeconds: 10}
	for _, c := range []struct {
		a    *proto.Assignment
		err  error
		want string
	}{
		{&proto.Assignment{}, nil, ""},
		{gated, nil, proto.HealthPassed},
		{gated, &healthGateError{"x"}, proto.HealthFailed},
		{gated, errors.New("pre-launch failed"), ""},
	} {
		if got := gateOutcome(c.a, c.err); got != c.want {
			t.Errorf("gateOutcome(%d, %v) = %q, want %q", c.a.HealthSeconds, c.err, got, c.want)
		}
	}
}

func TestServerSeconds(t *testing.T) {
	for n, want := range map[int64]time.Duration{60: time.Minute, maxServerSeconds: 720 * time.Hour, 1 << 62: 720 * time.Hour, 9223372036: 720 * time.Hour} {
		if got := serverSeconds(n); got != want {
			t.Errorf("serverSeconds(%d) = %v, want %v", n, got, want)
		}
	}
}
