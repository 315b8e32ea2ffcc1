package runner

// downloadError marks a failure to fetch the bundle (as opposed to one to
// extract it).
type downloadError struct{ err error }

func (e *downloadError) Error() string { return e.err.Error() }
func (e *downloadError) Unwrap() error { return e.err }
