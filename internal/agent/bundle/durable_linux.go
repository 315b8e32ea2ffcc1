package bundle

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS makes what was written under root durable: syncfs(2) on the file
// system that holds it. One call flushes a tree of tens of thousands of
// files, where an fsync per file would take minutes on a robot's SD card;
// its cost is that it also flushes whatever else is pending on that file
// system.
func syncFS(root *os.Root) error {
	f, err := root.Open(".")
	if err != nil {
		return fmt.Errorf("bundle: sync %s: %w", root.Name(), err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("bundle: sync %s: %w", root.Name(), err)
	}
	return nil
}
