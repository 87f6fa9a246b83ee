package privacy

import (
	"context"
	"fmt"
	"sort"

	"github.com/filmroom/filmroom/internal/audit"
)

// ListForUser returns every entry a person's data export holds: what was
// done to their clips and what they did, newest first. The address is kept
// only on their own actions, as the owner's view of the log does.
func (l *Log) ListForUser(ctx context.Context, userID string) ([]audit.Event, error) {
	seen := map[string]bool{}
	var entries []Entry
	for _, f := range []Filter{{OwnerID: userID}, {ActorID: userID}} {
		f.Limit = MaxPage
		for {
			page, err := l.List(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("audit entries of %s: %w", userID, err)
			}
			for _, e := range page.Entries {
				if !seen[e.ID] {
					seen[e.ID] = true
					entries = append(entries, e)
				}
			}
			if page.Next == "" {
				break
			}
			f.After = page.Next
		}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].At.After(entries[j].At) })
	events := make([]audit.Event, 0, len(entries))
	for _, e := range entries {
		ev := audit.Event{At: e.At, ActorID: e.ActorID, Action: e.Action, ClipID: e.ClipID, ClipOwnerID: e.ClipOwnerID,
			ClipTitle: e.ClipTitle, Subject: e.Subject, Detail: e.Detail}
		if e.ActorID == userID {
			ev.Address = e.Address
		}
		events = append(events, ev)
	}
	return events, nil
}
