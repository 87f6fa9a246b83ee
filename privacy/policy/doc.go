// Package policy owns the site's privacy policy: whether a clip that may
// show students needs consent on file before it is shared beyond its owner
// and coaches, whether downloads are allowed at all, and how long clips are
// kept (retention). Admins change it over HTTP (GET/PUT
// /admin/privacy); every signed-in user reads the part the web app needs
// (GET /privacy/policy). The media package applies it to clips; this
// package holds the rules as pure functions (Policy.Plan, Policy.KeepLimit)
// so that they are tested without a database.
//
// Limits: one policy per site. Dates are computed in UTC: a fixed
// end-of-year date of 07-31 means 00:00 UTC on 31 July. Each node caches
// the policy for CacheTTL, so a change made on one node reaches the others
// within that time (the node that saved it sees it at once).
package policy
