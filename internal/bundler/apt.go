package bundler

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Deb is one Debian package of the dependencies overlay.
type Deb struct {
	Package, Version, Architecture string
	// File is the .deb the overlay was unpacked from.
	File string `json:"-"`
}

// runCmd runs a command and returns its stdout; stderr goes into the error.
func runCmd(ctx context.Context, dir string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// DefaultExcluded are the packages the dependencies overlay leaves out
// unless they are named explicitly (besides every Essential or required
// package, see baseExcluded): the C runtime, which must match the robot's
// dynamic loader and comes from the robot.
var DefaultExcluded = []string{"libc6", "libgcc-s1", "libstdc++6", "libcrypt1", "libc-bin"}

// Candidate is a package's candidate version, as `apt-cache show
// --no-all-versions` describes it.
type Candidate struct {
	name, version, arch, priority string
	essential                     bool
}

// aptShow reads the candidate version's record of each package.
func aptShow(ctx context.Context, names []string) (map[string]Candidate, error) {
	out, err := runCmd(ctx, "", "apt-cache", append([]string{"show", "--no-all-versions"}, names...)...)
	if err != nil {
		return nil, err
	}
	res := map[string]Candidate{}
	var cur Candidate
	flush := func() {
		if cur.name != "" {
			res[cur.name] = cur
		}
		cur = Candidate{}
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			flush()
			continue
		}
		k, v, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		switch k {
		case "Package":
			cur.name = v
		case "Version":
			cur.version = v
		case "Architecture":
			cur.arch = v
		case "Priority":
			cur.priority = v
		case "Essential":
			cur.essential = v == "yes"
		}
	}
	flush()
	return res, nil
}

// depGraph reads, with one `apt-cache depends --recurse`, the run-time
// dependencies (Depends, Pre-Depends) of names and of everything they lead
// to: of alternatives the first, of a virtual package its first provider.
func depGraph(ctx context.Context, names []string) (map[string][]string, error) {
	out, err := runCmd(ctx, "", "apt-cache", append([]string{"depends", "--recurse", "--no-recommends", "--no-suggests",
		"--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"}, names...)...)
	if err != nil {
		return nil, err
	}
	graph := map[string][]string{}
	cur := ""
	inAlt := false   // the previous line was an alternative ("|Depends:")
	virtual := false // the previous dependency was virtual: take its first provider
	for _, l := range strings.Split(string(out), "\n") {
		if !strings.HasPrefix(l, " ") {
			cur, inAlt, virtual = "", false, false
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "<") {
				cur = stripArch(t)
				if _, ok := graph[cur]; !ok {
					graph[cur] = nil
				}
			}
			continue
		}
		if cur == "" {
			continue
		}
		t := strings.TrimSpace(l)
		alt := strings.HasPrefix(t, "|")
		t = strings.TrimPrefix(t, "|")
		kind, dep, ok := strings.Cut(t, ": ")
		if !ok {
			// A provider line under a virtual dependency.
			if virtual && !strings.HasPrefix(t, "<") {
				graph[cur] = append(graph[cur], stripArch(t))
				virtual = false
			}
			continue
		}
		if kind != "Depends" && kind != "PreDepends" {
			inAlt, virtual = false, false
			continue
		}
		skip := inAlt // an alternative after the first one of its group
		inAlt = alt
		if skip {
			virtual = false
			continue
		}
		if strings.HasPrefix(dep, "<") {
			virtual = true
			continue
		}
		virtual = false
		graph[cur] = append(graph[cur], stripArch(dep))
	}
	return graph, nil
}

func stripArch(n string) string {
	n, _, _ = strings.Cut(n, ":")
	return n
}

// debName is a Debian package name (Debian policy §5.6.1), with an
// optional :architecture qualifier.
var debName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$`)

// Resolve returns the packages of the dependencies overlay: names and,
// unless noRecurse, everything they depend on at run time, minus the
// excluded packages, Essential ones and those of priority required (which
// every Debian or Ubuntu robot has), and what only they lead to — a package
// named explicitly is always kept. The result is sorted by name. It asks
// apt twice (the dependency graph, then the candidates' records).
func Resolve(ctx context.Context, names []string, exclude []string, noRecurse bool) ([]Candidate, error) {
	named := map[string]bool{}
	for _, n := range names {
		if !debName.MatchString(n) {
			// Names reach apt-cache and apt-get as arguments: one starting
			// with "-" would be taken as an option (package.xml is input).
			return nil, fmt.Errorf("%q is not a Debian package name (lowercase letters, digits, + - ., optionally :arch)", n)
		}
		named[n] = true
	}
	excluded := map[string]bool{}
	for _, n := range exclude {
		excluded[n] = true
	}
	graph := map[string][]string{}
	if noRecurse {
		for _, n := range names {
			graph[n] = nil
		}
	} else {
		var err error
		if graph, err = depGraph(ctx, names); err != nil {
			return nil, err
		}
	}
	all := make([]string, 0, len(graph))
	for n := range graph {
		all = append(all, n)
	}
	slices.Sort(all)
	info, err := aptShow(ctx, all)
	if err != nil {
		return nil, err
	}
	seen := map[string]Candidate{}
	queue := slices.Clone(names)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if _, ok := seen[n]; ok {
			continue
		}
		pi, ok := info[n]
		if !ok {
			if named[n] {
				return nil, fmt.Errorf("package %s: no installable candidate in the apt sources", n)
			}
			continue
		}
		if !named[n] && (excluded[n] || pi.essential || pi.priority == "required") {
			continue
		}
		seen[n] = pi
		queue = append(queue, graph[n]...)
	}
	out := make([]Candidate, 0, len(seen))
	for _, p := range seen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Candidate) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// Fetch returns the .deb of each package: from apt's own cache
// (Dir::Cache::archives) when it holds that version, else downloaded with
// `apt-get download` (the machine's apt sources, proxies and
// authentication) into cacheDir, where later runs find it.
func Fetch(ctx context.Context, pkgs []Candidate, cacheDir string) ([]Deb, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	aptCache := "/var/cache/apt/archives"
	if out, err := runCmd(ctx, "", "apt-config", "shell", "D", "Dir::Cache::archives/d"); err == nil {
		if _, v, ok := strings.Cut(strings.TrimSpace(string(out)), "="); ok {
			aptCache = strings.Trim(v, "'\"")
		}
	}
	var debs []Deb
	var missing []string
	for _, p := range pkgs {
		// The name apt gives the file in its cache and apt-get download
		// gives it (the epoch's colon escaped).
		base := fmt.Sprintf("%s_%s_%s.deb", p.name, strings.ReplaceAll(p.version, ":", "%3a"), p.arch)
		var file string
		for _, dir := range []string{aptCache, cacheDir} {
			if fi, err := os.Stat(filepath.Join(dir, base)); err == nil && fi.Mode().IsRegular() {
				file = filepath.Join(dir, base)
				break
			}
		}
		if file == "" {
			missing = append(missing, p.name+"="+p.version)
			file = filepath.Join(cacheDir, base)
		}
		debs = append(debs, Deb{Package: p.name, Version: p.version, Architecture: p.arch, File: file})
	}
	if len(missing) > 0 {
		if _, err := runCmd(ctx, cacheDir, "apt-get", append([]string{"download", "-q"}, missing...)...); err != nil {
			return nil, err
		}
	}
	for _, d := range debs {
		if _, err := os.Stat(d.File); err != nil {
			return nil, fmt.Errorf("package %s: apt-get download left no %s", d.Package, filepath.Base(d.File))
		}
	}
	return debs, nil
}

// Unpack extracts every .deb into dir with dpkg-deb, in order.
func Unpack(ctx context.Context, debs []Deb, dir string) error {
	for _, d := range debs {
		if _, err := runCmd(ctx, "", "dpkg-deb", "-x", d.File, dir); err != nil {
			return err
		}
	}
	return nil
}

// RosdepKeys resolves the dependencies of the ROS packages whose
// package.xml files are under dirs into Debian package names, with rosdep
// (its own database and rules, as `rosdep install` would). ok is false when
// rosdep is not installed.
func RosdepKeys(ctx context.Context, dirs []string) (debs []string, ok bool, err error) {
	if _, err := exec.LookPath("rosdep"); err != nil {
		return nil, false, nil
	}
	args := []string{"keys", "--ignore-src", "--dependency-types", "exec", "--dependency-types", "buildtool_export"}
	for _, d := range dirs {
		args = append(args, "--from-paths", d)
	}
	out, err := runCmd(ctx, "", "rosdep", args...)
	if err != nil {
		return nil, true, err
	}
	keys := strings.Fields(string(out))
	if len(keys) == 0 {
		return nil, true, nil
	}
	out, err = runCmd(ctx, "", "rosdep", append([]string{"resolve"}, keys...)...)
	if err != nil {
		return nil, true, err
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		debs = append(debs, strings.Fields(l)...)
	}
	slices.Sort(debs)
	return slices.Compact(debs), true, nil
}
