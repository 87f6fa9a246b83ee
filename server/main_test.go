package server

import (
	"os"
	"testing"

	"github.com/filmroom/filmroom/internal/testsvc"
)

// TestMain removes what the tests of the package share: the filmroom binary
// the fault tests build and the shared MinIO server.
func TestMain(m *testing.M) {
	code := m.Run()
	testsvc.StopMinIO()
	if builtBinary.dir != "" {
		_ = os.RemoveAll(builtBinary.dir)
	}
	os.Exit(code)
}
