package server

import (
	"context"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/media"
)

// clipDirectory answers the annotations package's questions about clips
// with the media store, so both decide access with the same policy.
type clipDirectory struct{ clips *media.Clips }

var _ annotations.Clips = clipDirectory{}

// ClipDirectory returns the clip boundary the annotations service uses in
// the server, for tools (benchmarks) that build the service themselves.
func ClipDirectory(clips *media.Clips) annotations.Clips { return clipDirectory{clips: clips} }

func clipInfo(c media.Clip) annotations.ClipInfo {
	info := annotations.ClipInfo{ID: c.ID, OwnerID: c.Owner.ID, Title: c.Title, DurationMS: c.DurationMS, RubricID: c.RubricID,
		ReflectFirst: c.FeedbackAfterReflection, CreatedAt: c.CreatedAt}
	for _, g := range c.Audience.Groups {
		info.GroupIDs = append(info.GroupIDs, g.ID)
	}
	return info
}

func (d clipDirectory) Authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID string) (annotations.ClipInfo, error) {
	c, err := d.clips.Authorize(ctx, a, act, clipID)
	if err != nil {
		return annotations.ClipInfo{}, err
	}
	return clipInfo(c), nil
}

func (d clipDirectory) VisibleOwnedBy(ctx context.Context, a accounts.Actor, ownerID string) ([]annotations.ClipInfo, error) {
	cs, err := d.clips.VisibleOwnedBy(ctx, a, ownerID)
	if err != nil {
		return nil, err
	}
	out := make([]annotations.ClipInfo, len(cs))
	for i, c := range cs {
		out[i] = clipInfo(c)
	}
	return out, nil
}
