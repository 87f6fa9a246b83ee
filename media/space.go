package media

import (
	"fmt"
	"syscall"

	"github.com/filmroom/filmroom/internal/apperr"
)

// Space refuses work that would fill a disk, before it starts: an upload
// that cannot be stored or a transcode that cannot write its renditions
// would otherwise fail half way, after minutes of a teacher's time, and
// leave the disk full for everyone else.
type Space struct {
	// Free reports the bytes available to this process on the file system
	// holding path; nil means statfs. Tests swap it to simulate a full disk.
	Free func(path string) (int64, error)
	// Margin is kept free beyond what the work needs (the database, logs
	// and other uploads live there too).
	Margin int64
}

// StatfsFree is the free space of path's file system, for an unprivileged
// process (what it may still write).
func StatfsFree(path string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", path, err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// Require returns an error wrapping apperr.ErrInsufficientStorage (507)
// unless path has need bytes plus the margin free; what names the work in
// the message a person reads.
func (s *Space) Require(path string, need int64, what string) error {
	if s == nil || path == "" {
		return nil
	}
	free := s.Free
	if free == nil {
		free = StatfsFree
	}
	have, err := free(path)
	if err != nil {
		return err
	}
	if want := need + s.Margin; have < want {
		return apperr.New(apperr.ErrInsufficientStorage, "insufficient_storage",
			fmt.Sprintf("the server does not have enough free disk space for %s (it needs %s, %s are free); try again later, and tell the site's operator",
				what, bytesText(want), bytesText(have)))
	}
	return nil
}

// bytesText writes a size as people read it (1.5 GB).
func bytesText(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.0f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%d KB", (n+999)/1000)
}
