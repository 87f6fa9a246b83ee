package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// TestCaptionsLiveAndAgain: everyone in a clip's room hears of caption
// changes (the owner's edit, then the automatic captions made again), and
// the owner can ask for automatic captions again only when that can work.
func TestCaptionsLiveAndAgain(t *testing.T) {
	t.Parallel()
	needTools(t, "pocketsphinx_continuous")
	src, _ := spokenClip(t)
	e := captionsEnv(t, testsvc.Databases(Migrations()...)[0].Open(t), false, nil)
	owner := e.user("teacher@example.org", "Tess", false)
	peer := e.user("peer@example.org", "Paz", false)
	clip, st := uploadAndCaption(t, e, owner, src)
	if st.Status != media.CaptionReady {
		t.Fatalf("captions: %+v", st)
	}
	base := "/api/v1/clips/" + clip.ID
	if res := e.do(owner, "PUT", base+"/audience", `{"emails":["peer@example.org"],"group_ids":[]}`); res.status != 200 {
		t.Fatalf("share: %d %s", res.status, res.body)
	}
	watcher := &browser{t: t, base: e.ts.URL, session: peer.session.Token, csrf: peer.session.CSRFToken}
	watcher.join(clip.ID)
	captionsEvent := func(want func(st map[string]any) bool) map[string]any {
		t.Helper()
		m := watcher.await(func(m map[string]any) bool {
			t.Logf("room: %v", m)
			data, _ := m["data"].(map[string]any)
			return m["type"] == "event" && m["event"] == "captions.changed" && want(data)
		})
		return m["data"].(map[string]any)
	}
	current := func(st map[string]any) string {
		tracks, _ := st["tracks"].([]any)
		if len(tracks) != 1 {
			return ""
		}
		return tracks[0].(map[string]any)["current"].(string)
	}

	// The owner's edit reaches the peer's room with the new track state.
	if res := e.do(owner, "PUT", base+"/captions/en/cues", `{"cues":[{"start_ms":2500,"end_ms":3500,"text":"Three, counted"}]}`); res.status != 200 {
		t.Fatalf("edit cues: %d %s", res.status, res.body)
	}
	edited := captionsEvent(func(st map[string]any) bool { return current(st) == media.CaptionEdited })
	updated := func(st map[string]any) time.Time {
		tracks, _ := st["tracks"].([]any)
		if len(tracks) != 1 {
			return time.Time{}
		}
		at, _ := time.Parse(time.RFC3339Nano, tracks[0].(map[string]any)["updated_at"].(string))
		return at
	}
	editedAt := updated(edited)

	// Who may ask for captions again, and when.
	for _, tc := range []struct {
		name   string
		who    person
		status int
	}{
		{"a viewer may not", peer, 403},
		{"a stranger does not see the clip", e.user("stranger@example.org", "Stan", false), 404},
		{"anonymous", person{}, 401},
	} {
		if res := e.do(tc.who, "POST", base+"/captions/generate", ""); res.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, res.status, res.body, tc.status)
		}
	}
	// A job under way is not queued twice.
	ctx := context.Background()
	if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET caption_status = 'running', caption_progress = 42.5 WHERE id = ?`, clip.ID); err != nil {
		t.Fatal(err)
	}
	// The library shows the job's progress from the clip list.
	var list struct{ Clips []media.Clip }
	e.do(owner, "GET", "/api/v1/clips?scope=mine", "").json(t, &list)
	if len(list.Clips) != 1 || list.Clips[0].CaptionStatus != media.CaptionRunning || list.Clips[0].CaptionProgress != 42.5 {
		t.Fatalf("clip list while captioning: %+v", list.Clips)
	}
	if res := e.do(owner, "POST", base+"/captions/generate", ""); res.status != 409 || !strings.Contains(res.body, "captions_busy") {
		t.Fatalf("generate while running: %d %s", res.status, res.body)
	}
	if _, err := e.db.Writer().Exec(ctx, `UPDATE clips SET caption_status = 'failed', caption_reason = 'engine crashed' WHERE id = ?`, clip.ID); err != nil {
		t.Fatal(err)
	}

	// Made again: pending, then ready; the person's edit stays current and
	// the new machine version is there to go back to.
	var queued struct{ Captions media.CaptionState }
	res := e.do(owner, "POST", base+"/captions/generate", "")
	if res.status != 202 {
		t.Fatalf("generate: %d %s", res.status, res.body)
	}
	res.json(t, &queued)
	if queued.Captions.Status != media.CaptionPending && queued.Captions.Status != media.CaptionRunning && queued.Captions.Status != media.CaptionReady {
		t.Fatalf("after generate: %+v", queued.Captions)
	}
	// Each event carries the state when it was sent, so a fast job may
	// skip "pending"; the one that matters says ready with a newer track.
	done := captionsEvent(func(st map[string]any) bool {
		return st["status"] == media.CaptionReady && updated(st).After(editedAt)
	})
	if current(done) != media.CaptionEdited || done["reason"] != nil {
		t.Fatalf("after captions made again: %v", done)
	}
	if res := e.do(owner, "POST", base+"/captions/en/revert", ""); res.status != 200 || !strings.Contains(res.body, `"current":"machine"`) {
		t.Fatalf("revert: %d %s", res.status, res.body)
	}
	captionsEvent(func(st map[string]any) bool { return current(st) == media.CaptionMachine })
}

// TestCaptionsAgainRefused: asking for automatic captions again says why
// it cannot work instead of queueing a job that would fail.
func TestCaptionsAgainRefused(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	silent := makeClip(t, t.TempDir(), "silent.mp4", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=15:duration=2", "-c:v", "libx264", "-preset", "ultrafast")
	for _, tc := range []struct {
		name      string
		file      string
		configure func(*Config)
		code      string
	}{
		{"no sound", silent, nil, "no_audio"},
		{"engine switched off", lessonClip(t), func(c *Config) { c.CaptionEngine = "none" }, "captions_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := captionsEnv(t, testsvc.Databases(Migrations()...)[0].Open(t), false, tc.configure)
			owner := e.user("teacher@example.org", "Tess", false)
			clip, _ := uploadAndCaption(t, e, owner, tc.file)
			res := e.do(owner, "POST", "/api/v1/clips/"+clip.ID+"/captions/generate", "")
			if res.status != 409 || !strings.Contains(res.body, tc.code) {
				t.Fatalf("generate: %d %s, want 409 %s", res.status, res.body, tc.code)
			}
		})
	}
}
