package deploy

// The start pacing's bounds, for the tests of package deploy_test.
const (
	StartBacklog = startBacklog
	MinStarts    = minStarts
)
