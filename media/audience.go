package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/textcheck"
)

// Who a clip is shared with: reading the audience of clips, and replacing
// it (SetAudience).

// loadAudience fills the audience of the clips in place.
func (s *Clips) loadAudience(ctx context.Context, clips []*Clip) error {
	if len(clips) == 0 {
		return nil
	}
	byID := map[string]*Clip{}
	ids := make([]any, 0, len(clips))
	for _, c := range clips {
		byID[c.ID] = c
		ids = append(ids, c.ID)
	}
	r := s.db.Reader()
	rows, err := r.Query(ctx, `SELECT a.clip_id, u.id, u.name FROM clip_audience_users a JOIN users u ON u.id = a.user_id
		WHERE a.clip_id IN (`+sqldb.In(len(ids))+`) ORDER BY u.name, u.id`, ids...)
	if err != nil {
		return fmt.Errorf("read clip audience: %w", err)
	}
	for rows.Next() {
		var clipID string
		var p Person
		if err := rows.Scan(&clipID, &p.ID, &p.Name); err != nil {
			rows.Close()
			return err
		}
		byID[clipID].Audience.Users = append(byID[clipID].Audience.Users, p)
	}
	rows.Close()
	rows, err = r.Query(ctx, `SELECT clip_id, email, COALESCE(user_id, '') FROM clip_audience_emails
		WHERE clip_id IN (`+sqldb.In(len(ids))+`) ORDER BY email`, ids...)
	if err != nil {
		return fmt.Errorf("read clip audience: %w", err)
	}
	for rows.Next() {
		var clipID, email, userID string
		if err := rows.Scan(&clipID, &email, &userID); err != nil {
			rows.Close()
			return err
		}
		byID[clipID].Audience.addEmail(email, userID)
	}
	rows.Close()
	rows, err = r.Query(ctx, `SELECT a.clip_id, g.id, g.name, g.reflect_first FROM clip_audience_groups a JOIN groups g ON g.id = a.group_id
		WHERE a.clip_id IN (`+sqldb.In(len(ids))+`) AND g.archived_at IS NULL ORDER BY g.name, g.id`, ids...)
	if err != nil {
		return fmt.Errorf("read clip audience: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var clipID string
		var g GroupRef
		var reflectFirst bool
		if err := rows.Scan(&clipID, &g.ID, &g.Name, &reflectFirst); err != nil {
			return err
		}
		c := byID[clipID]
		c.Audience.Groups = append(c.Audience.Groups, g)
		c.FeedbackAfterReflection = c.FeedbackAfterReflection || reflectFirst
	}
	return rows.Err()
}

func (au *Audience) addEmail(email, userID string) {
	au.Emails = append(au.Emails, email)
	if userID != "" {
		au.emailUsers = append(au.emailUsers, userID)
	}
}

// AudienceInput replaces who a clip is shared with.
type AudienceInput struct {
	UserIDs  []string `json:"user_ids"`
	Emails   []string `json:"emails"`
	GroupIDs []string `json:"group_ids"`
}

// MaxAudiencePeople caps the people named in one audience; groups are the
// way to share with more. It also bounds what one request can learn by
// trying addresses.
const MaxAudiencePeople = 50

// SetAudience replaces the clip's audience. Groups must be the owner's own.
// People are named by ID (only people the sharer shares a group with, or
// who are in the audience already) or by email. An email is kept as typed
// and listed back to the sharer whether or not it has an account, so that
// sharing never tells who is registered; it grants access only when it
// named an account at the time of saving (there is no email verification,
// so an address is never handed to whoever signs up with it later).
func (s *Clips) SetAudience(ctx context.Context, a accounts.Actor, clipID string, in AudienceInput) (Clip, error) {
	c, err := s.Authorize(ctx, a, accounts.ClipEdit, clipID)
	if err != nil {
		return c, err
	}
	if err := c.checkShare(in); err != nil {
		return c, err
	}
	if len(in.UserIDs)+len(in.Emails) > MaxAudiencePeople || len(in.GroupIDs) > 100 {
		return c, apperr.Invalid("audience", "share with at most %d people and 100 groups in one go; use groups for larger audiences", MaxAudiencePeople)
	}
	m, err := s.acc.Memberships(ctx, c.Owner.ID)
	if err != nil {
		return c, err
	}
	v := &apperr.Validation{}
	for _, g := range in.GroupIDs {
		if _, ok := m[g]; !ok {
			v.Add("group_ids", "the clip's owner can only share with groups they belong to")
		}
	}
	current := map[string]bool{}
	for _, u := range c.Audience.Users {
		current[u.ID] = true
	}
	emails := map[string]bool{}
	for _, e := range in.Emails {
		e = strings.ToLower(strings.TrimSpace(e))
		if addr, perr := mail.ParseAddress(e); perr != nil || addr.Address != e || len(e) > 254 || textcheck.Line(e) != "" {
			v.Add("emails", "%q is not an email address like name@school.org", e)
			continue
		}
		emails[e] = true
	}
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		users := map[string]bool{}
		for _, uid := range in.UserIDs {
			ok := current[uid] || uid == c.Owner.ID
			if !ok && id.Valid(uid) {
				// Someone the sharer knows from a group (admins know everyone).
				var n int
				if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM users u WHERE u.id = ? AND (? OR EXISTS (SELECT 1 FROM group_members x
					JOIN group_members y ON y.group_id = x.group_id JOIN groups g ON g.id = x.group_id
					WHERE x.user_id = ? AND y.user_id = u.id AND g.archived_at IS NULL))`, uid, a.Admin, a.UserID).Scan(&n); err != nil {
					return err
				}
				ok = n > 0
			}
			if !ok {
				// The same answer for an unknown ID and a stranger's.
				v.Add("user_ids", "you can only name people you share a group with; add others by email")
				continue
			}
			users[uid] = true
		}
		delete(users, c.Owner.ID)
		byEmail := map[string]any{}
		for e := range emails {
			var uid string
			err := q.QueryRow(ctx, `SELECT id FROM users WHERE email = ?`, e).Scan(&uid)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				byEmail[e] = nil
			case err != nil:
				return err
			default:
				byEmail[e] = uid
			}
		}
		if err := v.Err(); err != nil {
			return err
		}
		for _, table := range []string{"clip_audience_users", "clip_audience_groups", "clip_audience_emails"} {
			if _, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE clip_id = ?`, clipID); err != nil {
				return err
			}
		}
		for uid := range users {
			if _, err := q.Exec(ctx, `INSERT INTO clip_audience_users (clip_id, user_id) VALUES (?, ?)`, clipID, uid); err != nil {
				return err
			}
		}
		for e, uid := range byEmail {
			if _, err := q.Exec(ctx, `INSERT INTO clip_audience_emails (clip_id, email, user_id) VALUES (?, ?, ?)`, clipID, e, uid); err != nil {
				return err
			}
		}
		seen := map[string]bool{}
		for _, g := range in.GroupIDs {
			if seen[g] {
				continue
			}
			seen[g] = true
			if _, err := q.Exec(ctx, `INSERT INTO clip_audience_groups (clip_id, group_id) VALUES (?, ?)`, clipID, g); err != nil {
				return err
			}
		}
		_, err := q.Exec(ctx, `UPDATE clips SET updated_at = ? WHERE id = ?`, sqldb.Millis(s.now()), clipID)
		return err
	})
	if err != nil {
		var ve *apperr.Validation
		if errors.As(err, &ve) {
			return c, err
		}
		return c, fmt.Errorf("set audience of %s: %w", clipID, err)
	}
	// Whoever was taken out of the audience loses the live room at once.
	s.acc.AccessChanged(ctx, accounts.AccessChange{ClipID: clipID})
	after, err := s.Authorize(ctx, a, accounts.ClipView, clipID)
	if err == nil {
		s.recordAudience(ctx, a, c, after)
	}
	return after, err
}
