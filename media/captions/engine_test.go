package captions

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"FILMROOM_CAPTIONS_ENGINE":  " Whisper ",
		"FILMROOM_CAPTIONS_WORKERS": "3",
		"FILMROOM_CAPTIONS_TIMEOUT": "2m",
		"FILMROOM_WHISPER_BIN":      "/opt/whisper/whisper-cli",
		"FILMROOM_WHISPER_MODEL":    "/var/lib/filmroom/ggml-base.en.bin",
	}
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Engine != EngineWhisper || c.Workers != 3 || c.TimeoutBase != 2*time.Minute ||
		c.Whisper.Bin != "/opt/whisper/whisper-cli" || c.Whisper.Model != "/var/lib/filmroom/ggml-base.en.bin" {
		t.Errorf("config = %+v", c)
	}
	for k, v := range map[string]string{"FILMROOM_CAPTIONS_WORKERS": "zero", "FILMROOM_CAPTIONS_TIMEOUT": "soon"} {
		if _, err := ConfigFromEnv(func(key string) string {
			if key == k {
				return v
			}
			return ""
		}); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

// TestNewAuto: auto prefers a configured whisper, then pocketsphinx, and
// falls back to no captions rather than refusing to start.
func TestNewAuto(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.bin")
	os.WriteFile(model, []byte("x"), 0o644)
	whisperBin := fakeEngine(t, dir, "whisper-cli", "exit 0")
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"whisper configured", Config{Whisper: WhisperConfig{Bin: whisperBin, Model: model}}, EngineWhisper},
		{"whisper broken, pocketsphinx missing", Config{Whisper: WhisperConfig{Bin: "/nonexistent", Model: model}, Pocketsphinx: PocketsphinxConfig{Bin: "/nonexistent"}}, EngineNone},
		{"nothing installed", Config{Engine: EngineAuto, Pocketsphinx: PocketsphinxConfig{Bin: "/nonexistent"}}, EngineNone},
	}
	for _, tc := range cases {
		e, err := New(tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if e.Name() != tc.want {
			t.Errorf("%s: engine %s, want %s", tc.name, e.Name(), tc.want)
		}
	}
	if _, err := os.Stat(DefaultPocketsphinxModel); err == nil {
		needTools(t, "pocketsphinx_continuous")
		e, err := New(Config{})
		if err != nil || e.Name() != EnginePocketsphinx {
			t.Errorf("default with pocketsphinx installed: %v %v", e, err)
		}
	}
}
