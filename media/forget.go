package media

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Hard delete. A deleted clip leaves nothing behind: no object (source,
// renditions, captions, thumbnails; exports are streamed and never stored),
// no tus upload, no row that names it, no search entry. The order makes a
// failure safe to retry:
//
//  1. the objects and the upload go first; if that fails the clip is still
//     there and the owner (or the caller) deletes it again;
//  2. then every row in one transaction: the clip (whose foreign keys
//     cascade to audiences, captions, transcripts, annotations, replies,
//     revisions, reflections, goal evidence and the room's events and seq),
//     the search segments, and whatever the Forget hooks name (River jobs);
//  3. then the objects are swept again, because a job that was storing
//     something while the rows went may have landed an object.
//
// Work that was under way for the clip checks, when it is done, that the
// clip still exists, and removes what it stored if not (Ingest, process).

// ErrClipDeleted reports that the clip an upload or a job worked for was
// deleted meanwhile; what the work stored has been removed again.
var ErrClipDeleted = errors.New("the clip was deleted meanwhile")

// ForgetClipJobs deletes the River jobs whose args name the clip (every
// media job carries {"clip_id": …}, see jobs.go). River keeps finished jobs
// for a day and has no foreign key to clips, so without this a deleted
// clip's ID stays in river_job. A running job whose row goes finds the clip
// gone and stops; River logs that it could not record the outcome.
func ForgetClipJobs(ctx context.Context, q sqldb.Q, clipID string) error {
	var query string
	switch q.Dialect() {
	case sqldb.SQLite:
		// SQLite: River stores args as JSONB, which json_extract reads.
		query = `DELETE FROM river_job WHERE json_extract(args, '$.clip_id') = ?`
	case sqldb.Postgres:
		query = `DELETE FROM river_job WHERE args->>'clip_id' = ?`
	default:
		return fmt.Errorf("forget jobs of clip %s: unsupported database %s", clipID, q.Dialect())
	}
	if _, err := q.Exec(ctx, query, clipID); err != nil {
		return fmt.Errorf("forget jobs of clip %s: %w", clipID, err)
	}
	return nil
}

// sweepAttempts bounds the second sweep of a deleted clip's objects (the
// rows are gone by then, so nobody could ask for it again).
const sweepAttempts = 3

// purge is Purge; keepUpload leaves the tus upload alone (a clip made for
// an upload whose file could not be read, which a retry makes again).
func (s *Clips) purge(ctx context.Context, clipID string, keepUpload bool) error {
	var uploadID string
	err := s.db.Writer().QueryRow(ctx, `SELECT COALESCE(upload_id, '') FROM clips WHERE id = ?`, clipID).Scan(&uploadID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("delete clip %s: %w", clipID, err)
	}
	if keepUpload {
		uploadID = ""
	}
	if err := s.sweep(ctx, clipID, uploadID); err != nil {
		return fmt.Errorf("delete stored media of clip %s: %w", clipID, err)
	}
	err = s.db.Tx(ctx, func(q sqldb.Q) error {
		// The clip row first: on PostgreSQL it locks the row, so work that
		// checks the clip still exists (clipGone) waits for this commit.
		if _, err := q.Exec(ctx, `DELETE FROM clips WHERE id = ?`, clipID); err != nil {
			return fmt.Errorf("delete clip %s: %w", clipID, err)
		}
		// The search entries go with the caption tracks by cascade; say it
		// here too so a schema change cannot leave them (on SQLite the
		// triggers keep the FTS index in step).
		if _, err := q.Exec(ctx, `DELETE FROM transcript_segments WHERE clip_id = ?`, clipID); err != nil {
			return fmt.Errorf("delete search entries of clip %s: %w", clipID, err)
		}
		if _, err := q.Exec(ctx, `DELETE FROM caption_chunks WHERE clip_id = ?`, clipID); err != nil {
			return fmt.Errorf("delete caption parts of clip %s: %w", clipID, err)
		}
		for _, forget := range s.Forget {
			if err := forget(ctx, q, clipID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.acc.AccessChanged(ctx, accounts.AccessChange{ClipID: clipID})
	s.compactSearch(ctx)
	// A job that was storing something for the clip while it was deleted
	// can no longer commit (its row is gone), but its object may have
	// landed; sweep once more so nothing is left behind.
	for attempt := 1; ; attempt++ {
		err := s.sweep(ctx, clipID, uploadID)
		if err == nil {
			break
		}
		if attempt == sweepAttempts || ctx.Err() != nil {
			s.log.Error("Could not sweep the media of a deleted clip; remove its objects by hand.", "clip_id", clipID,
				"prefix", clipPrefix(clipID), "error", err)
			break
		}
		select {
		case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	s.log.Info("Clip deleted.", "clip_id", clipID)
	return nil
}

// sweep removes the clip's objects and, when named, its upload.
func (s *Clips) sweep(ctx context.Context, clipID, uploadID string) error {
	if s.OnDelete != nil {
		if err := s.OnDelete(ctx, clipID); err != nil {
			return err
		}
	}
	if uploadID != "" && s.ForgetUpload != nil {
		if err := s.ForgetUpload(ctx, uploadID); err != nil {
			return fmt.Errorf("remove upload %s: %w", uploadID, err)
		}
	}
	return nil
}

// compactSearch makes SQLite's full-text index drop the deleted entries
// for good: FTS5 only marks them deleted until its segments are merged, and
// the words stay readable in the index's pages until then. PostgreSQL keeps
// the index in the row, which is gone. Best effort: the entries no longer
// match, and the next delete compacts again.
func (s *Clips) compactSearch(ctx context.Context) {
	if s.db.Dialect != sqldb.SQLite {
		return
	}
	if _, err := s.db.Writer().Exec(ctx, `INSERT INTO transcript_fts(transcript_fts) VALUES ('optimize')`); err != nil {
		s.log.Warn("Could not compact the transcript search index after a delete.", "error", err)
	}
}

// clipGone reports whether the clip's row is gone. It writes (a no-op
// update) rather than reads, so on PostgreSQL it waits for a delete of the
// clip that is under way and sees its outcome.
func (s *Clips) clipGone(ctx context.Context, clipID string) (bool, error) {
	res, err := s.db.Writer().Exec(ctx, `UPDATE clips SET updated_at = updated_at WHERE id = ?`, clipID)
	if err != nil {
		return false, fmt.Errorf("check clip %s: %w", clipID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("check clip %s: %w", clipID, err)
	}
	return n == 0, nil
}

// forgetLate removes what work for a deleted clip stored after the delete
// had swept (objects, queued jobs).
func (p *Pipeline) forgetLate(ctx context.Context, clipID string) error {
	var errs []error
	if err := p.DeleteObjects(ctx, clipID); err != nil {
		errs = append(errs, fmt.Errorf("remove late media of deleted clip %s: %w", clipID, err))
	}
	// The Forget hooks again: a job queued after the delete (River's).
	if err := p.Clips.db.Tx(ctx, func(q sqldb.Q) error {
		for _, forget := range p.Clips.Forget {
			if err := forget(ctx, q, clipID); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		errs = append(errs, fmt.Errorf("forget rows of deleted clip %s: %w", clipID, err))
	}
	return errors.Join(errs...)
}

// stillThere is called by work for a clip when it has stored something:
// when the clip was deleted meanwhile, it removes what was stored and
// returns ErrClipDeleted.
func (p *Pipeline) stillThere(ctx context.Context, clipID string) error {
	gone, err := p.Clips.clipGone(ctx, clipID)
	if err != nil || !gone {
		return err
	}
	p.Log.Info("The clip was deleted while it was being worked on; removing what was stored for it.", "clip_id", clipID)
	if err := p.forgetLate(ctx, clipID); err != nil {
		return err
	}
	return ErrClipDeleted
}

// SourceObjectKey is the key of a clip's original upload in the media store
// (for the data export, which reads it).
func SourceObjectKey(clipID string) string { return sourceKey(clipID) }

// MediaObjectKey is the key of a file the pipeline made for a clip, from a
// path relative to its media folder as MediaInfo names it.
func MediaObjectKey(clipID, rel string) string { return mediaKey(clipID, rel) }
