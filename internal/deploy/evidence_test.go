package deploy

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOneLineAndTail(t *testing.T) {
	if got := OneLine("pre-launch app/pre.sh exited 3:\nboom\x1b[0m", 1024); got != "pre-launch app/pre.sh exited 3: boom [0m" {
		t.Errorf("OneLine = %q", got)
	}
	long := strings.Repeat("é", 1000) // 2000 bytes
	if got := OneLine(long, 1024); len(got) > 1024 || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("OneLine of a long text: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
	out := strings.Repeat("line of output\n", 2000)
	got := Tail(out, 1000)
	if len(got) > 1000 || !strings.HasPrefix(got, "line of output\n") || !strings.HasSuffix(out, got) {
		t.Errorf("Tail does not start at a line: %q", got[:20])
	}
	if got := Tail("short\n", 1000); got != "short\n" {
		t.Errorf("Tail of a short text = %q", got)
	}
	if got := Tail(strings.Repeat("é", 1000), 999); !utf8.ValidString(got) {
		t.Error("Tail cut a character")
	}
	// A binary's output: PostgreSQL refuses NUL in text, so the agent's
	// report would fail (503) on every retry.
	if got := Tail("ELF\x00\x01\xffok\n", 1000); got != "ELF?\x01?ok\n" {
		t.Errorf("Tail of output with NUL and invalid bytes = %q, want them as '?'", got)
	}
}
