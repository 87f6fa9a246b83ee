package transcode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PackageProgress follows a quick rendition (PackageSource, EncodePreview)
// as ffmpeg writes it. It is called first when outDir holds a playable
// start (master.m3u8, poster.jpg and the first segments of the rendition's
// EVENT playlist) with the Result as it will be, then with a nil Result
// each time the playlist lists more segments, and last with final set once
// the playlist has its #EXT-X-ENDLIST and the master its measured
// bandwidth. Files in outDir are only ever added or replaced by rename, so
// the caller may link them. An error stops ffmpeg.
type PackageProgress func(res *Result, final bool) error

// readySegments is how many segments a rendition in progress lists before
// it is offered for playback: enough that a player starting at once does
// not wait for the next one.
const readySegments = 3

// packagePoll is how often a rendition in progress is looked at.
const packagePoll = 200 * time.Millisecond

// renditionOut is the one HLS rendition a quick start writes, and what
// its master playlist says of it.
type renditionOut struct {
	absOut, name  string
	width, height int
	codecs        string
	fps           float64
	hasAudio      bool
	postered      bool
	segments      int // listed in the final playlist
}

func (r *renditionOut) dir() string      { return filepath.Join(r.absOut, r.name) }
func (r *renditionOut) playlist() string { return filepath.Join(r.dir(), "index.m3u8") }

// poster is the first frame of the last segment offered first (a keyframe
// some seconds in, decoded from a small file). Seeking into the source
// instead costs seconds on a long lesson, just to open it; the ladder
// makes the clip's lasting poster.
func (r *renditionOut) poster(ctx context.Context, mp *MediaPlaylist) error {
	if r.postered {
		return nil
	}
	seg := mp.Segments[min(readySegments, len(mp.Segments))-1]
	if err := posterAt(ctx, filepath.Join(r.dir(), seg.URI), filepath.Join(r.absOut, posterName), "v:0", r.width, r.height, 0); err != nil {
		return err
	}
	r.postered = true
	return nil
}

// result writes the master playlist with the given bandwidth and returns
// the Result it describes.
func (r *renditionOut) result(d time.Duration, peak, avg int) (*Result, error) {
	uri := r.name + "/index.m3u8"
	if err := writeMaster(filepath.Join(r.absOut, masterName), []variant{{uri: uri, peak: peak, average: avg,
		width: r.width, height: r.height, codecs: r.codecs, frameRate: r.fps}}); err != nil {
		return nil, err
	}
	return &Result{Duration: d, Width: r.width, Height: r.height, HasVideo: true, HasAudio: r.hasAudio,
		Renditions: []Rendition{{Name: r.name, Width: r.width, Height: r.height, Bandwidth: peak, Playlist: uri}},
		Master:     masterName, Poster: posterName, FrameRate: r.fps}, nil
}

// final checks the finished rendition, measures it into the master and
// tells progress the end.
func (r *renditionOut) final(ctx context.Context, offered bool, check func(*MediaPlaylist, bool) error, progress PackageProgress) (*Result, error) {
	mp, err := ParseMediaPlaylist(r.playlist())
	if err != nil {
		return nil, err
	}
	// ffmpeg ends an EVENT playlist with #EXT-X-ENDLIST too, and players
	// stop reloading it there.
	if len(mp.Segments) == 0 || !mp.Ended {
		return nil, errors.New("incomplete playlist")
	}
	if !offered && check != nil {
		if err := check(mp, true); err != nil {
			return nil, err
		}
	}
	if err := r.poster(ctx, mp); err != nil {
		return nil, err
	}
	peak, avg, err := bandwidth(r.dir(), mp)
	if err != nil {
		return nil, err
	}
	res, err := r.result(mp.Duration(), peak, avg)
	if err != nil {
		return nil, err
	}
	r.segments = len(mp.Segments)
	if progress != nil {
		if err := progress(res, true); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// hlsWatch says how watchHLS offers a rendition in progress.
type hlsWatch struct {
	out      *renditionOut
	progress PackageProgress
	poll     time.Duration
	log      *slog.Logger
	// estimate is the peak and average bit rate the master states until
	// the rendition is measured; duration the clip's expected length.
	estimate [2]int
	duration time.Duration
	// check, when set, may refuse the listed segments before they are
	// offered (ended: ffmpeg is done, so the last one is the end).
	check func(mp *MediaPlaylist, ended bool) error
	// prepare, when set, runs before the first offer.
	prepare func(ctx context.Context) error
}

// watchHLS runs ffmpeg and, with a progress, offers the rendition it
// writes as soon as it lists readySegments segments, then tells of each
// new one. It returns once ffmpeg has ended, saying whether the rendition
// was offered; leaving early, it stops ffmpeg and waits for it, so
// nothing writes into the folder once the caller cleans it.
func watchHLS(ctx context.Context, job ffmpegJob, w hlsWatch) (offered bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(ctx, job) }()
	running := true
	defer func() {
		cancel()
		if running {
			<-done
		}
	}()
	if w.progress == nil {
		running = false
		return false, <-done
	}
	poll := packagePoll
	if w.poll > 0 {
		poll = w.poll
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	listed, warned := 0, false
	started := time.Now()
	for {
		select {
		case err := <-done:
			// The end is told by the caller, with the measured master.
			running = false
			return offered, err
		case <-tick.C:
		}
		mp, err := ParseMediaPlaylist(w.out.playlist())
		if errors.Is(err, fs.ErrNotExist) {
			continue // no segment yet
		}
		if err != nil {
			return offered, err
		}
		if len(mp.Segments) == listed || mp.Ended {
			continue // nothing new, or the end, told once ffmpeg exits
		}
		if !offered {
			if len(mp.Segments) < readySegments {
				continue
			}
			if w.check != nil && w.check(mp, false) != nil {
				continue // the last listed may be the end: wait to know
			}
			if w.prepare != nil {
				if err := w.prepare(ctx); err != nil {
					return false, err
				}
			}
			if err := w.out.poster(ctx, mp); err != nil {
				return false, err
			}
			res, err := w.out.result(w.duration, w.estimate[0], w.estimate[1])
			if err != nil {
				return false, err
			}
			if err := w.progress(res, false); err != nil {
				return false, err
			}
			offered, listed = true, len(mp.Segments)
			w.log.Info("Quick rendition playable while it is written", "rendition", w.out.name, "segments", listed,
				"elapsed_s", time.Since(started).Seconds())
			continue
		}
		if w.check != nil && !warned {
			if gerr := w.check(mp, false); gerr != nil {
				warned = true
				w.log.Warn("Keyframes far apart in a source already playable; seeking there is slower until the ladder is ready.", "error", gerr)
			}
		}
		if err := w.progress(nil, false); err != nil {
			return offered, err
		}
		listed = len(mp.Segments)
	}
}

// EncodePreview encodes the one small rendition of a preview plan
// (PreviewOptions: PreviewRung, or the source's own size when smaller,
// with x264's superfast preset) with master.m3u8 and poster.jpg into
// outDir, which must not exist or be empty. Unlike Transcode it makes no
// sprite, waveform or MP4: the ladder that follows does.
//
// With progress the rendition is an EVENT playlist offered for playback
// once its first segments are encoded, a few seconds in: the encode runs
// several times faster than real time, so a player that starts then does
// not catch up with it. Without, EncodePreview returns when it is done.
func EncodePreview(ctx context.Context, in, outDir string, p *Probe, opt Options, progress PackageProgress) (res *Result, err error) {
	if p == nil || !p.HasVideo {
		return nil, errors.New("preview: the probe has no video stream")
	}
	absIn, absOut, err := outputPaths(in, outDir)
	if err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	opt = PreviewOptions(opt)
	opt.hlsEvent = progress != nil
	opt = opt.withDefaults(p)
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	created, err := prepareDir(absOut)
	if err != nil {
		return nil, fmt.Errorf("preview %s: %w", in, err)
	}
	defer func() {
		if err != nil {
			cleanDir(absOut, created)
		}
	}()
	pl := makePlan(p, opt)
	rung := pl.rungs[0]
	if err := os.MkdirAll(filepath.Join(absOut, rung.Name), 0o755); err != nil {
		return nil, fmt.Errorf("preview: %w", err)
	}
	started := time.Now()
	r := &renditionOut{absOut: absOut, name: rung.Name, width: rung.width, height: rung.height, fps: pl.fpsValue, hasAudio: p.HasAudio}
	job := ffmpegJob{stream: globalArgs(encodeCommand(absIn, absOut, p, pl, opt, false), false)}
	w := hlsWatch{out: r, progress: progress, poll: opt.poll, log: opt.Logger, duration: p.Duration,
		estimate: [2]int{rung.VideoBitrate + rung.AudioBitrate, (rung.VideoBitrate + rung.AudioBitrate) * 3 / 4}}
	// The master states the codec ffprobe reads from the first segment.
	w.prepare = r.setCodecs
	offered, err := watchHLS(ctx, job, w)
	if err != nil {
		return nil, fmt.Errorf("preview %s: %w", in, err)
	}
	if err := r.setCodecs(ctx); err != nil {
		return nil, fmt.Errorf("preview %s: %w", in, err)
	}
	res, err = r.final(ctx, offered, nil, progress)
	if err != nil {
		return nil, fmt.Errorf("preview %s: %w", in, err)
	}
	opt.Logger.Info("Preview encoded", "input", filepath.Base(absIn), "rendition", r.name, "segments", r.segments,
		"elapsed_s", time.Since(started).Seconds(), "duration_s", res.Duration.Seconds())
	return res, nil
}

// setCodecs reads the rendition's CODECS from its first segment.
func (r *renditionOut) setCodecs(ctx context.Context) error {
	mp, err := ParseMediaPlaylist(r.playlist())
	if err != nil {
		return err
	}
	if len(mp.Segments) == 0 {
		return errors.New("no segment written")
	}
	c, err := segmentCodec(ctx, filepath.Join(r.dir(), mp.Segments[0].URI))
	if err != nil {
		return err
	}
	cs := []string{c}
	if r.hasAudio {
		cs = append(cs, codecAAC)
	}
	r.codecs = strings.Join(cs, ",")
	return nil
}
