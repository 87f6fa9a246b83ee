package accounts

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/textcheck"
)

// User is a person with an account.
type User struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedAt time.Time `json:"created_at"`
}

// Actor returns the user as the actor of a request.
func (u User) Actor(via string) Actor {
	return Actor{UserID: u.ID, Name: u.Name, Admin: u.Admin, Via: via}
}

// NewUser is what it takes to create an account.
type NewUser struct {
	Email    string `json:"email"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// MinPasswordLength is the shortest password accepted. Length beats
// composition rules, and a teacher can remember a passphrase.
const MinPasswordLength = 10

func (n *NewUser) normalize() error {
	n.Email = strings.ToLower(strings.TrimSpace(n.Email))
	n.Name = strings.TrimSpace(n.Name)
	v := &apperr.Validation{}
	if a, err := mail.ParseAddress(n.Email); err != nil || a.Address != n.Email || len(n.Email) > 254 {
		v.Add("email", "enter an email address like name@school.org")
	}
	if n.Name == "" {
		v.Add("name", "enter your name as colleagues should see it")
	} else if p := textcheck.Line(n.Name); p != "" {
		v.Add("name", "%s", p)
	} else if utf8.RuneCountInString(n.Name) > 100 {
		v.Add("name", "use at most 100 characters")
	}
	if err := checkPassword(n.Password); err != nil {
		v.Add("password", "%s", err.Error())
	}
	return v.Err()
}

func checkPassword(p string) error {
	switch {
	case utf8.RuneCountInString(p) < MinPasswordLength:
		return fmt.Errorf("use at least %d characters (a short sentence works well)", MinPasswordLength)
	case len(p) > 1024:
		return fmt.Errorf("use at most 1024 bytes")
	}
	return nil
}

// argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes),
// affordable on a 2-core server under a burst of sign-ins.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an encoded argon2id hash with its own salt.
func HashPassword(password string) string {
	salt := []byte(id.Secret(16))[:16]
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// CheckPassword compares a password with an encoded hash in constant time.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}
