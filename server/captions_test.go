package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// needTools skips a test when a program it runs is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (scripts/setup.sh installs it)", tool)
		}
	}
}

// spokenClip is a short video whose sound is silence, then espeak-ng
// saying "three" (which pocketsphinx recognizes reliably). It returns the
// file and the time the word starts.
func spokenClip(t *testing.T) (string, int64) {
	t.Helper()
	needTools(t, "ffmpeg", "espeak-ng")
	dir := t.TempDir()
	wav := filepath.Join(dir, "three.wav")
	if out, err := exec.Command("espeak-ng", "-v", "en-us", "-s", "120", "-w", wav, "three").CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v %s", err, out)
	}
	const silence = 2.5
	return makeClip(t, dir, "spoken.mp4", "-f", "lavfi", "-i", "color=c=black:s=160x120:r=10",
		"-f", "lavfi", "-t", fmt.Sprint(silence), "-i", "anullsrc=r=22050:cl=mono", "-i", wav,
		"-filter_complex", "[1:a][2:a]concat=n=2:v=0:a=1,apad=pad_dur=0.5[a]", "-map", "0:v", "-map", "[a]", "-shortest",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"), int64(silence * 1000)
}

// captionsEnv is mediaEnv with a configurable captions engine.
func captionsEnv(t *testing.T, db *sqldb.DB, s3 bool, configure func(*Config)) *env {
	t.Helper()
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: t.TempDir(), Migrate: true, Workers: 1,
		TranscodeTimeout: 5 * time.Minute, FFmpegThreads: 1}
	if s3 {
		m := testsvc.MinIO(t)
		cfg.S3Endpoint, cfg.S3Region, cfg.S3Bucket, cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3PathStyle = m.Endpoint, m.Region, m.Bucket, m.AccessKey, m.SecretKey, true
	}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, ts: newTestServer(t, srv), db: db}
}

// uploadAndCaption uploads a file through tus and waits until the clip is
// ready and its captions job has finished (ready, none or failed). The
// deadline only stops a hung test.
func uploadAndCaption(t *testing.T, e *env, owner person, file string) (media.Clip, media.CaptionState) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(file)
	tusUpload(t, e, owner, data, name, 2, false)
	clip := waitClip(t, e, owner, "Lesson "+name)
	if clip.Status != media.StatusReady {
		t.Fatalf("clip %s: %+v", clip.Status, clip.Failure)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		var res struct{ Captions media.CaptionState }
		e.do(owner, "GET", "/api/v1/clips/"+clip.ID+"/captions", "").json(t, &res)
		switch res.Captions.Status {
		case media.CaptionReady, media.CaptionNone, media.CaptionFailed:
			return clip, res.Captions
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("captions of clip %s did not finish", clip.ID)
	return clip, media.CaptionState{}
}

// TestCaptionsEndToEnd: a clip with speech, uploaded through tus, gets
// WebVTT captions from the default engine on both databases and stores; the
// master playlist offers them, the VTT is served to the audience only,
// search finds the spoken word within 1 s, and the owner can replace the
// captions (SRT upload, cue edits) and revert to the machine version.
func TestCaptionsEndToEnd(t *testing.T) {
	t.Parallel()
	needTools(t, "pocketsphinx_continuous")
	src, spokenAt := spokenClip(t)
	dbs := testsvc.Databases(Migrations()...)
	for _, tc := range []struct {
		name string
		db   testsvc.Database
		s3   bool
	}{
		{"sqlite+local", dbs[0], false},
		{"postgres+minio", dbs[1], true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := captionsEnv(t, tc.db.Open(t), tc.s3, nil)
			owner := e.user("teacher@example.org", "Tess", false)
			stranger := e.user("stranger@example.org", "Stan", false)
			clip, st := uploadAndCaption(t, e, owner, src)
			if st.Status != media.CaptionReady || len(st.Tracks) != 1 {
				t.Fatalf("captions: %+v", st)
			}
			tr := st.Tracks[0]
			if tr.Lang != "en" || tr.Current != media.CaptionMachine || !tr.HasMachine || tr.Engine != "pocketsphinx" || tr.Path != "captions/en.vtt" {
				t.Fatalf("track: %+v", tr)
			}
			base := "/api/v1/clips/" + clip.ID
			// The clip's media JSON lists the track too.
			var got struct{ Clip media.Clip }
			e.do(owner, "GET", base, "").json(t, &got)
			if !strings.Contains(string(got.Clip.Media), `"captions":[{"lang":"en"`) {
				t.Errorf("clip media: %s", got.Clip.Media)
			}

			// HLS: the master offers the subtitles; their playlist points at the VTT.
			res := e.do(owner, "GET", base+"/media/master.m3u8", "")
			if res.status != 200 || !strings.Contains(res.body, `#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES`) ||
				strings.Count(res.body, `SUBTITLES="subs"`) != strings.Count(res.body, "#EXT-X-STREAM-INF") {
				t.Fatalf("master playlist: %d\n%s", res.status, res.body)
			}
			res = e.do(owner, "GET", base+"/media/captions/en.m3u8", "")
			if res.status != 200 || !strings.Contains(res.body, "#EXT-X-ENDLIST") {
				t.Fatalf("subtitle playlist: %d %s", res.status, res.body)
			}
			var vttURI string
			for _, line := range strings.Split(res.body, "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					vttURI = line
				}
			}
			// The VTT is a signed link that works without cookies (on S3
			// through a redirect to a presigned URL).
			if !strings.HasPrefix(vttURI, "en.vtt?") || !strings.Contains(vttURI, "&s=") {
				t.Fatalf("VTT URI %q", vttURI)
			}
			resp, err := http.Get(e.ts.URL + base + "/media/captions/" + vttURI)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("signed VTT: %v %v", resp, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			vtt := string(b)
			if !tc.s3 {
				res = e.do(owner, "GET", base+"/media/captions/en.vtt", "")
				if res.status != 200 || !strings.HasPrefix(res.header.Get("Content-Type"), "text/vtt") {
					t.Fatalf("VTT through the media route: %d %s", res.status, res.header.Get("Content-Type"))
				}
			}
			if !strings.HasPrefix(vtt, "WEBVTT") || !strings.Contains(vtt, "three") {
				t.Errorf("VTT: %q", vtt)
			}
			// The caption API serves it to the audience only.
			res = e.do(owner, "GET", base+"/captions/en.vtt", "")
			if res.status != 200 || res.header.Get("Content-Type") != "text/vtt; charset=utf-8" || !strings.Contains(res.body, "three") {
				t.Fatalf("GET track: %d %s %q", res.status, res.header.Get("Content-Type"), res.body)
			}
			for _, path := range []string{base + "/captions/en.vtt", base + "/media/captions/en.m3u8", base + "/media/captions/en.vtt"} {
				if res := e.do(stranger, "GET", path, ""); res.status != 404 {
					t.Errorf("a stranger got %s: %d", path, res.status)
				}
				if res := e.do(person{}, "GET", path, ""); res.status != 401 {
					t.Errorf("anonymous got %s: %d", path, res.status)
				}
			}

			// Search finds the spoken word where it is said.
			var page media.TranscriptPage
			e.do(owner, "GET", "/api/v1/search/transcripts?q=Three", "").json(t, &page)
			if len(page.Hits) != 1 || page.Hits[0].ClipID != clip.ID || page.Hits[0].Title != clip.Title || !strings.Contains(page.Hits[0].Snippet, "three") {
				t.Fatalf("search: %+v", page)
			}
			if d := page.Hits[0].TimeMS - spokenAt; d < -1000 || d > 1000 {
				t.Errorf("\"three\" found at %d ms, said at %d ms", page.Hits[0].TimeMS, spokenAt)
			}
			e.do(stranger, "GET", "/api/v1/search/transcripts?q=three", "").json(t, &page)
			if len(page.Hits) != 0 {
				t.Errorf("a stranger found %+v", page.Hits)
			}
			var transcript struct {
				Version    string
				Transcript struct{ Words []struct{ Text string } }
			}
			e.do(owner, "GET", base+"/captions/en/transcript", "").json(t, &transcript)
			if transcript.Version != "machine" || len(transcript.Transcript.Words) == 0 {
				t.Errorf("transcript: %+v", transcript)
			}

			// The owner uploads an SRT: converted to VTT, current, searchable.
			srt := "1\n00:00:00,500 --> 00:00:02,000\nWho can count?\n\n2\n00:00:02,400 --> 00:00:03,400\n<i>Three!</i>\n"
			res = e.doWith(owner, "PUT", base+"/captions/en", srt, map[string]string{"Content-Type": "application/x-subrip"})
			if res.status != 200 || !strings.Contains(res.body, `"current":"edited"`) {
				t.Fatalf("SRT upload: %d %s", res.status, res.body)
			}
			res = e.do(owner, "GET", base+"/captions/en.vtt", "")
			if !strings.HasPrefix(res.body, "WEBVTT") || !strings.Contains(res.body, "00:00:00.500 --> 00:00:02.000\nWho can count?") || !strings.Contains(res.body, "<i>Three!</i>") {
				t.Errorf("converted SRT: %q", res.body)
			}
			e.do(owner, "GET", "/api/v1/search/transcripts?q=count", "").json(t, &page)
			if len(page.Hits) != 1 {
				t.Errorf("uploaded words not found: %+v", page)
			}
			res = e.do(owner, "GET", base+"/media/captions/en.m3u8", "")
			if !strings.Contains(res.body, "en.edited.vtt") {
				t.Errorf("the subtitle playlist does not follow the edit: %s", res.body)
			}
			// Cue editing: change the text and timing of the first cue.
			res = e.do(owner, "PUT", base+"/captions/en/cues", `{"cues":[{"start_ms":600,"end_ms":2100,"text":"Who can count to three?"},{"start_ms":2400,"end_ms":3400,"text":"Three!"}]}`)
			if res.status != 200 {
				t.Fatalf("edit cues: %d %s", res.status, res.body)
			}
			var cues struct {
				Version string
				Cues    []struct {
					StartMS int64 `json:"start_ms"`
					Text    string
				}
			}
			e.do(owner, "GET", base+"/captions/en/cues", "").json(t, &cues)
			if cues.Version != "edited" || len(cues.Cues) != 2 || cues.Cues[0].StartMS != 600 || cues.Cues[0].Text != "Who can count to three?" {
				t.Errorf("edited cues: %+v", cues)
			}
			// A coach in the audience could view, but not edit (here: a stranger).
			if res := e.do(stranger, "PUT", base+"/captions/en/cues", `{"cues":[]}`); res.status != 404 {
				t.Errorf("a stranger edited cues: %d", res.status)
			}
			// Revert: the machine captions are back, the edit is kept.
			res = e.do(owner, "POST", base+"/captions/en/revert", "")
			if res.status != 200 || !strings.Contains(res.body, `"current":"machine"`) || !strings.Contains(res.body, `"has_edited":true`) {
				t.Fatalf("revert: %d %s", res.status, res.body)
			}
			res = e.do(owner, "GET", base+"/captions/en.vtt", "")
			if strings.Contains(res.body, "count") || !strings.Contains(res.body, "three") {
				t.Errorf("after revert: %q", res.body)
			}
			res = e.do(owner, "GET", base+"/captions/en.vtt?version=edited", "")
			if !strings.Contains(res.body, "Who can count to three?") {
				t.Errorf("the edited version was not kept: %q", res.body)
			}
			e.do(owner, "GET", "/api/v1/search/transcripts?q=count", "").json(t, &page)
			if len(page.Hits) != 0 {
				t.Errorf("edited words still found after revert: %+v", page)
			}

			// Deleting the clip removes every caption object and index row.
			if res := e.do(owner, "DELETE", base, ""); res.status != 204 {
				t.Fatalf("delete: %d %s", res.status, res.body)
			}
			if objects, err := e.srv.media.store.List(context.Background(), ""); err != nil || len(objects) != 0 {
				t.Errorf("objects left after delete: %v, %v", objects, err)
			}
			var rows int
			if err := e.db.Reader().QueryRow(context.Background(), `SELECT COUNT(*) FROM transcript_segments`).Scan(&rows); err != nil || rows != 0 {
				t.Errorf("index rows left after delete: %d %v", rows, err)
			}
		})
	}
}

// TestCaptionUploadErrors: bad caption files are refused with errors that
// say where the problem is, and nothing is stored.
func TestCaptionUploadErrors(t *testing.T) {
	t.Parallel()
	e := sqliteEnv(t)
	owner := e.user("teacher@example.org", "Tess", false)
	clip := e.clip(owner, "Fractions", "")
	base := "/api/v1/clips/" + clip.ID + "/captions"
	vtt := map[string]string{"Content-Type": "text/vtt"}
	for _, tc := range []struct {
		name, method, path, body string
		headers                  map[string]string
		status                   int
		want                     string
	}{
		{"malformed VTT names the line", "PUT", "/en", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nfine\n\n00:00:03.000 -> 00:00:04.000\nbroken arrow\n", vtt, 400, "line 6"},
		{"end before start", "PUT", "/en", "WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nbackwards\n", vtt, 400, "line 3"},
		{"overlapping cues in a file", "PUT", "/en", "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\none\n\n00:00:04.000 --> 00:00:06.000\ntwo\n", vtt, 400, "cue 2 starts at 00:00:04.000 while cue 1"},
		{"overlapping cues edited", "PUT", "/en/cues", `{"cues":[{"start_ms":1000,"end_ms":5000,"text":"one"},{"start_ms":4000,"end_ms":6000,"text":"two"}]}`, nil, 400, "overlapping_cues"},
		{"cues out of order", "PUT", "/en/cues", `{"cues":[{"start_ms":5000,"end_ms":6000,"text":"one"},{"start_ms":1000,"end_ms":2000,"text":"two"}]}`, nil, 400, "cue 2 starts at 00:00:01.000, before cue 1"},
		{"empty cue", "PUT", "/en/cues", `{"cues":[{"start_ms":0,"end_ms":1000,"text":"  "}]}`, nil, 400, "cue 1 (00:00:00.000) has no text"},
		{"no cues", "PUT", "/en/cues", `{"cues":[]}`, nil, 400, "no cues"},
		{"bad language tag", "PUT", "/english!", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n", vtt, 400, `"lang"`},
		{"not a caption file", "PUT", "/en", "\x00\x01\x02 binary junk", vtt, 400, "invalid_captions"},
		{"50 MB caption file", "PUT", "/en", "WEBVTT\n\n" + strings.Repeat("00:00:01.000 --> 00:00:02.000\nspam\n\n", 50<<20/40), vtt, 413, "5 MB"},
		{"revert without a track", "POST", "/en/revert", "", nil, 404, "not found"},
		{"an old Windows file, said so", "PUT", "/en?charset=windows-1252", "1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n", map[string]string{"Content-Type": "application/x-subrip"}, 200, `"current":"edited"`},
		{"normalize repairs overlaps", "PUT", "/en?normalize=true", "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\none\n\n00:00:04.000 --> 00:00:06.000\ntwo\n", vtt, 200, `"current":"edited"`},
		{"invalid UTF-8 is refused", "PUT", "/en", "1\n00:00:01,000 --> 00:00:02,000\nCaf\xe9 cr\xe8me\n", map[string]string{"Content-Type": "application/x-subrip"}, 400, `"file":"the caption file is not UTF-8 text (byte 36 is not valid UTF-8)`},
		{"invalid UTF-8 in WebVTT", "PUT", "/en", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xff\xfe\xfd\n", vtt, 400, `"file":"the caption file is not UTF-8`},
		{"unknown charset", "PUT", "/en?charset=koi8-r", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nhi\n", vtt, 400, `"charset"`},
		{"control character in a cue", "PUT", "/en", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nred \x1b[31m text\n", vtt, 400, "control characters (found U+001B)"},
		{"control character in an edited cue", "PUT", "/en/cues", `{"cues":[{"start_ms":0,"end_ms":1000,"text":"bell \u0007"}]}`, nil, 400, "control characters (found U+0007)"},
		{"revert an upload", "POST", "/en/revert", "", nil, 409, "no_machine_captions"},
		{"second language", "PUT", "/pt-br", "1\n00:00:01,000 --> 00:00:02,000\nOlá, turma!\n", map[string]string{"Content-Type": "application/x-subrip"}, 200, `"lang":"pt-BR","label":"português (Brasil)"`},
		{"missing version", "GET", "/en.vtt?version=machine", "", nil, 404, "machine captions in en not found"},
		{"SRT export", "GET", "/en.srt", "", nil, 200, "00:00:01,000 --> 00:00:04,000\none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.doWith(owner, tc.method, base+tc.path, tc.body, tc.headers)
			if res.status != tc.status || !strings.Contains(res.body, tc.want) {
				t.Errorf("%s %s: %d %.300s; want %d containing %q", tc.method, tc.path, res.status, res.body, tc.status, tc.want)
			}
		})
	}
	// A large file sent without a length (chunked) is cut off at the limit.
	req, _ := http.NewRequest("PUT", e.ts.URL+base+"/de", io.MultiReader(strings.NewReader("WEBVTT\n\n"),
		strings.NewReader(strings.Repeat("00:00:01.000 --> 00:00:02.000\nspam\n\n", 6<<20/40))))
	req.Header.Set("Content-Type", "text/vtt")
	req.AddCookie(&http.Cookie{Name: accounts.SessionCookie, Value: owner.session.Token})
	req.Header.Set(accounts.CSRFHeader, owner.session.CSRFToken)
	if res := e.raw(req); res.status != 413 || !strings.Contains(res.body, "too_large") {
		t.Errorf("chunked 6 MB upload: %d %s", res.status, res.body)
	}
	var res struct{ Captions media.CaptionState }
	e.do(owner, "GET", base, "").json(t, &res)
	if len(res.Captions.Tracks) != 2 || res.Captions.Tracks[0].Lang != "en" || res.Captions.Tracks[1].Lang != "pt-BR" {
		t.Errorf("tracks: %+v", res.Captions.Tracks)
	}
}

// TestCaptionsNotMade: a clip without sound, and a server whose engine
// binary is missing, both end with caption_status none and a reason, while
// the clip plays.
func TestCaptionsNotMade(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	dir := t.TempDir()
	silentVideo := makeClip(t, dir, "silent.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15:duration=2", "-c:v", "libx264", "-preset", "ultrafast")
	model := filepath.Join(dir, "ggml-base.en.bin")
	if err := os.WriteFile(model, []byte("not a real model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		file      string
		configure func(*Config)
		reason    string
	}{
		{"no audio stream", silentVideo, nil, "no sound"},
		{"engine binary missing", lessonClip(t), func(c *Config) {
			c.CaptionEngine, c.WhisperBin, c.WhisperModel = "whisper", filepath.Join(dir, "no-such-whisper-cli"), model
		}, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := captionsEnv(t, testsvc.Databases(Migrations()...)[0].Open(t), false, tc.configure)
			owner := e.user("teacher@example.org", "Tess", false)
			clip, st := uploadAndCaption(t, e, owner, tc.file)
			if st.Status != media.CaptionNone || !strings.Contains(st.Reason, tc.reason) || len(st.Tracks) != 0 {
				t.Errorf("captions: %+v; want none because %q", st, tc.reason)
			}
			if clip.CaptionStatus != media.CaptionNone && clip.CaptionStatus != media.CaptionPending {
				t.Errorf("clip caption_status %q", clip.CaptionStatus)
			}
			if res := e.do(owner, "GET", "/api/v1/clips/"+clip.ID+"/media/master.m3u8", ""); res.status != 200 || strings.Contains(res.body, "SUBTITLES") {
				t.Errorf("master playlist of an uncaptioned clip: %d %s", res.status, res.body)
			}
		})
	}
}
