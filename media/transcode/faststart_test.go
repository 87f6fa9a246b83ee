package transcode

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlanStartFromProbes: real files, probed, and the path each takes.
// Stream copy is chosen exactly when the browser plays the source as it is.
func TestPlanStartFromProbes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		fixture string
		want    StartPath
		reason  string // a word the reason must contain
	}{
		{"phone.mp4", StartCopy, "H.264 High"},
		{"faststart.mp4", StartCopy, "plays as recorded"},
		{"moov_at_end.mp4", StartCopy, "plays as recorded"},
		{"baseline.mp4", StartCopy, "Baseline"},
		{"noaudio.mp4", StartCopy, "no audio"},
		{"vfr.mp4", StartCopy, "plays as recorded"},
		{"sparse_keyframes.mp4", StartCopy, "plays as recorded"}, // refused later, when packaged
		{"hevc.mp4", StartPreview, "HEVC"},
		{"vp9.webm", StartPreview, "VP9"},
		{"prores.mov", StartPreview, "PRORES"},
		{"high10.mp4", StartPreview, "High 10"},
		{"yuv422.mp4", StartPreview, "High 4:2:2"},
		{"portrait.mp4", StartPreview, "rotated"},
		{"mp3audio.mp4", StartPreview, "MP3"},
		{"audio.m4a", StartLadder, "audio only"},
		{"audio.mp3", StartLadder, "audio only"},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			t.Parallel()
			p, err := ProbeFile(context.Background(), fixturePath(t, tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got := PlanStart(p)
			if got.Path != tc.want || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("PlanStart = %s (%s), want %s with %q", got.Path, got.Reason, tc.want, tc.reason)
			}
		})
	}
}

// TestPlanStartRules covers what fixtures cannot cheaply make.
func TestPlanStartRules(t *testing.T) {
	t.Parallel()
	base := Probe{HasVideo: true, HasAudio: true, VideoCodec: "h264", VideoProfile: "High", PixelFormat: "yuv420p",
		SquarePixels: true, Width: 1920, Height: 1080, FrameRate: 29.97, AudioCodec: "aac", AudioProfile: "LC", AudioChannels: 2}
	cases := []struct {
		name   string
		change func(p *Probe)
		want   StartPath
	}{
		{"1080p phone", func(*Probe) {}, StartCopy},
		{"full-range colour", func(p *Probe) { p.PixelFormat = "yuvj420p" }, StartCopy},
		{"HE-AAC", func(p *Probe) { p.AudioProfile = "HE-AAC" }, StartCopy},
		{"4K", func(p *Probe) { p.Width, p.Height = 3840, 2160 }, StartCopy},
		{"60 fps", func(p *Probe) { p.FrameRate = 59.94 }, StartCopy},
		{"larger than 4K", func(p *Probe) { p.Width, p.Height = 7680, 4320 }, StartPreview},
		{"120 fps slow motion", func(p *Probe) { p.FrameRate = 120 }, StartPreview},
		{"anamorphic", func(p *Probe) { p.SquarePixels = false }, StartPreview},
		{"5.1 audio", func(p *Probe) { p.AudioChannels = 6 }, StartPreview},
		{"AAC Main", func(p *Probe) { p.AudioProfile = "Main" }, StartPreview},
		{"Opus audio", func(p *Probe) { p.AudioCodec = "opus" }, StartPreview},
		{"4:4:4", func(p *Probe) { p.VideoProfile, p.PixelFormat = "High 4:4:4 Predictive", "yuv444p" }, StartPreview},
		{"upside down", func(p *Probe) { p.Rotation = 180 }, StartPreview},
		{"no streams", func(p *Probe) { p.HasVideo, p.HasAudio = false, false }, StartLadder},
	}
	for _, tc := range cases {
		p := base
		tc.change(&p)
		if got := PlanStart(&p); got.Path != tc.want {
			t.Errorf("%s: PlanStart = %s (%s), want %s", tc.name, got.Path, got.Reason, tc.want)
		}
	}
}

// TestPackageSource: a copy-safe source becomes one rendition whose
// segments hold the source's own packets (no re-encode: the same codec
// profile, every segment at most MaxCopySegment) with a master playlist
// and a poster; sparse keyframes are refused with NotCopyable and leave
// nothing behind.
func TestPackageSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := fixturePath(t, "phone.mp4")
	p, err := ProbeFile(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	res, err := PackageSource(ctx, src, out, p, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Renditions) != 1 || res.Renditions[0].Name != SourceRendition || res.Width != 640 || res.Height != 360 {
		t.Fatalf("result %+v", res)
	}
	if d := res.Duration - p.Duration; d > 200*time.Millisecond || d < -200*time.Millisecond {
		t.Errorf("duration %v, source %v", res.Duration, p.Duration)
	}
	mp, err := ParseMediaPlaylist(filepath.Join(out, res.Renditions[0].Playlist))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range mp.Segments {
		if s.Duration > MaxCopySegment {
			t.Errorf("segment %s is %v long", s.URI, s.Duration)
		}
	}
	seg := filepath.Join(out, SourceRendition, mp.Segments[0].URI)
	codec, err := segmentCodec(ctx, seg)
	if err != nil {
		t.Fatal(err)
	}
	if codec != avcCodec(p.VideoProfile, p.VideoLevel) {
		t.Errorf("segment codec %s, source %s", codec, avcCodec(p.VideoProfile, p.VideoLevel))
	}
	master, err := os.ReadFile(filepath.Join(out, "master.m3u8"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RESOLUTION=640x360", `CODECS="avc1.64`, ",mp4a.40.2\"", "source/index.m3u8"} {
		if !strings.Contains(string(master), want) {
			t.Errorf("master playlist lacks %q:\n%s", want, master)
		}
	}
	if st, err := os.Stat(filepath.Join(out, res.Poster)); err != nil || st.Size() == 0 {
		t.Errorf("poster: %v", err)
	}

	sparse := fixturePath(t, "sparse_keyframes.mp4")
	sp, err := ProbeFile(ctx, sparse)
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(t.TempDir(), "out")
	_, err = PackageSource(ctx, sparse, out2, sp, Options{}, nil)
	var nc *NotCopyable
	if !errors.As(err, &nc) || !strings.Contains(nc.Reason, "12.0 s apart") {
		t.Fatalf("sparse keyframes: %v", err)
	}
	if _, err := os.Stat(out2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused package left %s behind (%v)", out2, err)
	}

	hevc := fixturePath(t, "hevc.mp4")
	hp, err := ProbeFile(ctx, hevc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PackageSource(ctx, hevc, filepath.Join(t.TempDir(), "out"), hp, Options{}, nil); !errors.As(err, &nc) {
		t.Errorf("HEVC packaged as it is: %v", err)
	}
}

// TestQuickRenditionProgressive: with a PackageProgress a quick rendition
// (the source packaged as it is, or the preview encode) is offered for
// playback while ffmpeg writes it (an EVENT playlist listing the first
// segments, beside the master and poster), more segments follow, and the
// last call has the complete playlist. Files already offered are never
// rewritten in place, so a store may link them.
func TestQuickRenditionProgressive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := fixturePath(t, "phone40.mp4")
	p, err := ProbeFile(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	// Read at 8× real time: 5 s for 40 s of video, with the first
	// segments listed within the first 2 s.
	slow := Options{readRate: 8, poll: 20 * time.Millisecond}
	for _, tc := range []struct {
		name      string
		rendition string
		make      func(out string, progress PackageProgress) (*Result, error)
	}{
		{"copy", SourceRendition, func(out string, progress PackageProgress) (*Result, error) {
			return PackageSource(ctx, src, out, p, slow, progress)
		}},
		{"preview", "180p", func(out string, progress PackageProgress) (*Result, error) {
			return EncodePreview(ctx, src, out, p, slow, progress)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "out")
			type seen struct {
				info  os.FileInfo
				bytes int64
			}
			offered := map[string]seen{}
			var calls []string
			playlist := filepath.Join(out, tc.rendition, "index.m3u8")
			check := func(res *Result, final bool) error {
				switch {
				case len(calls) == 0 && (res == nil || final):
					return fmt.Errorf("first call: result %v, final %v; want a result offered before the end", res, final)
				case len(calls) > 0 && !final && res != nil:
					return errors.New("an update carries a result")
				case len(calls) == 0 && (len(res.Renditions) != 1 || res.Renditions[0].Name != tc.rendition):
					return fmt.Errorf("offered renditions %+v, want %s", res.Renditions, tc.rendition)
				}
				mp, err := ParseMediaPlaylist(playlist)
				if err != nil {
					return err
				}
				calls = append(calls, fmt.Sprintf("%d/%v", len(mp.Segments), mp.Ended))
				if len(calls) == 1 {
					if len(mp.Segments) < readySegments || mp.Ended {
						return fmt.Errorf("offered with %d segments, ended %v", len(mp.Segments), mp.Ended)
					}
					pl, _ := os.ReadFile(playlist)
					if !strings.Contains(string(pl), "#EXT-X-PLAYLIST-TYPE:EVENT") {
						return fmt.Errorf("offered playlist is not an EVENT playlist:\n%s", pl)
					}
					master, _ := os.ReadFile(filepath.Join(out, masterName))
					if !strings.Contains(string(master), `CODECS="avc1.`) || !strings.Contains(string(master), tc.rendition+"/index.m3u8") {
						return fmt.Errorf("offered master:\n%s", master)
					}
					if st, err := os.Stat(filepath.Join(out, posterName)); err != nil || st.Size() == 0 {
						return fmt.Errorf("offered without a poster: %v", err)
					}
				}
				if final != mp.Ended {
					return fmt.Errorf("final %v with a playlist ended %v", final, mp.Ended)
				}
				for _, s := range mp.Segments {
					st, err := os.Stat(filepath.Join(out, tc.rendition, s.URI))
					if err != nil {
						return fmt.Errorf("listed segment %s: %w", s.URI, err)
					}
					if was, ok := offered[s.URI]; ok {
						if !os.SameFile(was.info, st) || was.bytes != st.Size() {
							return fmt.Errorf("segment %s changed after it was listed", s.URI)
						}
					} else {
						offered[s.URI] = seen{st, st.Size()}
					}
				}
				return nil
			}
			res, err := tc.make(out, check)
			if err != nil {
				t.Fatalf("%v (calls %v)", err, calls)
			}
			t.Logf("calls (segments/ended): %v", calls)
			if len(calls) < 3 {
				t.Fatalf("calls %v: want an offer, updates and the end", calls)
			}
			if d := res.Duration - p.Duration; d > 200*time.Millisecond || d < -200*time.Millisecond {
				t.Errorf("duration %v, source %v", res.Duration, p.Duration)
			}
			master, _ := os.ReadFile(filepath.Join(out, masterName))
			if !strings.Contains(string(master), "AVERAGE-BANDWIDTH=") {
				t.Errorf("final master lacks the measured bandwidth:\n%s", master)
			}

			// An error from the caller stops ffmpeg and cleans up.
			out3 := filepath.Join(t.TempDir(), "out")
			stop := errors.New("lease lost")
			if _, err := tc.make(out3, func(*Result, bool) error { return stop }); !errors.Is(err, stop) {
				t.Fatalf("stopped: %v", err)
			}
			if _, err := os.Stat(out3); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a stopped rendition left %s behind (%v)", out3, err)
			}
		})
	}

	// A source with keyframes 12 s apart is refused before it is offered.
	sparse := fixturePath(t, "sparse_keyframes.mp4")
	sp, err := ProbeFile(ctx, sparse)
	if err != nil {
		t.Fatal(err)
	}
	offeredSparse := false
	_, err = PackageSource(ctx, sparse, filepath.Join(t.TempDir(), "out"), sp, slow,
		func(*Result, bool) error { offeredSparse = true; return nil })
	var nc *NotCopyable
	if !errors.As(err, &nc) || offeredSparse {
		t.Fatalf("sparse keyframes: %v, offered %v", err, offeredSparse)
	}
}
