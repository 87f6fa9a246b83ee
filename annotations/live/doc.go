// Package live runs the live review room of each clip: who is watching
// (presence, playheads, typing, the host's pointer), annotation changes as
// they happen, and synchronized playback led by a host. Clients speak the
// JSON protocol in docs/live-protocol.md over one websocket per clip.
//
// Ordering: every durable room event (annotation changes, sync commands) is
// first appended to the clip's event log, where the database allocates a
// gap-free seq, and then published on the Bus. Each node's room delivers
// events strictly in seq order: a duplicate is dropped, and an event that
// skips ahead makes the room read the missing range from the log first. A
// periodic check of the log head repairs messages the bus lost. So every
// client on every node sees the same events in the same order, and a client
// that reconnects with its last seq receives exactly what it missed (from a
// bounded in-memory ring, or from the log when it is further behind).
// Presence is ephemeral: it travels on the bus only and is never replayed.
//
// Limits: one room per clip per node, created on first join and dropped when
// its last local member leaves. Each connection has a bounded send queue;
// a client that cannot keep up is disconnected (close 4008) and resumes
// with since, so a slow client never stalls a room. Replay is bounded
// (Config.MaxReplay); a client further behind reloads through the REST API.
// Sync commands are validated against the node's view of the session, which
// may trail another node's by the bus latency; the log order decides.
// Server clocks of all nodes are assumed to be NTP-synchronized, because
// sync states carry the appending node's wall-clock time.
//
// Access: a socket is authorized at the upgrade and re-checked while it is
// open: on every access change (Hub.AccessChanged, raised by accounts and
// media through a hook the server sets, and carried to every node on the
// bus), every Config.AccessCheckInterval, and the right to host on every
// sync command. The sockets a change concerns receive nothing until they
// are re-checked; those that lost access are closed (CloseSignedOut,
// CloseAccessRevoked). One user's sockets on a node are capped and share
// one message budget; both limits are per node.
package live
