package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/media"
)

// captionEvents is the hook the caption store calls after every change (an
// edit, an upload, a revert, a step of the automatic captions job). It
// appends a captions.changed event with the clip's caption state to the
// clip's room log and publishes it, so everyone reviewing the clip gets the
// new captions and transcript without reloading. The change itself is
// already committed: a failure here is logged, and the rooms' repair reads
// the log anyway.
func captionEvents(cs *media.Captions, events *annotations.EventLog, publish func(context.Context, annotations.Event) error, log *slog.Logger) func(context.Context, string) {
	return func(ctx context.Context, clipID string) {
		// The request may end as soon as it has its answer; the event must
		// still be written.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		st, err := cs.State(ctx, clipID)
		if err != nil {
			log.Warn("Could not read captions to announce a change.", "clip_id", clipID, "error", err)
			return
		}
		data, err := json.Marshal(st)
		if err != nil {
			log.Warn("Could not encode captions to announce a change.", "clip_id", clipID, "error", err)
			return
		}
		e, err := events.Append(ctx, annotations.Event{ClipID: clipID, Type: annotations.EventCaptionsChanged, Data: data})
		if err != nil {
			log.Warn("Could not log a captions change.", "clip_id", clipID, "error", err)
			return
		}
		if publish != nil {
			if err := publish(ctx, e); err != nil {
				log.Warn("Could not announce a captions change; rooms pick it up from the log.", "clip_id", clipID, "error", err)
			}
		}
	}
}
