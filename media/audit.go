package media

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/audit"
)

// record stores an audit event about clip c by a, with the request's
// client address. It never fails the caller: what happened has happened,
// and a log that cannot be written is the operator's to fix (logged here).
func (s *Clips) record(ctx context.Context, a accounts.Actor, act audit.Action, c Clip, subject, detail string) {
	e := audit.Event{At: s.now(), ActorID: a.UserID, Action: act, ClipID: c.ID, ClipOwnerID: c.Owner.ID, ClipTitle: c.Title,
		Subject: subject, Detail: detail, Address: audit.AddressFrom(ctx)}
	// The request may be over (a download the client closed at the end).
	if err := s.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("Could not record an audit event.", "action", string(act), "clip_id", c.ID, "user_id", a.UserID, "error", err)
	}
}

// Viewed records that a opened clip c (the clip page, GET /clips/:id).
// Media fetches are not views; the log counts repeated opens by one person
// within its view window once.
func (s *Clips) Viewed(ctx context.Context, a accounts.Actor, c Clip) {
	s.record(ctx, a, audit.ClipView, c, "", "")
}

// Downloaded records a download of clip c by a. A Range request that does
// not start at the first byte continues a download already recorded (a
// resumed or seeking client), so it is not recorded again.
func (s *Clips) Downloaded(ctx context.Context, a accounts.Actor, c Clip, r *http.Request) {
	if rg := r.Header.Get("Range"); rg != "" && !strings.HasPrefix(strings.ReplaceAll(rg, " ", ""), "bytes=0-") {
		return
	}
	s.record(ctx, a, audit.ClipDownload, c, "", "mp4")
}

// recordAudience records one share or unshare event per user, group and
// email added to or removed from the audience, from before to after.
func (s *Clips) recordAudience(ctx context.Context, a accounts.Actor, before, after Clip) {
	type member struct{ subject, detail string }
	members := func(au Audience) map[string]member {
		m := map[string]member{}
		for _, u := range au.Users {
			m["u:"+u.ID] = member{u.Name, "user " + u.ID}
		}
		for _, g := range au.Groups {
			m["g:"+g.ID] = member{g.Name, "group " + g.ID}
		}
		for _, e := range au.Emails {
			m["e:"+e] = member{e, "email"}
		}
		return m
	}
	was, now := members(before.Audience), members(after.Audience)
	for _, k := range sortedKeys(now) {
		if _, ok := was[k]; !ok {
			s.record(ctx, a, audit.ClipShare, after, now[k].subject, now[k].detail)
		}
	}
	for _, k := range sortedKeys(was) {
		if _, ok := now[k]; !ok {
			s.record(ctx, a, audit.ClipUnshare, after, was[k].subject, was[k].detail)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	// A stable order, so that one change reads the same every time.
	return slices.Sorted(maps.Keys(m))
}
