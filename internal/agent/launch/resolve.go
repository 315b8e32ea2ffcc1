package launch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrNotInBundle is the cause of a launch file or a pre/post-launch file
// that no directory of the bundle holds (test with errors.Is).
var ErrNotInBundle = errors.New("not found in the bundle")

// SearchDirs returns the directories in which the files a deployment names
// are looked up, in order (SPEC §6): for a colcon bundle the workspace
// overlay first (colcon bundles list it last: dependencies, then
// workspace), then the other overlays in their order, then the bundle root;
// for a plain bundle (no overlays) the bundle root alone. Relative overlays
// are taken relative to BundleRoot; duplicates (a v1 bundle's only overlay
// is its root) appear once.
func (s Spec) SearchDirs() []string {
	var dirs []string
	add := func(d string) {
		if d == "" {
			return
		}
		if !filepath.IsAbs(d) {
			d = filepath.Join(s.BundleRoot, d)
		}
		for _, have := range dirs {
			if have == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	if n := len(s.Overlays); n > 0 {
		add(s.Overlays[n-1])
		for _, o := range s.Overlays[:n-1] {
			add(o)
		}
	}
	add(s.BundleRoot)
	return dirs
}

// generalCandidates are where the General suite looks for the program
// PackageName/LaunchFile inside each search directory: the name as given,
// then where a colcon install space puts a package's programs, isolated
// (<P>/lib/<P>, <P>/bin) and merged (lib/<P>), and the package's share
// directory; each first directly in the directory and then under
// opt/built_workspace, where colcon bundles put the install space.
func generalCandidates(p, f string) []string {
	inInstall := []string{
		filepath.Join(p, f),
		filepath.Join(p, "lib", p, f),
		filepath.Join(p, "bin", f),
		filepath.Join("lib", p, f),
		filepath.Join(p, "share", p, f),
		filepath.Join("share", p, f),
	}
	out := append([]string{}, inInstall...)
	for _, c := range inInstall {
		out = append(out, filepath.Join("opt", "built_workspace", c))
	}
	return out
}

// LaunchProgram returns the absolute path of the program the General suite
// runs for s (see generalCandidates and SearchDirs): the first candidate
// that is a regular file reached without leaving its search directory
// (through os.Root: a symbolic link pointing out of the bundle is not
// followed). The error wraps ErrNotInBundle and names where it looked.
func LaunchProgram(s Spec) (string, error) {
	if strings.ContainsRune(s.PackageName, '/') || strings.ContainsRune(s.LaunchFile, '/') ||
		!filepath.IsLocal(s.PackageName) || !filepath.IsLocal(s.LaunchFile) {
		return "", fmt.Errorf("launch: package name %q and launch file %q must be plain names", s.PackageName, s.LaunchFile)
	}
	dirs := s.SearchDirs()
	for _, d := range dirs {
		for _, c := range generalCandidates(s.PackageName, s.LaunchFile) {
			if p, ok := regularInside(d, c); ok {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("launch file %s/%s %w (looked for %s, %s/lib/%s/%s, lib/%s/%s, … in %s)",
		s.PackageName, s.LaunchFile, ErrNotInBundle, filepath.Join(s.PackageName, s.LaunchFile),
		s.PackageName, s.PackageName, s.LaunchFile, s.PackageName, s.LaunchFile, describeDirs(s, dirs))
}

// ScriptFile returns the absolute path of a pre- or post-launch file: an
// absolute path is a file already on the robot and is returned as it is; a
// relative one is looked up in each search directory in order (SearchDirs)
// and must be a regular file reached without leaving that directory. The
// error wraps ErrNotInBundle when no directory holds it.
func ScriptFile(s Spec, path string) (string, error) {
	if filepath.IsAbs(path) {
		return path, nil
	}
	if !filepath.IsLocal(path) {
		return "", errors.New("relative path leaves the bundle root")
	}
	dirs := s.SearchDirs()
	for _, d := range dirs {
		if p, ok := regularInside(d, path); ok {
			return p, nil
		}
	}
	// Say why when the file is there but unusable.
	for _, d := range dirs {
		if fi, err := statInside(d, path); err == nil && fi.IsDir() {
			return "", fmt.Errorf("%s is a directory", filepath.Join(d, path))
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", path, err)
		}
	}
	return "", fmt.Errorf("%s %w (looked in %s)", path, ErrNotInBundle, describeDirs(s, dirs))
}

// describeDirs names the search directories for an error message.
func describeDirs(s Spec, dirs []string) string {
	if len(s.Overlays) == 0 {
		return "the bundle root"
	}
	names := make([]string, 0, len(dirs))
	for i, d := range dirs {
		switch {
		case d == s.BundleRoot:
			names = append(names, "the bundle root")
		case i == 0:
			names = append(names, "the workspace overlay "+d)
		default:
			names = append(names, "overlay "+d)
		}
	}
	return strings.Join(names, ", ")
}

// regularInside reports whether rel names a regular file inside dir, reached
// without any symbolic link leading out of dir, and returns its path.
func regularInside(dir, rel string) (string, bool) {
	fi, err := statInside(dir, rel)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return filepath.Join(dir, rel), true
}

func statInside(dir, rel string) (fs.FileInfo, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Stat(rel)
}
