package redact

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/filmroom/filmroom/media/transcode"
)

// TestRenderLargestPlan burns the largest plan the limits allow (32 boxes of
// 240 keyframes each, and 64 mutes) into a short clip with real ffmpeg: the
// graph is far longer than one command-line argument may be, so it must go
// through a script file, and ffmpeg must accept every expression.
func TestRenderLargestPlan(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "in.mp4")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=10:duration=3",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", src).CombinedOutput()
	if err != nil {
		t.Fatalf("make clip: %v %s", err, out)
	}
	var p Plan
	for b := range MaxBoxes {
		box := Box{Kind: Blur, StartMS: 0, EndMS: 3000, W: 0.1, H: 0.1}
		if b%2 == 1 {
			box.Kind = Solid
		}
		for k := range MaxKeyframes {
			box.Keyframes = append(box.Keyframes, Keyframe{TMS: int64(k * 12), X: float64(k%9) / 10, Y: float64(b%9) / 10})
		}
		p.Boxes = append(p.Boxes, box)
	}
	for m := range MaxMutes {
		p.Mutes = append(p.Mutes, Mute{StartMS: int64(m * 40), EndMS: int64(m*40 + 20)})
	}
	if err := Validate(p, 3000, true, true); err != nil {
		t.Fatal(err)
	}
	probe, err := transcode.ProbeFile(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	g := Graph(p, Frame{Width: probe.Width, Height: probe.Height, VideoStream: probe.VideoStream(), AudioStream: probe.AudioStream()})
	if len(g.Filter) < 200_000 {
		t.Fatalf("the largest plan's graph is only %d bytes; the test means to exceed one argument", len(g.Filter))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	master := filepath.Join(dir, "master.mp4")
	if err := transcode.Render(ctx, src, master, probe, g, transcode.Options{Threads: 1}, nil); err != nil {
		t.Fatal(err)
	}
	mp, err := transcode.ProbeFile(context.Background(), master)
	if err != nil {
		t.Fatal(err)
	}
	if !mp.HasVideo || !mp.HasAudio || mp.Width != 320 || mp.Duration < 2900*time.Millisecond {
		t.Errorf("master: %+v", fmt.Sprint(mp.Width, mp.Height, mp.Duration, mp.HasVideo, mp.HasAudio))
	}
}
