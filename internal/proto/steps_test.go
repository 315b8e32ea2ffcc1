package proto

import (
	"slices"
	"testing"
)

func TestSteps(t *testing.T) {
	full := []Step{StepValidating, StepExecutingDownloadCondition, StepDownloadingExtracting,
		StepExecutingPreLaunch, StepLaunching, StepExecutingPostLaunch, StepFinished}
	cases := []struct {
		name            string
		cond, pre, post bool
		want            []Step
	}{
		{"bare", false, false, false, []Step{StepValidating, StepDownloadingExtracting, StepLaunching, StepFinished}},
		{"condition", true, false, false, []Step{StepValidating, StepExecutingDownloadCondition, StepDownloadingExtracting, StepLaunching, StepFinished}},
		{"pre", false, true, false, []Step{StepValidating, StepDownloadingExtracting, StepExecutingPreLaunch, StepLaunching, StepFinished}},
		{"post", false, false, true, []Step{StepValidating, StepDownloadingExtracting, StepLaunching, StepExecutingPostLaunch, StepFinished}},
		{"all", true, true, true, full},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := &Assignment{}
			if c.cond {
				a.DownloadCondition = &Object{URL: "http://x/c"}
			}
			if c.pre {
				a.LaunchConfig.PreLaunchFile = "pre.sh"
			}
			if c.post {
				a.LaunchConfig.PostLaunchFile = "post.sh"
			}
			got := a.Steps()
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
