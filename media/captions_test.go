package media

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riverqueue/river"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media/captions"
	"github.com/filmroom/filmroom/media/storage"
)

// capEnv is one database with a clip owned by owner, shared with nobody.
type capEnv struct {
	db       *sqldb.DB
	clips    *Clips
	store    storage.Store
	caps     *Captions
	owner    accounts.Actor
	stranger accounts.Actor
	clipID   string
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newCapEnv(t testing.TB, db *sqldb.DB) *capEnv {
	t.Helper()
	ctx := context.Background()
	acc := accounts.New(db, quietLog(), nil)
	clips := NewClips(db, acc, quietLog(), nil)
	store, err := storage.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &capEnv{db: db, clips: clips, store: store, caps: NewCaptions(clips, store)}
	for i, email := range []string{"tess@example.org", "stan@example.org"} {
		u, err := acc.CreateUser(ctx, accounts.NewUser{Email: email, Name: email[:4], Password: "a long enough password"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			e.owner = u.Actor("session")
		} else {
			e.stranger = u.Actor("session")
		}
	}
	c, err := clips.Create(ctx, e.owner, NewClip{Title: "Fractions lesson"})
	if err != nil {
		t.Fatal(err)
	}
	e.clipID = c.ID
	if _, err := db.Writer().Exec(ctx, `UPDATE clips SET status = 'ready', duration_ms = 60000, has_audio = TRUE, media_json = '{"master":"master.m3u8","renditions":[]}' WHERE id = ?`, c.ID); err != nil {
		t.Fatal(err)
	}
	return e
}

func words(pairs ...any) []captions.Word {
	var out []captions.Word
	for i := 0; i < len(pairs); i += 2 {
		ms := int64(pairs[i].(int))
		out = append(out, captions.Word{StartMS: ms, EndMS: ms + 400, Text: pairs[i+1].(string), Confidence: 0.9})
	}
	return out
}

func TestCaptionsMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.Open(t)
			sets := []sqldb.Migrations{accounts.Migrations(), Migrations()}
			for round := 0; round < 2; round++ {
				if _, err := db.Up(ctx, sets); err != nil {
					t.Fatalf("round %d up: %v", round, err)
				}
				if _, err := db.Writer().Exec(ctx, `SELECT caption_progress, caption_reason FROM clips`); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				// 0003: shared addresses and the media signing key.
				if _, err := db.Writer().Exec(ctx, `SELECT e.email, e.user_id, k.value FROM clip_audience_emails e, media_secrets k`); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				// 0005: consent, downloads and retention replace consent_json.
				if _, err := db.Writer().Exec(ctx, `SELECT students_visible, consent_on_file, consent_note, consent_at, downloads_allowed,
					keep_until, delete_on, delete_warned_at FROM clips`); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				// 0008: captions in parts.
				if _, err := db.Writer().Exec(ctx, `SELECT c.caption_run, k.run, k.idx, k.state, k.words_json FROM clips c JOIN caption_chunks k ON k.clip_id = c.id`); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				if _, err := db.Writer().Exec(ctx, `SELECT consent_json FROM clips`); err == nil {
					t.Fatalf("round %d: consent_json is still there", round)
				}
				if err := db.Down(ctx, sets); err != nil {
					t.Fatalf("round %d down: %v", round, err)
				}
			}
		})
	}
}

// TestCaptionVersions runs the caption store on both databases: a machine
// version is searchable at the word's time, an edit replaces what search
// finds, a revert brings the machine words back, outsiders find nothing,
// and deleting the clip empties the index.
func TestCaptionVersions(t *testing.T) {
	t.Parallel()
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			e := newCapEnv(t, d.Open(t))
			machine := words(1000, "Today", 1500, "we", 1900, "look", 2300, "at", 2600, "fractions.", 9000, "Turn", 9400, "to", 9700, "your", 10000, "partner")
			if _, err := e.caps.save(ctx, newVersion{clipID: e.clipID, lang: "en", version: CaptionMachine, cues: captions.BuildCues(machine), words: machine, engine: "pocketsphinx"}); err != nil {
				t.Fatal(err)
			}
			search := func(who accounts.Actor, q string) TranscriptPage {
				t.Helper()
				p, err := e.caps.SearchTranscripts(ctx, who, q, 10, 0)
				if err != nil {
					t.Fatalf("search %q: %v", q, err)
				}
				return p
			}
			for _, tc := range []struct {
				q      string
				timeMS int64
			}{{"fractions", 2600}, {"Fraction", 2600}, {"your partner", 9700}, {"PARTN", 10000}, {"today", 1000}} {
				p := search(e.owner, tc.q)
				if len(p.Hits) != 1 || p.Hits[0].TimeMS != tc.timeMS || p.Hits[0].ClipID != e.clipID || p.Hits[0].Title != "Fractions lesson" {
					t.Errorf("search %q: %+v, want one hit at %d ms", tc.q, p.Hits, tc.timeMS)
				}
			}
			if p := search(e.stranger, "fractions"); len(p.Hits) != 0 {
				t.Errorf("a stranger found %+v", p.Hits)
			}
			if _, err := e.caps.SearchTranscripts(ctx, e.owner, " ,. ", 10, 0); !errors.As(err, new(*apperr.Validation)) {
				t.Errorf("empty query: %v", err)
			}

			edited := []captions.Cue{{StartMS: 1000, EndMS: 3000, Text: "Today we look at decimals."}}
			tr, err := e.caps.saveEdited(ctx, e.owner, Clip{ID: e.clipID, DurationMS: 60000}, "en", edited)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Current != CaptionEdited || !tr.HasMachine || !tr.HasEdited || tr.Path != "captions/en.edited.vtt" {
				t.Fatalf("edited track: %+v", tr)
			}
			if p := search(e.owner, "fractions"); len(p.Hits) != 0 {
				t.Errorf("machine words still found after an edit: %+v", p.Hits)
			}
			if p := search(e.owner, "decimals"); len(p.Hits) != 1 {
				t.Errorf("edited words not found: %+v", p.Hits)
			}
			// A machine run that finishes after the edit does not take over.
			if _, err := e.caps.save(ctx, newVersion{clipID: e.clipID, lang: "en", version: CaptionMachine, cues: captions.BuildCues(machine), words: machine, engine: "pocketsphinx"}); err != nil {
				t.Fatal(err)
			}
			if p := search(e.owner, "decimals"); len(p.Hits) != 1 {
				t.Errorf("a late machine run replaced the edit: %+v", p.Hits)
			}
			if tr, err = e.caps.revert(ctx, e.clipID, "en"); err != nil || tr.Current != CaptionMachine {
				t.Fatalf("revert: %+v %v", tr, err)
			}
			if p := search(e.owner, "fractions"); len(p.Hits) != 1 {
				t.Errorf("machine words not found after revert: %+v", p.Hits)
			}
			// The clip's media JSON lists the track with its current file.
			var media string
			if err := e.db.Reader().QueryRow(ctx, `SELECT media_json FROM clips WHERE id = ?`, e.clipID).Scan(&media); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(media, `"captions":[{"lang":"en","label":"English","kind":"machine","path":"captions/en.vtt"}]`) || !strings.Contains(media, `"master":"master.m3u8"`) {
				t.Errorf("media JSON: %s", media)
			}
			// An uploaded-only language has nothing to revert to.
			if _, err := e.caps.saveEdited(ctx, e.owner, Clip{ID: e.clipID}, "es", []captions.Cue{{StartMS: 0, EndMS: 2000, Text: "Hoy: fracciones"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.caps.revert(ctx, e.clipID, "es"); !errors.Is(err, apperr.ErrConflict) {
				t.Errorf("revert without a machine version: %v", err)
			}
			if p := search(e.owner, "fracciones"); len(p.Hits) != 1 || p.Hits[0].Lang != "es" {
				t.Errorf("second language: %+v", p.Hits)
			}
			if err := e.caps.remove(ctx, e.clipID, "es"); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.Stat(ctx, mediaKey(e.clipID, "captions/es.edited.vtt")); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("deleted track left its file: %v", err)
			}
			if err := e.clips.Purge(ctx, e.clipID); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := e.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM transcript_segments`).Scan(&n); err != nil || n != 0 {
				t.Errorf("index rows after the clip was deleted: %d %v", n, err)
			}
			if p := search(e.owner, "fractions"); len(p.Hits) != 0 {
				t.Errorf("a deleted clip is still found: %+v", p.Hits)
			}
		})
	}
}

func TestSearchPaging(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newCapEnv(t, testsvc.Databases(accounts.Migrations(), Migrations())[0].Open(t))
	var ws []captions.Word
	for i := 0; i < 30; i++ {
		ws = append(ws, words(i*5000, "question")...)
	}
	if _, err := e.caps.save(ctx, newVersion{clipID: e.clipID, lang: "en", version: CaptionMachine, cues: captions.BuildCues(ws), words: ws}); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	offset, pages := 0, 0
	for {
		p, err := e.caps.SearchTranscripts(ctx, e.owner, "question", 7, offset)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range p.Hits {
			seen[h.TimeMS] = true
		}
		pages++
		if p.NextOffset == 0 {
			break
		}
		offset = p.NextOffset
	}
	if len(seen) != 30 || pages != 5 {
		t.Errorf("paged through %d distinct hits in %d pages, want 30 in 5", len(seen), pages)
	}
}

func TestCheckCues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cues []captions.Cue
		want string
	}{
		{"fine", []captions.Cue{{StartMS: 0, EndMS: 1000, Text: "a"}, {StartMS: 1000, EndMS: 2000, Text: "b"}}, ""},
		{"none", nil, "no cues"},
		{"end before start", []captions.Cue{{StartMS: 0, EndMS: 1000, Text: "a"}, {StartMS: 2000, EndMS: 1500, Text: "b"}}, "cue 2 ends at 00:00:01.500"},
		{"empty text", []captions.Cue{{StartMS: 0, EndMS: 1000, Text: " <i> </i>"}}, "cue 1 (00:00:00.000) has no text"},
		{"overlap", []captions.Cue{{StartMS: 0, EndMS: 3000, Text: "a"}, {StartMS: 2000, EndMS: 4000, Text: "b"}}, "cue 2 starts at 00:00:02.000 while cue 1"},
		{"out of order", []captions.Cue{{StartMS: 5000, EndMS: 6000, Text: "a"}, {StartMS: 2000, EndMS: 4000, Text: "b"}}, "cue 2 starts at 00:00:02.000, before cue 1"},
		{"after the end", []captions.Cue{{StartMS: 70000, EndMS: 71000, Text: "a"}}, "after the clip ends"},
	} {
		err := checkCues(tc.cues, 60000)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestParseLanguage(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"en": "en", "en-us": "en-US", "pt_BR": "pt-BR", "zh-hant": "zh-Hant", "es-419": "es-419",
		"": "", "english!": "", "und": "", "x": "", "en-US-../..": "", strings.Repeat("a", 40): ""} {
		got, err := ParseLanguage(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ParseLanguage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestDecorateMaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newCapEnv(t, testsvc.Databases(accounts.Migrations(), Migrations())[0].Open(t))
	master := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\n360p/index.m3u8\n" +
		"#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720\n720p/index.m3u8\n"
	buf := bytes.NewBufferString(master)
	e.caps.DecorateMaster(ctx, e.clipID, buf)
	if buf.String() != master {
		t.Fatalf("a clip without captions changed its master:\n%s", buf)
	}
	for _, lang := range []string{"es", "en"} {
		if _, err := e.caps.saveEdited(ctx, e.owner, Clip{ID: e.clipID}, lang, []captions.Cue{{StartMS: 0, EndMS: 2000, Text: "hola"}}); err != nil {
			t.Fatal(err)
		}
	}
	e.caps.DecorateMaster(ctx, e.clipID, buf)
	want := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n" +
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="captions/en.m3u8"` + "\n" +
		`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="español",LANGUAGE="es",DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI="captions/es.m3u8"` + "\n" +
		`#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,SUBTITLES="subs"` + "\n360p/index.m3u8\n" +
		`#EXT-X-STREAM-INF:BANDWIDTH=2800000,RESOLUTION=1280x720,SUBTITLES="subs"` + "\n720p/index.m3u8\n"
	if buf.String() != want {
		t.Errorf("master:\n%s\nwant:\n%s", buf, want)
	}
	body, ok, err := e.caps.subtitlePlaylist(ctx, e.clipID, "captions/en.m3u8")
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	wantPL := "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:60\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:60.000,\nen.edited.vtt\n#EXT-X-ENDLIST\n"
	if string(body) != wantPL {
		t.Errorf("subtitle playlist:\n%s", body)
	}
	if _, ok, _ := e.caps.subtitlePlaylist(ctx, e.clipID, "720p/index.m3u8"); ok {
		t.Error("a rendition playlist was taken for a subtitle playlist")
	}
	if _, _, err := e.caps.subtitlePlaylist(ctx, e.clipID, "captions/fr.m3u8"); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("playlist of a missing language: %v", err)
	}
}

// TestCaptionJobOutcomes drives the job with real engines that cannot help:
// none configured, and a whisper-cli that crashes (retried, then failed).
func TestCaptionJobOutcomes(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "tone.mp4")
	if out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", src).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v %s", err, out)
	}
	crash := filepath.Join(dir, "whisper-cli")
	if err := os.WriteFile(crash, []byte("#!/bin/sh\necho 'ggml: out of memory' >&2\nexit 134\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "ggml-base.en.bin")
	if err := os.WriteFile(model, []byte("model"), 0o644); err != nil {
		t.Fatal(err)
	}
	crashing, err := captions.New(captions.Config{Engine: captions.EngineWhisper, Whisper: captions.WhisperConfig{Bin: crash, Model: model}, TempDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	_, missingErr := captions.New(captions.Config{Engine: captions.EngineWhisper, Whisper: captions.WhisperConfig{Bin: filepath.Join(dir, "nope"), Model: model}})
	if !errors.Is(missingErr, captions.ErrEngineNotFound) {
		t.Fatalf("missing engine: %v", missingErr)
	}
	noneEngine, _ := captions.New(captions.Config{Engine: captions.EngineNone})
	for _, tc := range []struct {
		name      string
		engine    captions.Engine
		engineErr error
		states    []string // caption_status after each attempt
		reason    string
	}{
		{"engine missing", nil, missingErr, []string{CaptionNone}, "not available on this server"},
		{"engine off", noneEngine, nil, []string{CaptionNone}, "switched off"},
		{"engine crashes", crashing, nil, []string{CaptionPending, CaptionPending, CaptionFailed}, "speech engine failed on this clip (3 tries)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newCapEnv(t, testsvc.Databases(accounts.Migrations(), Migrations())[0].Open(t))
			f, err := os.Open(src)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := e.store.Put(ctx, sourceKey(e.clipID), f, -1, ""); err != nil {
				t.Fatal(err)
			}
			p := &Pipeline{Clips: e.clips, Store: e.store, Log: quietLog(), TempDir: t.TempDir()}
			job := &CaptionJob{Pipeline: p, Captions: e.caps, Engine: tc.engine, EngineErr: tc.engineErr}
			for i, want := range tc.states {
				err := job.Caption(ctx, e.clipID, i+1, len(tc.states))
				st, serr := e.caps.State(ctx, e.clipID)
				if serr != nil {
					t.Fatal(serr)
				}
				if st.Status != want {
					t.Fatalf("attempt %d: status %q (%s), want %q", i+1, st.Status, st.Reason, want)
				}
				switch {
				case want == CaptionNone && err != nil:
					t.Errorf("attempt %d: %v; want no error (nothing to retry)", i+1, err)
				case want == CaptionPending && err == nil:
					t.Errorf("attempt %d: no error; want one so the queue retries", i+1)
				case want == CaptionFailed:
					var cancel *river.JobCancelError
					if !errors.As(err, &cancel) {
						t.Errorf("last attempt: %v; want a cancelled job", err)
					}
				}
				if i == len(tc.states)-1 && !strings.Contains(st.Reason, tc.reason) {
					t.Errorf("reason %q, want it to contain %q", st.Reason, tc.reason)
				}
			}
			// The clip stayed ready to watch.
			c, err := e.clips.get(ctx, e.clipID)
			if err != nil || c.Status != StatusReady {
				t.Errorf("clip status %s, %v", c.Status, err)
			}
		})
	}
}
