package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAccountBinding(t *testing.T) {
	dir := t.TempDir()
	if a, err := LoadAccount(dir); a != "" || err != nil {
		t.Fatalf("unbound dir: %q, %v", a, err)
	}
	if err := BindAccount(dir, "12345", false); err == nil {
		t.Fatal("bound to a 5-digit account")
	}
	if err := BindAccount(dir, "123456789012", false); err != nil {
		t.Fatal(err)
	}
	if err := BindAccount(dir, "123456789012", false); err != nil {
		t.Fatalf("binding again to the same account: %v", err)
	}
	if err := BindAccount(dir, "210987654321", false); !errors.Is(err, ErrBoundElsewhere) || !strings.Contains(err.Error(), "--rebind") {
		t.Fatalf("moving without rebind: %v", err)
	}
	if a, _ := LoadAccount(dir); a != "123456789012" {
		t.Fatalf("a refused move changed the binding to %q", a)
	}
	if err := BindAccount(dir, "210987654321", true); err != nil {
		t.Fatal(err)
	}
	if a, _ := LoadAccount(dir); a != "210987654321" {
		t.Fatalf("after rebind: %q", a)
	}
	if err := os.WriteFile(filepath.Join(dir, AccountFile), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAccount(dir); err == nil || !strings.Contains(err.Error(), "--rebind") {
		t.Fatalf("a corrupt account file: %v, want an error saying what to run", err)
	}
	if err := BindAccount(dir, "123456789012", true); err != nil {
		t.Fatalf("rebind over a corrupt file: %v", err)
	}
}
