// Package syncbuf is a text buffer safe for concurrent use: what a process
// or a server's goroutines write while a test reads it (logs, output).
package syncbuf

import (
	"strings"
	"sync"
)

// Buffer collects what is written to it; String returns it so far.
type Buffer struct {
	// Max, when above 0, bounds what is kept: writes past it are
	// accepted and dropped (a chatty process cannot fill the memory).
	Max int

	mu sync.Mutex
	b  strings.Builder
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Max > 0 && b.b.Len() >= b.Max {
		return len(p), nil
	}
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
