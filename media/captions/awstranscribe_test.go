package captions

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/transcribe"
)

// fakeTranscribe stands in for the Transcribe endpoint (JSON 1.1 protocol:
// POST / with an X-Amz-Target header) and for the pre-signed transcript URL.
type fakeTranscribe struct {
	mu         sync.Mutex
	srv        *httptest.Server
	started    map[string]any
	polls      int
	pendingFor int    // polls answered IN_PROGRESS before the final status
	finalState string // COMPLETED or FAILED
	transcript []byte
}

func newFakeTranscribe(t *testing.T, final string, transcript []byte) *fakeTranscribe {
	f := &fakeTranscribe{pendingFor: 2, finalState: final, transcript: transcript}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTranscribe) handle(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodGet && r.URL.Path == "/transcripts/job.json" {
		w.Write(f.transcript)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		http.Error(w, `{"__type":"UnrecognizedClientException","message":"unsigned"}`, http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	json.Unmarshal(body, &in)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	switch r.Header.Get("X-Amz-Target") {
	case "Transcribe.StartTranscriptionJob":
		f.started = in
		json.NewEncoder(w).Encode(map[string]any{"TranscriptionJob": map[string]any{
			"TranscriptionJobName": in["TranscriptionJobName"], "TranscriptionJobStatus": "IN_PROGRESS"}})
	case "Transcribe.GetTranscriptionJob":
		f.polls++
		job := map[string]any{"TranscriptionJobName": in["TranscriptionJobName"], "TranscriptionJobStatus": "IN_PROGRESS"}
		if f.polls > f.pendingFor {
			job["TranscriptionJobStatus"] = f.finalState
			if f.finalState == "COMPLETED" {
				job["Transcript"] = map[string]any{"TranscriptFileUri": f.srv.URL + "/transcripts/job.json"}
			} else {
				job["FailureReason"] = "The media format provided does not match the detected media format."
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"TranscriptionJob": job})
	default:
		http.Error(w, `{"__type":"UnknownOperationException"}`, http.StatusBadRequest)
	}
}

func (f *fakeTranscribe) engine(t *testing.T) Engine {
	client := transcribe.New(transcribe.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(f.srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   f.srv.Client(),
	})
	e, err := New(Config{Engine: EngineAWSTranscribe, AWS: AWSConfig{
		Client:      client,
		HTTPClient:  f.srv.Client(),
		PollInitial: time.Millisecond,
		PollMax:     5 * time.Millisecond,
	}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestAWSTranscribe(t *testing.T) {
	t.Parallel()
	sample, err := os.ReadFile("testdata/aws-transcript.json")
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeTranscribe(t, "COMPLETED", sample)
	e := f.engine(t)
	var progress []float64
	words, err := e.Transcribe(context.Background(), "s3://school-media/clips/42/original.mp4", "en", func(p float64) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	// The request names the media and language as Transcribe expects.
	media, _ := f.started["Media"].(map[string]any)
	if media["MediaFileUri"] != "s3://school-media/clips/42/original.mp4" || f.started["LanguageCode"] != "en-US" || f.started["MediaFormat"] != "mp4" {
		t.Errorf("start request = %v", f.started)
	}
	if name, _ := f.started["TranscriptionJobName"].(string); !strings.HasPrefix(name, "filmroom-") {
		t.Errorf("job name %q", name)
	}
	want := []Word{
		{StartMS: 90, EndMS: 510, Text: "Good", Confidence: 0.998},
		{StartMS: 510, EndMS: 900, Text: "morning,", Confidence: 0.9911},
		{StartMS: 900, EndMS: 1450, Text: "class.", Confidence: 0.87},
		{StartMS: 2100, EndMS: 2400, Text: "Fractions", Confidence: 1},
	}
	if len(words) != len(want) {
		t.Fatalf("words = %+v", words)
	}
	for i := range want {
		if words[i] != want[i] {
			t.Errorf("word %d = %+v, want %+v", i, words[i], want[i])
		}
	}
	if f.polls != 3 {
		t.Errorf("polled %d times, want 3", f.polls)
	}
	if len(progress) < 2 || progress[len(progress)-1] != 100 {
		t.Errorf("progress = %v", progress)
	}
}

func TestAWSTranscribeFailures(t *testing.T) {
	t.Parallel()
	f := newFakeTranscribe(t, "FAILED", nil)
	_, err := f.engine(t).Transcribe(context.Background(), "s3://b/k.wav", "", nil)
	if !errors.Is(err, ErrEngineFailed) || !strings.Contains(err.Error(), "does not match the detected media format") {
		t.Fatalf("failed job: err = %v", err)
	}
	if f.started["IdentifyLanguage"] != true {
		t.Errorf("no language given should ask Transcribe to identify it: %v", f.started)
	}
	// A local path without a staging function cannot be sent to Transcribe.
	if _, err := f.engine(t).Transcribe(context.Background(), "/tmp/a.wav", "", nil); err == nil || !strings.Contains(err.Error(), "not an s3:// URI") {
		t.Fatalf("local path: err = %v", err)
	}
	// A job that never finishes runs into the job timeout.
	slow := newFakeTranscribe(t, "COMPLETED", nil)
	slow.pendingFor = 1 << 30
	client := transcribe.New(transcribe.Options{Region: "eu-west-1", BaseEndpoint: aws.String(slow.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), HTTPClient: slow.srv.Client()})
	e, _ := New(Config{Engine: EngineAWSTranscribe, AWS: AWSConfig{Client: client, PollInitial: time.Millisecond, PollMax: time.Millisecond, JobTimeout: 50 * time.Millisecond}})
	if _, err := e.Transcribe(context.Background(), "s3://b/k.wav", "en", nil); !errors.Is(err, ErrEngineTimeout) {
		t.Fatalf("slow job: err = %v", err)
	}
}

func TestAWSLanguageCode(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "en": "en-US", "en-gb": "en-GB", "pt_BR": "pt-BR", "de": "de-DE", "xx": ""} {
		if got := awsLanguageCode(in); got != want {
			t.Errorf("awsLanguageCode(%q) = %q, want %q", in, got, want)
		}
	}
}
