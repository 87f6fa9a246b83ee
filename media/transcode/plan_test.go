package transcode

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLadderPlan(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		w, h  int
		want  []string // name:WxH
		thumb string
	}{
		{"1080p landscape", 1920, 1080, []string{"360p:640x360", "540p:960x540", "720p:1280x720", "1080p:1920x1080"}, "160x90"},
		{"4K stops at 1080p", 3840, 2160, []string{"360p:640x360", "540p:960x540", "720p:1280x720", "1080p:1920x1080"}, "160x90"},
		{"portrait phone", 1080, 1920, []string{"360p:360x640", "540p:540x960", "720p:720x1280", "1080p:1080x1920"}, "90x160"},
		{"4:3 SD gets its own 480p too", 640, 480, []string{"360p:480x360", "480p:640x480"}, "160x120"},
		{"portrait webcam between rungs", 480, 640, []string{"360p:360x480", "480p:480x640"}, "120x160"},
		{"just above a rung adds nothing", 1280, 800, []string{"360p:576x360", "540p:864x540", "720p:1152x720"}, "160x100"},
		{"900p laptop screen", 1600, 900, []string{"360p:640x360", "540p:960x540", "720p:1280x720", "900p:1600x900"}, "160x90"},
		{"240p gets one rung at its size", 320, 240, []string{"240p:320x240"}, "160x120"},
		{"odd tiny size rounds to even", 175, 97, []string{"96p:174x96"}, "160x88"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &Probe{HasVideo: true, HasAudio: true, Width: tc.w, Height: tc.h, FrameRate: 30, Duration: time.Minute, AudioChannels: 6}
			pl := makePlan(p, Options{}.withDefaults(p))
			var got []string
			for _, r := range pl.rungs {
				got = append(got, r.Name+":"+itoa(r.width)+"x"+itoa(r.height))
				if r.width%2 != 0 || r.height%2 != 0 {
					t.Errorf("odd size %dx%d", r.width, r.height)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("rungs %v, want %v", got, tc.want)
			}
			if thumb := itoa(pl.thumbW) + "x" + itoa(pl.thumbH); thumb != tc.thumb {
				t.Errorf("thumbnail %s, want %s", thumb, tc.thumb)
			}
			if pl.gop != 120 || pl.channels != 2 || pl.posterFrame != 180 {
				t.Errorf("gop %d channels %d poster frame %d, want 120, 2, 180", pl.gop, pl.channels, pl.posterFrame)
			}
			if pl.cols*pl.rows < 32 {
				t.Errorf("sprite grid %dx%d too small for 30 thumbnails", pl.cols, pl.rows)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestSpriteIntervalStretchesForLongClips(t *testing.T) {
	t.Parallel()
	p := &Probe{HasVideo: true, Width: 1280, Height: 720, FrameRate: 30, Duration: 4 * time.Hour}
	pl := makePlan(p, Options{}.withDefaults(p))
	if pl.interval != 36 {
		t.Errorf("interval %ds, want 36s (4 h / 400 thumbnails)", pl.interval)
	}
	if n := pl.cols * pl.rows; n < 400 || n > 420 {
		t.Errorf("grid holds %d thumbnails, want about 400", n)
	}
}

func TestOutputRate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   float64
		want string
	}{
		{0, "30"}, {30, "30"}, {29.97, "30000/1001"}, {59.94, "30000/1001"}, {60, "30"},
		{25, "25"}, {50, "25"}, {23.976, "24000/1001"}, {24, "24"}, {120, "30"},
		{33.7, "30"}, {15, "15"}, {7.5, "8"}, {0.5, "1"},
	}
	for _, tc := range cases {
		if got, _ := outputRate(tc.in); got != tc.want {
			t.Errorf("outputRate(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAudioOnlyPlan(t *testing.T) {
	t.Parallel()
	p := &Probe{HasAudio: true, Duration: 10 * time.Minute, AudioChannels: 1}
	pl := makePlan(p, Options{}.withDefaults(p))
	if len(pl.rungs) != 1 || pl.rungs[0].Name != "audio" || pl.rungs[0].AudioBitrate != 128_000 {
		t.Errorf("audio-only rungs %+v", pl.rungs)
	}
	if pl.channels != 1 {
		t.Errorf("mono input should stay mono, got %d channels", pl.channels)
	}
	// 10 min at 8 kHz over at most 20000 pixels.
	if pl.samplesPerPixel != 240 {
		t.Errorf("samples per pixel %d, want 240", pl.samplesPerPixel)
	}
}

func TestReadPeaks(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	for _, s := range []int16{0, 32767, -32768, 256, -256, 512, 1000} {
		_ = binary.Write(&buf, binary.LittleEndian, s)
	}
	buf.WriteByte(0x7f) // half a sample at the end is ignored
	got, err := readPeaks(&buf, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := []int8{-128, 127, -1, 2, 3, 3}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("peaks %v, want %v", got, want)
	}
}

func TestProgressWriter(t *testing.T) {
	t.Parallel()
	var got []time.Duration
	w := &progressWriter{onTime: func(d time.Duration) { got = append(got, d) }}
	input := "frame=1\nout_time_us=N/A\nout_time_us=1500000\nprogress=continue\nout_ti"
	_, _ = w.Write([]byte(input))
	_, _ = w.Write([]byte("me_us=2000000\r\nprogress=end\n"))
	want := []time.Duration{1500 * time.Millisecond, 2 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("times %v, want %v", got, want)
	}
}

func TestReporterIsMonotonic(t *testing.T) {
	t.Parallel()
	var got []float64
	r := newReporter(func(p float64) { got = append(got, p) })
	for _, p := range []float64{-3, 0, 10, 9, 10.04, 50, 120, 100} {
		r.set(p)
	}
	r.done()
	want := []float64{0, 10, 50, 95, 100}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("progress %v, want %v", got, want)
	}
}

func TestParseMediaPlaylist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.000000,\na.ts\n#EXTINF:1.5,\nb.ts\n#EXT-X-ENDLIST\n")
	pl, err := ParseMediaPlaylist(good)
	if err != nil {
		t.Fatal(err)
	}
	if pl.TargetDuration != 4 || len(pl.Segments) != 2 || !pl.Ended || pl.Duration() != 5500*time.Millisecond {
		t.Errorf("parsed %+v", pl)
	}
	for name, body := range map[string]string{
		"nohead.m3u8": "#EXTINF:4,\na.ts\n",
		"noinf.m3u8":  "#EXTM3U\na.ts\n",
		"empty.m3u8":  "",
		"badinf.m3u8": "#EXTM3U\n#EXTINF:four,\na.ts\n",
	} {
		if _, err := ParseMediaPlaylist(write(name, body)); err == nil {
			t.Errorf("%s: want error", name)
		}
	}
}

func TestMasterCodecs(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "m.m3u8")
	body := "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=640x360,CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2\naudio/index.m3u8\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := masterCodecs(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"360p/index.m3u8": "avc1.64001e,mp4a.40.2", "audio/index.m3u8": ""}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("codecs %v, want %v", got, want)
	}
}

func TestAVCCodec(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"High/31":                 "avc1.64001f",
		"Main/30":                 "avc1.4d401e",
		"Constrained Baseline/30": "avc1.42c01e",
		"High/0":                  "avc1.640028",
	}
	for in, want := range cases {
		prof, lvl, _ := strings.Cut(in, "/")
		if got := avcCodec(prof, int(parseFloat(lvl))); got != want {
			t.Errorf("avcCodec(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestVTTTime(t *testing.T) {
	t.Parallel()
	if got := vttTime(3*time.Hour + 4*time.Minute + 5*time.Second + 67*time.Millisecond); got != "03:04:05.067" {
		t.Errorf("vttTime = %s", got)
	}
}

func TestTail(t *testing.T) {
	t.Parallel()
	tl := &tail{max: 16}
	for i := 0; i < 10; i++ {
		_, _ = tl.Write([]byte("line " + itoa(i) + "\n"))
	}
	if got := tl.String(); got != "line 8\nline 9" {
		t.Errorf("tail = %q", got)
	}
}

func TestValidateMessages(t *testing.T) {
	t.Parallel()
	l := DefaultLimits()
	base := Probe{HasVideo: true, HasAudio: true, Width: 1920, Height: 1080, Duration: time.Minute, Streams: 2, Size: 1 << 20}
	cases := []struct {
		name   string
		change func(p *Probe)
		code   string
		says   string
	}{
		{"ok", func(p *Probe) {}, "", ""},
		{"portrait 8K fits", func(p *Probe) { p.Width, p.Height = 4320, 7680 }, "", ""},
		{"too wide", func(p *Probe) { p.Width = 8000 }, CodeTooLarge, "8000×1080"},
		{"too small", func(p *Probe) { p.Width, p.Height = 8, 8 }, CodeTooSmall, "8×8"},
		{"too long", func(p *Probe) { p.Duration = 5*time.Hour + 2*time.Minute }, CodeTooLong, "5 h 02 min"},
		{"too short", func(p *Probe) { p.Duration = 40 * time.Millisecond }, CodeTooShort, "40 ms"},
		{"file too big", func(p *Probe) { p.Size = 60e9 }, CodeTooLarge, "60.0 GB"},
		{"no streams", func(p *Probe) { p.HasVideo, p.HasAudio = false, false }, CodeNoStreams, "no video or audio"},
		{"many streams", func(p *Probe) { p.Streams = 40 }, CodeTooManyStreams, "40 tracks"},
		{"audio only skips size", func(p *Probe) { p.HasVideo, p.Width, p.Height = false, 0, 0 }, "", ""},
	}
	for _, tc := range cases {
		p := base
		tc.change(&p)
		err := Validate(&p, l)
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		rej, ok := AsRejection(err)
		if !ok || rej.Code != tc.code || !strings.Contains(rej.Reason, tc.says) {
			t.Errorf("%s: got %v, want %s mentioning %q", tc.name, err, tc.code, tc.says)
		}
	}
}

func TestOwnHeightRungBitrates(t *testing.T) {
	t.Parallel()
	r, ok := ownHeightRung(sortedLadder(DefaultLadder()), 480)
	if !ok || r.Name != "480p" || r.VideoBitrate != 1_266_667 || r.AudioBitrate != 128_000 {
		t.Errorf("480p between 360p and 540p: %+v %v", r, ok)
	}
	for _, short := range []int{240, 360, 400, 1080, 1440} {
		if r, ok := ownHeightRung(sortedLadder(DefaultLadder()), short); ok {
			t.Errorf("short side %d got its own rung %+v", short, r)
		}
	}
}
