package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/textcheck"
)

// Group is a microteaching cohort or a coach's caseload.
type Group struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	ReflectFirst bool      `json:"reflect_first"`
	MyRole       Role      `json:"my_role,omitempty"`
	MemberCount  int       `json:"member_count"`
	CreatedAt    time.Time `json:"created_at"`
}

// Member is a user's membership in a group.
type Member struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Role   Role   `json:"role"`
}

// GroupInput creates or edits a group.
type GroupInput struct {
	Name         string `json:"name"`
	Description  string `json:"description"`
	ReflectFirst bool   `json:"reflect_first"`
}

func (in *GroupInput) normalize() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	v := &apperr.Validation{}
	if p := textcheck.Line(in.Name); p != "" {
		v.Add("name", "%s", p)
	} else if in.Name == "" || utf8.RuneCountInString(in.Name) > 120 {
		v.Add("name", "give the group a name of 1–120 characters")
	}
	if p := textcheck.Block(in.Description); p != "" {
		v.Add("description", "%s", p)
	} else if utf8.RuneCountInString(in.Description) > 2000 {
		v.Add("description", "use at most 2000 characters")
	}
	return v.Err()
}

// Memberships returns the actor's role in each of their groups.
func (s *Service) Memberships(ctx context.Context, userID string) (Memberships, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT m.group_id, m.role FROM group_members m
		JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? AND g.archived_at IS NULL`, userID)
	if err != nil {
		return nil, fmt.Errorf("read memberships of %s: %w", userID, err)
	}
	defer rows.Close()
	m := Memberships{}
	for rows.Next() {
		var g string
		var r Role
		if err := rows.Scan(&g, &r); err != nil {
			return nil, err
		}
		m[g] = r
	}
	return m, rows.Err()
}

// CreateGroup makes a group whose creator is its facilitator.
func (s *Service) CreateGroup(ctx context.Context, a Actor, in GroupInput) (Group, error) {
	if err := in.normalize(); err != nil {
		return Group{}, err
	}
	now := s.now()
	g := Group{ID: id.New(), Name: in.Name, Description: in.Description, ReflectFirst: in.ReflectFirst,
		MyRole: RoleFacilitator, MemberCount: 1, CreatedAt: sqldb.Time(sqldb.Millis(now))}
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		if _, err := q.Exec(ctx, `INSERT INTO groups (id, name, description, reflect_first, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			g.ID, g.Name, g.Description, g.ReflectFirst, a.UserID, sqldb.Millis(now)); err != nil {
			return fmt.Errorf("create group: %w", err)
		}
		_, err := q.Exec(ctx, `INSERT INTO group_members (group_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`,
			g.ID, a.UserID, RoleFacilitator, sqldb.Millis(now))
		return err
	})
	return g, err
}

const groupSelect = `SELECT g.id, g.name, g.description, g.reflect_first, g.created_at,
	(SELECT COUNT(*) FROM group_members c WHERE c.group_id = g.id),
	COALESCE((SELECT m.role FROM group_members m WHERE m.group_id = g.id AND m.user_id = ?), '')
	FROM groups g`

func scanGroup(row interface{ Scan(...any) error }) (Group, error) {
	var g Group
	var created int64
	err := row.Scan(&g.ID, &g.Name, &g.Description, &g.ReflectFirst, &created, &g.MemberCount, &g.MyRole)
	g.CreatedAt = sqldb.Time(created)
	return g, err
}

// Groups lists the actor's groups (every group, for an admin), by name.
func (s *Service) Groups(ctx context.Context, a Actor) ([]Group, error) {
	q := groupSelect + ` WHERE g.archived_at IS NULL AND (? OR EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = g.id AND m.user_id = ?)) ORDER BY g.name, g.id`
	rows, err := s.db.Reader().Query(ctx, q, a.UserID, a.Admin, a.UserID)
	if err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", a.UserID, err)
	}
	defer rows.Close()
	out := []Group{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			return nil, fmt.Errorf("list groups: %w", err)
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// authorizeGroup loads the group when the actor may act on it; a group the
// actor may not see is "not found".
func (s *Service) authorizeGroup(ctx context.Context, a Actor, act GroupAction, groupID string) (Group, error) {
	g, err := scanGroup(s.db.Reader().QueryRow(ctx, groupSelect+` WHERE g.id = ? AND g.archived_at IS NULL`, a.UserID, groupID))
	if errors.Is(err, sql.ErrNoRows) {
		return g, apperr.NotFound("group")
	}
	if err != nil {
		return g, fmt.Errorf("read group %s: %w", groupID, err)
	}
	m := Memberships{}
	if g.MyRole != "" {
		m[groupID] = g.MyRole
	}
	if !CanGroup(a, m, GroupView, groupID) {
		return g, apperr.NotFound("group")
	}
	if !CanGroup(a, m, act, groupID) {
		return g, apperr.Forbidden("only the group's facilitators (and coaches, for invitations) may do this")
	}
	return g, nil
}

// Group returns a group and its members.
func (s *Service) Group(ctx context.Context, a Actor, groupID string) (Group, []Member, error) {
	g, err := s.authorizeGroup(ctx, a, GroupView, groupID)
	if err != nil {
		return g, nil, err
	}
	rows, err := s.db.Reader().Query(ctx, `SELECT u.id, u.name, u.email, m.role FROM group_members m
		JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY u.name, u.id`, groupID)
	if err != nil {
		return g, nil, fmt.Errorf("list members of %s: %w", groupID, err)
	}
	defer rows.Close()
	members := []Member{}
	for rows.Next() {
		var m Member
		if err := rows.Scan(&m.UserID, &m.Name, &m.Email, &m.Role); err != nil {
			return g, nil, err
		}
		members = append(members, m)
	}
	return g, members, rows.Err()
}

// UpdateGroup renames a group or changes its settings.
func (s *Service) UpdateGroup(ctx context.Context, a Actor, groupID string, in GroupInput) (Group, error) {
	if _, err := s.authorizeGroup(ctx, a, GroupManage, groupID); err != nil {
		return Group{}, err
	}
	if err := in.normalize(); err != nil {
		return Group{}, err
	}
	if _, err := s.db.Writer().Exec(ctx, `UPDATE groups SET name = ?, description = ?, reflect_first = ? WHERE id = ?`,
		in.Name, in.Description, in.ReflectFirst, groupID); err != nil {
		return Group{}, fmt.Errorf("update group %s: %w", groupID, err)
	}
	g, _, err := s.Group(ctx, a, groupID)
	return g, err
}

// ArchiveGroup hides a group; its clips stay with their owners.
func (s *Service) ArchiveGroup(ctx context.Context, a Actor, groupID string) error {
	if _, err := s.authorizeGroup(ctx, a, GroupManage, groupID); err != nil {
		return err
	}
	if _, err := s.db.Writer().Exec(ctx, `UPDATE groups SET archived_at = ? WHERE id = ?`, sqldb.Millis(s.now()), groupID); err != nil {
		return fmt.Errorf("archive group %s: %w", groupID, err)
	}
	s.AccessChanged(ctx, AccessChange{GroupID: groupID})
	return nil
}

// SetMemberRole changes a member's role. The last facilitator cannot step
// down, so that a group always has someone who can manage it.
func (s *Service) SetMemberRole(ctx context.Context, a Actor, groupID, userID string, role Role) error {
	if !role.Valid() {
		return apperr.Invalid("role", "choose teacher, coach, peer or facilitator")
	}
	if _, err := s.authorizeGroup(ctx, a, GroupManage, groupID); err != nil {
		return err
	}
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		if role != RoleFacilitator {
			if err := s.keepAFacilitator(ctx, q, groupID, userID); err != nil {
				return err
			}
		}
		res, err := q.Exec(ctx, `UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?`, role, groupID, userID)
		if err != nil {
			return fmt.Errorf("set role in %s: %w", groupID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFound("member")
		}
		return nil
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID, GroupID: groupID})
	}
	return err
}

func (s *Service) keepAFacilitator(ctx context.Context, q sqldb.Q, groupID, leavingUserID string) error {
	var others int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM group_members WHERE group_id = ? AND role = 'facilitator' AND user_id <> ?`,
		groupID, leavingUserID).Scan(&others); err != nil {
		return fmt.Errorf("count facilitators of %s: %w", groupID, err)
	}
	var isFac int
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM group_members WHERE group_id = ? AND role = 'facilitator' AND user_id = ?`,
		groupID, leavingUserID).Scan(&isFac); err != nil {
		return fmt.Errorf("read role in %s: %w", groupID, err)
	}
	if isFac > 0 && others == 0 {
		return apperr.New(apperr.ErrConflict, "last_facilitator", "a group needs at least one facilitator; make someone else facilitator first")
	}
	return nil
}

// RemoveMember takes a user out of a group; members may also leave.
func (s *Service) RemoveMember(ctx context.Context, a Actor, groupID, userID string) error {
	act := GroupManage
	if userID == a.UserID {
		act = GroupView
	}
	if _, err := s.authorizeGroup(ctx, a, act, groupID); err != nil {
		return err
	}
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		if err := s.keepAFacilitator(ctx, q, groupID, userID); err != nil {
			return err
		}
		res, err := q.Exec(ctx, `DELETE FROM group_members WHERE group_id = ? AND user_id = ?`, groupID, userID)
		if err != nil {
			return fmt.Errorf("remove member of %s: %w", groupID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFound("member")
		}
		return nil
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID, GroupID: groupID})
	}
	return err
}

// Invitation is a link that lets someone join a group with a role.
type Invitation struct {
	ID          string    `json:"id"`
	Token       string    `json:"token,omitempty"` // only at creation
	URL         string    `json:"url,omitempty"`
	GroupID     string    `json:"group_id"`
	GroupName   string    `json:"group_name"`
	Role        Role      `json:"role"`
	Email       string    `json:"email,omitempty"`
	InviterName string    `json:"inviter_name"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// InvitationInput creates an invitation.
type InvitationInput struct {
	Role           Role   `json:"role"`
	Email          string `json:"email"`
	ExpiresInHours int    `json:"expires_in_hours"`
}

// CreateInvitation makes an invitation link; default lifetime 7 days, at
// most 30.
func (s *Service) CreateInvitation(ctx context.Context, a Actor, groupID string, in InvitationInput) (Invitation, error) {
	g, err := s.authorizeGroup(ctx, a, GroupInvite, groupID)
	if err != nil {
		return Invitation{}, err
	}
	v := &apperr.Validation{}
	if !in.Role.Valid() {
		v.Add("role", "choose teacher, coach, peer or facilitator")
	}
	if in.Role == RoleFacilitator && g.MyRole != RoleFacilitator && !a.Admin {
		v.Add("role", "only facilitators may invite facilitators")
	}
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	if in.Email != "" && !strings.Contains(in.Email, "@") {
		v.Add("email", "enter an email address, or leave it empty for a link anyone can use once")
	}
	if in.ExpiresInHours == 0 {
		in.ExpiresInHours = 7 * 24
	}
	if in.ExpiresInHours < 1 || in.ExpiresInHours > 30*24 {
		v.Add("expires_in_hours", "choose between 1 hour and 30 days (720 hours)")
	}
	if err := v.Err(); err != nil {
		return Invitation{}, err
	}
	now := s.now()
	inv := Invitation{ID: id.New(), Token: id.Secret(24), GroupID: groupID, GroupName: g.Name, Role: in.Role, Email: in.Email,
		InviterName: a.Name, ExpiresAt: sqldb.Time(sqldb.Millis(now.Add(time.Duration(in.ExpiresInHours) * time.Hour)))}
	var email any
	if in.Email != "" {
		email = in.Email
	}
	_, err = s.db.Writer().Exec(ctx, `INSERT INTO invitations (id, token_hash, group_id, role, email, created_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		inv.ID, hashToken(inv.Token), groupID, inv.Role, email, a.UserID, sqldb.Millis(now), sqldb.Millis(inv.ExpiresAt))
	if err != nil {
		return Invitation{}, fmt.Errorf("create invitation to %s: %w", groupID, err)
	}
	return inv, nil
}

// ErrInvitationExpired is returned for an expired or used invitation.
var ErrInvitationExpired = apperr.New(apperr.ErrGone, "invitation_expired", "this invitation has expired or was already used; ask the group's facilitator for a new link")

func (s *Service) lookupInvitation(ctx context.Context, q sqldb.Q, token string) (Invitation, error) {
	var inv Invitation
	var email sql.NullString
	var expires int64
	var accepted sql.NullInt64
	err := q.QueryRow(ctx, `SELECT i.id, i.group_id, g.name, i.role, i.email, COALESCE(u.name, ''), i.expires_at, i.accepted_at
		FROM invitations i JOIN groups g ON g.id = i.group_id LEFT JOIN users u ON u.id = i.created_by
		WHERE i.token_hash = ? AND g.archived_at IS NULL`, hashToken(token)).
		Scan(&inv.ID, &inv.GroupID, &inv.GroupName, &inv.Role, &email, &inv.InviterName, &expires, &accepted)
	if errors.Is(err, sql.ErrNoRows) {
		return inv, apperr.NotFound("invitation")
	}
	if err != nil {
		return inv, fmt.Errorf("read invitation: %w", err)
	}
	inv.Email, inv.ExpiresAt = email.String, sqldb.Time(expires)
	if accepted.Valid || inv.ExpiresAt.Before(s.now()) {
		return inv, ErrInvitationExpired
	}
	return inv, nil
}

// Invitation describes an invitation to the person holding its link.
func (s *Service) Invitation(ctx context.Context, token string) (Invitation, error) {
	return s.lookupInvitation(ctx, s.db.Reader(), token)
}

// AcceptInvitation joins the group as the actor, or, when actor is nil,
// creates the account described by n first. It returns the user.
func (s *Service) AcceptInvitation(ctx context.Context, token string, actor *Actor, n NewUser) (User, string, error) {
	var u User
	var groupID string
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		inv, err := s.lookupInvitation(ctx, q, token)
		if err != nil {
			return err
		}
		groupID = inv.GroupID
		if actor == nil {
			if inv.Email != "" && !strings.EqualFold(strings.TrimSpace(n.Email), inv.Email) {
				return apperr.Invalid("email", "this invitation is for %s; sign up with that address", inv.Email)
			}
			if u, err = s.createUser(ctx, q, n, false); err != nil {
				return err
			}
		} else {
			if u, err = scanUser(q.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, actor.UserID)); err != nil {
				return fmt.Errorf("read user %s: %w", actor.UserID, err)
			}
			if inv.Email != "" && !strings.EqualFold(u.Email, inv.Email) {
				return apperr.Forbidden(fmt.Sprintf("this invitation is for %s; sign in with that account", inv.Email))
			}
		}
		now := sqldb.Millis(s.now())
		// Joining a group one is already in keeps the existing role, unless the
		// invitation grants facilitator.
		var existing string
		err = q.QueryRow(ctx, `SELECT role FROM group_members WHERE group_id = ? AND user_id = ?`, inv.GroupID, u.ID).Scan(&existing)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := q.Exec(ctx, `INSERT INTO group_members (group_id, user_id, role, created_at) VALUES (?, ?, ?, ?)`, inv.GroupID, u.ID, inv.Role, now); err != nil {
				return fmt.Errorf("join group %s: %w", inv.GroupID, err)
			}
		case err != nil:
			return fmt.Errorf("read membership: %w", err)
		case inv.Role == RoleFacilitator:
			if _, err := q.Exec(ctx, `UPDATE group_members SET role = ? WHERE group_id = ? AND user_id = ?`, inv.Role, inv.GroupID, u.ID); err != nil {
				return fmt.Errorf("promote in group %s: %w", inv.GroupID, err)
			}
		}
		res, err := q.Exec(ctx, `UPDATE invitations SET accepted_by = ?, accepted_at = ? WHERE id = ? AND accepted_at IS NULL`, u.ID, now, inv.ID)
		if err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrInvitationExpired
		}
		return nil
	})
	return u, groupID, err
}
