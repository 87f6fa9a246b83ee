package accounts

import "context"

// AccessChange says that someone's access may just have shrunk: a session
// or token ended, a membership or role changed, a group was archived, a
// clip's audience changed or the clip was deleted. Empty fields are
// wildcards: {GroupID: g} concerns everyone who may see a clip through g,
// {ClipID: c} everyone in the clip's audience, {UserID: u} every
// connection of u. Long-lived connections (live rooms) re-authorize the
// connections a change concerns and close those that lost access.
type AccessChange struct {
	UserID  string `json:"user_id,omitempty"`
	ClipID  string `json:"clip_id,omitempty"`
	GroupID string `json:"group_id,omitempty"`
}

// AccessChanged reports c to the OnAccessChange hook, if the server set
// one. Domain packages (accounts, media) call it after committing a change
// that may take access away; the hook (the live hub, wired by the server)
// must not block.
func (s *Service) AccessChanged(ctx context.Context, c AccessChange) {
	if s != nil && s.OnAccessChange != nil {
		s.OnAccessChange(ctx, c)
	}
}
