// Package accounts owns people and who may do what: users and their
// passwords, sign-in sessions and API tokens, groups (microteaching cohorts
// and coaches' caseloads) with member roles, invitations, and the one
// authorization policy that every read and write of a clip goes through.
//
// Limits: login throttling is kept in memory per node (a determined attacker
// spreading attempts over many nodes gets each node's allowance); sessions
// and tokens are stored hashed, so a database leak does not leak sign-ins.
package accounts
