//go:build !linux

package bundle

import (
	"fmt"
	"io/fs"
	"os"
)

// syncFS makes what was written under root durable: without Linux's
// syncfs(2), every file and directory under it is fsynced.
func syncFS(root *os.Root) error {
	err := fs.WalkDir(root.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !(d.IsDir() || d.Type().IsRegular()) {
			return err
		}
		f, err := root.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return f.Sync()
	})
	if err != nil {
		return fmt.Errorf("bundle: sync %s: %w", root.Name(), err)
	}
	return nil
}
