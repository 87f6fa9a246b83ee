package annotations_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/internal/apperr"
)

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			unknown := w.addClip(t, w.owner, 0, "", w.group, testClock) // duration not probed yet
			cases := []struct {
				name  string
				clip  string
				in    annotations.AnnotationInput
				field string // "" = valid
			}{
				{"moment", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "ok"}, ""},
				{"range to the end", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](0), EndMS: ptr[int64](60000)}, ""},
				{"missing start", w.clip, annotations.AnnotationInput{Body: "x"}, "start_ms"},
				{"negative start", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](-1)}, "start_ms"},
				{"start past the end", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](60001)}, "start_ms"},
				{"end before start", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](5000), EndMS: ptr[int64](4000)}, "end_ms"},
				{"end equal start", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](5000), EndMS: ptr[int64](5000)}, "end_ms"},
				{"end past the end", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](5000), EndMS: ptr[int64](60001)}, "end_ms"},
				{"unknown duration allows any non-negative", unknown, annotations.AnnotationInput{StartMS: ptr[int64](999999999)}, ""},
				{"unknown duration refuses negative", unknown, annotations.AnnotationInput{StartMS: ptr[int64](-5)}, "start_ms"},
				{"region ok", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Region: &annotations.Region{X: 0.5, Y: 0.5, W: 0.5, H: 0.5}}, ""},
				{"region outside", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Region: &annotations.Region{X: 0.6, Y: 0, W: 0.5, H: 0.5}}, "region"},
				{"region negative", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Region: &annotations.Region{X: -0.1, Y: 0, W: 0.5, H: 0.5}}, "region"},
				{"region empty", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Region: &annotations.Region{X: 0, Y: 0, W: 0, H: 0.5}}, "region"},
				{"body too long", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Body: strings.Repeat("é", 10001)}, "body"},
				{"body at the limit", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Body: strings.Repeat("é", 10000)}, ""},
				{"invalid utf-8", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Body: "bad \xff byte"}, "body"},
				{"NUL byte", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Body: "nul \x00"}, "body"},
				{"bad kind", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Kind: "praise"}, "kind"},
				{"bad visibility", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Visibility: "public"}, "visibility"},
				{"too many tags", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Tags: strings.Split(strings.Repeat("t,", 21)[:41], ",")}, "tags"},
				{"tag too long", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Tags: []string{strings.Repeat("x", 41)}}, "tags[0]"},
				{"criterion and level", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Criterion: "questioning", Level: "proficient"}, ""},
				{"criterion from another rubric", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Criterion: "uptake"}, "criterion"},
				{"rubric id of another rubric", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), RubricID: w.otherRubricID, Criterion: "questioning"}, "criterion"},
				{"level not in the criterion", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Criterion: "questioning", Level: "superb"}, "level"},
				{"level without criterion", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Level: "proficient"}, "level"},
				{"criterion on a clip without rubric", unknown, annotations.AnnotationInput{StartMS: ptr[int64](1), Criterion: "questioning"}, "criterion"},
				{"unknown rubric version", w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Criterion: "questioning", RubricVersion: 9}, "rubric_version"},
			}
			for _, tc := range cases {
				_, _, err := w.svc.Create(ctx, w.coach, tc.clip, tc.in)
				var v *apperr.Validation
				switch {
				case tc.field == "" && err != nil:
					t.Errorf("%s: unexpected error %v", tc.name, err)
				case tc.field != "" && !errors.As(err, &v):
					t.Errorf("%s: got %v, want a validation error on %s", tc.name, err, tc.field)
				case tc.field != "" && v.Fields[tc.field] == "":
					t.Errorf("%s: got %v, want a validation error on %s", tc.name, err, tc.field)
				}
			}
		})
	}
}

func TestCreateAppendsEventAndIsIdempotent(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			in := annotations.AnnotationInput{StartMS: ptr[int64](1500), EndMS: ptr[int64](4000), Body: "Great **wait time** <script>alert(1)</script>",
				Kind: "strength", Tags: []string{"Wait-Time", "wait-time", "pacing"}, Criterion: "wait-time", Level: "exemplary",
				Region: &annotations.Region{X: 0.1, Y: 0.2, W: 0.3, H: 0.4}, IdempotencyKey: "k1"}
			ann, created, err := w.svc.Create(ctx, w.coach, w.clip, in)
			if err != nil || !created {
				t.Fatalf("Create = %v, %v", created, err)
			}
			if ann.Author.Name != "Cora Coach" || ann.LevelScore == nil || *ann.LevelScore != 4 || ann.RubricVersion != 1 ||
				ann.CriterionTitle != "Wait time" || len(ann.Tags) != 2 || ann.Tags[0] != "wait-time" {
				t.Fatalf("created %+v", ann)
			}
			if strings.Contains(ann.BodyHTML, "<script>") || !strings.Contains(ann.BodyHTML, "<strong>wait time</strong>") ||
				!strings.Contains(ann.BodyHTML, "&lt;script&gt;") {
				t.Fatalf("body_html %q", ann.BodyHTML)
			}
			again, created, err := w.svc.Create(ctx, w.coach, w.clip, in)
			if err != nil || created || again.ID != ann.ID {
				t.Fatalf("retry = %s %v %v, want the first annotation %s", again.ID, created, err, ann.ID)
			}
			// The same key from another author is another annotation.
			other, created, err := w.svc.Create(ctx, w.peer, w.clip, in)
			if err != nil || !created || other.ID == ann.ID {
				t.Fatalf("peer create with the same key = %v %v", created, err)
			}
			evs, err := annotations.NewEventLog(w.db).Since(ctx, w.clip, 0, 10)
			if err != nil || len(evs) != 2 || evs[0].Type != annotations.EventAnnotationCreated || evs[0].Seq != 1 {
				t.Fatalf("events %+v, %v", evs, err)
			}
			want, _ := json.Marshal(ann)
			if string(evs[0].Data) != string(want) {
				t.Fatalf("event data\n%s\nwant the REST JSON\n%s", evs[0].Data, want)
			}
			if pub := w.pub.events(); len(pub) != 2 || pub[0].Seq != 1 || pub[1].Seq != 2 {
				t.Fatalf("published %+v", pub)
			}
		})
	}
}

func TestVisibilityPrivateNotesAndReflectFirst(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			note := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](10), Body: "coach's private note", Visibility: "private"})
			shared := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](20), Body: "for everyone"})
			own := w.mustCreate(t, w.owner, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](30), Body: "my own note", Visibility: "private"})
			if evs := w.pub.events(); evs[0].OnlyUserID != w.coach.UserID || evs[1].OnlyUserID != "" {
				t.Fatalf("private note event goes to %q", evs[0].OnlyUserID)
			}
			for _, who := range []string{"owner", "peer", "other", "outsider", "admin"} {
				if _, err := w.svc.Get(ctx, w.who(who), w.clip, note.ID); !errors.Is(err, apperr.ErrNotFound) {
					t.Errorf("%s reads a private note: %v", who, err)
				}
			}
			if _, err := w.svc.Get(ctx, w.coach, w.clip, note.ID); err != nil {
				t.Fatalf("author reads own note: %v", err)
			}
			ids := func(a accounts.Actor) string {
				p, err := w.svc.List(ctx, a, w.clip, annotations.ListQuery{})
				if err != nil {
					t.Fatal(err)
				}
				var s []string
				for _, it := range p.Items {
					s = append(s, it.Body)
				}
				return strings.Join(s, "|")
			}
			if got := ids(w.peer); got != "for everyone" {
				t.Fatalf("peer sees %q", got)
			}
			if got := ids(w.owner); got != "for everyone|my own note" {
				t.Fatalf("owner sees %q", got)
			}
			// Reflect first: the group asks owners to reflect before feedback.
			exec(t, w.db, `UPDATE groups SET reflect_first = TRUE WHERE id = ?`, w.group)
			if got := ids(w.owner); got != "my own note" {
				t.Fatalf("owner before reflecting sees %q", got)
			}
			if _, err := w.svc.Get(ctx, w.owner, w.clip, shared.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("owner reads coach feedback before reflecting: %v", err)
			}
			if got := ids(w.peer); got != "for everyone" {
				t.Fatalf("reflect-first must not hide anything from the peer: %q", got)
			}
			if _, err := w.svc.SubmitReflection(ctx, w.owner, w.clip); err == nil {
				t.Fatal("submitting an empty reflection succeeded")
			}
			if _, err := w.svc.SaveReflection(ctx, w.coach, w.clip, annotations.ReflectionInput{WentWell: "x"}); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("coach writes the teacher's reflection: %v", err)
			}
			if _, err := w.svc.SaveReflection(ctx, w.owner, w.clip, annotations.ReflectionInput{WentWell: "Pacing", ToChange: "Wait longer"}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.GetReflection(ctx, w.coach, w.clip); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("coach reads a draft reflection: %v", err)
			}
			if got := ids(w.owner); got != "my own note" {
				t.Fatalf("a draft must not open feedback: %q", got)
			}
			r, err := w.svc.SubmitReflection(ctx, w.owner, w.clip)
			if err != nil || r.Status != "submitted" || r.SubmittedAt == nil {
				t.Fatalf("submit = %+v, %v", r, err)
			}
			if got := ids(w.owner); got != "for everyone|my own note" {
				t.Fatalf("owner after reflecting sees %q", got)
			}
			if r, err := w.svc.GetReflection(ctx, w.coach, w.clip); err != nil || r.ToChange != "Wait longer" {
				t.Fatalf("coach reads submitted reflection: %+v %v", r, err)
			}
			_ = own
		})
	}
}

func TestUpdateHistoryDeleteRestore(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			ann := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), EndMS: ptr[int64](2000),
				Body: "first", Criterion: "questioning", Level: "developing"})
			for _, who := range []string{"owner", "peer"} {
				if _, err := w.svc.Update(ctx, w.who(who), w.clip, ann.ID, annotations.AnnotationPatch{Body: ptr("x")}); !errors.Is(err, apperr.ErrForbidden) {
					t.Errorf("%s edits the coach's annotation: %v", who, err)
				}
			}
			for _, who := range []string{"other", "outsider", "admin"} {
				if _, err := w.svc.Update(ctx, w.who(who), w.clip, ann.ID, annotations.AnnotationPatch{Body: ptr("x")}); !errors.Is(err, apperr.ErrNotFound) {
					t.Errorf("%s edits: %v, want not found", who, err)
				}
			}
			var patch annotations.AnnotationPatch
			if err := json.Unmarshal([]byte(`{"body":"second","end_ms":null,"level":"proficient","tags":["a"]}`), &patch); err != nil {
				t.Fatal(err)
			}
			up, err := w.svc.Update(ctx, w.coach, w.clip, ann.ID, patch)
			if err != nil || up.Body != "second" || up.EndMS != nil || up.Level != "proficient" || up.Criterion != "questioning" || up.Revision != 2 {
				t.Fatalf("update = %+v, %v", up, err)
			}
			if _, err := w.svc.Update(ctx, w.coach, w.clip, ann.ID, annotations.AnnotationPatch{Body: ptr("stale"), Revision: 1}); !errors.Is(err, apperr.ErrConflict) {
				t.Fatalf("stale revision: %v", err)
			}
			if _, err := w.svc.Update(ctx, w.coach, w.clip, ann.ID, annotations.AnnotationPatch{StartMS: ptr[int64](70000)}); err == nil {
				t.Fatal("moved past the end")
			}
			if err := json.Unmarshal([]byte(`{"criterion":"uptake"}`), &patch); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.Update(ctx, w.coach, w.clip, ann.ID, annotations.AnnotationPatch{Criterion: annotations.Opt[string]{Set: true, Value: "uptake"}}); err == nil {
				t.Fatal("re-coded with another rubric's criterion")
			}
			hist, err := w.svc.History(ctx, w.peer, w.clip, ann.ID)
			if err != nil || len(hist) != 1 || !strings.Contains(string(hist[0].Snapshot), `"body":"first"`) {
				t.Fatalf("history = %+v, %v", hist, err)
			}
			if _, err := w.svc.Delete(ctx, w.peer, w.clip, ann.ID); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("peer deletes: %v", err)
			}
			del, err := w.svc.Delete(ctx, w.coach, w.clip, ann.ID)
			if err != nil || del.DeletedAt == nil {
				t.Fatalf("delete = %+v, %v", del, err)
			}
			if _, err := w.svc.Get(ctx, w.peer, w.clip, ann.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("peer reads a deleted annotation: %v", err)
			}
			if p, _ := w.svc.List(ctx, w.coach, w.clip, annotations.ListQuery{}); len(p.Items) != 0 {
				t.Fatalf("deleted annotation listed")
			}
			if res, err := w.svc.Restore(ctx, w.coach, w.clip, ann.ID); err != nil || res.DeletedAt != nil {
				t.Fatalf("restore = %+v, %v", res, err)
			}
			var types []string
			for _, e := range w.pub.events() {
				types = append(types, e.Type)
			}
			if got := strings.Join(types, ","); got != "annotation.created,annotation.updated,annotation.deleted,annotation.created" {
				t.Fatalf("events %s", got)
			}
		})
	}
}

func TestReplies(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			second := w.addClip(t, w.owner, 60000, w.rubricID, w.group, testClock)
			ann := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "question?", Kind: "question"})
			elsewhere := w.mustCreate(t, w.coach, second, annotations.AnnotationInput{StartMS: ptr[int64](1000), Body: "on the other clip"})
			r1, err := w.svc.CreateReply(ctx, w.owner, w.clip, ann.ID, annotations.ReplyInput{Body: "I was *waiting*"})
			if err != nil || r1.BodyHTML != "<p>I was <em>waiting</em></p>" {
				t.Fatalf("reply = %+v, %v", r1, err)
			}
			if _, err := w.svc.CreateReply(ctx, w.peer, w.clip, elsewhere.ID, annotations.ReplyInput{Body: "x"}); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("reply to an annotation of another clip: %v", err)
			}
			r2 := mustReply(t, w, w.coach, ann.ID, annotations.ReplyInput{Body: "ok", InReplyTo: r1.ID})
			elsewhereReply := mustReply(t, w, w.coach, elsewhere.ID, annotations.ReplyInput{Body: "z"})
			if _, err := w.svc.CreateReply(ctx, w.peer, w.clip, ann.ID, annotations.ReplyInput{Body: "x", InReplyTo: elsewhereReply.ID}); err == nil {
				t.Fatal("in_reply_to a reply of another thread accepted")
			}
			if _, err := w.svc.CreateReply(ctx, w.peer, w.clip, ann.ID, annotations.ReplyInput{Body: "x", InReplyTo: "nope"}); err == nil {
				t.Fatal("in_reply_to outside the thread accepted")
			}
			if _, err := w.svc.CreateReply(ctx, w.peer, w.clip, ann.ID, annotations.ReplyInput{Body: "  "}); err == nil {
				t.Fatal("empty reply accepted")
			}
			if _, err := w.svc.UpdateReply(ctx, w.peer, w.clip, ann.ID, r2.ID, annotations.ReplyInput{Body: "hijack"}); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("peer edits coach's reply: %v", err)
			}
			if up, err := w.svc.UpdateReply(ctx, w.coach, w.clip, ann.ID, r2.ID, annotations.ReplyInput{Body: "ok!"}); err != nil || up.Revision != 2 {
				t.Fatalf("update reply = %+v %v", up, err)
			}
			if _, err := w.svc.DeleteReply(ctx, w.coach, w.clip, ann.ID, r2.ID); err != nil {
				t.Fatal(err)
			}
			got, err := w.svc.Get(ctx, w.peer, w.clip, ann.ID)
			if err != nil || len(got.Replies) != 2 || got.ReplyCount != 1 {
				t.Fatalf("thread = %+v, %v", got.Replies, err)
			}
			for _, r := range got.Replies {
				if r.ID == r2.ID && (r.Body != "" || r.DeletedAt == nil) {
					t.Fatalf("deleted reply shown as %+v", r)
				}
			}
			// Replies to a private note go to its author only.
			note := w.mustCreate(t, w.owner, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](5), Visibility: "private", Body: "mine"})
			mustReply(t, w, w.owner, note.ID, annotations.ReplyInput{Body: "to myself"})
			evs := w.pub.events()
			if last := evs[len(evs)-1]; last.Type != annotations.EventReplyCreated || last.OnlyUserID != w.owner.UserID {
				t.Fatalf("last event %+v", last)
			}
		})
	}
}

func mustReply(t *testing.T, w *world, a accounts.Actor, annID string, in annotations.ReplyInput) annotations.Reply {
	t.Helper()
	ctx := context.Background()
	var clip string
	if err := w.db.Reader().QueryRow(ctx, `SELECT clip_id FROM annotations WHERE id = ?`, annID).Scan(&clip); err != nil {
		t.Fatal(err)
	}
	r, err := w.svc.CreateReply(ctx, a, clip, annID, in)
	if err != nil {
		t.Fatalf("reply: %v", err)
	}
	return r
}

func TestListPaginationAndFilters(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			kinds := []string{"strength", "suggestion", "question", "note"}
			for i := 0; i < 30; i++ {
				in := annotations.AnnotationInput{StartMS: ptr(int64(i/2) * 1000), Body: "moment " + string(rune('a'+i%26)), Kind: kinds[i%4]}
				if i%3 == 0 {
					in.Criterion, in.Tags = "pacing", []string{"tempo"}
				}
				if i == 7 {
					in.EndMS = ptr[int64](40000) // a long range that starts early
				}
				w.mustCreate(t, w.coach, w.clip, in)
			}
			var all []annotations.Annotation
			cursor := ""
			for pages := 0; ; pages++ {
				p, err := w.svc.List(ctx, w.peer, w.clip, annotations.ListQuery{Limit: 7, Cursor: cursor})
				if err != nil {
					t.Fatal(err)
				}
				all = append(all, p.Items...)
				if p.NextCursor == "" {
					break
				}
				cursor = p.NextCursor
				if pages > 10 {
					t.Fatal("pagination does not end")
				}
			}
			if len(all) != 30 {
				t.Fatalf("paged through %d, want 30", len(all))
			}
			for i := 1; i < len(all); i++ {
				a, b := all[i-1], all[i]
				if a.StartMS > b.StartMS || a.StartMS == b.StartMS && a.ID >= b.ID {
					t.Fatalf("order broken at %d", i)
				}
			}
			count := func(lq annotations.ListQuery) int {
				t.Helper()
				p, err := w.svc.List(ctx, w.peer, w.clip, lq)
				if err != nil {
					t.Fatal(err)
				}
				return len(p.Items)
			}
			checks := []struct {
				name string
				lq   annotations.ListQuery
				want int
			}{
				{"window", annotations.ListQuery{FromMS: ptr[int64](10000), ToMS: ptr[int64](11000)}, 4 + 1}, // 4 moments + the long range
				{"criterion", annotations.ListQuery{Criterion: "pacing"}, 10},
				{"tag", annotations.ListQuery{Tag: "TEMPO"}, 10},
				{"kind", annotations.ListQuery{Kind: "question"}, 7},
				{"author", annotations.ListQuery{AuthorID: w.peer.UserID}, 0},
				{"text", annotations.ListQuery{Text: "MOMENT C"}, 2},
				{"text with wildcard", annotations.ListQuery{Text: "%"}, 0},
				{"visibility", annotations.ListQuery{Visibility: "private"}, 0},
			}
			for _, c := range checks {
				if got := count(c.lq); got != c.want {
					t.Errorf("%s: %d, want %d", c.name, got, c.want)
				}
			}
			if _, err := w.svc.List(ctx, w.peer, w.clip, annotations.ListQuery{Cursor: "garbage!"}); err == nil {
				t.Error("garbage cursor accepted")
			}
			if _, err := w.svc.List(ctx, w.other, w.clip, annotations.ListQuery{}); !errors.Is(err, apperr.ErrNotFound) {
				t.Errorf("member of another group lists: %v", err)
			}
			items, _, err := w.svc.Search(ctx, w.peer, "moment b", "", 50)
			if err != nil || len(items) != 2 {
				t.Fatalf("search = %d, %v", len(items), err)
			}
			if items, _, _ := w.svc.Search(ctx, w.outsider, "moment", "", 50); len(items) != 0 {
				t.Fatalf("outsider finds %d", len(items))
			}
		})
	}
}

func TestSummaryAcrossRubricVersionsAndGrowth(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			mk := func(clip string, start, end int64, crit, level string) {
				in := annotations.AnnotationInput{StartMS: ptr(start), Criterion: crit, Level: level}
				if end > 0 {
					in.EndMS = ptr(end)
				}
				w.mustCreate(t, w.coach, clip, in)
			}
			mk(w.clip, 0, 10000, "questioning", "developing")
			mk(w.clip, 5000, 15000, "questioning", "proficient")
			mk(w.clip, 30000, 40000, "pacing", "")
			mk(w.clip, 50000, 0, "", "")
			// A new version renames the criterion; its key stays.
			r, err := w.svc.GetRubric(ctx, w.admin, w.rubricID, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			c := r.RubricContent
			crit, _ := c.Criterion("questioning")
			crit.Title = "Questioning for thinking"
			if _, err := w.svc.UpdateRubric(ctx, w.coach, w.rubricID, c); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("coach edits a site rubric: %v", err)
			}
			r2, err := w.svc.UpdateRubric(ctx, w.admin, w.rubricID, c)
			if err != nil || r2.Version != 2 {
				t.Fatalf("update rubric = %v, %v", r2, err)
			}
			if old, err := w.svc.GetRubric(ctx, w.peer, w.rubricID, 1, ""); err != nil || old.Title != r.Title {
				t.Fatalf("version 1 = %v, %v", old, err)
			} else if oc, _ := old.Criterion("questioning"); oc.Title != "Questioning" {
				t.Fatalf("version 1 changed: %q", oc.Title)
			}
			mk(w.clip, 20000, 0, "questioning", "exemplary")
			sum, err := w.svc.Summarize(ctx, w.peer, w.clip)
			if err != nil {
				t.Fatal(err)
			}
			if sum.Total != 5 || sum.Uncoded != 1 || len(sum.Criteria) != 2 || sum.Ranges.Count != 3 || sum.Ranges.CoveredMS != 25000 {
				t.Fatalf("summary %+v", sum)
			}
			q := sum.Criteria[1]
			if q.Key != "questioning" || q.Title != "Questioning for thinking" || q.Count != 3 || q.Scored != 3 || *q.MeanScore != 3 || len(q.Levels) != 3 {
				t.Fatalf("questioning %+v", q)
			}
			// Growth: a second clip a week later.
			later := w.addClip(t, w.owner, 60000, w.rubricID, w.group, testClock.Add(7*24*time.Hour))
			mk(later, 0, 0, "questioning", "exemplary")
			g, err := w.svc.Growth(ctx, w.coach, w.owner.UserID, "week")
			if err != nil || len(g.Buckets) != 2 || g.Buckets[0].Key != "2026-W10" || g.Buckets[1].Key != "2026-W11" {
				t.Fatalf("growth = %+v, %v", g, err)
			}
			var qs annotations.GrowthCriterion
			for _, c := range g.Criteria {
				if c.Key == "questioning" {
					qs = c
				}
			}
			if len(qs.Points) != 2 || *qs.Points[0].MeanScore != 3 || *qs.Points[1].MeanScore != 4 || qs.Title != "Questioning for thinking" {
				t.Fatalf("questioning growth %+v", qs)
			}
			if g, err := w.svc.Growth(ctx, w.outsider, w.owner.UserID, "clip"); err != nil || len(g.Buckets) != 0 {
				t.Fatalf("outsider growth = %+v, %v", g, err)
			}
		})
	}
}

func TestGoals(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			g, err := w.svc.CreateGoal(ctx, w.owner, annotations.GoalInput{Title: "Wait longer", Criteria: []annotations.GoalCriterion{{RubricID: w.rubricID, Criterion: "wait-time"}}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.CreateGoal(ctx, w.owner, annotations.GoalInput{Title: "x", Criteria: []annotations.GoalCriterion{{RubricID: w.rubricID, Criterion: "uptake"}}}); err == nil {
				t.Fatal("goal with a criterion of another rubric")
			}
			if _, err := w.svc.GetGoal(ctx, w.coach, g.ID); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("coach sees a goal without shared evidence: %v", err)
			}
			ann := w.mustCreate(t, w.coach, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](1), Body: "good pause"})
			if _, err := w.svc.AddEvidence(ctx, w.coach, g.ID, annotations.EvidenceInput{ClipID: w.clip}); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("coach adds evidence to an unseen goal: %v", err)
			}
			g, err = w.svc.AddEvidence(ctx, w.owner, g.ID, annotations.EvidenceInput{ClipID: w.clip, AnnotationID: ann.ID, Note: "here"})
			if err != nil || len(g.Evidence) != 1 {
				t.Fatalf("evidence = %+v, %v", g, err)
			}
			if _, err := w.svc.AddEvidence(ctx, w.owner, g.ID, annotations.EvidenceInput{ClipID: w.clip, AnnotationID: "nope"}); err == nil {
				t.Fatal("evidence with a missing annotation")
			}
			if gs, err := w.svc.ListGoals(ctx, w.coach, w.owner.UserID); err != nil || len(gs) != 1 {
				t.Fatalf("coach lists %d goals, %v", len(gs), err)
			}
			if gs, err := w.svc.ListGoals(ctx, w.other, w.owner.UserID); err != nil || len(gs) != 0 {
				t.Fatalf("other lists %d goals, %v", len(gs), err)
			}
			if _, err := w.svc.UpdateGoal(ctx, w.coach, g.ID, annotations.GoalPatch{Status: ptr("achieved")}); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("coach updates: %v", err)
			}
			if g, err := w.svc.UpdateGoal(ctx, w.owner, g.ID, annotations.GoalPatch{Status: ptr("achieved")}); err != nil || g.Status != "achieved" {
				t.Fatalf("update goal = %+v %v", g, err)
			}
		})
	}
}

func TestSeedStarterRubricsIsIdempotentAndRubricRights(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			if err := w.svc.SeedStarterRubrics(ctx); err != nil {
				t.Fatal(err)
			}
			rs, _ := w.svc.ListRubrics(ctx, w.peer, false)
			if len(rs) != 3 {
				t.Fatalf("%d rubrics after a second seed", len(rs))
			}
			content := annotations.RubricContent{Title: "Cohort rubric", Domains: []annotations.Domain{{Title: "Talk",
				Criteria: []annotations.Criterion{{Title: "Turn taking", Levels: []annotations.Level{{Label: "Low", Score: 1}, {Label: "High", Score: 2}}}}}}}
			if _, err := w.svc.CreateRubric(ctx, w.peer, annotations.RubricInput{GroupID: w.group, RubricContent: content}); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("peer creates a group rubric: %v", err)
			}
			if _, err := w.svc.CreateRubric(ctx, w.coach, annotations.RubricInput{RubricContent: content}); !errors.Is(err, apperr.ErrForbidden) {
				t.Fatalf("coach creates a site rubric: %v", err)
			}
			r, err := w.svc.CreateRubric(ctx, w.coach, annotations.RubricInput{GroupID: w.group, RubricContent: content})
			if err != nil || r.Domains[0].Criteria[0].Key != "turn-taking" || r.Domains[0].Criteria[0].Levels[1].Key != "high" {
				t.Fatalf("create group rubric = %+v, %v", r, err)
			}
			if _, err := w.svc.GetRubric(ctx, w.other, r.ID, 0, ""); !errors.Is(err, apperr.ErrNotFound) {
				t.Fatalf("member of another group reads the group rubric: %v", err)
			}
			if rs, _ := w.svc.ListRubrics(ctx, w.peer, false); len(rs) != 4 {
				t.Fatalf("peer lists %d rubrics", len(rs))
			}
			if _, err := w.svc.ArchiveRubric(ctx, w.coach, r.ID); err != nil {
				t.Fatal(err)
			}
			if rs, _ := w.svc.ListRubrics(ctx, w.peer, false); len(rs) != 3 {
				t.Fatalf("archived rubric still listed")
			}
			if _, err := w.svc.UpdateRubric(ctx, w.coach, r.ID, content); !errors.Is(err, apperr.ErrConflict) {
				t.Fatalf("edit an archived rubric: %v", err)
			}
		})
	}
}

func TestReflectFirstHidesRepliesAndTheirCount(t *testing.T) {
	t.Parallel()
	for _, d := range dbs() {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, d)
			ctx := context.Background()
			exec(t, w.db, `UPDATE clips SET reflect_first = TRUE WHERE id = ?`, w.clip)
			mine := w.mustCreate(t, w.owner, w.clip, annotations.AnnotationInput{StartMS: ptr[int64](100), Body: "I rushed here"})
			mustReply(t, w, w.coach, mine.ID, annotations.ReplyInput{Body: "coach's view"})
			mustReply(t, w, w.owner, mine.ID, annotations.ReplyInput{Body: "my follow-up"})
			check := func(wantCount int) {
				t.Helper()
				p, err := w.svc.List(ctx, w.owner, w.clip, annotations.ListQuery{})
				if err != nil || len(p.Items) != 1 || p.Items[0].ReplyCount != wantCount {
					t.Fatalf("list = %+v, %v; want reply_count %d", p.Items, err, wantCount)
				}
				got, err := w.svc.Get(ctx, w.owner, w.clip, mine.ID)
				if err != nil || got.ReplyCount != wantCount || len(got.Replies) != wantCount {
					t.Fatalf("get = %+v, %v", got, err)
				}
				items, _, err := w.svc.Search(ctx, w.owner, "rushed", "", 10)
				if err != nil || len(items) != 1 || items[0].ReplyCount != wantCount {
					t.Fatalf("search = %+v, %v", items, err)
				}
			}
			check(1)
			if p, _ := w.svc.List(ctx, w.coach, w.clip, annotations.ListQuery{}); p.Items[0].ReplyCount != 2 {
				t.Fatalf("coach sees reply_count %d", p.Items[0].ReplyCount)
			}
			if _, err := w.svc.SaveReflection(ctx, w.owner, w.clip, annotations.ReflectionInput{WentWell: "Questions"}); err != nil {
				t.Fatal(err)
			}
			if _, err := w.svc.SubmitReflection(ctx, w.owner, w.clip); err != nil {
				t.Fatal(err)
			}
			check(2)
		})
	}
}
