// Package version says which build of fleetsync is running: the version,
// commit and build date stamped by the release build (-ldflags -X), or else
// what the Go toolchain recorded in the binary's build info (module version,
// VCS revision and time), so `go install` and `go build` builds answer too.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Stamped by the release build:
//
//	-X github.com/fleetsync/fleetsync/internal/version.version=1.2.3
//	-X github.com/fleetsync/fleetsync/internal/version.commit=abc123
//	-X github.com/fleetsync/fleetsync/internal/version.date=2026-12-01T10:00:00Z
var (
	version string
	commit  string
	date    string
)

// Info is one build's identity.
type Info struct {
	// Version is a semantic version such as "1.2.3", or "dev" for an
	// unreleased build.
	Version string
	// Commit is the VCS revision, with "+dirty" when the tree had changes;
	// "unknown" when the build recorded none.
	Commit string
	// Date is when the build's commit was made (or the build ran), RFC 3339;
	// "unknown" when not recorded.
	Date string
	// Go is the toolchain version.
	Go string
}

// Get returns the running binary's Info.
func Get() Info {
	i := Info{Version: version, Commit: commit, Date: date, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = strings.TrimPrefix(bi.Main.Version, "v")
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Commit == "" {
					i.Commit = s.Value
				}
			case "vcs.time":
				if i.Date == "" {
					i.Date = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && commit == "" && i.Commit != "" {
			i.Commit += "+dirty"
		}
	}
	if i.Version == "" {
		i.Version = "dev"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	if i.Date == "" {
		i.Date = "unknown"
	}
	return i
}

// String is the one-line form `version` prints, prefixed with the program
// name: "fleetsyncd 1.2.3 (commit abc123, built 2026-12-01T10:00:00Z, go1.26.8)".
func (i Info) String(program string) string {
	return fmt.Sprintf("%s %s (commit %s, built %s, %s)", program, i.Version, i.Commit, i.Date, i.Go)
}

// UserAgent is the product token agents send ("fleetsync-agent/1.2.3").
func (i Info) UserAgent(program string) string {
	return program + "/" + i.Version
}
