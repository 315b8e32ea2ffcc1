package state

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetsync/fleetsync/internal/proto"
)

func TestKeyIsCreatedOnceWithOwnerOnlyMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	k1, created, err := LoadOrCreateKey(dir)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v", created, err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadOrCreateKey(dir)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("second call: created=%v err=%v same=%v", created, err, k1.Equal(k2))
	}
	if id := AgentID(k1); !strings.HasPrefix(id, "fsa1-") {
		t.Fatalf("agent id %q", id)
	}
	if _, err := proto.PublicKey(AgentID(k1)); err != nil {
		t.Fatalf("agent id does not decode: %v", err)
	}
}

func TestConcurrentInitAgreesOnOneKey(t *testing.T) {
	dir := t.TempDir()
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, _, err := LoadOrCreateKey(dir)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = AgentID(k)
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("racing inits produced different identities: %v", ids)
		}
	}
}

func TestKeyReadableByOthersIsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadOrCreateKey(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKey(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("LoadKey of a 0644 key: %v", err)
	}
}

func TestCorruptKeyIsRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreateKey(dir); err == nil {
		t.Fatal("a corrupt key was accepted (or silently replaced)")
	}
}

func TestStateRoundTripAndAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	if s, err := Load(dir); err != nil || s.Current != nil || s.Pending != nil {
		t.Fatalf("empty dir: %+v, %v", s, err)
	}
	want := State{
		Current:  &App{DeploymentJob: "arn:job/2", Dir: "/d/2", Overlays: []string{"/o/1"}, Env: map[string]string{"A": "b"}},
		Previous: &App{DeploymentJob: "arn:job/1", Dir: "/d/1"},
		Pending:  &proto.Report{DeploymentJob: "arn:job/2", Step: proto.StepFinished, Result: proto.ResultSucceeded},
	}
	if err := Save(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.Current.DeploymentJob != "arn:job/2" || got.Current.Env["A"] != "b" || got.Previous.Dir != "/d/1" || got.Pending.Result != proto.ResultSucceeded {
		t.Fatalf("round trip: %+v", got)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != StateFile {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte("{trunc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Fatalf("corrupt state: %v", err)
	}
}

func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	l1, err := Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir); err == nil || !strings.Contains(err.Error(), "another fleetsync-agent runs on "+dir) {
		t.Fatalf("second Lock = %v, want refusal naming the directory", err)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := Lock(dir)
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	l2.Close()
}
