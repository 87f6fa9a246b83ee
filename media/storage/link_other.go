//go:build !unix

package storage

import (
	"errors"
	"os"
)

// linkAt is not available here: PutFile copies.
func linkAt(string, *os.File, string) error { return errors.ErrUnsupported }
