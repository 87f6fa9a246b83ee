package transcode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Test media is generated at test time with ffmpeg's lavfi sources, once per
// test binary, into a temporary directory: nothing large is committed.

var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "transcode-fixtures-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lavfi builds an ffmpeg invocation from lavfi sources.
func lavfi(video, audio string, tail ...string) []string {
	var a []string
	if video != "" {
		a = append(a, "-f", "lavfi", "-i", video)
	}
	if audio != "" {
		a = append(a, "-f", "lavfi", "-i", audio)
	}
	return append(a, tail...)
}

type fixture struct {
	once sync.Once
	path string
	err  error
	make func(dir, path string) error
}

func ffmpegGen(args ...string) error {
	full := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	out, err := exec.Command("ffmpeg", full...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func gen(args ...string) func(dir, path string) error {
	return func(dir, path string) error { return ffmpegGen(append(args, path)...) }
}

// cutHalf writes the first half of another fixture: an interrupted copy.
func cutHalf(src string) func(dir, path string) error {
	return func(dir, path string) error {
		p, err := fixturePathE(src)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(path, b[:len(b)/2], 0o644)
	}
}

const (
	vid320 = "testsrc2=s=320x240:r=30:d=3"
	sine3  = "sine=f=440:d=3"
	x264   = "libx264"
)

var fixtures map[string]*fixture

// init fills fixtures: a plain initializer would be an initialization
// cycle, since cut fixtures look up the fixture they cut.
func init() {
	fixtures = map[string]*fixture{
		"landscape720.mp4": {make: gen(lavfi("testsrc2=s=1280x720:r=30:d=3", sine3,
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart", "-shortest")...)},
		"moov_at_end.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "aac", "-shortest")...)},
		"faststart.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "aac", "-movflags", "+faststart", "-shortest")...)},
		// A phone held upright: landscape pixels plus a 90° display matrix.
		// ffmpeg 5.1 turns the rotate tag into a display matrix on stream
		// copy only, hence two steps.
		"portrait.mp4": {make: func(dir, path string) error {
			src, err := fixturePathE("landscape360.mp4")
			if err != nil {
				return err
			}
			return ffmpegGen("-i", src, "-c", "copy", "-metadata:s:v", "rotate=90", path)
		}},
		"landscape360.mp4": {make: gen(lavfi("testsrc2=s=640x360:r=30:d=3", sine3,
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "aac", "-shortest")...)},
		// 60 fps for a second, then 20 fps: variable frame rate like a phone.
		"vfr.mp4": {make: gen(lavfi("testsrc2=s=320x240:r=60:d=3", sine3,
			"-vf", "select='lt(t,1)+not(mod(n,3))'", "-fps_mode", "vfr",
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "aac", "-shortest")...)},
		"hevc.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1",
			"-c:a", "aac", "-shortest")...)},
		"vp9.webm": {make: gen(lavfi(vid320, sine3,
			"-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "300k",
			"-c:a", "libopus", "-shortest")...)},
		"prores.mov": {make: gen(lavfi(vid320, sine3,
			"-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le", "-shortest")...)},
		"noaudio.mp4": {make: gen(lavfi(vid320, "", "-c:v", x264, "-preset", "ultrafast")...)},
		"audio.m4a":   {make: gen(lavfi("", sine3, "-c:a", "aac")...)},
		"audio.mp3":   {make: gen(lavfi("", sine3, "-c:a", "libmp3lame", "-b:a", "64k")...)},
		"audio.wav":   {make: gen(lavfi("", sine3, "-c:a", "pcm_s16le")...)},
		// An MP3 with cover art: a one-picture "video" stream that must not
		// make it a video.
		"cover.mp3": {make: gen(lavfi("color=s=64x64:d=0.04", sine3,
			"-map", "1:a", "-map", "0:v", "-c:a", "libmp3lame", "-b:a", "64k", "-c:v", "mjpeg", "-frames:v", "1",
			"-disposition:v", "attached_pic", "-id3v2_version", "3")...)},
		// 30 s of small video: long enough to cancel while ffmpeg works.
		"long30.mp4": {make: gen(lavfi("testsrc2=s=320x240:r=30:d=30", "sine=d=30",
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "aac", "-shortest")...)},

		// Fast-start inputs: High 10 (10-bit), sparse keyframes (one every
		// 12 s), Baseline, 4:2:2, and a stereo AAC phone-style clip.
		"high10.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", x264, "-preset", "ultrafast", "-pix_fmt", "yuv420p10le", "-c:a", "aac", "-shortest")...)},
		"sparse_keyframes.mp4": {make: gen(lavfi("testsrc2=s=320x240:r=10:d=30", "sine=d=30",
			"-c:v", x264, "-preset", "ultrafast", "-g", "120", "-keyint_min", "120", "-sc_threshold", "0",
			"-c:a", "aac", "-shortest")...)},
		"baseline.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", x264, "-preset", "ultrafast", "-profile:v", "baseline", "-c:a", "aac", "-shortest")...)},
		"yuv422.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", x264, "-preset", "ultrafast", "-pix_fmt", "yuv422p", "-c:a", "aac", "-shortest")...)},
		"phone.mp4": {make: gen(lavfi("testsrc2=s=640x360:r=30:d=12,noise=alls=20:allf=t", "sine=f=300:d=12",
			"-c:v", x264, "-preset", "superfast", "-profile:v", "high", "-g", "60", "-c:a", "aac", "-ac", "2",
			"-movflags", "+faststart", "-shortest")...)},
		// Chunked ladder input: 30 s of noisy 960x540 (two rungs) with a
		// keyframe every half second, and a white flash on screen exactly
		// while a beep sounds, every 2 s from 2 s on (so on the first frame
		// of every chunk of 4 to 8 s): the sync marks TestChunkedLadderIsSeamless
		// finds in the stitched output.
		"chunky.mp4": {make: gen(lavfi(
			"testsrc2=s=960x540:r=30:d=30,noise=alls=12:allf=t,"+
				"drawbox=c=white:t=fill:enable='gte(t,1)*lt(mod(t,2),0.1)'",
			"sine=f=1000:d=30:sample_rate=48000,volume=volume=0:enable='lt(t,1)+gte(mod(t,2),0.1)'",
			"-c:v", x264, "-preset", "ultrafast", "-g", "15", "-c:a", "aac", "-b:a", "128k",
			"-movflags", "+faststart", "-shortest")...)},
		// The first 10 s of chunky.mp4: a source that ends inside a chunk.
		"chunky_cut.mp4": {make: func(dir, path string) error {
			src, err := fixturePathE("chunky.mp4")
			if err != nil {
				return err
			}
			return ffmpegGen("-i", src, "-t", "10", "-c", "copy", path)
		}},
		// 40 s with a keyframe every 2 s: a packaging slowed down to watch
		// it in progress lists segments one at a time.
		"phone40.mp4": {make: gen(lavfi("testsrc2=s=320x180:r=30:d=40", "sine=f=300:d=40",
			"-c:v", x264, "-preset", "ultrafast", "-g", "60", "-c:a", "aac", "-ac", "2",
			"-movflags", "+faststart", "-shortest")...)},
		"mp3audio.mp4": {make: gen(lavfi(vid320, sine3,
			"-c:v", x264, "-preset", "ultrafast", "-c:a", "libmp3lame", "-shortest")...)},

		"empty.mp4": {make: func(dir, path string) error { return os.WriteFile(path, nil, 0o644) }},
		"text.mp4": {make: func(dir, path string) error {
			return os.WriteFile(path, []byte("These are my lesson notes, not a video.\n"), 0o644)
		}},
		"playlist.mp4": {make: func(dir, path string) error {
			return os.WriteFile(path, []byte("#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"), 0o644)
		}},
		"half_faststart.mp4":   {make: cutHalf("faststart.mp4")},
		"half_moov_at_end.mp4": {make: cutHalf("moov_at_end.mp4")},
		// The color source cannot make 1x1 frames; scale can.
		"tiny1x1.mkv": {make: gen(lavfi("color=c=red:s=2x2:r=10:d=2", "",
			"-vf", "scale=1:1", "-c:v", "png", "-pix_fmt", "rgb24")...)},
		// One 1-bit PNG frame of 10000x10000: 13 kB on disk.
		"huge.mkv": {make: gen(lavfi("color=c=black:s=10000x10000:r=25:d=0.04", "",
			"-frames:v", "1", "-c:v", "png", "-pix_fmt", "monob")...)},
		// Two frames five hours apart: a 5-hour file in a few kilobytes.
		"five_hours.mp4": {make: gen(lavfi("color=s=16x16:r=1:d=2", "",
			"-vf", "setpts=N*18000/TB", "-fps_mode", "passthrough", "-c:v", x264, "-preset", "ultrafast")...)},
	}
}

func fixturePathE(name string) (string, error) {
	f, ok := fixtures[name]
	if !ok {
		return "", fmt.Errorf("no fixture %q", name)
	}
	f.once.Do(func() {
		f.path = filepath.Join(fixtureDir, name)
		f.err = f.make(fixtureDir, f.path)
	})
	return f.path, f.err
}

// fixturePath generates the named fixture (once per test binary) and
// returns its path.
func fixturePath(t testing.TB, name string) string {
	t.Helper()
	p, err := fixturePathE(name)
	if err != nil {
		t.Fatalf("make fixture %s: %v", name, err)
	}
	return p
}
