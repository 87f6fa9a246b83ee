package upload

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"
)

// completeAttempts is how often a failing Completed is tried before the
// upload is left for the next start.
const completeAttempts = 3

func (u *Uploads) worker() {
	defer u.wg.Done()
	for {
		select {
		case <-u.stop:
			return
		case id := <-u.queue:
			u.deliver(id)
		}
	}
}

// recover queues uploads that finished but whose completion was never
// delivered (error, crash or shutdown in between).
func (u *Uploads) recover() {
	defer u.wg.Done()
	ctx, cancel := context.WithTimeout(u.baseCtx, 10*time.Minute)
	defer cancel()
	all, err := u.backend.list(ctx)
	if err != nil {
		u.log.Error("Listing uploads for recovery failed", "error", err)
		return
	}
	for _, s := range all {
		info, err := u.info(ctx, s.ID)
		if err != nil || info.SizeIsDeferred || info.Offset != info.Size {
			continue
		}
		done, err := u.backend.isDone(ctx, s.ID)
		if err != nil || done {
			continue
		}
		u.log.Info("Recovering undelivered upload", "upload_id", s.ID)
		select {
		case u.queue <- s.ID:
		case <-u.stop:
			return
		}
	}
}

func (u *Uploads) info(ctx context.Context, id string) (handler.FileInfo, error) {
	up, err := u.core.GetUpload(ctx, id)
	if err != nil {
		return handler.FileInfo{}, err
	}
	return up.GetInfo(ctx)
}

// deliver hashes one finished upload and calls Completed, retrying a few
// times with growing pauses.
func (u *Uploads) deliver(id string) {
	for attempt := 1; ; attempt++ {
		err := u.deliverOnce(id)
		if err == nil {
			return
		}
		if u.baseCtx.Err() != nil {
			u.log.Info("Upload delivery interrupted by shutdown; it resumes on next start", "upload_id", id)
			return
		}
		if attempt == completeAttempts {
			u.log.Error("Upload delivery failed; it is retried on next start", "upload_id", id, "attempts", attempt, "error", err)
			return
		}
		u.log.Warn("Upload delivery failed; retrying", "upload_id", id, "attempt", attempt, "error", err)
		select {
		case <-time.After(time.Duration(attempt*attempt) * time.Second):
		case <-u.stop:
			return
		}
	}
}

func (u *Uploads) deliverOnce(id string) error {
	ctx, cancel := context.WithTimeout(u.baseCtx, u.cfg.CompletedTimeout)
	defer cancel()
	done, err := u.backend.isDone(ctx, id)
	if err != nil {
		return fmt.Errorf("check delivery marker: %w", err)
	}
	if done {
		return nil
	}
	up, err := u.core.GetUpload(ctx, id)
	if errors.Is(err, handler.ErrNotFound) {
		return nil // removed meanwhile (DELETE or Sweep)
	}
	if err != nil {
		return fmt.Errorf("load upload: %w", err)
	}
	info, err := up.GetInfo(ctx)
	if err != nil {
		return fmt.Errorf("load upload info: %w", err)
	}
	if info.SizeIsDeferred || info.Offset != info.Size {
		return fmt.Errorf("upload %s is not finished (%d of %d bytes)", id, info.Offset, info.Size)
	}
	// Hashed as it arrived where the upload store keeps a running hash;
	// read back otherwise.
	sum, hashed := "", false
	if h, ok := up.(interface{ sum(int64) (string, bool) }); ok {
		sum, hashed = h.sum(info.Size)
	}
	if !hashed {
		if sum, err = hashUpload(ctx, up, info.Size); err != nil {
			return err
		}
	}

	var removed atomic.Bool
	f := Finished{
		UploadID: id,
		UserID:   info.MetaData[ownerKey],
		Meta:     clientMeta(info.MetaData),
		Size:     info.Size,
		SHA256:   sum,
		Path:     u.backend.localPath(id),
		Open: func(ctx context.Context) (io.ReadCloser, error) {
			up, err := u.core.GetUpload(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("open upload %s: %w", id, err)
			}
			return up.GetReader(ctx)
		},
		Remove: func(ctx context.Context) error {
			removed.Store(true)
			return u.remove(ctx, id)
		},
	}
	start := time.Now()
	if err := u.cfg.Completed(ctx, f); err != nil {
		return fmt.Errorf("completed callback: %w", err)
	}
	u.log.Info("Upload delivered", "upload_id", id, "user_id", f.UserID, "size", f.Size, "sha256", sum, "callback_ms", time.Since(start).Milliseconds())
	if removed.Load() {
		return nil
	}
	// Record the delivery even if Close is cancelling us right now: the
	// callback has succeeded, and forgetting that means delivering twice.
	mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer mcancel()
	if err := u.backend.markDone(mctx, id); err != nil {
		// Completed succeeded; without the marker the next start delivers
		// again, which an idempotent Completed tolerates.
		u.log.Warn("Recording upload delivery failed", "upload_id", id, "error", err)
	}
	return nil
}

// hashUpload streams the assembled file through SHA-256 in constant memory.
func hashUpload(ctx context.Context, up handler.Upload, size int64) (string, error) {
	r, err := up.GetReader(ctx)
	if err != nil {
		return "", fmt.Errorf("open upload for hashing: %w", err)
	}
	defer r.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(h, ctxReader{ctx: ctx, r: r}, make([]byte, 1<<20))
	if err != nil {
		return "", fmt.Errorf("hash upload: %w", err)
	}
	if n != size {
		return "", fmt.Errorf("hash upload: read %d bytes, expected %d", n, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// remove terminates an upload (bytes and state) and its delivery marker.
func (u *Uploads) remove(ctx context.Context, id string) error {
	up, err := u.core.GetUpload(ctx, id)
	if err != nil && !errors.Is(err, handler.ErrNotFound) {
		return fmt.Errorf("remove upload %s: %w", id, err)
	}
	if err == nil {
		if err := u.term.AsTerminatableUpload(up).Terminate(ctx); err != nil && !errors.Is(err, handler.ErrNotFound) {
			return fmt.Errorf("remove upload %s: %w", id, err)
		}
	}
	if err := u.backend.clearDone(ctx, id); err != nil {
		return fmt.Errorf("remove upload %s marker: %w", id, err)
	}
	u.owners.forget(id)
	return nil
}
