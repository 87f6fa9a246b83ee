package sqldb

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err says the database could not be reached
// or went away (stopped, restarting, refusing connections), as opposed to a
// query that is wrong. Such a failure is temporary: the HTTP layer answers
// 503 with Retry-After instead of 500, and the pools reconnect by
// themselves once the database is back.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P01-57P03: the server is
		// shutting down, crashed or not yet accepting connections; 53300:
		// too many connections.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02" ||
			pgErr.Code == "57P03" || pgErr.Code == "53300"
	}
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connectErr), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return true
	}
	// pgx reports a connection that died under a query without a typed
	// error.
	s := err.Error()
	return strings.Contains(s, "conn closed") || strings.Contains(s, "failed to connect to") ||
		strings.Contains(s, "failed to receive message") || strings.Contains(s, "server closed the connection")
}
