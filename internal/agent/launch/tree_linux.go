package launch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// UnitEnv is the environment variable that marks every process of an
// application: its value is the application's unit id. Processes keep it
// when they leave the launcher's process group or session (roslaunch puts
// every node and the master in a session of its own) or are orphaned, so
// the agent still finds them.
const UnitEnv = "FLEETSYNC_APP_UNIT"

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// owned are the pids of the children the package started and waits for
// with os/exec; the orphan reaper never reaps them. scanMu is held for
// reading while a child is started and registered, and for writing while
// the reaper scans and reaps, so the reaper never sees a child of ours
// before it is owned.
var (
	scanMu  sync.RWMutex
	ownedMu sync.Mutex
	owned   = map[int]bool{}
)

// startOwned starts a child with start() and registers its pid.
func startOwned(start func() (int, error)) (int, error) {
	scanMu.RLock()
	defer scanMu.RUnlock()
	pid, err := start()
	if err == nil {
		ownedMu.Lock()
		owned[pid] = true
		ownedMu.Unlock()
	}
	return pid, err
}

// releaseOwned forgets a child once os/exec has reaped it.
func releaseOwned(pid int) {
	ownedMu.Lock()
	delete(owned, pid)
	ownedMu.Unlock()
}

var subreaperOnce sync.Once

// BecomeSubreaper makes the calling process a child subreaper (prctl
// PR_SET_CHILD_SUBREAPER): a process of the application whose parent dies
// (roslaunch killed with SIGKILL, a double fork) is re-parented to the
// agent instead of to init, so it stays under the agent's watch and its
// exit status is collected; a goroutine reaps such adopted orphans. Call it
// once, early, in the agent; it is a no-op when called again. The error is
// prctl's (the kernel predates 3.4).
func BecomeSubreaper() error {
	var err error
	subreaperOnce.Do(func() {
		if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
			err = e
			return
		}
		go reapOrphans()
	})
	return err
}

// reapOrphans collects the exit status of adopted orphans (zombie children
// the package did not start), so they do not pile up.
func reapOrphans() {
	self := os.Getpid()
	for {
		time.Sleep(200 * time.Millisecond)
		scanMu.Lock()
		for _, p := range scanProcs() {
			ownedMu.Lock()
			ours := owned[p.pid]
			ownedMu.Unlock()
			if p.ppid == self && p.zombie() && !ours {
				var ws syscall.WaitStatus
				_, _ = syscall.Wait4(p.pid, &ws, syscall.WNOHANG, nil)
			}
		}
		scanMu.Unlock()
	}
}

// procInfo is what /proc tells about one process.
type procInfo struct {
	pid, ppid, pgrp int
	state           byte
}

func (p procInfo) zombie() bool { return p.state == 'Z' || p.state == 'X' }

// scanProcs lists the processes of /proc (those that vanish meanwhile are
// skipped).
func scanProcs() []procInfo {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	out := make([]procInfo, 0, len(names))
	for _, name := range names {
		if name == "" || name[0] < '0' || name[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		if p, ok := parseProcStat(pid, b); ok {
			out = append(out, p)
		}
	}
	return out
}

// parseProcStat parses /proc/<pid>/stat: "pid (comm) state ppid pgrp …",
// comm possibly holding spaces and parentheses.
func parseProcStat(pid int, b []byte) (procInfo, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return procInfo{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	if err1 != nil || err2 != nil {
		return procInfo{}, false
	}
	return procInfo{pid: pid, ppid: ppid, pgrp: pgrp, state: f[0][0]}, true
}

// hasMarker reports whether process pid's environment holds entry
// (UnitEnv=<id>), or one starting with prefix when prefix is set.
func hasMarker(pid int, entry string, prefix bool) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	for _, e := range bytes.Split(b, []byte{0}) {
		if string(e) == entry || (prefix && bytes.HasPrefix(e, []byte(entry))) {
			return true
		}
	}
	return false
}

// unit is every process of one launch of an application: the launcher
// (top), its process group, its descendants by parent link, the processes
// whose environment carries its marker, and, when the agent may create
// cgroups, everything in its own cgroup (which no process can leave).
type unit struct {
	id  string // UnitEnv value
	top int    // the launcher's pid (its process group id too)
	cg  string // the launch's cgroup directory, "" without
}

// members returns the live (non-zombie) processes of u, never the agent.
func (u *unit) members() []int {
	self := os.Getpid()
	seen := map[int]bool{}
	var out []int
	add := func(pid int) {
		if pid > 0 && pid != self && !seen[pid] {
			seen[pid] = true
			out = append(out, pid)
		}
	}
	procs := scanProcs()
	live := make(map[int]procInfo, len(procs))
	children := map[int][]int{}
	for _, p := range procs {
		if !p.zombie() {
			live[p.pid] = p
			children[p.ppid] = append(children[p.ppid], p.pid)
		}
	}
	if u.cg != "" {
		for _, pid := range readPids(filepath.Join(u.cg, "cgroup.procs")) {
			if _, ok := live[pid]; ok {
				add(pid)
			}
		}
	}
	// Descendants of the top process (those that never left the tree).
	if _, ok := live[u.top]; ok {
		add(u.top)
	}
	stack := []int{u.top}
	for len(stack) > 0 {
		pid := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, c := range children[pid] {
			if !seen[c] {
				add(c)
				stack = append(stack, c)
			}
		}
	}
	marker := UnitEnv + "=" + u.id
	for _, p := range live {
		if p.pgrp == u.top || (!seen[p.pid] && hasMarker(p.pid, marker, false)) {
			add(p.pid)
		}
	}
	return out
}

// signal sends sig to every member of u and to its process group; it
// returns the number of members signalled.
func (u *unit) signal(sig syscall.Signal) int {
	_ = syscall.Kill(-u.top, sig)
	ms := u.members()
	for _, pid := range ms {
		_ = syscall.Kill(pid, sig)
	}
	return len(ms)
}

// kill ends every member of u with SIGKILL: cgroup.kill first when u has a
// cgroup (atomic, nothing can fork away from it), then each member found.
func (u *unit) kill() {
	if u.cg != "" {
		_ = os.WriteFile(filepath.Join(u.cg, "cgroup.kill"), []byte("1"), 0)
	}
	u.signal(syscall.SIGKILL)
}

// alive reports whether u has a member left.
func (u *unit) alive() bool { return len(u.members()) > 0 }

// remove deletes u's cgroup once it is empty (best effort).
func (u *unit) remove() {
	if u.cg != "" {
		_ = syscall.Rmdir(u.cg)
	}
}

func readPids(path string) []int {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []int
	for _, l := range strings.Fields(string(b)) {
		if n, err := strconv.Atoi(l); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// newUnitCgroup creates the cgroup of one launch under parent and opens it
// for clone's CLONE_INTO_CGROUP.
func newUnitCgroup(parent, id string) (dir string, fd int, err error) {
	dir = filepath.Join(parent, "app-"+id)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", -1, err
	}
	fd, err = syscall.Open(dir, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = syscall.Rmdir(dir)
		return "", -1, err
	}
	return dir, fd, nil
}

// DetectCgroup returns the cgroup v2 directory under which the agent may
// create one cgroup per application: its own cgroup when that is delegated
// to it (systemd's Delegate=yes on the agent's unit makes it writable by
// the agent) and is not the root of the hierarchy (which belongs to the
// whole system). "" means none: the agent then relies on the subreaper and
// the process-tree walk.
func DetectCgroup() string {
	mnt := cgroup2Mount()
	if mnt == "" {
		return ""
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	var own string
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "0::"); ok {
			own = rest
		}
	}
	if own == "" || own == "/" {
		return ""
	}
	dir := filepath.Join(mnt, own)
	if err := CheckCgroup(dir); err != nil {
		return ""
	}
	return dir
}

// CheckCgroup reports whether dir is a cgroup v2 directory in which the
// agent can create (and remove) a child cgroup.
func CheckCgroup(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "cgroup.procs")); err != nil {
		return fmt.Errorf("%s is not a cgroup v2 directory: %w", dir, err)
	}
	probe := filepath.Join(dir, fmt.Sprintf("fleetsync-probe-%d", os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return fmt.Errorf("cannot create a cgroup in %s: %w", dir, err)
	}
	_ = syscall.Rmdir(probe)
	return nil
}

// cgroup2Mount returns where the cgroup v2 hierarchy is mounted ("" if
// nowhere): /sys/fs/cgroup on unified systems, /sys/fs/cgroup/unified on
// hybrid ones.
func cgroup2Mount() string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint opts… - fstype source opts
		l := sc.Text()
		pre, post, ok := strings.Cut(l, " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) >= 5 && len(qf) >= 1 && qf[0] == "cgroup2" && pf[3] == "/" {
			return pf[4]
		}
	}
	return ""
}

// KillStray ends what an earlier agent on the same state directory left
// running: every process whose environment carries a unit id starting with
// prefix (processes of an application that outlived a killed agent; the
// parent-death signal reaches only the launcher) and everything in the
// app-<prefix>* cgroups under cgroupParent, which it then removes. SIGTERM
// first, SIGKILL after grace. It returns the number of processes found.
func KillStray(prefix, cgroupParent string, grace time.Duration) int {
	find := func() []int {
		self := os.Getpid()
		var out []int
		seen := map[int]bool{}
		for _, p := range scanProcs() {
			if p.pid != self && !p.zombie() && hasMarker(p.pid, UnitEnv+"="+prefix, true) {
				out = append(out, p.pid)
				seen[p.pid] = true
			}
		}
		for _, cg := range strayCgroups(prefix, cgroupParent) {
			for _, pid := range readPids(filepath.Join(cg, "cgroup.procs")) {
				if !seen[pid] {
					out = append(out, pid)
					seen[pid] = true
				}
			}
		}
		return out
	}
	first := find()
	if len(first) == 0 {
		for _, cg := range strayCgroups(prefix, cgroupParent) {
			_ = syscall.Rmdir(cg)
		}
		return 0
	}
	for _, pid := range first {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for len(find()) > 0 && time.Now().Before(deadline) {
		time.Sleep(pollInterval)
	}
	for _, cg := range strayCgroups(prefix, cgroupParent) {
		_ = os.WriteFile(filepath.Join(cg, "cgroup.kill"), []byte("1"), 0)
	}
	for _, pid := range find() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for end := time.Now().Add(killWait * 5); len(find()) > 0 && time.Now().Before(end); {
		time.Sleep(pollInterval)
	}
	for _, cg := range strayCgroups(prefix, cgroupParent) {
		_ = syscall.Rmdir(cg)
	}
	return len(first)
}

func strayCgroups(prefix, parent string) []string {
	if parent == "" {
		return nil
	}
	m, _ := filepath.Glob(filepath.Join(parent, "app-"+prefix+"*"))
	return m
}
