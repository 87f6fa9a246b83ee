package server

import (
	"context"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/media"
)

// TestReflectFirstInLiveRooms: while a teacher has not submitted their
// reflection on a reflect-first clip, coaches' feedback reaches neither the
// teacher's REST view nor their live room; their own notes do.
func TestReflectFirstInLiveRooms(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	yes := true
	if _, err := w.srv.Clips.Update(ctx, w.people["owner"].user.Actor("session"), w.clip, media.ClipPatch{ReflectFirst: &yes}); err != nil {
		t.Fatal(err)
	}
	owner := &browser{t: t, base: w.ts.URL, session: w.people["owner"].session.Token, csrf: w.people["owner"].session.CSRFToken}
	peer := &browser{t: t, base: w.ts.URL, session: w.people["peer"].session.Token, csrf: w.people["peer"].session.CSRFToken}
	owner.join(w.clip)
	peer.join(w.clip)

	w.annotationBy("coach")
	// The peer sees the coach's note; then the owner writes one of their own.
	peer.await(func(m map[string]any) bool { return m["event"] == "annotation.created" })
	owner.must("POST", "/api/v1/clips/"+w.clip+"/annotations", `{"start_ms":500,"body":"My own note","kind":"note","visibility":"audience"}`, 201)
	// The first annotation event the owner receives must be their own.
	got := owner.await(func(m map[string]any) bool {
		return m["type"] == "event" && strings.HasPrefix(m["event"].(string), "annotation.")
	})
	if !strings.Contains(jsonString(got), "My own note") {
		t.Fatalf("the teacher received others' feedback before reflecting: %v", got)
	}
	if body := owner.must("GET", "/api/v1/clips/"+w.clip+"/annotations", "", 200); strings.Contains(body, "Waited five seconds") {
		t.Fatalf("REST shows hidden feedback: %s", body)
	}
	// After submitting, a new connection (as the web app makes) receives it
	// in the replay.
	owner.must("PUT", "/api/v1/clips/"+w.clip+"/reflection", `{"went_well":"Questions","to_change":"Pacing","evidence":"0:01"}`, 200)
	// Before it is submitted, others get the prompts but not the draft.
	if body := peer.must("GET", "/api/v1/clips/"+w.clip+"/reflection", "", 200); !strings.Contains(body, `"reflection":null`) || strings.Contains(body, "Pacing") {
		t.Fatalf("a peer reads the teacher's draft reflection: %s", body)
	}
	owner.must("POST", "/api/v1/clips/"+w.clip+"/reflection/submit", "", 200)
	if body := peer.must("GET", "/api/v1/clips/"+w.clip+"/reflection", "", 200); !strings.Contains(body, "Pacing") {
		t.Fatalf("the submitted reflection is not shown: %s", body)
	}
	owner.clipRoom.Close()
	owner.clipRoomSince(w.clip, 0)
	owner.await(func(m map[string]any) bool {
		return m["type"] == "event" && strings.Contains(jsonString(m), "Waited five seconds")
	})
}
