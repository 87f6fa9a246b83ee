package upload

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
)

// tusd answers any store error with 500 and the raw error text, which
// names the bucket, object keys and internal addresses, and tells a person
// nothing they can act on. errorWriter holds such an answer back, logs the
// raw text, and answers instead: 503 with Retry-After when the storage could
// not be reached (the bytes already received are kept, so the client resumes
// once it is back), else a plain 500 without internals.
type errorWriter struct {
	http.ResponseWriter
	log    *slog.Logger
	r      *http.Request
	status int // 500 held back, 0 otherwise
	body   bytes.Buffer
}

// storageAwayMarks are what the S3 and file stores say when the storage
// itself is away rather than the request being wrong.
var storageAwayMarks = []string{"connection refused", "connection reset", "request send failed", "i/o timeout",
	"no such host", "broken pipe", "ServiceUnavailable", "SlowDown", "XMinioServerNotInitialized"}

// RetryAfterStorage is the Retry-After (seconds) of an upload request that
// met storage that is away.
const RetryAfterStorage = "5"

func (e *errorWriter) WriteHeader(status int) {
	if status == http.StatusInternalServerError && e.status == 0 {
		e.status = status
		return
	}
	e.ResponseWriter.WriteHeader(status)
}

func (e *errorWriter) Write(p []byte) (int, error) {
	if e.status != 0 {
		return e.body.Write(p)
	}
	return e.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController (read deadlines) reach the connection.
func (e *errorWriter) Unwrap() http.ResponseWriter { return e.ResponseWriter }

// finish sends the held-back answer, if any.
func (e *errorWriter) finish() {
	if e.status == 0 {
		return
	}
	raw := strings.TrimSpace(e.body.String())
	away := false
	for _, m := range storageAwayMarks {
		away = away || strings.Contains(raw, m)
	}
	h := e.ResponseWriter.Header()
	h.Del("Content-Length")
	if away {
		e.log.WarnContext(e.r.Context(), "Upload request failed: the storage is unavailable.", "method", e.r.Method, "path", e.r.URL.Path, "error", raw)
		h.Set("Retry-After", RetryAfterStorage)
		plain(e.ResponseWriter, http.StatusServiceUnavailable,
			"ERR_STORAGE_UNAVAILABLE: the file storage is unavailable for a moment; what was uploaded is kept, resume the upload shortly")
		return
	}
	e.log.ErrorContext(e.r.Context(), "Upload request failed.", "method", e.r.Method, "path", e.r.URL.Path, "error", raw)
	plain(e.ResponseWriter, http.StatusInternalServerError,
		"ERR_INTERNAL_SERVER_ERROR: something went wrong storing the upload; it has been logged, resume the upload to try again")
}
