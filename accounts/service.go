package accounts

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Service is the accounts domain over the database.
type Service struct {
	db  *sqldb.DB
	log *slog.Logger
	now func() time.Time
	// limiter counts sign-in and password guesses in the database, so that
	// every node shares the counts (see Limits).
	limiter ratelimit.Limiter
	// Limits are the sign-in throttles; set before serving.
	Limits Limits
	// hashes bounds concurrent password hashes (see hashSlots); HashWait is
	// how long a request waits for one.
	hashes    chan struct{}
	HashWait  time.Duration
	dummyHash string
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// OnAccessChange, when set (by the server's wiring), hears of every
	// change that may take access away; see AccessChanged.
	OnAccessChange func(ctx context.Context, c AccessChange)
	// Audit records sign-ins and failed sign-ins (audit.Nop until wired).
	Audit audit.Recorder
}

// New returns the accounts service. now may be nil (time.Now).
func New(db *sqldb.DB, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{
		db: db, log: log, now: now,
		limiter:    ratelimit.NewSQL(db, now),
		Limits:     DefaultLimits(),
		hashes:     hashSlots(),
		HashWait:   DefaultHashWait,
		dummyHash:  HashPassword("filmroom-timing-equalizer"),
		SessionTTL: 30 * 24 * time.Hour,
		Audit:      audit.Nop{},
	}
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

const userCols = `id, email, name, admin, created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	if err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Admin, &created); err != nil {
		return u, err
	}
	u.CreatedAt = sqldb.Time(created)
	return u, nil
}

// UserCount returns how many accounts exist; zero means first run.
func (s *Service) UserCount(ctx context.Context) (int, error) {
	var n int
	if err := s.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CreateUser adds an account. A taken email is a field error.
func (s *Service) CreateUser(ctx context.Context, n NewUser, admin bool) (User, error) {
	return s.createUser(ctx, s.db.Writer(), n, admin)
}

func (s *Service) createUser(ctx context.Context, q sqldb.Q, n NewUser, admin bool) (User, error) {
	if err := n.normalize(); err != nil {
		return User{}, err
	}
	now := s.now()
	u := User{ID: id.New(), Email: n.Email, Name: n.Name, Admin: admin, CreatedAt: sqldb.Time(sqldb.Millis(now))}
	_, err := q.Exec(ctx, `INSERT INTO users (id, email, name, password_hash, admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, HashPassword(n.Password), admin, sqldb.Millis(now), sqldb.Millis(now))
	if sqldb.IsUniqueViolation(err) {
		return User{}, apperr.Invalid("email", "an account with this email already exists; sign in instead")
	}
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Email, err)
	}
	return u, nil
}

// Setup creates the first admin. It fails once any account exists, so the
// first-run page cannot be replayed to take over a running site.
func (s *Service) Setup(ctx context.Context, n NewUser) (User, error) {
	var u User
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		var count int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM users`).Scan(&count); err != nil {
			return fmt.Errorf("count users: %w", err)
		}
		if count > 0 {
			return apperr.New(apperr.ErrConflict, "already_set_up", "filmroom is already set up; sign in, or ask an admin for an invitation")
		}
		var err error
		u, err = s.createUser(ctx, q, n, true)
		return err
	})
	return u, err
}

// User returns one user.
func (s *Service) User(ctx context.Context, userID string) (User, error) {
	u, err := scanUser(s.db.Reader().QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, userID))
	if errors.Is(err, sql.ErrNoRows) {
		return u, apperr.NotFound("user")
	}
	if err != nil {
		return u, fmt.Errorf("read user %s: %w", userID, err)
	}
	return u, nil
}

// Users lists every account (for admins and the CLI), by email.
func (s *Service) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT `+userCols+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// ErrInvalidCredentials is the one answer for a wrong email or password.
var ErrInvalidCredentials = apperr.New(apperr.ErrUnauthorized, "invalid_credentials", "the email or password is not right; check both and try again")

// Authenticate checks an email and password. The attempt is counted
// against the sign-in limits (Limits) before the password is hashed, and
// hashes wait for one of a few slots, so a flood of guesses neither gets
// through nor exhausts memory.
func (s *Service) Authenticate(ctx context.Context, email, password, clientIP string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	attempt, err := s.countSignIn(ctx, email, clientIP)
	if err != nil {
		return User{}, err
	}
	release, err := s.hashSlot(ctx)
	if err != nil {
		attempt.notChecked(ctx)
		return User{}, err
	}
	defer release()
	var u User
	var hash string
	var created int64
	err = s.db.Reader().QueryRow(ctx, `SELECT id, email, name, admin, created_at, password_hash FROM users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.Admin, &created, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		CheckPassword(s.dummyHash, password)
		s.recordSignIn(ctx, audit.SignInFailed, "", email, clientIP, "unknown email")
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		attempt.notChecked(ctx)
		return User{}, fmt.Errorf("sign in %s: %w", email, err)
	}
	if !CheckPassword(hash, password) {
		s.log.Info("Sign-in failed.", "user_id", u.ID, "client_ip", clientIP)
		s.recordSignIn(ctx, audit.SignInFailed, u.ID, email, clientIP, "wrong password")
		return User{}, ErrInvalidCredentials
	}
	attempt.succeeded(ctx)
	s.recordSignIn(ctx, audit.SignIn, u.ID, email, clientIP, "password")
	u.CreatedAt = sqldb.Time(created)
	return u, nil
}

// ChangePassword replaces the password after checking the current one, and
// signs out every other session and revokes every API token: whoever made
// the change may be locking out someone who stole the old password.
// Guesses of the current password are limited per user (Limits.Password),
// counted before hashing.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, keepSessionToken string) error {
	if err := s.recheckPassword(ctx, userID, current, "current_password",
		"too many wrong current passwords; wait %s and try again, or sign out and reset your password",
		"this is not your current password"); err != nil {
		return err
	}
	if err := checkPassword(next); err != nil {
		return apperr.Invalid("new_password", "%s", err.Error())
	}
	// Hashed outside the transaction, so the write lock is not held for it.
	nextHash := HashPassword(next)
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		if _, err := q.Exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, nextHash, sqldb.Millis(s.now()), userID); err != nil {
			return fmt.Errorf("change password of %s: %w", userID, err)
		}
		if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, hashToken(keepSessionToken)); err != nil {
			return fmt.Errorf("end other sessions of %s: %w", userID, err)
		}
		return revokeTokens(ctx, q, userID)
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID})
	}
	return err
}

// SetPassword replaces a password without the current one (the CLI's reset)
// and ends every session and revokes every API token of the user.
func (s *Service) SetPassword(ctx context.Context, userID, password string) error {
	if err := checkPassword(password); err != nil {
		return apperr.Invalid("password", "%s", err.Error())
	}
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		res, err := q.Exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, HashPassword(password), sqldb.Millis(s.now()), userID)
		if err != nil {
			return fmt.Errorf("set password of %s: %w", userID, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.NotFound("user")
		}
		if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID); err != nil {
			return fmt.Errorf("end sessions of %s: %w", userID, err)
		}
		return revokeTokens(ctx, q, userID)
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID})
	}
	return err
}

// recordSignIn stores a sign-in or failed sign-in in the audit log. The
// email tried is the subject (the only name an unknown one has). A log
// that cannot be written is logged and does not change the answer.
func (s *Service) recordSignIn(ctx context.Context, act audit.Action, userID, email, clientIP, detail string) {
	e := audit.Event{At: s.now(), ActorID: userID, Action: act, Subject: email, Detail: detail, Address: clientIP}
	if err := s.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("Could not record a sign-in in the audit log.", "action", string(act), "user_id", userID, "error", err)
	}
}
