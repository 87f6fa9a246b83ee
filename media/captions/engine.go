package captions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Engine recognizes speech in a 16 kHz mono 16-bit WAV file (see
// [ExtractAudio]) and returns the words with their times. lang is a BCP 47
// tag such as "en" or "en-US"; "" means the engine's default. progress, if
// not nil, is called from one goroutine at a time with 0..100.
type Engine interface {
	Name() string
	Transcribe(ctx context.Context, wavPath string, lang string, progress func(pct float64)) ([]Word, error)
}

// Engine names accepted in [Config.Engine].
const (
	EnginePocketsphinx  = "pocketsphinx"
	EngineWhisper       = "whisper"
	EngineAWSTranscribe = "aws-transcribe"
	EngineNone          = "none"
	EngineAuto          = "auto"
)

// Errors an engine returns, wrapped with what failed, so the media job can
// tell an operator what to fix and decide whether to retry.
var (
	// ErrEngineNotFound: the engine's program or model is not installed.
	ErrEngineNotFound = errors.New("captions: speech engine not installed")
	// ErrEngineFailed: the engine ran and exited with an error or wrote
	// output that could not be read. Retrying rarely helps.
	ErrEngineFailed = errors.New("captions: speech engine failed")
	// ErrEngineTimeout: the engine did not finish within its deadline.
	ErrEngineTimeout = errors.New("captions: speech engine timed out")
	// ErrUnsupportedLanguage: the engine has no model for the language.
	ErrUnsupportedLanguage = errors.New("captions: language not supported by speech engine")
	// ErrNoAudio: the media has no audio stream, so there is nothing to caption.
	ErrNoAudio = errors.New("captions: media has no audio stream")
	// ErrInvalidAudio: the WAV handed to an engine is not 16 kHz mono 16-bit PCM.
	ErrInvalidAudio = errors.New("captions: invalid audio")
)

// Config selects and tunes the speech engine. The zero value is usable: it
// picks an installed engine ("auto") with defaults sized for the machine.
type Config struct {
	// Engine is "pocketsphinx", "whisper", "aws-transcribe", "none" or
	// "auto"/"" (whisper when a model is configured, else pocketsphinx when
	// installed, else none).
	Engine string

	// Workers is how many engine processes run at once for one clip (for
	// whisper: threads). Zero means the number of CPUs.
	Workers int
	// TimeoutBase and TimeoutPerAudioSecond bound each engine process:
	// base + factor × audio length. Zero means 60 s + 3 s per audio second,
	// far above pocketsphinx's real-time factor of about 0.2 per core; a
	// negative factor means the base alone.
	TimeoutBase           time.Duration
	TimeoutPerAudioSecond time.Duration
	// MinSegment and MaxSegment bound the pieces pocketsphinx recognizes in
	// parallel; cuts are made in the longest pause in between. Zero means
	// 20 s and 40 s.
	MinSegment time.Duration
	MaxSegment time.Duration
	// TempDir holds audio segments and engine output; "" means os.TempDir.
	TempDir string

	Pocketsphinx PocketsphinxConfig
	Whisper      WhisperConfig
	AWS          AWSConfig

	// Logger receives engine diagnostics; nil means slog.Default().
	Logger *slog.Logger
}

// PocketsphinxConfig points at the pocketsphinx CLI and, optionally, a model
// other than the Debian en-US one.
type PocketsphinxConfig struct {
	// Bin is the pocketsphinx_continuous program; "" means look it up in PATH.
	Bin string
	// HMM, LM and Dict select another acoustic model, language model and
	// dictionary (pocketsphinx -hmm, -lm, -dict). With HMM set, any language
	// is accepted: the operator vouches for the model.
	HMM, LM, Dict string
}

// WhisperConfig points at whisper.cpp's CLI and a ggml model file.
type WhisperConfig struct {
	// Bin is whisper-cli; "" means look it up in PATH.
	Bin string
	// Model is the ggml model file, e.g. ggml-base.en.bin. Required.
	Model string
}

// AWSConfig configures Amazon Transcribe. Client is normally built by [New]
// from the default AWS credential chain.
type AWSConfig struct {
	// Client calls Transcribe; nil means build one from the environment
	// (region, credentials) with optional BaseEndpoint.
	Client       TranscribeAPI
	Region       string
	BaseEndpoint string
	// HTTPClient downloads the finished transcript; nil means a client
	// with a 60 s timeout.
	HTTPClient *http.Client
	// Stage makes a local WAV reachable by Transcribe (upload it to S3) and
	// returns its s3:// URI and a cleanup func. Nil means Transcribe only
	// accepts s3:// URIs as the wavPath argument.
	Stage func(ctx context.Context, localPath string) (uri string, cleanup func(), err error)
	// JobPrefix prefixes job names; "" means "filmroom-".
	JobPrefix string
	// PollInitial and PollMax bound the status polling backoff; zero means
	// 2 s growing to 30 s.
	PollInitial, PollMax time.Duration
	// JobTimeout bounds one whole job; zero means 2 hours.
	JobTimeout time.Duration
}

// ConfigFromEnv reads the operator settings from environment variables
// (getenv is usually os.Getenv):
//
//	FILMROOM_CAPTIONS_ENGINE     pocketsphinx | whisper | aws-transcribe | none | auto
//	FILMROOM_CAPTIONS_WORKERS    engine processes per clip (default: CPUs)
//	FILMROOM_CAPTIONS_TIMEOUT    base deadline per engine process, e.g. 2m
//	FILMROOM_POCKETSPHINX_BIN    pocketsphinx_continuous path
//	FILMROOM_POCKETSPHINX_HMM, _LM, _DICT   another pocketsphinx model
//	FILMROOM_WHISPER_BIN         whisper-cli path
//	FILMROOM_WHISPER_MODEL       ggml model file (required for whisper)
//	FILMROOM_AWS_TRANSCRIBE_ENDPOINT  endpoint override (tests, VPC endpoints)
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		Engine: strings.ToLower(strings.TrimSpace(getenv("FILMROOM_CAPTIONS_ENGINE"))),
		Pocketsphinx: PocketsphinxConfig{
			Bin:  getenv("FILMROOM_POCKETSPHINX_BIN"),
			HMM:  getenv("FILMROOM_POCKETSPHINX_HMM"),
			LM:   getenv("FILMROOM_POCKETSPHINX_LM"),
			Dict: getenv("FILMROOM_POCKETSPHINX_DICT"),
		},
		Whisper: WhisperConfig{
			Bin:   getenv("FILMROOM_WHISPER_BIN"),
			Model: getenv("FILMROOM_WHISPER_MODEL"),
		},
		AWS: AWSConfig{BaseEndpoint: getenv("FILMROOM_AWS_TRANSCRIBE_ENDPOINT")},
	}
	if v := getenv("FILMROOM_CAPTIONS_WORKERS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return Config{}, fmt.Errorf("FILMROOM_CAPTIONS_WORKERS=%q: want a positive number", v)
		}
		c.Workers = n
	}
	if v := getenv("FILMROOM_CAPTIONS_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Config{}, fmt.Errorf("FILMROOM_CAPTIONS_TIMEOUT=%q: want a duration such as 2m", v)
		}
		c.TimeoutBase = d
	}
	return c, nil
}

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = runtime.NumCPU()
	}
	if c.TimeoutBase <= 0 {
		c.TimeoutBase = 60 * time.Second
	}
	if c.TimeoutPerAudioSecond == 0 {
		c.TimeoutPerAudioSecond = 3 * time.Second
	}
	if c.MinSegment <= 0 {
		c.MinSegment = 20 * time.Second
	}
	if c.MaxSegment <= 0 {
		c.MaxSegment = 40 * time.Second
	}
	if c.MaxSegment < c.MinSegment {
		c.MaxSegment = c.MinSegment
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// processTimeout is the deadline for one engine process over audio of length d.
func (c Config) processTimeout(d time.Duration) time.Duration {
	if c.TimeoutPerAudioSecond < 0 {
		return c.TimeoutBase
	}
	return c.TimeoutBase + time.Duration(d.Seconds()*float64(c.TimeoutPerAudioSecond))
}

// New builds the engine cfg names. It checks that the engine's program (and
// model) exist now, so a misconfigured server fails at start with a message
// an operator can act on, not at the first upload.
func New(cfg Config) (Engine, error) {
	cfg = cfg.withDefaults()
	switch cfg.Engine {
	case "", EngineAuto:
		if cfg.Whisper.Model != "" {
			if e, err := newWhisper(cfg); err == nil {
				return e, nil
			} else {
				cfg.Logger.Warn("Whisper model configured but whisper is unusable; trying pocketsphinx.", "error", err)
			}
		}
		if e, err := newPocketsphinx(cfg); err == nil {
			return e, nil
		} else {
			cfg.Logger.Warn("No speech engine installed; clips will not be captioned automatically.", "error", err)
		}
		return noneEngine{}, nil
	case EnginePocketsphinx:
		return newPocketsphinx(cfg)
	case EngineWhisper:
		return newWhisper(cfg)
	case EngineAWSTranscribe:
		return newAWSTranscribe(cfg)
	case EngineNone:
		return noneEngine{}, nil
	default:
		return nil, fmt.Errorf("captions engine %q: want pocketsphinx, whisper, aws-transcribe, none or auto", cfg.Engine)
	}
}

// lookBin resolves an engine program, giving an install hint when missing.
func lookBin(bin, hint string) (string, error) {
	p, err := exec.LookPath(bin)
	if err != nil {
		return "", fmt.Errorf("%w: %q not found (%s)", ErrEngineNotFound, bin, hint)
	}
	return p, nil
}

// noneEngine produces no words: captioning is switched off.
type noneEngine struct{}

func (noneEngine) Name() string { return EngineNone }

func (noneEngine) Transcribe(ctx context.Context, _ string, _ string, progress func(float64)) ([]Word, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if progress != nil {
		progress(100)
	}
	return nil, nil
}
