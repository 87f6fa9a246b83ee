//go:build unix

package storage

import (
	"os"

	"golang.org/x/sys/unix"
)

// linkAt hard-links src as name in the open folder dir. Linking relative to
// the folder's descriptor keeps the new name inside the store's root even if
// a path component were a symlink.
func linkAt(src string, dir *os.File, name string) error {
	if err := unix.Linkat(unix.AT_FDCWD, src, int(dir.Fd()), name, 0); err != nil {
		return &os.LinkError{Op: "link", Old: src, New: name, Err: err}
	}
	return nil
}
