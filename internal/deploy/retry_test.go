package deploy

import (
	"testing"
	"time"
)

func TestRetryPolicy(t *testing.T) {
	p := RetryPolicy{Backoff: time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 20: maxRetryBackoff} {
		if got := p.BackoffAfter(n); got != want {
			t.Errorf("BackoffAfter(%d) = %v, want %v", n, got, want)
		}
	}
	if got := (RetryPolicy{}).BackoffAfter(1); got != DefaultRetryBackoff {
		t.Errorf("default backoff = %v", got)
	}
	if got := (RetryPolicy{}).attempts(); got != DefaultMaxAttempts {
		t.Errorf("default attempts = %d", got)
	}
	for in, want := range map[int]int{0: DefaultQuarantineAfter, -1: 0, 5: 5} {
		if got := (RetryPolicy{QuarantineAfter: in}).quarantineAfter(); got != want {
			t.Errorf("quarantineAfter(%d) = %d, want %d", in, got, want)
		}
	}
	for code, want := range map[string]bool{"DownloadingBundleFailure": true, "EtagMismatch": false, "PreLaunchFileFailure": false, "EnvironmentSetupError": false} {
		if Transient(code) != want {
			t.Errorf("Transient(%s) = %v", code, !want)
		}
	}
}
