package accounts

import "context"

// Role is a member's role in a group.
type Role string

// The group roles.
const (
	RoleTeacher     Role = "teacher"
	RoleCoach       Role = "coach"
	RolePeer        Role = "peer"
	RoleFacilitator Role = "facilitator"
)

// Valid reports whether r is one of the four roles.
func (r Role) Valid() bool {
	switch r {
	case RoleTeacher, RoleCoach, RolePeer, RoleFacilitator:
		return true
	}
	return false
}

// Actor is the signed-in person a request acts for.
type Actor struct {
	UserID string
	Name   string
	Admin  bool
	// Via says how the request was authenticated: "session" or "token".
	Via string
	// Credential names what authenticated the request, opaque and stable:
	// "session:<id>" or "token:<token id>". Long-lived connections (live
	// rooms) keep it and ask Service.CheckCredential whether it still
	// holds. Empty for actors made without a credential (the CLI, tests).
	Credential string
}

type actorKey struct{}

// WithActor returns ctx carrying the actor.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx, if a person is signed in.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.UserID != ""
}

// Memberships maps group IDs to the actor's role in each group.
type Memberships map[string]Role

// Action is something one may do to a clip and what hangs off it
// (renditions, captions, annotations, the live room).
type Action string

// Clip actions.
const (
	// View: watch the clip, read its captions and the annotations shared
	// with its audience, join its live room.
	ClipView Action = "view"
	// Annotate: add annotations and replies, take part in the live room.
	ClipAnnotate Action = "annotate"
	// Host: start or take over a synchronized review session.
	ClipHost Action = "host"
	// Edit: rename, change the audience, edit captions, turn on reflect-first.
	ClipEdit Action = "edit"
	// Delete: remove the clip and everything stored for it.
	ClipDelete Action = "delete"
)

// ClipAccess is what the policy needs to know about a clip: who owns it and
// who it is shared with.
type ClipAccess struct {
	OwnerID  string
	UserIDs  []string
	GroupIDs []string
}

// CanClip is the one authorization decision for clips. Rules:
//   - the owner may do everything;
//   - a named user in the audience, and every member of an audience group,
//     may view and annotate; coaches and facilitators of an audience group
//     and named users may also host a synchronized session; peers and
//     teachers in the group may not;
//   - a site admin may delete any clip (take-down) but not view one that is
//     not shared with them: administration is not a way around a teacher's
//     privacy;
//   - nobody else may do anything, and the caller answers "not found" so
//     that clip IDs reveal nothing.
func CanClip(a Actor, m Memberships, act Action, c ClipAccess) bool {
	if a.UserID == "" {
		return false
	}
	if a.UserID == c.OwnerID {
		return true
	}
	if act == ClipDelete {
		return a.Admin
	}
	named := false
	for _, u := range c.UserIDs {
		if u == a.UserID {
			named = true
			break
		}
	}
	var best Role
	for _, g := range c.GroupIDs {
		if r, ok := m[g]; ok {
			if r == RoleCoach || r == RoleFacilitator || best == "" {
				best = r
			}
		}
	}
	if !named && best == "" {
		return false
	}
	switch act {
	case ClipView, ClipAnnotate:
		return true
	case ClipHost:
		return named || best == RoleCoach || best == RoleFacilitator
	default:
		return false
	}
}

// GroupAction is something one may do to a group.
type GroupAction string

// Group actions.
const (
	GroupView   GroupAction = "view"   // see the group and its members
	GroupInvite GroupAction = "invite" // create invitation links
	GroupManage GroupAction = "manage" // rename, change roles, remove members, archive
)

// CanGroup decides group actions: members see their group; facilitators
// and coaches invite; facilitators manage; site admins may do everything.
func CanGroup(a Actor, m Memberships, act GroupAction, groupID string) bool {
	if a.UserID == "" {
		return false
	}
	if a.Admin {
		return true
	}
	r, member := m[groupID]
	if !member {
		return false
	}
	switch act {
	case GroupView:
		return true
	case GroupInvite:
		return r == RoleFacilitator || r == RoleCoach
	case GroupManage:
		return r == RoleFacilitator
	}
	return false
}
