//go:build !linux

package transcode

import "syscall"

// procAttr puts ffmpeg in its own process group; only Linux can also tie
// its life to ours (see proc_linux.go).
func procAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
