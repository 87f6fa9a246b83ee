package server

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// faultLease is the job lease the fault tests run with: short, so that a
// dead worker's job is retried in seconds rather than the default minute.
const faultLease = "3s"

// TestWorkerKilledMidTranscode kills a `filmroom worker` process with
// SIGKILL while it transcodes a clip, on a shared PostgreSQL database. The
// clip says that its worker stopped and that it is retried, the dead
// worker's River job is marked for cancellation (so River's own rescue,
// hours later, does not run it again), and a second worker picks the retry
// up and makes the clip ready.
func TestWorkerKilledMidTranscode(t *testing.T) {
	t.Parallel()
	bin := filmroomBinary(t)
	dbURL := testsvc.PostgresSchema(t)
	dataDir := t.TempDir()
	// A clip long enough (at one ffmpeg thread) to be killed in the middle:
	// 720p, so its ladder has three rungs and an idle machine does not finish
	// it between two looks (one chunk still, as --ladder-chunk is 60 s).
	src := makeClip(t, t.TempDir(), "long.mp4", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=60",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=60", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}

	// The web node runs no jobs, only the sweeper every node runs.
	web := startServe(t, "serve", bin, freePort(t), dbURL, dataDir, "--workers", "0", "--job-lease", faultLease)
	owner := &browser{t: t, base: web.base}
	owner.must("POST", "/api/v1/setup", `{"email":"teacher@example.org","name":"Tess","password":"a long enough password"}`, 201)
	up := owner.tusCreate(len(data), "long.mp4")
	if status, body := owner.tusPatch(up, 0, data); status != 204 {
		t.Fatalf("upload: %d %s", status, body)
	}
	clipID := owner.uploadedClip(uploadID(up))

	workerArgs := []string{"worker", "--database", dbURL, "--data-dir", dataDir, "--workers", "1", "--ffmpeg-threads", "1",
		"--captions-engine", "none", "--job-lease", faultLease, "--log-level", "debug"}
	first := startProc(t, "worker-1", bin, workerArgs...)
	// The clip plays at once from its own streams (fast start); the worker
	// is killed while it encodes the clip's ladder.
	waitFor(t, "the first worker to be mid-ladder", 3*time.Minute, func() bool {
		c := owner.clip(clipID)
		if c.Status == "failed" || c.Status == "ready" && c.Ladder == nil {
			t.Fatalf("the clip finished before the worker could be killed (%s): make it longer", c.Status)
		}
		ff := processesWith(filepath.Join(dataDir, "tmp"))
		return c.ladderRunning() && len(ff) > 0
	})
	first.kill9()
	// ffmpeg runs in a process group of its own, so the kill did not reach
	// it: the kernel must end it with its parent (Pdeathsig), not leave an
	// orphan encode taking the cores the retry needs.
	waitFor(t, "the killed worker's ffmpeg to end", time.Minute, func() bool {
		return len(processesWith(filepath.Join(dataDir, "tmp"))) == 0
	})
	killedAt := owner.clip(clipID)
	if killedAt.Status != "ready" || killedAt.Ladder == nil || killedAt.Ladder.State != media.LadderPending {
		t.Fatalf("after kill -9 the clip is %q with ladder %+v, want still playable with its ladder to come", killedAt.Status, killedAt.Ladder)
	}

	// Without any worker alive, the web node's sweeper notices the lease
	// ran out and queues a retry; the clip tells its viewers.
	var notice string
	waitFor(t, "the clip to say it is retried", time.Minute, func() bool {
		notice = owner.clip(clipID).Notice
		return strings.Contains(notice, "retrying")
	})
	if !strings.Contains(notice, "stopped") {
		t.Fatalf("notice %q does not say the worker stopped", notice)
	}

	// The dead worker's River job is still "running" but marked for
	// cancellation, and a fresh ladder job for the clip waits.
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	var running, cancelMarked, waiting int
	waitFor(t, "the dead job to be marked for cancellation and a fresh one to wait", time.Minute, func() bool {
		if err := db.QueryRowContext(ctx, `SELECT
			count(*) FILTER (WHERE state = 'running'),
			count(*) FILTER (WHERE state = 'running' AND metadata ? 'cancel_attempted_at'),
			count(*) FILTER (WHERE state = 'available')
			FROM river_job WHERE kind = 'media.ladder' AND args->>'clip_id' = $1`, clipID).Scan(&running, &cancelMarked, &waiting); err != nil {
			t.Fatal(err)
		}
		if running != 1 || waiting > 1 {
			t.Fatalf("ladder jobs of the clip: %d running, %d waiting; want 1 and at most 1", running, waiting)
		}
		return cancelMarked == 1 && waiting == 1
	})

	// A second worker takes the retry and finishes the clip.
	startProc(t, "worker-2", bin, workerArgs...)
	var done faultClip
	waitFor(t, "the ladder to be done on the second worker", 5*time.Minute, func() bool {
		done = owner.clip(clipID)
		if done.Status != "ready" || done.Ladder != nil && done.Ladder.State == media.LadderFailed {
			t.Fatalf("the retried ladder failed: %s %+v %+v", done.Status, done.Ladder, done.Failure)
		}
		return done.Ladder == nil
	})
	if done.Notice != "" {
		t.Fatalf("ready clip: notice %q; want none", done.Notice)
	}
	// The clip plays: its master playlist is there.
	owner.must("GET", "/api/v1/clips/"+clipID+"/media/master.m3u8", "", 200)
}

// processesWith lists the pids whose command line mentions s (Linux /proc).
func processesWith(s string) []string {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var out []string
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err == nil && strings.Contains(string(b), s) {
			out = append(out, filepath.Base(d))
		}
	}
	return out
}
