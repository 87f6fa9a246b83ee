package captions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/transcribe"
	"github.com/aws/aws-sdk-go-v2/service/transcribe/types"
)

// TranscribeAPI is the part of the AWS Transcribe client the engine uses;
// *transcribe.Client satisfies it.
type TranscribeAPI interface {
	StartTranscriptionJob(ctx context.Context, in *transcribe.StartTranscriptionJobInput, opts ...func(*transcribe.Options)) (*transcribe.StartTranscriptionJobOutput, error)
	GetTranscriptionJob(ctx context.Context, in *transcribe.GetTranscriptionJobInput, opts ...func(*transcribe.Options)) (*transcribe.GetTranscriptionJobOutput, error)
}

var _ TranscribeAPI = (*transcribe.Client)(nil)

// maxAWSTranscriptBytes bounds the transcript download.
const maxAWSTranscriptBytes = 256 << 20

// awsTranscribe runs a batch job on Amazon Transcribe for media already in
// S3: StartTranscriptionJob with the s3:// URI, GetTranscriptionJob polled
// with backoff, then the transcript JSON fetched from the (pre-signed,
// service-managed) TranscriptFileUri and its items turned into words.
type awsTranscribe struct {
	cfg    Config
	client TranscribeAPI
	http   *http.Client
}

func newAWSTranscribe(cfg Config) (*awsTranscribe, error) {
	cfg = cfg.withDefaults()
	a := &awsTranscribe{cfg: cfg, client: cfg.AWS.Client, http: cfg.AWS.HTTPClient}
	if a.client == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var opts []func(*awsconfig.LoadOptions) error
		if cfg.AWS.Region != "" {
			opts = append(opts, awsconfig.WithRegion(cfg.AWS.Region))
		}
		ac, err := awsconfig.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("aws-transcribe: load AWS config: %w", err)
		}
		if ac.Region == "" {
			return nil, fmt.Errorf("aws-transcribe: %w: no AWS region configured (set AWS_REGION)", ErrEngineNotFound)
		}
		a.client = transcribe.NewFromConfig(ac, func(o *transcribe.Options) {
			if cfg.AWS.BaseEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.AWS.BaseEndpoint)
			}
		})
	}
	if a.http == nil {
		a.http = &http.Client{Timeout: 60 * time.Second}
	}
	if a.cfg.AWS.JobPrefix == "" {
		a.cfg.AWS.JobPrefix = "filmroom-"
	}
	if a.cfg.AWS.PollInitial <= 0 {
		a.cfg.AWS.PollInitial = 2 * time.Second
	}
	if a.cfg.AWS.PollMax <= 0 {
		a.cfg.AWS.PollMax = 30 * time.Second
	}
	if a.cfg.AWS.JobTimeout <= 0 {
		a.cfg.AWS.JobTimeout = 2 * time.Hour
	}
	return a, nil
}

func (a *awsTranscribe) Name() string { return EngineAWSTranscribe }

// Transcribe takes an s3:// URI as mediaPath (the clip's original upload or
// its extracted WAV, both formats Transcribe reads). A local path is staged
// with cfg.AWS.Stage when set.
func (a *awsTranscribe) Transcribe(ctx context.Context, mediaPath, lang string, progress func(float64)) ([]Word, error) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.AWS.JobTimeout)
	defer cancel()
	uri := mediaPath
	if !strings.HasPrefix(uri, "s3://") {
		if a.cfg.AWS.Stage == nil {
			return nil, fmt.Errorf("aws-transcribe: %s is not an s3:// URI and no staging is configured", mediaPath)
		}
		u, cleanup, err := a.cfg.AWS.Stage(ctx, mediaPath)
		if err != nil {
			return nil, fmt.Errorf("aws-transcribe: stage %s: %w", mediaPath, err)
		}
		if cleanup != nil {
			defer cleanup()
		}
		uri = u
	}
	in, err := a.startInput(uri, lang)
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(0)
	}
	if _, err := a.client.StartTranscriptionJob(ctx, in); err != nil {
		return nil, fmt.Errorf("aws-transcribe: start job %s: %w", aws.ToString(in.TranscriptionJobName), err)
	}
	job, err := a.wait(ctx, aws.ToString(in.TranscriptionJobName), progress)
	if err != nil {
		return nil, err
	}
	if job.Transcript == nil || aws.ToString(job.Transcript.TranscriptFileUri) == "" {
		return nil, fmt.Errorf("aws-transcribe: %w: job %s completed without a transcript URI", ErrEngineFailed, aws.ToString(job.TranscriptionJobName))
	}
	words, err := a.fetch(ctx, aws.ToString(job.Transcript.TranscriptFileUri))
	if err != nil {
		return nil, err
	}
	if progress != nil {
		progress(100)
	}
	return words, nil
}

// startInput builds the StartTranscriptionJob request.
func (a *awsTranscribe) startInput(uri, lang string) (*transcribe.StartTranscriptionJobInput, error) {
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, fmt.Errorf("aws-transcribe: job name: %w", err)
	}
	name := a.cfg.AWS.JobPrefix + time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(suffix[:])
	in := &transcribe.StartTranscriptionJobInput{
		TranscriptionJobName: aws.String(name),
		Media:                &types.Media{MediaFileUri: aws.String(uri)},
	}
	if f := awsMediaFormat(uri); f != "" {
		in.MediaFormat = f
	}
	if code := awsLanguageCode(lang); code != "" {
		in.LanguageCode = types.LanguageCode(code)
	} else {
		in.IdentifyLanguage = aws.Bool(true)
	}
	return in, nil
}

// wait polls the job with exponential backoff until it completes or fails.
// Transcribe reports no percentage, so progress moves along an estimate that
// approaches but never reaches 99.
func (a *awsTranscribe) wait(ctx context.Context, name string, progress func(float64)) (*types.TranscriptionJob, error) {
	delay := a.cfg.AWS.PollInitial
	polls := 0
	for {
		out, err := a.client.GetTranscriptionJob(ctx, &transcribe.GetTranscriptionJobInput{TranscriptionJobName: aws.String(name)})
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("aws-transcribe: %w: job %s not finished after %s", ErrEngineTimeout, name, a.cfg.AWS.JobTimeout)
			}
			return nil, fmt.Errorf("aws-transcribe: get job %s: %w", name, err)
		}
		job := out.TranscriptionJob
		if job == nil {
			return nil, fmt.Errorf("aws-transcribe: %w: job %s: empty response", ErrEngineFailed, name)
		}
		switch job.TranscriptionJobStatus {
		case types.TranscriptionJobStatusCompleted:
			return job, nil
		case types.TranscriptionJobStatusFailed:
			return nil, fmt.Errorf("aws-transcribe: %w: job %s: %s", ErrEngineFailed, name, aws.ToString(job.FailureReason))
		}
		polls++
		if progress != nil {
			progress(99 * (1 - math.Pow(0.9, float64(polls))))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("aws-transcribe: %w: job %s still %s after %s", ErrEngineTimeout, name, job.TranscriptionJobStatus, a.cfg.AWS.JobTimeout)
			}
			return nil, fmt.Errorf("aws-transcribe: job %s: %w", name, ctx.Err())
		case <-t.C:
		}
		delay = min(delay*3/2, a.cfg.AWS.PollMax)
	}
}

func (a *awsTranscribe) fetch(ctx context.Context, uri string) ([]Word, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("aws-transcribe: transcript request: %w", err)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("aws-transcribe: download transcript: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("aws-transcribe: %w: download transcript: HTTP %s", ErrEngineFailed, resp.Status)
	}
	data, err := readLimited(resp.Body, maxAWSTranscriptBytes)
	if err != nil {
		return nil, fmt.Errorf("aws-transcribe: download transcript: %w", err)
	}
	words, err := parseAWSTranscript(data)
	if err != nil {
		return nil, fmt.Errorf("aws-transcribe: %w: %v", ErrEngineFailed, err)
	}
	return words, nil
}

// awsTranscriptJSON is the documented transcript file format.
type awsTranscriptJSON struct {
	Status  string `json:"status"`
	Results struct {
		Items []struct {
			Type         string `json:"type"`
			StartTime    string `json:"start_time"`
			EndTime      string `json:"end_time"`
			Alternatives []struct {
				Content    string `json:"content"`
				Confidence string `json:"confidence"`
			} `json:"alternatives"`
		} `json:"items"`
	} `json:"results"`
}

// parseAWSTranscript turns the items of a Transcribe transcript into words;
// punctuation items have no times and attach to the word before them.
func parseAWSTranscript(data []byte) ([]Word, error) {
	var t awsTranscriptJSON
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, fmt.Errorf("parse transcript JSON: %w", err)
	}
	var words []Word
	for i, it := range t.Results.Items {
		if len(it.Alternatives) == 0 {
			continue
		}
		alt := it.Alternatives[0]
		switch it.Type {
		case "punctuation":
			if n := len(words); n > 0 {
				words[n-1].Text += alt.Content
			}
		case "pronunciation":
			start, err1 := strconv.ParseFloat(it.StartTime, 64)
			end, err2 := strconv.ParseFloat(it.EndTime, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("item %d %q: bad times %q..%q", i, alt.Content, it.StartTime, it.EndTime)
			}
			conf, err := strconv.ParseFloat(alt.Confidence, 64)
			if err != nil {
				conf = 1
			}
			s := int64(math.Round(start * 1000))
			e := int64(math.Round(end * 1000))
			words = append(words, Word{StartMS: s, EndMS: max(e, s+1), Text: alt.Content, Confidence: conf})
		}
	}
	return words, nil
}

func awsMediaFormat(uri string) types.MediaFormat {
	switch strings.ToLower(strings.TrimPrefix(path.Ext(uri), ".")) {
	case "wav":
		return types.MediaFormatWav
	case "mp4", "mov":
		return types.MediaFormatMp4
	case "mp3":
		return types.MediaFormatMp3
	case "flac":
		return types.MediaFormatFlac
	case "ogg", "opus":
		return types.MediaFormatOgg
	case "webm":
		return types.MediaFormatWebm
	case "m4a":
		return types.MediaFormatM4a
	case "amr":
		return types.MediaFormatAmr
	}
	return ""
}

// awsLanguageCode maps a BCP 47 tag to a Transcribe language code ("en" →
// "en-US"); "" asks Transcribe to identify the language.
func awsLanguageCode(lang string) string {
	l := strings.TrimSpace(strings.ReplaceAll(lang, "_", "-"))
	if l == "" {
		return ""
	}
	primary, region, hasRegion := strings.Cut(l, "-")
	primary = strings.ToLower(primary)
	if hasRegion {
		return primary + "-" + strings.ToUpper(region)
	}
	defaults := map[string]string{
		"en": "en-US", "es": "es-US", "fr": "fr-FR", "de": "de-DE", "it": "it-IT",
		"pt": "pt-BR", "nl": "nl-NL", "ja": "ja-JP", "ko": "ko-KR", "zh": "zh-CN",
		"ar": "ar-SA", "hi": "hi-IN", "ru": "ru-RU", "tr": "tr-TR", "sv": "sv-SE",
		"da": "da-DK", "pl": "pl-PL", "fi": "fi-FI", "no": "no-NO", "he": "he-IL",
	}
	return defaults[primary]
}
