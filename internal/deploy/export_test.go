package deploy

// The start pacing's bounds, for the tests of package deploy_test.
const (
	StartBacklog = startBacklog
	MinStarts    = minStarts
)

// TakeWake reports whether the engine was asked for another pass (and
// takes that wake-up).
func (e *Engine) TakeWake() bool {
	e.init()
	select {
	case <-e.wake:
		return true
	default:
		return false
	}
}
