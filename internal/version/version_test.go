package version

import (
	"strings"
	"testing"
)

func TestGetStamped(t *testing.T) {
	old := [3]string{version, commit, date}
	defer func() { version, commit, date = old[0], old[1], old[2] }()
	version, commit, date = "1.2.3", "abc123", "2026-12-01T10:00:00Z"
	i := Get()
	if i.Version != "1.2.3" || i.Commit != "abc123" || i.Date != "2026-12-01T10:00:00Z" {
		t.Fatalf("Get() = %+v, want the stamped values", i)
	}
	if s := i.String("fleetsyncd"); !strings.HasPrefix(s, "fleetsyncd 1.2.3 (commit abc123, built 2026-12-01T10:00:00Z, go") {
		t.Fatalf("String = %q", s)
	}
	if ua := i.UserAgent("fleetsync-agent"); ua != "fleetsync-agent/1.2.3" {
		t.Fatalf("UserAgent = %q", ua)
	}
}

func TestGetUnstamped(t *testing.T) {
	old := [3]string{version, commit, date}
	defer func() { version, commit, date = old[0], old[1], old[2] }()
	version, commit, date = "", "", ""
	i := Get()
	// A test binary has no module version and usually no VCS stamp: the
	// fallbacks must still give non-empty fields.
	if i.Version == "" || i.Commit == "" || i.Date == "" || !strings.HasPrefix(i.Go, "go") {
		t.Fatalf("Get() = %+v, want every field set", i)
	}
}
