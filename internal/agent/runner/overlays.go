package runner

import (
	"os"
	"path/filepath"
)

// cachedOverlays lists the colcon v2 overlays in the cache (directories
// named by their SHA-256), which the agent never downloads again. Each poll
// tells the server, so its sync plan knows what an update costs this robot.
// Nil when the cache cannot be read: the server then assumes nothing.
func (a *Agent) cachedOverlays() []string {
	entries, err := os.ReadDir(filepath.Join(a.cfg.StateDir, overlaysDir))
	if err != nil {
		return nil
	}
	out := []string{}
	for _, e := range entries {
		if e.IsDir() && len(e.Name()) == 64 {
			out = append(out, e.Name())
		}
	}
	return out
}
