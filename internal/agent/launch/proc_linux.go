package launch

import (
	"syscall"
)

// sysProcAttr puts the child in a process group of its own and asks the
// kernel to send it SIGTERM when the agent dies (see the package comment).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// groupAlive reports whether process group pgid has a member that is not a
// zombie. Zombies are ignored because orphans are reparented to PID 1,
// which in a container is often not an init and never reaps them.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return false
	}
	for _, p := range scanProcs() {
		if p.pgrp == pgid && !p.zombie() {
			return true
		}
	}
	return false
}

// intoCgroup has the child created directly in the cgroup open as fd
// (clone3 CLONE_INTO_CGROUP, Linux 5.7+).
func intoCgroup(attr *syscall.SysProcAttr, fd int) {
	attr.UseCgroupFD, attr.CgroupFD = true, fd
}
