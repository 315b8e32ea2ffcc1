// Package state is what a fleetsync agent keeps on the robot's disk: its
// Ed25519 identity, the deployment it runs (and the one before, for
// rollback), a final report not yet delivered, and a status snapshot for
// `fleetsync-agent status`. Every file is written atomically (a temporary
// file, fsync, rename, fsync of the directory), so a robot that loses power
// at any instant finds either the old or the new content, never a mix.
//
// The package imports only the standard library and the agent protocol: it
// is part of the agent, which must build without server code.
package state

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fleetsync/fleetsync/internal/proto"
)

// File names inside the state directory.
const (
	KeyFile    = "agent.key"
	StateFile  = "state.json"
	StatusFile = "status.json"
)

// DefaultDir is the state directory of an agent installed as a service.
const DefaultDir = "/var/lib/fleetsync-agent"

// App is one installed deployment: what to launch and where it is.
type App struct {
	// DeploymentJob is the job ARN that installed it.
	DeploymentJob      string `json:"deploymentJob"`
	Application        string `json:"application"`
	ApplicationVersion string `json:"applicationVersion"`
	// Dir is the extracted bundle's root, the application's working directory.
	Dir string `json:"dir"`
	// Overlays are the directories whose setup.sh is sourced before launch.
	Overlays      []string          `json:"overlays,omitempty"`
	SoftwareSuite string            `json:"softwareSuite"`
	PackageName   string            `json:"packageName"`
	LaunchFile    string            `json:"launchFile"`
	Env           map[string]string `json:"env,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	// InstalledAt is when its deployment finished on this robot.
	InstalledAt time.Time `json:"installedAt"`
}

// State is the agent's durable memory, kept in StateFile.
type State struct {
	// Current is the application that runs (and is relaunched at start);
	// nil before the first successful deployment.
	Current *App `json:"current,omitempty"`
	// Previous is the application Current replaced, kept until the server
	// has acknowledged Current's success, so that an abort in answer to
	// that report can still restore it.
	Previous *App `json:"previous,omitempty"`
	// Pending is a final report the server has not acknowledged yet; it is
	// delivered before anything else once the server can be reached.
	Pending *proto.Report `json:"pending,omitempty"`
}

// Status is a snapshot of what the agent is doing, for the status command.
type Status struct {
	// AgentID is the agent's id; Server the fleetsyncd it polls; PID the
	// agent process; Updated when this snapshot was written.
	AgentID string    `json:"agentId"`
	Server  string    `json:"server"`
	PID     int       `json:"pid"`
	Updated time.Time `json:"updated"`
	// Current is the installed application, as in State.
	Current *App `json:"current,omitempty"`
	// Deploying names the job under way and its step, if any.
	Deploying     string     `json:"deploying,omitempty"`
	Step          proto.Step `json:"step,omitempty"`
	AppPID        int        `json:"appPid,omitempty"`
	AppStartedAt  time.Time  `json:"appStartedAt,omitzero"`
	AppRestarts   int        `json:"appRestarts,omitempty"`
	LastExitCode  *int       `json:"lastExitCode,omitempty"`
	LastError     string     `json:"lastError,omitempty"`
	LastErrorAt   time.Time  `json:"lastErrorAt,omitzero"`
	LastContactAt time.Time  `json:"lastContactAt,omitzero"`
}

// LockFile is held (flock) by the agent running on a state directory.
const LockFile = "agent.lock"

// Lock takes the state directory's lock, so that two agents never run on
// one directory (both would launch the application and race for its
// deployments); it fails at once, naming the directory, when another
// process holds it. Closing the returned file releases it; so does the
// process's end, even by SIGKILL.
func Lock(dir string) (io.Closer, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another fleetsync-agent runs on %s", dir)
		}
		return nil, fmt.Errorf("state dir lock: %w", err)
	}
	return f, nil
}

// LoadOrCreateKey returns the agent's private key from dir/KeyFile,
// creating dir (0700) and the key (0600, PKCS#8 PEM) when absent. created
// is true when this call made the key.
func LoadOrCreateKey(dir string) (key ed25519.PrivateKey, created bool, err error) {
	path := filepath.Join(dir, KeyFile)
	if k, err := LoadKey(dir); err == nil {
		return k, false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("state dir: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, false, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// The key is written whole to a temporary file, synced, then linked
	// into place: a power loss never leaves a truncated key behind, and
	// os.Link fails if the name exists, so two `init` racing cannot end
	// with two identities.
	tmp, err := os.CreateTemp(dir, "."+KeyFile+".*")
	if err != nil {
		return nil, false, fmt.Errorf("create key: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("write key: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("write key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, false, fmt.Errorf("write key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, false, fmt.Errorf("write key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		k, err := LoadKey(dir)
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("create key: %w", err)
	}
	return priv, true, syncDir(dir)
}

// LoadKey reads the agent's private key from dir/KeyFile. A key file
// readable by others is refused: the key is the robot's only credential.
func LoadKey(dir string) (ed25519.PrivateKey, error) {
	path := filepath.Join(dir, KeyFile)
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key %s has mode %v: it must be readable by its owner only (chmod 600)", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("key %s: not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key %s: not an Ed25519 key", path)
	}
	return priv, nil
}

// Load reads dir/StateFile; a missing file is the empty state of a robot
// that never deployed.
func Load(dir string) (State, error) {
	var s State
	err := readJSON(filepath.Join(dir, StateFile), &s)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	return s, err
}

// Save writes s to dir/StateFile atomically.
func Save(dir string, s State) error {
	return writeJSON(dir, StateFile, s)
}

// LoadStatus reads dir/StatusFile.
func LoadStatus(dir string) (Status, error) {
	var s Status
	return s, readJSON(filepath.Join(dir, StatusFile), &s)
}

// SaveStatus writes s to dir/StatusFile atomically but without fsync: it
// is rewritten at every poll, is only informative, and a robot's flash
// storage should not pay for its durability.
func SaveStatus(dir string, s Status) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, StatusFile, append(data, '\n'), 0o600, false)
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s is corrupt: %w", path, err)
	}
	return nil
}

// writeJSON replaces dir/name with v's JSON through a synced temporary file.
func writeJSON(dir, name string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(dir, name, append(data, '\n'), 0o600, true)
}

// writeFileAtomic replaces dir/name with data through a temporary file and
// a rename: readers see the old content or the new one. When durable, the
// file and the directory are synced too, so that this holds after a crash
// or a power loss as well.
func writeFileAtomic(dir, name string, data []byte, perm fs.FileMode, durable bool) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", name, err)
	}
	if !durable {
		return nil
	}
	return syncDir(dir)
}

// syncDir makes a rename or a creation in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// AgentID returns the agent id of key (what operators pass as
// greengrassGroupId).
func AgentID(key ed25519.PrivateKey) string {
	return proto.AgentID(key.Public().(ed25519.PublicKey))
}
