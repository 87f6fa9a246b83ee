// Package accounts owns people and who may do what: users and their
// passwords, sign-in sessions and API tokens, groups (microteaching cohorts
// and coaches' caseloads) with member roles, invitations, and the one
// authorization policy that every read and write of a clip goes through.
//
// Limits: sign-in and password-change throttles are counted in the database
// (internal/ratelimit), so every node shares them, before any password is
// hashed; at most GOMAXPROCS hashes run at once. Sessions and tokens are
// stored hashed, so a database leak does not leak sign-ins.
package accounts
