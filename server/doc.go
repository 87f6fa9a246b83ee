// Package server wires filmroom together: configuration, the HTTP API (echo)
// with its middleware, authentication, the embedded web app, health and
// metrics endpoints, and the background loops. It owns no domain rules:
// those live in accounts, media and annotations, which it mounts.
package server
