// Package procstat reads what the benchmarks report about a process and the
// machine from Linux's /proc: CPU seconds, memory fields and the load
// average printed beside every figure.
package procstat

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUSeconds is the process's user + system CPU time, 0 if it cannot be read.
func CPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count fields after ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// MiB reads a kB field of /proc/PID/status (VmRSS, VmHWM, …) as MiB, 0 if
// it cannot be read.
func MiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			return kb / 1024
		}
	}
	return 0
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages, "?" if unknown.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// BacklogDrops is how many packets the kernel dropped because a CPU's
// input backlog was full (net.core.netdev_max_backlog), summed over CPUs
// from /proc/net/softnet_stat; -1 when it cannot be read. Over loopback a
// load generator whose connections' keepalive timers fire together can
// overflow it, and the lost probes end connections with ETIMEDOUT.
func BacklogDrops() int64 {
	b, err := os.ReadFile("/proc/net/softnet_stat")
	if err != nil {
		return -1
	}
	var total int64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			return -1
		}
		n, err := strconv.ParseInt(f[1], 16, 64)
		if err != nil {
			return -1
		}
		total += n
	}
	return total
}
