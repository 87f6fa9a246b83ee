package upload

import "context"

// Forget removes an upload's bytes, state and delivery marker, for a clip
// that is deleted (hard delete). Removing an upload that is already gone
// is not an error, so a failed delete can be retried.
func (u *Uploads) Forget(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	return u.remove(ctx, id)
}
