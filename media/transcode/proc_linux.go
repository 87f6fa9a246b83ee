package transcode

import "syscall"

// procAttr puts ffmpeg in its own process group (so cancelling kills all
// of it) and has the kernel kill it when the filmroom process dies: a
// worker killed with -9 must not leave an orphan encode burning the cores
// that the retry on this node needs.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
