//go:build unix && !linux

package launch

import (
	"errors"
	"syscall"
)

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
