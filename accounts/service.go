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
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Service is the accounts domain over the database.
type Service struct {
	db  *sqldb.DB
	log *slog.Logger
	now func() time.Time
	// Failed sign-ins are limited per email (guessing one account's
	// password) and, more loosely, per client address: a whole school often
	// shares one address behind its router.
	emailThrottle *Throttle
	ipThrottle    *Throttle
	dummyHash     string
	// SessionTTL is how long a sign-in lasts.
	SessionTTL time.Duration
	// OnAccessChange, when set (by the server's wiring), hears of every
	// change that may take access away; see AccessChanged.
	OnAccessChange func(ctx context.Context, c AccessChange)
}

// New returns the accounts service. now may be nil (time.Now).
func New(db *sqldb.DB, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{
		db: db, log: log, now: now,
		emailThrottle: NewThrottle(5, 15*time.Minute, now),
		ipThrottle:    NewThrottle(100, 15*time.Minute, now),
		dummyHash:     HashPassword("filmroom-timing-equalizer"),
		SessionTTL:    30 * 24 * time.Hour,
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

// Authenticate checks an email and password, throttling repeated failures
// per email and per client address.
func (s *Service) Authenticate(ctx context.Context, email, password, clientIP string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	wait := max(s.emailThrottle.Blocked(email), s.ipThrottle.Blocked(clientIP))
	if wait > 0 {
		return User{}, apperr.New(apperr.ErrTooManyRequests, "too_many_attempts",
			fmt.Sprintf("too many failed sign-ins; wait %d minutes and try again, or ask an admin to reset your password", int(wait.Minutes())+1))
	}
	var u User
	var hash string
	var created int64
	err := s.db.Reader().QueryRow(ctx, `SELECT id, email, name, admin, created_at, password_hash FROM users WHERE email = ?`, email).
		Scan(&u.ID, &u.Email, &u.Name, &u.Admin, &created, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		CheckPassword(s.dummyHash, password)
		s.emailThrottle.Fail(email)
		s.ipThrottle.Fail(clientIP)
		return User{}, ErrInvalidCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("sign in %s: %w", email, err)
	}
	if !CheckPassword(hash, password) {
		s.emailThrottle.Fail(email)
		s.ipThrottle.Fail(clientIP)
		s.log.Info("Sign-in failed.", "user_id", u.ID, "client_ip", clientIP)
		return User{}, ErrInvalidCredentials
	}
	s.emailThrottle.Reset(email)
	u.CreatedAt = sqldb.Time(created)
	return u, nil
}

// ChangePassword replaces the password after checking the current one, and
// signs out every other session.
func (s *Service) ChangePassword(ctx context.Context, userID, current, next, keepSessionToken string) error {
	var hash string
	if err := s.db.Reader().QueryRow(ctx, `SELECT password_hash FROM users WHERE id = ?`, userID).Scan(&hash); err != nil {
		return fmt.Errorf("change password of %s: %w", userID, err)
	}
	if !CheckPassword(hash, current) {
		return apperr.Invalid("current_password", "this is not your current password")
	}
	if err := checkPassword(next); err != nil {
		return apperr.Invalid("new_password", "%s", err.Error())
	}
	err := s.db.Tx(ctx, func(q sqldb.Q) error {
		if _, err := q.Exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`, HashPassword(next), sqldb.Millis(s.now()), userID); err != nil {
			return fmt.Errorf("change password of %s: %w", userID, err)
		}
		if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ? AND token_hash <> ?`, userID, hashToken(keepSessionToken)); err != nil {
			return fmt.Errorf("end other sessions of %s: %w", userID, err)
		}
		return nil
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID})
	}
	return err
}

// SetPassword replaces a password without the current one (the CLI's reset)
// and ends every session of the user.
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
		_, err = q.Exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
		return err
	})
	if err == nil {
		s.AccessChanged(ctx, AccessChange{UserID: userID})
	}
	return err
}

// Session is a signed-in browser.
type Session struct {
	Token     string // only known right after creation
	UserID    string
	CSRFToken string
	ExpiresAt time.Time
}

// CreateSession signs a user in and returns the secrets for the cookies.
func (s *Service) CreateSession(ctx context.Context, userID, userAgent string) (Session, error) {
	now := s.now()
	se := Session{Token: id.Secret(32), UserID: userID, CSRFToken: id.Secret(20), ExpiresAt: now.Add(s.SessionTTL)}
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	_, err := s.db.Writer().Exec(ctx, `INSERT INTO sessions (token_hash, user_id, csrf_token, user_agent, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		hashToken(se.Token), userID, se.CSRFToken, userAgent, sqldb.Millis(now), sqldb.Millis(se.ExpiresAt))
	if err != nil {
		return se, fmt.Errorf("create session for %s: %w", userID, err)
	}
	return se, nil
}

// SessionUser resolves a session cookie to its user and CSRF token.
func (s *Service) SessionUser(ctx context.Context, token string) (User, string, error) {
	var csrf string
	var expires, created int64
	var u User
	err := s.db.Reader().QueryRow(ctx, `SELECT u.id, u.email, u.name, u.admin, u.created_at, s.csrf_token, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, hashToken(token)).
		Scan(&u.ID, &u.Email, &u.Name, &u.Admin, &created, &csrf, &expires)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sqldb.Time(expires).Before(s.now())) {
		return User{}, "", apperr.ErrUnauthorized
	}
	if err != nil {
		return User{}, "", fmt.Errorf("read session: %w", err)
	}
	u.CreatedAt = sqldb.Time(created)
	return u, csrf, nil
}

// DeleteSession signs a browser out.
func (s *Service) DeleteSession(ctx context.Context, token string) error {
	h := hashToken(token)
	var userID string
	err := s.db.Reader().QueryRow(ctx, `SELECT user_id FROM sessions WHERE token_hash = ?`, h).Scan(&userID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if _, err := s.db.Writer().Exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, h); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	s.AccessChanged(ctx, AccessChange{UserID: userID})
	return nil
}

// PurgeExpired removes expired sessions; the server runs it periodically.
func (s *Service) PurgeExpired(ctx context.Context) error {
	_, err := s.db.Writer().Exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, sqldb.Millis(s.now()))
	if err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	return nil
}

// APIToken is a personal token for scripts, sent as "Authorization: Bearer".
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"` // shown once, at creation
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// TokenPrefix marks filmroom tokens so that secret scanners can spot them.
const TokenPrefix = "frt_"

// CreateToken makes a personal API token.
func (s *Service) CreateToken(ctx context.Context, userID, name string) (APIToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return APIToken{}, apperr.Invalid("name", "name the token after the script that uses it (1–100 characters)")
	}
	now := s.now()
	t := APIToken{ID: id.New(), Name: name, Token: TokenPrefix + id.Secret(32), CreatedAt: sqldb.Time(sqldb.Millis(now))}
	_, err := s.db.Writer().Exec(ctx, `INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?, ?)`,
		t.ID, userID, t.Name, hashToken(t.Token), sqldb.Millis(now))
	if err != nil {
		return APIToken{}, fmt.Errorf("create token for %s: %w", userID, err)
	}
	return t, nil
}

// Tokens lists a user's tokens (without secrets).
func (s *Service) Tokens(ctx context.Context, userID string) ([]APIToken, error) {
	rows, err := s.db.Reader().Query(ctx, `SELECT id, name, created_at, last_used_at FROM api_tokens WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list tokens of %s: %w", userID, err)
	}
	defer rows.Close()
	out := []APIToken{}
	for rows.Next() {
		var t APIToken
		var created int64
		var used sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &created, &used); err != nil {
			return nil, err
		}
		t.CreatedAt, t.LastUsedAt = sqldb.Time(created), sqldb.NullTime(used)
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteToken revokes one of the user's tokens.
func (s *Service) DeleteToken(ctx context.Context, userID, tokenID string) error {
	res, err := s.db.Writer().Exec(ctx, `DELETE FROM api_tokens WHERE id = ? AND user_id = ?`, tokenID, userID)
	if err != nil {
		return fmt.Errorf("delete token %s: %w", tokenID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return apperr.NotFound("token")
	}
	s.AccessChanged(ctx, AccessChange{UserID: userID})
	return nil
}

// TokenUser resolves a bearer token to its user.
func (s *Service) TokenUser(ctx context.Context, token string) (User, error) {
	u, _, err := s.tokenUser(ctx, token)
	return u, err
}

// tokenUser resolves a bearer token to its user and the token's ID.
func (s *Service) tokenUser(ctx context.Context, token string) (User, string, error) {
	if !strings.HasPrefix(token, TokenPrefix) {
		return User{}, "", apperr.ErrUnauthorized
	}
	var tokenID string
	var u User
	var created int64
	err := s.db.Reader().QueryRow(ctx, `SELECT t.id, u.id, u.email, u.name, u.admin, u.created_at
		FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?`, hashToken(token)).
		Scan(&tokenID, &u.ID, &u.Email, &u.Name, &u.Admin, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", apperr.ErrUnauthorized
	}
	if err != nil {
		return User{}, "", fmt.Errorf("read token: %w", err)
	}
	u.CreatedAt = sqldb.Time(created)
	// Best effort: a failed usage stamp must not fail the request.
	if _, err := s.db.Writer().Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, sqldb.Millis(s.now()), tokenID); err != nil {
		s.log.Warn("Could not record token use.", "token_id", tokenID, "error", err)
	}
	return u, tokenID, nil
}
