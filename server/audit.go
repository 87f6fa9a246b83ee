package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/audit"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy"
)

// auditAddress puts the client address on the request's context, as the
// per-address rate limits see it (the echo IPExtractor clientIP sets up),
// so that the domains record it in the audit log without seeing requests.
func auditAddress(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		c.SetRequest(req.WithContext(audit.WithAddress(req.Context(), c.RealIP())))
		return next(c)
	}
}

// auditClipAccess lets the owner of a clip and site admins (who may take
// any clip down, and see the site's log) read the clip's audit log. Those
// who may only view the clip are refused; for everyone else the clip does
// not exist, as on every clip route.
func auditClipAccess(clips *media.Clips) privacy.ClipAccess {
	return func(ctx context.Context, a accounts.Actor, clipID string) error {
		_, err := clips.Authorize(ctx, a, accounts.ClipDelete, clipID)
		if errors.Is(err, apperr.ErrForbidden) {
			return apperr.Forbidden("only the clip's owner can see who viewed, downloaded or shared it")
		}
		return err
	}
}

// auditPurge removes audit entries past the retention period once a day;
// the hourly housekeeping asks it whether the day is up.
type auditPurge struct {
	log  *privacy.Log
	last time.Time
}

// due purges when a day has passed since the last purge (or none ran yet).
func (p *auditPurge) due(ctx context.Context, now time.Time, log *slog.Logger) {
	if p.log.Retention <= 0 || (!p.last.IsZero() && now.Sub(p.last) < 24*time.Hour) {
		return
	}
	p.last = now
	n, err := p.log.Purge(ctx, now.Add(-p.log.Retention))
	if err != nil {
		log.Warn("Could not purge old audit log entries.", "error", err)
	} else if n > 0 {
		log.Info("Purged old audit log entries.", "count", n, "retention", p.log.Retention.String())
	}
}

// retentionJob applies the retention policy once a day (media.Clips.
// ApplyRetention); the hourly housekeeping asks it whether the day is up.
// Admins can also run it at once (POST /admin/privacy/retention/run).
type retentionJob struct {
	clips *media.Clips
	last  time.Time
}

// due runs the job when a day has passed since the last run (or none ran).
func (j *retentionJob) due(ctx context.Context, now time.Time, log *slog.Logger) {
	if !j.last.IsZero() && now.Sub(j.last) < 24*time.Hour {
		return
	}
	j.last = now
	if _, err := j.clips.ApplyRetention(ctx); err != nil {
		log.Warn("Could not apply the retention policy; it is tried again in a day.", "error", err)
	}
}
