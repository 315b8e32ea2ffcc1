package state

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzStateFile: whatever state.json holds (a torn write, a hand edit, a
// disk error), Load never panics: it returns a state or an error naming the
// file; a state it returns survives Save and Load unchanged.
func FuzzStateFile(f *testing.F) {
	full, _ := json.Marshal(State{Current: &App{DeploymentJob: "arn:aws:robomaker:us-east-1:123456789012:deployment-job/deployment-abcdefabcdef",
		Application: "arn:aws:robomaker:us-east-1:123456789012:robot-application/a/1", ApplicationVersion: "1", Dir: "/var/lib/x/b",
		Overlays: []string{"/var/lib/x/o"}, SoftwareSuite: "ROS2", PackageName: "p", LaunchFile: "l.py",
		Env: map[string]string{"A": "b"}, Tags: map[string]string{"k": "v"}, InstalledAt: time.Unix(1_800_000_000, 5)}},
	)
	f.Add(full)
	f.Add(full[:len(full)/2]) // torn
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"current":{"installedAt":"not a time"}}`))
	f.Add([]byte(`{"pending":{"status":"Failed"}}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, StateFile)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := Load(dir)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("Load error does not name %s: %v", path, err)
			}
			return
		}
		first, _ := json.Marshal(s)
		if err := Save(dir, s); err != nil {
			t.Fatalf("Save of a loaded state: %v", err)
		}
		again, err := Load(dir)
		if err != nil {
			t.Fatalf("Load after Save: %v", err)
		}
		if second, _ := json.Marshal(again); !bytes.Equal(first, second) {
			t.Fatalf("state changed through Save and Load:\n%s\n%s", first, second)
		}
	})
}
