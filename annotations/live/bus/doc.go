// Package bus carries live-room messages between filmroom nodes. A room is
// one clip's live review; every node with members in the room subscribes to
// it and publishes what its own members do.
//
// Two implementations share one contract (and one test suite): Memory, for
// the single-binary default and for tests that simulate several nodes in one
// process, and NATS, core pub/sub with one subject per room
// ("filmroom.room.<clipID>"), for deployments with more than one node.
//
// Limits: delivery is at most once and unordered across publishers (NATS
// core has no persistence). Callers that need every message, in order, must
// put a sequence number in it and repair gaps from durable storage; the live
// package does exactly that with the clip event log. Messages from one
// publisher to one subscriber arrive in publish order.
package bus
