package captions

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needTools skips the test when a system tool is missing, naming the Debian
// package that provides it (scripts/setup.sh installs them all).
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	pkgs := map[string]string{
		"ffmpeg":                  "ffmpeg",
		"espeak-ng":               "espeak-ng",
		"pocketsphinx_continuous": "pocketsphinx pocketsphinx-en-us",
		"go":                      "golang",
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (Debian package: %s)", tool, pkgs[tool])
		}
	}
}

// run runs a command and fails the test with its output on error.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// ffmpegGen runs ffmpeg quietly with -y.
func ffmpegGen(t *testing.T, args ...string) {
	t.Helper()
	run(t, "ffmpeg", append([]string{"-nostdin", "-v", "error", "-y"}, args...)...)
}

// speechPart is a stretch of silence followed by spoken text.
type speechPart struct {
	silenceSec float64
	text       string
}

// makeLessonVideo speaks the parts with espeak-ng, each after its silence,
// and muxes the audio with a small black video into an MP4, the way a phone
// recording arrives. The word positions are known from the silence lengths.
func makeLessonVideo(t *testing.T, dir string, parts []speechPart) string {
	t.Helper()
	needTools(t, "ffmpeg", "espeak-ng")
	var inputs []string
	var filter strings.Builder
	for i, p := range parts {
		wav := filepath.Join(dir, fmt.Sprintf("speech-%d.wav", i))
		run(t, "espeak-ng", "-v", "en-us", "-s", "120", "-w", wav, p.text)
		inputs = append(inputs,
			"-f", "lavfi", "-t", fmt.Sprintf("%.3f", p.silenceSec), "-i", "anullsrc=r=22050:cl=mono",
			"-i", wav)
		fmt.Fprintf(&filter, "[%d:a][%d:a]", 2*i+1, 2*i+2)
	}
	fmt.Fprintf(&filter, "concat=n=%d:v=0:a=1[a]", 2*len(parts))
	out := filepath.Join(dir, "lesson.mp4")
	args := []string{"-f", "lavfi", "-i", "color=c=black:s=160x120:r=10"}
	args = append(args, inputs...)
	args = append(args, "-filter_complex", filter.String(), "-map", "0:v", "-map", "[a]", "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", out)
	ffmpegGen(t, args...)
	return out
}

// fakeEngine writes an executable shell script standing in for an engine.
func fakeEngine(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// buildFakeWhisper compiles scripts/fake-whisper into dir.
func buildFakeWhisper(t *testing.T, dir string) string {
	t.Helper()
	needTools(t, "go")
	bin := filepath.Join(dir, "fake-whisper")
	cmd := exec.Command("go", "build", "-o", bin, "../../scripts/fake-whisper")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fake-whisper: %v\n%s", err, out)
	}
	return bin
}
