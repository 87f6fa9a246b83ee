package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// opStat counts one kind of operation.
type opStat struct {
	ok, fail, failInRestart int
	reasons                 map[string]int
}

// stats counts every operation the load makes, and whether a failure fell
// into the restart window (kill until shortly after the server is ready
// again), where failures are expected and must be retried.
type stats struct {
	mu            sync.Mutex
	ops           map[string]*opStat
	restartFrom   time.Time
	restartUntil  time.Time
	restartActive bool
}

func newStats() *stats { return &stats{ops: map[string]*opStat{}} }

func (s *stats) record(op string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops[op]
	if o == nil {
		o = &opStat{reasons: map[string]int{}}
		s.ops[op] = o
	}
	if err == nil {
		o.ok++
		return
	}
	o.fail++
	now := time.Now()
	if s.restartActive || (!s.restartFrom.IsZero() && !now.Before(s.restartFrom) && now.Before(s.restartUntil)) {
		o.failInRestart++
	}
	o.reasons[reason(err)]++
}

func (s *stats) restarting(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if on {
		s.restartFrom, s.restartActive = time.Now(), true
	} else {
		s.restartActive, s.restartUntil = false, time.Now().Add(10*time.Second)
	}
}

// report prints the table of operations and returns the worst error rate
// outside the restart window.
func (s *stats) report(w *strings.Builder) (worstOp string, worst float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.ops))
	for n := range s.ops {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%-22s %8s %7s %9s %10s  %s\n", "operation", "ok", "failed", "rate", "in restart", "reasons")
	for _, n := range names {
		o := s.ops[n]
		total := o.ok + o.fail
		rate := 0.0
		if total > 0 {
			rate = float64(o.fail) / float64(total)
		}
		if out := o.fail - o.failInRestart; total > 0 && float64(out)/float64(total) > worst {
			worst, worstOp = float64(out)/float64(total), n
		}
		var rs []string
		for r, c := range o.reasons {
			rs = append(rs, fmt.Sprintf("%s×%d", r, c))
		}
		sort.Strings(rs)
		fmt.Fprintf(w, "%-22s %8d %7d %8.3f%% %10d  %s\n", n, o.ok, o.fail, 100*rate, o.failInRestart, strings.Join(rs, ", "))
	}
	return worstOp, worst
}

// ledger records the acknowledged annotation writes and the uploads.
type ledger struct {
	mu        sync.Mutex
	acks      []Ack
	uncertain map[string]bool
	uploads   []*uploadRec
	order     int
}

type uploadRec struct {
	User     string
	UploadID string
	SHA256   string
	Size     int64
	ClipID   string
	Status   string
	Failure  string
	Err      string // the upload itself failed
}

func newLedger() *ledger { return &ledger{uncertain: map[string]bool{}} }

func (l *ledger) ack(a Ack) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.order++
	a.Order = l.order
	l.acks = append(l.acks, a)
}

func (l *ledger) markUncertain(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uncertain[id] = true
}

func (l *ledger) addUpload(u *uploadRec) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.uploads = append(l.uploads, u)
}

// clipPool is the set of ready clips everyone may annotate and join.
type clipPool struct {
	mu  sync.Mutex
	max int // 0: no limit
	ids []string
}

func (p *clipPool) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.max == 0 || len(p.ids) < p.max {
		p.ids = append(p.ids, id)
	}
}

func (p *clipPool) pick() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) == 0 {
		return ""
	}
	return p.ids[rand.IntN(len(p.ids))]
}

// soak is the shared state of one run.
type soak struct {
	run      string // prefix of every idempotency key of this run
	groupID  string
	tmp      string
	teachers []*client
	everyone []*client
	// pool holds the clips under review (annotations, rooms, annotation
	// pages): a fixed set once full, so the server's working set reaches a
	// steady state and the heap can be compared; media holds every ready
	// clip, for playlist reads.
	pool     clipPool
	media    clipPool
	st       *stats
	led      *ledger
	dupes    atomic.Int64
	reconn   atomic.Int64
	resumed  atomic.Int64
	inFlight atomic.Int64 // tus uploads between create and last PATCH
	seq      atomic.Int64
	opts     options
}

func (s *soak) next() int64 { return s.seq.Add(1) }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

func jitter(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo) }

// retry runs f until it succeeds, fails for good, or the retry deadline
// passes; every attempt is counted under op.
func (s *soak) retry(op string, f func() error) error {
	deadline := time.Now().Add(s.opts.retryFor)
	for {
		err := f()
		s.st.record(op, err)
		if err == nil || !transient(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(jitter(500*time.Millisecond, 1500*time.Millisecond))
	}
}

// uploadOne renders a clip, uploads it (resuming across the restart) and
// waits until the server has made it ready or failed, so each uploader
// keeps at most one clip in the transcode queue.
func (s *soak) uploadOne(ctx context.Context, c *client, n int64) {
	path := filepath.Join(s.tmp, fmt.Sprintf("clip-%d.mp4", n))
	sum, err := makeClip(ctx, path, 2+int(n%3), 200+int(n%1500), n%3 == 0)
	if err != nil {
		if ctx.Err() == nil {
			s.st.record("clip.render", err)
		}
		return
	}
	rec := &uploadRec{User: c.name, SHA256: sum}
	s.led.addUpload(rec)
	meta := map[string]string{"filename": fmt.Sprintf("soak-%d.mp4", n), "filetype": "video/mp4", "title": fmt.Sprintf("Soak clip %d", n), "group_id": s.groupID}
	s.inFlight.Add(1)
	uid, err := c.tusUpload(context.Background(), path, meta, s.opts.chunk, s.opts.chunkPause, time.Now().Add(s.opts.retryFor),
		func(op string, e error) {
			s.st.record(op, e)
			if op == "upload.resume" && e == nil {
				s.resumed.Add(1)
			}
		})
	s.inFlight.Add(-1)
	_ = os.Remove(path)
	rec.UploadID = uid
	s.st.record("upload", err)
	if err != nil {
		rec.Err = err.Error()
		return
	}
	s.awaitClip(ctx, c, rec, time.Now().Add(s.opts.readyWait))
	if rec.Status == "ready" {
		s.pool.add(rec.ClipID)
		s.media.add(rec.ClipID)
	}
}

type clipJSON struct {
	ID       string `json:"id"`
	Status   string `json:"status"`
	UploadID string `json:"upload_id"`
	SHA256   string `json:"sha256"`
	Failure  *struct {
		Code   string `json:"code"`
		Reason string `json:"reason"`
	} `json:"failure"`
}

// awaitClip polls the owner's clip list until the upload's clip is ready
// or failed (or the deadline passes, or ctx ends: the final check looks
// again) and records what it found.
func (s *soak) awaitClip(ctx context.Context, c *client, rec *uploadRec, deadline time.Time) {
	for {
		var out struct {
			Clips []clipJSON `json:"clips"`
		}
		_, err := c.do(context.Background(), "GET", "/api/v1/clips?scope=mine", nil, &out)
		s.st.record("clips.list", err)
		if err == nil {
			for _, cl := range out.Clips {
				if cl.UploadID == rec.UploadID {
					rec.ClipID, rec.Status = cl.ID, cl.Status
					if cl.Failure != nil {
						rec.Failure = cl.Failure.Code + ": " + cl.Failure.Reason
					}
				}
			}
			if rec.Status == "ready" || rec.Status == "failed" {
				return
			}
		}
		if time.Now().After(deadline) || !sleepCtx(ctx, time.Second) {
			return
		}
	}
}

func (s *soak) uploader(ctx context.Context, c *client) {
	for ctx.Err() == nil {
		s.uploadOne(ctx, c, s.next())
		sleepCtx(ctx, jitter(200*time.Millisecond, 2*time.Second))
	}
}

// restAnnotator creates annotations over REST (with an idempotency key,
// retried with the same key until acknowledged) and now and then edits one
// of its own.
func (s *soak) restAnnotator(ctx context.Context, c *client) {
	type mine struct{ id, clip string }
	var own []mine
	for ctx.Err() == nil {
		if !sleepCtx(ctx, jitter(100*time.Millisecond, 400*time.Millisecond)) {
			return
		}
		if len(own) > 0 && rand.IntN(4) == 0 {
			m := own[rand.IntN(len(own))]
			body := fmt.Sprintf("soak rest edit %d", s.next())
			err := s.retry("annotation.update.rest", func() error {
				_, err := c.do(context.Background(), "PATCH", "/api/v1/clips/"+m.clip+"/annotations/"+m.id, map[string]any{"body": body}, nil)
				return err
			})
			if err == nil {
				s.led.ack(Ack{ID: m.id, Body: body, Via: "rest", Op: "update"})
			} else {
				s.led.markUncertain(m.id)
			}
			continue
		}
		clip := s.pool.pick()
		if clip == "" {
			continue
		}
		n := s.next()
		key := fmt.Sprintf("%s-rest-%d", s.run, n)
		body := "soak rest " + key
		var out struct {
			ID string `json:"id"`
		}
		err := s.retry("annotation.create.rest", func() error {
			_, err := c.do(context.Background(), "POST", "/api/v1/clips/"+clip+"/annotations",
				map[string]any{"start_ms": n % 2000, "body": body, "idempotency_key": key}, &out)
			return err
		})
		if err == nil && out.ID != "" {
			s.led.ack(Ack{ID: out.ID, Key: key, Body: body, Via: "rest", Op: "create"})
			own = append(own, mine{out.ID, clip})
		}
	}
}

// roomMember joins a room, writes annotations and presence over the
// socket for a while, then leaves and joins another. A dropped socket (the
// restart) is reconnected with since = its last seq, and an unanswered
// create is sent again with the same idempotency key.
func (s *soak) roomMember(ctx context.Context, c *client) {
	for ctx.Err() == nil {
		clip := s.pool.pick()
		if clip == "" {
			sleepCtx(ctx, time.Second)
			continue
		}
		r := newRoomConn(c, clip, &s.dupes)
		err := s.retry("room.join", func() error { return r.connect(context.Background()) })
		if err != nil {
			sleepCtx(ctx, time.Second)
			continue
		}
		stay := time.Now().Add(jitter(5*time.Second, 20*time.Second))
		for ctx.Err() == nil && time.Now().Before(stay) {
			if !sleepCtx(ctx, jitter(300*time.Millisecond, 1200*time.Millisecond)) {
				break
			}
			if rand.IntN(3) == 0 {
				s.st.record("room.playhead", r.notify(map[string]any{"type": "playhead", "position_ms": rand.IntN(3000), "playing": true}))
				continue
			}
			n := s.next()
			key := fmt.Sprintf("%s-ws-%d", s.run, n)
			body := "soak ws " + key
			msg := func() map[string]any {
				return map[string]any{"type": "annotation.create", "body": map[string]any{"start_ms": n % 2000, "body": body, "idempotency_key": key}}
			}
			deadline := time.Now().Add(s.opts.retryFor)
			for {
				m, err := r.send(msg(), 15*time.Second)
				s.st.record("annotation.create.ws", err)
				if err == nil {
					var a struct {
						ID string `json:"id"`
					}
					if jerr := json.Unmarshal(m.Data, &a); jerr == nil && a.ID != "" {
						s.led.ack(Ack{ID: a.ID, Key: key, Body: body, Via: "ws", Op: "create"})
					}
					break
				}
				if r.alive() || time.Now().After(deadline) {
					break // the server refused it: counted, not retried
				}
				// The socket died (restart): reconnect with since and resend.
				for !r.alive() && time.Now().Before(deadline) {
					time.Sleep(jitter(500*time.Millisecond, 1500*time.Millisecond))
					cerr := r.connect(context.Background())
					s.st.record("room.reconnect", cerr)
					if cerr == nil {
						s.reconn.Add(1)
					}
				}
			}
		}
		r.close()
		s.st.record("room.leave", nil)
	}
}

// reader reads what a reviewer's pages read: clip lists, annotation pages,
// HLS playlists and summaries.
func (s *soak) reader(ctx context.Context, c *client) {
	for ctx.Err() == nil {
		if !sleepCtx(ctx, jitter(100*time.Millisecond, 500*time.Millisecond)) {
			return
		}
		_, err := c.do(context.Background(), "GET", "/api/v1/clips?scope=all", nil, nil)
		s.st.record("clips.list", err)
		clip := s.pool.pick()
		if clip == "" {
			continue
		}
		var page struct {
			NextCursor string `json:"next_cursor"`
		}
		_, err = c.do(context.Background(), "GET", "/api/v1/clips/"+clip+"/annotations?limit=50", nil, &page)
		s.st.record("annotations.page", err)
		if err == nil && page.NextCursor != "" {
			_, err = c.do(context.Background(), "GET", "/api/v1/clips/"+clip+"/annotations?limit=50&cursor="+page.NextCursor, nil, nil)
			s.st.record("annotations.page", err)
		}
		_, err = c.do(context.Background(), "GET", "/api/v1/clips/"+s.media.pick()+"/media/master.m3u8", nil, nil)
		s.st.record("playlist", err)
		_, err = c.do(context.Background(), "GET", "/api/v1/clips/"+clip+"/summary", nil, nil)
		s.st.record("clip.summary", err)
	}
}

// load runs every worker until ctx ends and waits for them; a started
// upload finishes (with its own deadline) before its worker returns.
func (s *soak) load(ctx context.Context) {
	var wg sync.WaitGroup
	spawn := func(f func(context.Context, *client), c *client) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx, c) }()
	}
	for i := range s.opts.uploaders {
		spawn(s.uploader, s.teachers[i%len(s.teachers)])
	}
	for i := range s.opts.annotators {
		spawn(s.restAnnotator, s.everyone[i%len(s.everyone)])
	}
	for i := range s.opts.members {
		spawn(s.roomMember, s.everyone[(i+1)%len(s.everyone)])
	}
	for i := range s.opts.readers {
		spawn(s.reader, s.everyone[(i+2)%len(s.everyone)])
	}
	wg.Wait()
}
