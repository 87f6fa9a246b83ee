package server

import (
	"bufio"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

// partLine finds the ladder part of a worker's "Encoding a ladder part."
// or "Ladder part encoded." log line.
var partLine = regexp.MustCompile(`msg="(Encoding a ladder part\.|Ladder part encoded\.)".* part=(\S+)`)

// ladderParts reads a worker's log: how often it started each part, and
// which it finished.
func ladderParts(t *testing.T, p *proc) (started map[string]int, encoded map[string]bool) {
	t.Helper()
	started, encoded = map[string]int{}, map[string]bool{}
	f, err := os.Open(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		m := partLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if strings.HasPrefix(m[1], "Encoding") {
			started[m[2]]++
		} else {
			encoded[m[2]] = true
		}
	}
	return started, encoded
}

// TestWorkerKilledMidChunk kills a `filmroom worker` with SIGKILL while it
// encodes one chunk of a clip's chunked ladder, with two workers on a
// shared PostgreSQL database. The ladder still completes, and the worker
// logs prove that only the killed chunk was encoded twice: every other
// part, finished before the kill or after, was encoded exactly once.
func TestWorkerKilledMidChunk(t *testing.T) {
	t.Parallel()
	bin := filmroomBinary(t)
	dbURL := testsvc.PostgresSchema(t)
	dataDir := t.TempDir()
	// 60 s in 4 to 8 s chunks: a dozen parts, each a few seconds of work.
	src := makeClip(t, t.TempDir(), "chunked.mp4", "-f", "lavfi", "-i", "testsrc2=size=960x540:rate=25:duration=60,noise=alls=10:allf=t",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=60", "-c:v", "libx264", "-preset", "ultrafast", "-g", "50",
		"-c:a", "aac", "-movflags", "+faststart", "-shortest")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	chunk := []string{"--ladder-chunk", "4s", "--job-lease", faultLease}
	web := startServe(t, "serve", bin, freePort(t), dbURL, dataDir, append([]string{"--workers", "0"}, chunk...)...)
	owner := &browser{t: t, base: web.base}
	owner.must("POST", "/api/v1/setup", `{"email":"teacher@example.org","name":"Tess","password":"a long enough password"}`, 201)
	up := owner.tusCreate(len(data), "chunked.mp4")
	if status, body := owner.tusPatch(up, 0, data); status != 204 {
		t.Fatalf("upload: %d %s", status, body)
	}
	clipID := owner.uploadedClip(uploadID(up))

	workerArgs := append([]string{"worker", "--database", dbURL, "--data-dir", dataDir, "--workers", "1", "--ffmpeg-threads", "1",
		"--captions-engine", "none", "--log-level", "debug"}, chunk...)
	workers := []*proc{startProc(t, "worker-1", bin, workerArgs...), startProc(t, "worker-2", bin, workerArgs...)}

	// Wait until some part is finished and a worker is in the middle of
	// another one, then kill that worker.
	var victim *proc
	var killedPart string
	doneBefore := map[string]bool{}
	waitFor(t, "a worker to be mid-chunk after a finished chunk", 3*time.Minute, func() bool {
		c := owner.clip(clipID)
		if c.Status == "failed" || c.Status == "ready" && c.Ladder == nil {
			t.Fatalf("the ladder finished before a worker could be killed (%s): make the clip longer", c.Status)
		}
		finished := 0
		victim, killedPart = nil, ""
		for _, w := range workers {
			started, encoded := ladderParts(t, w)
			finished += len(encoded)
			for part := range started {
				if !encoded[part] && strings.HasPrefix(part, "chunk_") {
					victim, killedPart = w, part
				}
			}
		}
		return finished > 0 && victim != nil
	})
	for _, w := range workers {
		_, encoded := ladderParts(t, w)
		for part := range encoded {
			doneBefore[part] = true
		}
	}
	victim.kill9()
	t.Logf("killed %s while it encoded %s; done before: %d parts", victim.name, killedPart, len(doneBefore))
	workers = append(workers, startProc(t, "worker-3", bin, workerArgs...))

	var done faultClip
	waitFor(t, "the chunked ladder to be done", 5*time.Minute, func() bool {
		done = owner.clip(clipID)
		if done.Status != "ready" || done.Ladder != nil && done.Ladder.State == media.LadderFailed {
			t.Fatalf("the ladder failed: %s %+v %+v", done.Status, done.Ladder, done.Failure)
		}
		return done.Ladder == nil
	})

	total := map[string]int{}
	for _, w := range workers {
		started, _ := ladderParts(t, w)
		for part, n := range started {
			total[part] += n
		}
	}
	var parts []string
	for part := range total {
		parts = append(parts, part)
	}
	sort.Strings(parts)
	if len(parts) < 8 || total["audio"] == 0 {
		t.Fatalf("parts encoded: %v; want a dozen chunks and the audio", total)
	}
	for _, part := range parts {
		want := 1
		if part == killedPart {
			want = 2
		}
		if total[part] != want {
			t.Errorf("part %s was encoded %d times, want %d (killed: %s, done before the kill: %v)", part, total[part], want, killedPart, doneBefore[part])
		}
	}
	// The clip plays its stitched ladder, and the parts are gone.
	owner.must("GET", "/api/v1/clips/"+clipID+"/media/master.m3u8", "", 200)
	owner.must("GET", "/api/v1/clips/"+clipID+"/media/540p/index.m3u8", "", 200)
	waitFor(t, "the chunk objects to go after the switch", time.Minute, func() bool {
		left, _ := os.ReadDir(dataDir + "/media/clips/" + clipID + "/ladder")
		return len(left) == 0
	})
}
