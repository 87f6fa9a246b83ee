package annotations_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/apperr"
)

// annotator is the live hub's Annotator method set.
type annotator interface {
	Create(ctx context.Context, a accounts.Actor, clipID string, body json.RawMessage) (json.RawMessage, error)
	Update(ctx context.Context, a accounts.Actor, clipID, annID string, body json.RawMessage) (json.RawMessage, error)
	Delete(ctx context.Context, a accounts.Actor, clipID, annID string) error
}

var _ annotator = annotations.JSONAnnotator{}

func TestJSONAnnotatorTakesTheRESTPath(t *testing.T) {
	t.Parallel()
	w := newWorld(t, dbs()[0])
	ctx := context.Background()
	j := annotations.JSONAnnotator{S: w.svc}
	out, err := j.Create(ctx, w.peer, w.clip, json.RawMessage(`{"start_ms": 1200, "body": "<i>hi</i>", "idempotency_key": "s1"}`))
	if err != nil {
		t.Fatal(err)
	}
	var ann annotations.Annotation
	if err := json.Unmarshal(out, &ann); err != nil || ann.StartMS != 1200 || !strings.Contains(ann.BodyHTML, "&lt;i&gt;") {
		t.Fatalf("create = %s, %v", out, err)
	}
	again, err := j.Create(ctx, w.peer, w.clip, json.RawMessage(`{"start_ms": 1200, "body": "<i>hi</i>", "idempotency_key": "s1"}`))
	if err != nil || string(again) != string(out) {
		t.Fatalf("retried create = %s, %v", again, err)
	}
	if evs := w.pub.events(); len(evs) != 1 || string(evs[0].Data) != string(out) {
		t.Fatalf("events %+v", evs)
	}
	for _, bad := range []string{`{"start_ms": -5}`, `{"start_ms": 1, "colour": 1}`, "{\"start_ms\": 1, \"body\": \"\xff\"}", `[`} {
		if _, err := j.Create(ctx, w.peer, w.clip, json.RawMessage(bad)); err == nil {
			t.Errorf("create %q accepted", bad)
		}
	}
	if _, err := j.Update(ctx, w.coach, w.clip, ann.ID, json.RawMessage(`{"body": "x"}`)); !errors.Is(err, apperr.ErrForbidden) {
		t.Fatalf("coach updates peer's annotation: %v", err)
	}
	if out, err := j.Update(ctx, w.peer, w.clip, ann.ID, json.RawMessage(`{"body": "edited", "end_ms": 3000}`)); err != nil || !strings.Contains(string(out), `"end_ms":3000`) {
		t.Fatalf("update = %s, %v", out, err)
	}
	if err := j.Delete(ctx, w.outsider, w.clip, ann.ID); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("outsider deletes: %v", err)
	}
	if err := j.Delete(ctx, w.peer, w.clip, ann.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(w.pub.events()); n != 3 {
		t.Fatalf("%d events, want created, updated, deleted", n)
	}
}
