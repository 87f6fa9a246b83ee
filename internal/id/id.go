// Package id makes the identifiers filmroom gives to users, groups, clips and
// everything else: random, URL-safe and unguessable, so that knowing one ID
// tells nothing about another, and sortable by creation time.
package id

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

var enc = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// New returns a 26-character lowercase identifier: 48 bits of millisecond
// time (so IDs sort roughly by creation) followed by 80 random bits.
func New() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("id: crypto/rand failed: " + err.Error())
	}
	return enc.EncodeToString(b[:])
}

// Secret returns n random bytes encoded as lowercase base32, for tokens that
// are shown once (session cookies, invitation links, API tokens).
func Secret(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("id: crypto/rand failed: " + err.Error())
	}
	return enc.EncodeToString(b)
}

// Valid reports whether s looks like an ID made by New. Handlers use it to
// answer "not found" early for garbage in a path.
func Valid(s string) bool {
	if len(s) != 26 {
		return false
	}
	return strings.Trim(s, "0123456789abcdefghjkmnpqrstvwxyz") == ""
}
