package syncbuf

import (
	"strings"
	"sync"
	"testing"
)

// TestBuffer: concurrent writers (run under -race) lose nothing; with Max
// set, what is past it is accepted and dropped.
func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				b.Write([]byte("x"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if n := len(b.String()); n != 800 {
		t.Fatalf("kept %d bytes of 800 written", n)
	}
	capped := Buffer{Max: 4}
	for _, s := range []string{"ab", "cd", "ef"} {
		if n, err := capped.Write([]byte(s)); n != 2 || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want 2, nil", s, n, err)
		}
	}
	if got := capped.String(); got != "abcd" || strings.Contains(got, "ef") {
		t.Fatalf("capped buffer holds %q, want abcd", got)
	}
}
