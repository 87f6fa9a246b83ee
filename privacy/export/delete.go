package export

import (
	"context"
	"fmt"
	"strings"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Account deletion. The choices (docs/security.md, "Privacy: account
// deletion"):
//
//   - Every clip the user owns goes through the media hard delete first,
//     one by one; if one fails, the deletion stops with the account still
//     there (and fewer clips), and asking again finishes it.
//   - What the user wrote on other people's clips (annotations, replies)
//     is deleted, not anonymised: feedback is personal data, and an
//     anonymised "someone said" in a small group still names its author.
//     Their edit history and the live-room events that carry them go too,
//     and the clips' event seq moves on so no cached view still shows them.
//   - Groups: refused while the user is the only facilitator of a group
//     with other members (someone must be able to run it); a group whose
//     only member is the user is deleted with them; in other groups only
//     their membership goes.
//   - Marks that merely name them on others' rows (who deleted or added
//     something) are blanked; shares by their email address are removed.
//   - Sessions, tokens, memberships, reflections and goals go with the user
//     row (foreign keys cascade), which signs them out everywhere; the live
//     rooms re-check access at once (accounts.AccessChanged).
//   - The site's last administrator cannot delete their account: the
//     server would then offer its first-run setup to anyone.
//   - The audit log keeps that the account was deleted (by design).

// DeleteAccount deletes the actor's account and all their data after
// checking their password (throttled like a password change).
func (x *Exporter) DeleteAccount(ctx context.Context, a accounts.Actor, password string) error {
	if err := x.d.Accounts.VerifyPassword(ctx, a.UserID, password); err != nil {
		return err
	}
	u, err := x.d.Accounts.User(ctx, a.UserID)
	if err != nil {
		return err
	}
	r := x.d.DB.Reader()
	if u.Admin {
		// Without an administrator the server would offer its first-run
		// setup again, to whoever opens it first.
		var others int
		if err := r.QueryRow(ctx, `SELECT COUNT(*) FROM users WHERE admin = ? AND id <> ?`, true, u.ID).Scan(&others); err != nil {
			return fmt.Errorf("count administrators: %w", err)
		}
		if others == 0 {
			return apperr.New(apperr.ErrConflict, "last_admin",
				"you are the site's only administrator; create another administrator first (filmroom user add --admin), then delete your account")
		}
	}
	alone, err := queryStrings(ctx, r, `SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id
		WHERE m.user_id = ? AND m.role = 'facilitator' AND g.archived_at IS NULL
		AND NOT EXISTS (SELECT 1 FROM group_members f WHERE f.group_id = g.id AND f.user_id <> ? AND f.role = 'facilitator')
		AND EXISTS (SELECT 1 FROM group_members o WHERE o.group_id = g.id AND o.user_id <> ?) ORDER BY g.name`, a.UserID, a.UserID, a.UserID)
	if err != nil {
		return fmt.Errorf("check groups of %s: %w", a.UserID, err)
	}
	if len(alone) > 0 {
		return apperr.New(apperr.ErrConflict, "only_facilitator", fmt.Sprintf(
			"you are the only facilitator of %s, which has other members; make another member a facilitator (or remove the members) first, then delete your account",
			"“"+strings.Join(alone, "”, “")+"”"))
	}
	clips, err := queryStrings(ctx, r, `SELECT id FROM clips WHERE owner_id = ? ORDER BY created_at`, a.UserID)
	if err != nil {
		return fmt.Errorf("list clips of %s: %w", a.UserID, err)
	}
	for _, clipID := range clips {
		if err := x.d.Clips.Purge(ctx, clipID); err != nil {
			return fmt.Errorf("delete clip %s of %s: %w", clipID, a.UserID, err)
		}
	}
	if err := x.d.DB.Tx(ctx, func(q sqldb.Q) error { return forgetUser(ctx, q, u.ID, u.Email) }); err != nil {
		return fmt.Errorf("delete account %s: %w", a.UserID, err)
	}
	// Signed out everywhere (the sessions are gone); sockets close now.
	x.d.Accounts.AccessChanged(ctx, accounts.AccessChange{UserID: a.UserID})
	if err := x.recorder().Record(ctx, audit.Event{At: x.d.Now(), ActorID: a.UserID, Action: audit.AccountDelete, Subject: a.UserID,
		Detail: fmt.Sprintf("clips=%d", len(clips)), Address: audit.AddressFrom(ctx)}); err != nil {
		x.d.Log.Error("Could not record an account deletion in the audit log.", "user_id", a.UserID, "error", err)
	}
	x.d.Log.Info("Account deleted.", "user_id", a.UserID, "clips", len(clips))
	return nil
}

// forgetUser deletes the user row and every row that names the user
// without a cascading foreign key, in one transaction.
func forgetUser(ctx context.Context, q sqldb.Q, userID, email string) error {
	byUser := `(SELECT id FROM annotations WHERE author_id = ?)`
	repliesByUser := `(SELECT id FROM annotation_replies WHERE author_id = ?)`
	// Clips whose views showed the user's words: their seq moves on.
	touched := `(SELECT clip_id FROM annotations WHERE author_id = ? UNION SELECT clip_id FROM annotation_replies WHERE author_id = ?)`
	// SQLite and PostgreSQL both have instr-like search, spelled apart.
	contains := `instr(data, ?) > 0`
	if q.Dialect() == sqldb.Postgres {
		contains = `strpos(data, ?) > 0`
	}
	keys := []any{ratelimit.Key("password", userID), ratelimit.Key("write-user", userID), ratelimit.Key("upload-user", userID),
		ratelimit.Key("signin-email", email)}
	steps := []struct {
		what  string
		query string
		args  []any
	}{
		{"bump seq", `UPDATE clip_seq SET seq = seq + 1 WHERE clip_id IN ` + touched, []any{userID, userID}},
		{"edit history", `DELETE FROM annotation_revisions WHERE edited_by = ? OR target_id IN ` + byUser + ` OR target_id IN ` + repliesByUser,
			[]any{userID, userID, userID}},
		{"room events", `DELETE FROM clip_events WHERE actor_id = ? OR only_user_id = ? OR ` + contains, []any{userID, userID, userID}},
		{"shares by email", `DELETE FROM clip_audience_emails WHERE user_id = ? OR email = ?`, []any{userID, email}},
		{"invitations", `DELETE FROM invitations WHERE email = ?`, []any{email}},
		{"evidence marks", `UPDATE goal_evidence SET added_by = '' WHERE added_by = ?`, []any{userID}},
		{"deletion marks", `UPDATE annotations SET deleted_by = '' WHERE deleted_by = ?`, []any{userID}},
		{"reply deletion marks", `UPDATE annotation_replies SET deleted_by = '' WHERE deleted_by = ?`, []any{userID}},
		{"groups of one", `DELETE FROM groups WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?)
			AND NOT EXISTS (SELECT 1 FROM group_members o WHERE o.group_id = groups.id AND o.user_id <> ?)`, []any{userID, userID}},
		{"rate counts", `DELETE FROM ratelimit_buckets WHERE key IN (` + sqldb.In(len(keys)) + `)`, keys},
		{"rate back-off", `DELETE FROM ratelimit_backoff WHERE key IN (` + sqldb.In(len(keys)) + `)`, keys},
		// Sessions, tokens, memberships, annotations, replies, reflections
		// and goals cascade; rubric, group and caption authorship is set NULL.
		{"user", `DELETE FROM users WHERE id = ?`, []any{userID}},
	}
	for _, st := range steps {
		if _, err := q.Exec(ctx, st.query, st.args...); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

func queryStrings(ctx context.Context, q sqldb.Q, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
