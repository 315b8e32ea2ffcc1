package bundle

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// FuzzColconV2Index: the head of a colcon v2 bundle (version entry, then
// metadata.tar.gz holding overlays.json) is read without panicking or
// unbounded reads, every refusal is a typed bundle error, and an index it accepts addresses only bytes inside the
// bundle, with a well-formed SHA-256 per overlay.
func FuzzColconV2Index(f *testing.F) {
	f.Add(v2Bundle(f, 3<<10, depsOverlay(f), workspaceOverlay(f, "1")))
	f.Add(v2Bundle(f, 3<<10, workspaceOverlay(f, "2")))
	f.Add(v1Bundle(f, false))
	f.Add(tarOf(f, file("version", "2\n"), file("metadata.tar.gz", "not gzip")))
	f.Add(tarOf(f, file("version", "2\n")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ovs, meta, err := readV2Index(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			// Every refusal is typed (the agent maps each kind to a
			// failure reason): a bundle that is not one, an escape, a bomb.
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsafe) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("readV2Index: %v is neither ErrInvalid, ErrUnsafe nor ErrTooLarge", err)
			}
			return
		}
		if len(ovs) == 0 || len(ovs) > maxOverlays || int64(len(meta)) >= maxMetadataSize {
			t.Fatalf("accepted %d overlays, %d bytes of metadata", len(ovs), len(meta))
		}
		for _, o := range ovs {
			if o.Offset < 0 || o.Size <= 0 || o.Offset+o.Size > int64(len(data)) {
				t.Fatalf("overlay %q range %d+%d outside the %d-byte bundle", o.Name, o.Offset, o.Size, len(data))
			}
			if b, err := hex.DecodeString(o.SHA256); err != nil || len(b) != 32 {
				t.Fatalf("overlay %q sha256 %q", o.Name, o.SHA256)
			}
		}
	})
}
