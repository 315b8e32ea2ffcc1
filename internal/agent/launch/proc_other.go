//go:build unix && !linux

package launch

import (
	"errors"
	"syscall"
	"time"
)

// UnitEnv is the environment variable that marks every process of an
// application (see the Linux implementation; elsewhere only the process
// group is tracked).
const UnitEnv = "FLEETSYNC_APP_UNIT"

// sysProcAttr puts the child in a process group of its own. Only Linux has
// a parent-death signal.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// groupAlive reports whether process group pgid still has a member
// (zombies included).
func groupAlive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

func startOwned(start func() (int, error)) (int, error) { return start() }
func releaseOwned(int)                                  {}

// BecomeSubreaper is supported on Linux only.
func BecomeSubreaper() error { return errors.ErrUnsupported }

// DetectCgroup finds no cgroup outside Linux.
func DetectCgroup() string { return "" }

// CheckCgroup: there are no cgroups outside Linux.
func CheckCgroup(string) error { return errors.ErrUnsupported }

// KillStray finds nothing outside Linux: only the process group is tracked.
func KillStray(string, string, time.Duration) int { return 0 }

func newUnitCgroup(string, string) (string, int, error) { return "", -1, errors.ErrUnsupported }

// unit is the process group of one launch.
type unit struct {
	id  string
	top int
	cg  string
}

func (u *unit) signal(sig syscall.Signal) int { _ = syscall.Kill(-u.top, sig); return 1 }
func (u *unit) kill()                         { u.signal(syscall.SIGKILL) }
func (u *unit) alive() bool                   { return groupAlive(u.top) }
func (u *unit) remove()                       {}

func (u *unit) members() []int {
	if groupAlive(u.top) {
		return []int{u.top}
	}
	return nil
}

func intoCgroup(*syscall.SysProcAttr, int) {}
