package upload

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// Sweep removes unfinished uploads that have seen no data for longer than
// olderThan, and returns how many it removed. Finished uploads are left to
// Completed and Finished.Remove. An upload being written to at that moment
// holds its lock and is skipped. The lead runs this periodically (hourly,
// with olderThan of a day or more, so a teacher can resume tomorrow).
func (u *Uploads) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	all, err := u.backend.list(ctx)
	if err != nil {
		return 0, fmt.Errorf("sweep uploads: %w", err)
	}
	now := u.cfg.Now()
	removed := 0
	var errs []error
	for _, s := range all {
		if now.Sub(s.LastActivity) <= olderThan {
			continue
		}
		ok, err := u.sweepOne(ctx, s.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			removed++
			u.log.InfoContext(ctx, "Removed abandoned upload", "upload_id", s.ID, "last_activity", s.LastActivity)
		}
	}
	return removed, errors.Join(errs...)
}

func (u *Uploads) sweepOne(ctx context.Context, id string) (bool, error) {
	lock, err := u.locker.NewLock(id)
	if err != nil {
		return false, fmt.Errorf("sweep %s: %w", id, err)
	}
	lctx, cancel := context.WithTimeout(ctx, time.Second)
	err = lock.Lock(lctx, func() {})
	cancel()
	if err != nil {
		return false, nil // in use right now, so not abandoned
	}
	defer func() { _ = lock.Unlock() }()
	info, err := u.info(ctx, id)
	if errors.Is(err, handler.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sweep %s: %w", id, err)
	}
	if !info.SizeIsDeferred && info.Offset == info.Size {
		return false, nil // finished: belongs to Completed
	}
	if err := u.remove(ctx, id); err != nil {
		return false, fmt.Errorf("sweep: %w", err)
	}
	return true, nil
}
