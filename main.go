// Command filmroom is a self-hosted server for video-based reflection and
// microteaching. See "filmroom --help".
package main

import (
	"os"

	"github.com/filmroom/filmroom/server"
)

func main() {
	os.Exit(server.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
