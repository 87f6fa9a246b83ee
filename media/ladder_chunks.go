package media

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/media/storage"
	"github.com/filmroom/filmroom/media/transcode"
)

// Chunked ladder: the ladder of a long video is encoded in parts (chunks of
// one to two minutes, and the audio) that any worker node can take, then
// stitched. The ladder job stays the coordinator: it holds the clip's
// lease as before (a dead coordinator is retried by the lease sweeper),
// plans the parts, queues one media.ladder_chunk job per part for other
// nodes, encodes parts itself while they wait in the queue, and when every
// part is done it stitches them and switches the clip to the ladder as a
// single encode does.
//
// Parts live in object storage under the clip's prefix (ladder/), so any
// node can encode or stitch them and deleting the clip removes them:
//
//	ladder/run.json            the plan and probe every part is made from
//	ladder/<part>/...          what the part's encode wrote
//	ladder/<part>.done         written last: the part is complete
//	ladder/<part>.running      rewritten every lease/6 while a node works on it
//
// Exactly who encodes a part: the coordinator takes a part whose job is
// still queued by cancelling that job (River's compare-and-set), and a part
// whose job runs but whose heartbeat is older than one lease (its worker
// died). A killed chunk worker costs only its own part; done parts are
// never redone. Two nodes may rarely encode the same part (a worker that
// was slow, not dead); encodes are deterministic and objects are replaced
// atomically, so that only costs time.

// LadderChunkArgs is the job that encodes one part of a chunked ladder.
type LadderChunkArgs struct {
	ClipID string `json:"clip_id" river:"unique"`
	Part   string `json:"part" river:"unique"`
	// Gen names the plan the part belongs to: a job of an older plan (the
	// clip was planned again) does nothing.
	Gen string `json:"gen" river:"unique"`
}

// Kind names the job type in River.
func (LadderChunkArgs) Kind() string { return "media.ladder_chunk" }

// audioPart is the part name of the audio, encoded once for the file.
const audioPart = "audio"

func chunkPart(i int) string { return fmt.Sprintf("chunk_%04d", i) }

func ladderKey(clipID, rel string) string { return clipPrefix(clipID) + "ladder/" + rel }

// ladderRun is ladder/run.json.
type ladderRun struct {
	Gen   string               `json:"gen"`
	Probe *transcode.Probe     `json:"probe"`
	Plan  transcode.LadderPlan `json:"plan"`
	// Jobs are the River jobs queued for the parts.
	Jobs map[string]int64 `json:"jobs"`
}

func (r *ladderRun) parts() []string {
	var out []string
	for i := range r.Plan.Chunks {
		out = append(out, chunkPart(i))
	}
	if r.Probe.HasAudio {
		out = append(out, audioPart)
	}
	return out
}

// chunkJobs is what the coordinator needs of the job queue; Jobs has it.
type chunkJobs interface {
	enqueueLadderChunk(ctx context.Context, args LadderChunkArgs) (int64, error)
	// takeLadderJob reports whether this node may encode the part of job
	// jobID itself: the job was queued and is now cancelled, it is
	// finished without the part, or it runs without a heartbeat (last, or
	// its start when it has none) for one lease.
	takeLadderJob(ctx context.Context, jobID int64, beat time.Time) (bool, error)
	ladderLease() time.Duration
}

func (j *Jobs) enqueueLadderChunk(ctx context.Context, args LadderChunkArgs) (int64, error) {
	at := j.background(ctx, args.ClipID)
	return j.insert(ctx, args, at)
}

func (j *Jobs) ladderLease() time.Duration { return j.leases.ttl }

func (j *Jobs) takeLadderJob(ctx context.Context, jobID int64, beat time.Time) (bool, error) {
	row, err := j.get(ctx, jobID)
	if errors.Is(err, river.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up ladder job %d: %w", jobID, err)
	}
	if row.State == rivertype.JobStateRunning {
		last := beat
		if row.AttemptedAt != nil && row.AttemptedAt.After(last) {
			last = *row.AttemptedAt
		}
		return j.leases.now().Sub(last) > j.leases.ttl, nil
	}
	if row.FinalizedAt != nil {
		return true, nil // finished (or given up) without the part
	}
	// Queued: cancel it. Cancelling a job that a worker fetched meanwhile
	// does not stop it from running, so look again.
	if err := j.cancel(ctx, jobID); err != nil && !errors.Is(err, river.ErrNotFound) {
		return false, fmt.Errorf("cancel ladder job %d: %w", jobID, err)
	}
	row, err = j.get(ctx, jobID)
	if err != nil {
		return false, fmt.Errorf("look up ladder job %d: %w", jobID, err)
	}
	return row.State != rivertype.JobStateRunning, nil
}

// ladderChunkWorker encodes one part for the coordinator.
type ladderChunkWorker struct {
	river.WorkerDefaults[LadderChunkArgs]
	p       *Pipeline
	timeout time.Duration
	lease   time.Duration
}

func (w *ladderChunkWorker) Timeout(*river.Job[LadderChunkArgs]) time.Duration { return w.timeout }

func (w *ladderChunkWorker) Work(ctx context.Context, job *river.Job[LadderChunkArgs]) error {
	p, a := w.p, job.Args
	run, err := p.loadRun(ctx, a.ClipID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil // switched already, or the clip is gone
	}
	if err != nil {
		return err
	}
	if run.Gen != a.Gen {
		return nil
	}
	st, err := p.partStates(ctx, a.ClipID)
	if err != nil {
		return err
	}
	if st[a.Part].done {
		return nil
	}
	work, err := os.MkdirTemp(p.TempDir, "filmroom-part-")
	if err != nil {
		return fmt.Errorf("ladder part %s of clip %s: %w", a.Part, a.ClipID, err)
	}
	defer os.RemoveAll(work)
	stop := p.heartbeat(ctx, a.ClipID, a.Part, w.lease)
	defer stop()
	src, err := p.partSource(ctx, a.ClipID, work, w.timeout)
	if err != nil {
		return err
	}
	if err := p.encodePart(ctx, a.ClipID, run, a.Part, src, work); err != nil && !errors.Is(err, ErrClipDeleted) {
		return err
	}
	return nil
}

// heartbeat rewrites the part's running marker every lease/6 until stop,
// which removes it.
func (p *Pipeline) heartbeat(ctx context.Context, clipID, part string, lease time.Duration) (stop func()) {
	if lease <= 0 {
		lease = DefaultLease
	}
	key := ladderKey(clipID, part+".running")
	beat := func() {
		if err := p.Store.Put(ctx, key, strings.NewReader("1"), 1, "text/plain"); err != nil && ctx.Err() == nil {
			p.Log.Warn("Could not record that a ladder part is being encoded.", "clip_id", clipID, "part", part, "error", err)
		}
	}
	beat()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(lease / 6)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				beat()
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = p.Store.Delete(dctx, key)
	}
}

// partSource is where a chunk worker reads the source: the stored file
// itself on a local store, else a presigned URL (ffmpeg then reads only the
// ranges the chunk needs), else a copy.
func (p *Pipeline) partSource(ctx context.Context, clipID, work string, ttl time.Duration) (string, error) {
	if path, err := p.Store.LocalFile(ctx, sourceKey(clipID)); err == nil {
		return path, nil
	}
	if ttl <= 0 {
		ttl = time.Hour
	}
	if u, err := p.Store.PresignGet(ctx, sourceKey(clipID), ttl); err == nil {
		return u, nil
	}
	src := filepath.Join(work, "source")
	if err := p.fetch(ctx, sourceKey(clipID), src); err != nil {
		return "", fmt.Errorf("source of clip %s: %w", clipID, err)
	}
	return src, nil
}

func (p *Pipeline) loadRun(ctx context.Context, clipID string) (*ladderRun, error) {
	obj, err := p.Store.Open(ctx, ladderKey(clipID, "run.json"))
	if err != nil {
		return nil, err
	}
	defer obj.Close()
	var run ladderRun
	if err := json.NewDecoder(obj).Decode(&run); err != nil {
		return nil, fmt.Errorf("read ladder plan of clip %s: %w", clipID, err)
	}
	if run.Probe == nil {
		return nil, fmt.Errorf("read ladder plan of clip %s: no probe", clipID)
	}
	return &run, nil
}

func (p *Pipeline) saveRun(ctx context.Context, clipID string, run *ladderRun) error {
	b, err := json.Marshal(run)
	if err != nil {
		return err
	}
	if err := p.Store.Put(ctx, ladderKey(clipID, "run.json"), bytes.NewReader(b), int64(len(b)), "application/json"); err != nil {
		return fmt.Errorf("store ladder plan of clip %s: %w", clipID, err)
	}
	return nil
}

type partState struct {
	done bool
	beat time.Time // last heartbeat; zero when none
}

// partStates reads the markers of every part from one listing.
func (p *Pipeline) partStates(ctx context.Context, clipID string) (map[string]partState, error) {
	infos, err := p.Store.List(ctx, ladderKey(clipID, ""))
	if err != nil {
		return nil, fmt.Errorf("list ladder parts of clip %s: %w", clipID, err)
	}
	out := map[string]partState{}
	for _, in := range infos {
		name := path.Base(in.Key)
		if part, ok := strings.CutSuffix(name, ".done"); ok {
			s := out[part]
			s.done = true
			out[part] = s
		} else if part, ok := strings.CutSuffix(name, ".running"); ok {
			s := out[part]
			s.beat = in.ModTime
			out[part] = s
		}
	}
	return out, nil
}

// encodePart encodes one part from src and stores it, its done marker last.
func (p *Pipeline) encodePart(ctx context.Context, clipID string, run *ladderRun, part, src, work string) error {
	dir, err := os.MkdirTemp(work, "part-")
	if err != nil {
		return fmt.Errorf("ladder part %s of clip %s: %w", part, clipID, err)
	}
	defer os.RemoveAll(dir)
	opts := p.Options
	opts.Logger = p.Log.With("clip_id", clipID, "part", part)
	p.Log.Info("Encoding a ladder part.", "clip_id", clipID, "part", part)
	started := time.Now()
	if part == audioPart {
		err = transcode.EncodeAudio(ctx, src, dir, run.Probe, opts)
	} else {
		i, perr := strconv.Atoi(strings.TrimPrefix(part, "chunk_"))
		if perr != nil {
			return fmt.Errorf("ladder part %q of clip %s: not a part", part, clipID)
		}
		err = transcode.EncodeChunk(ctx, src, dir, run.Probe, run.Plan, i, opts)
	}
	if err != nil {
		return fmt.Errorf("ladder part %s of clip %s: %w", part, clipID, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("ladder part %s of clip %s: %w", part, clipID, err)
	}
	for _, e := range entries {
		if err := p.Store.PutFile(ctx, ladderKey(clipID, part+"/"+e.Name()), filepath.Join(dir, e.Name()), ""); err != nil {
			return fmt.Errorf("store ladder part %s of clip %s: %w", part, clipID, err)
		}
	}
	if err := p.Store.Put(ctx, ladderKey(clipID, part+".done"), strings.NewReader(run.Gen), int64(len(run.Gen)), "text/plain"); err != nil {
		return fmt.Errorf("store ladder part %s of clip %s: %w", part, clipID, err)
	}
	p.Log.Info("Ladder part encoded.", "clip_id", clipID, "part", part, "elapsed_s", time.Since(started).Seconds())
	// Deleted meanwhile: what was just stored goes too (ErrClipDeleted).
	return p.stillThere(ctx, clipID)
}

// chunkedLadder encodes the ladder of a video long enough for several
// chunks in parts and stitches it into out. false means the clip is one
// chunk (or has no video): the caller encodes it in one go as before, so a
// short clip pays nothing for chunking.
func (p *Pipeline) chunkedLadder(ctx context.Context, c Clip, work, src string, probe *transcode.Probe, out string) (*transcode.Result, bool, error) {
	clipID := c.ID
	if !probe.HasVideo || p.Options.Chunk.Min < 0 {
		return nil, false, nil
	}
	run, err := p.loadRun(ctx, clipID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		kf, err := transcode.SourceKeyframes(ctx, src, probe)
		if err != nil {
			return nil, false, fmt.Errorf("ladder of clip %s: %w", clipID, err)
		}
		plan, err := transcode.PlanLadder(probe, kf, p.Options, p.Options.Chunk)
		if err != nil {
			return nil, false, fmt.Errorf("ladder of clip %s: %w", clipID, err)
		}
		if len(plan.Chunks) < 2 {
			return nil, false, nil
		}
		run = &ladderRun{Gen: id.New(), Probe: probe, Plan: plan, Jobs: map[string]int64{}}
		if err := p.saveRun(ctx, clipID, run); err != nil {
			return nil, false, err
		}
		p.Log.Info("Encoding the ladder in chunks.", "clip_id", clipID, "chunks", len(plan.Chunks))
	case err != nil:
		return nil, false, err
	default:
		p.Log.Info("Resuming a chunked ladder.", "clip_id", clipID, "chunks", len(run.Plan.Chunks))
	}
	if err := p.runParts(ctx, clipID, run, src, work); err != nil {
		return nil, true, err
	}
	dirs, audio, err := p.partDirs(ctx, clipID, run, work)
	if err != nil {
		return nil, true, err
	}
	opts := p.Options
	opts.Logger = p.Log.With("clip_id", clipID)
	res, err := transcode.Stitch(ctx, dirs, audio, out, run.Probe, run.Plan, opts)
	if err != nil {
		return nil, true, fmt.Errorf("ladder of clip %s: %w", clipID, err)
	}
	return res, true, nil
}

// runParts queues the parts for other nodes and encodes parts here while
// any is left that no living node works on, until every part is done.
func (p *Pipeline) runParts(ctx context.Context, clipID string, run *ladderRun, src, work string) error {
	parts := run.parts()
	q, _ := p.Queue.(chunkJobs)
	lease := DefaultLease
	if q != nil {
		lease = q.ladderLease()
		st, err := p.partStates(ctx, clipID)
		if err != nil {
			return err
		}
		queued := false
		for _, part := range parts {
			if st[part].done || run.Jobs[part] != 0 {
				continue
			}
			jobID, err := q.enqueueLadderChunk(ctx, LadderChunkArgs{ClipID: clipID, Part: part, Gen: run.Gen})
			if err != nil {
				return fmt.Errorf("queue ladder part %s of clip %s: %w", part, clipID, err)
			}
			run.Jobs[part], queued = jobID, true
		}
		if queued {
			if err := p.saveRun(ctx, clipID, run); err != nil {
				return err
			}
		}
	}
	lastDone := -1
	for {
		st, err := p.partStates(ctx, clipID)
		if err != nil {
			return err
		}
		done := 0
		for _, part := range parts {
			if st[part].done {
				done++
			}
		}
		if done != lastDone {
			lastDone = done
			// Best effort, like every progress update.
			_, _ = p.Clips.db.Writer().Exec(ctx, `UPDATE clips SET ladder_progress = ? WHERE id = ?`,
				95*float64(done)/float64(len(parts)), clipID)
			if err := p.stillThere(ctx, clipID); err != nil {
				return err
			}
		}
		if done == len(parts) {
			return nil
		}
		// Take parts from the end: other nodes take them from the front.
		pick := ""
		for i := len(parts) - 1; i >= 0 && pick == ""; i-- {
			part := parts[i]
			if st[part].done {
				continue
			}
			if q == nil || run.Jobs[part] == 0 {
				pick = part
				continue
			}
			ok, err := q.takeLadderJob(ctx, run.Jobs[part], st[part].beat)
			if err != nil {
				return err
			}
			if ok {
				if !st[part].beat.IsZero() {
					p.Log.Warn("The worker encoding a ladder part stopped; encoding it here.", "clip_id", clipID, "part", part)
				}
				pick = part
			}
		}
		if pick != "" {
			// Not for a clip deleted meanwhile (its jobs went with it, so
			// every part looks free).
			if err := p.stillThere(ctx, clipID); err != nil {
				return err
			}
			stop := p.heartbeat(ctx, clipID, pick, lease)
			err := p.encodePart(ctx, clipID, run, pick, src, work)
			stop()
			if err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(time.Second, lease/6)):
		}
	}
}

// partDirs are the local directories of every chunk and of the audio: the
// stored files themselves on a local store, else copies in work.
func (p *Pipeline) partDirs(ctx context.Context, clipID string, run *ladderRun, work string) ([]string, string, error) {
	dirOf := func(part string) (string, error) {
		infos, err := p.Store.List(ctx, ladderKey(clipID, part+"/"))
		if err != nil {
			return "", fmt.Errorf("list ladder part %s of clip %s: %w", part, clipID, err)
		}
		if len(infos) == 0 {
			return "", fmt.Errorf("ladder part %s of clip %s: no files", part, clipID)
		}
		sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
		if local, err := p.Store.LocalFile(ctx, infos[0].Key); err == nil {
			return filepath.Dir(local), nil
		}
		dir := filepath.Join(work, "parts", part)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		for _, in := range infos {
			if err := p.fetch(ctx, in.Key, filepath.Join(dir, path.Base(in.Key))); err != nil {
				return "", fmt.Errorf("ladder part %s of clip %s: %w", part, clipID, err)
			}
		}
		return dir, nil
	}
	var dirs []string
	for i := range run.Plan.Chunks {
		d, err := dirOf(chunkPart(i))
		if err != nil {
			return nil, "", err
		}
		dirs = append(dirs, d)
	}
	audio := ""
	if run.Probe.HasAudio {
		var err error
		if audio, err = dirOf(audioPart); err != nil {
			return nil, "", err
		}
	}
	return dirs, audio, nil
}

// dropLadderParts removes the parts once the clip has switched to its
// ladder.
func (p *Pipeline) dropLadderParts(ctx context.Context, clipID string) {
	if err := p.Store.DeletePrefix(ctx, ladderKey(clipID, "")); err != nil {
		p.Log.Warn("Could not remove the parts of a chunked ladder; they go with the clip.", "clip_id", clipID, "error", err)
	}
}

// heldByOtherStep reports whether the clip's lease is held by a job of
// another kind than job jobID: the clip's processing job still holds it
// when the ladder it queued is fetched by another node. Such a ladder job
// must wait, not be dropped as a late copy of the holder.
func (l *leases) heldByOtherStep(ctx context.Context, clipID string, jobID int64) bool {
	var holder, mine string
	err := l.db.Reader().QueryRow(ctx, `SELECT
		COALESCE((SELECT r.kind FROM river_job r JOIN clips c ON r.id = c.lease_job WHERE c.id = ? AND c.lease_owner <> ''), ''),
		COALESCE((SELECT kind FROM river_job WHERE id = ?), '')`, clipID, jobID).Scan(&holder, &mine)
	return err == nil && holder != "" && mine != "" && holder != mine
}
