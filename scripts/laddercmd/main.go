// Command laddercmd prints, as a JSON array, the ffmpeg arguments that
// encode a file's HLS ladder exactly as filmroom would (transcode.
// LadderCommand with the default options): the bare-tool baseline of the
// fast-start benchmark (frontend/e2e/perf/faststart-bench.mjs). With
// -preview, the command of the quick preview rendition alone
// (transcode.PreviewOptions).
//
//	go run ./scripts/laddercmd [-preview] -threads 2 INPUT OUTDIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/filmroom/filmroom/media/transcode"
)

func main() {
	threads := flag.Int("threads", 2, "ffmpeg threads, as filmroom's --ffmpeg-threads")
	preview := flag.Bool("preview", false, "the preview rendition only, as fast start encodes it")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: laddercmd [-preview] [-threads N] INPUT OUTDIR")
		os.Exit(2)
	}
	p, err := transcode.ProbeFile(context.Background(), flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "laddercmd:", err)
		os.Exit(1)
	}
	opt := transcode.Options{Threads: *threads}
	if *preview {
		opt = transcode.PreviewOptions(opt)
	}
	args, err := transcode.LadderCommand(flag.Arg(0), flag.Arg(1), p, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "laddercmd:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(args)
}
