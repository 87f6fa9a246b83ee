package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/media/redact"
)

// The redaction proof: a sharp checkerboard lesson with a tone gets one
// static blur box, one blur box that follows keyframes and one muted
// range. Afterwards every rendition, the poster, every thumbnail, the
// download and the master (what exports and later transcodes read) are
// decoded: inside a box's region and time the picture has lost its edges
// (far less high-frequency energy than the source at the same spot),
// outside it is unchanged; the tone is silent inside the muted range and
// not outside; and no object stored before the redaction (the original,
// the old renditions, poster and thumbnails) is left in storage.

const (
	redW, redH = 960, 540
	// The analysis size: every video frame is decoded scaled to it, and
	// the source at the same size is the reference.
	anaW, anaH = 320, 180
)

func redactionSource(t *testing.T) string {
	return makeClip(t, t.TempDir(), "checker.mp4",
		"-f", "lavfi", "-i", fmt.Sprintf("nullsrc=s=%dx%d:r=15:d=4,geq=lum='if(mod(floor(X/16)+floor(Y/16),2),230,20)':cb=128:cr=128,format=yuv420p", redW, redH),
		"-f", "lavfi", "-i", "sine=frequency=440:duration=4:sample_rate=48000",
		"-c:v", "libx264", "-preset", "ultrafast", "-crf", "12", "-c:a", "aac", "-b:a", "128k", "-shortest")
}

// redactionPlan: the static box covers the top left from 0.6 s to 2.5 s;
// the moving one crosses the lower band from 0 to 3.5 s; audio is muted
// from 1.0 s to 2.0 s.
func redactionPlan() redact.Plan {
	return redact.Plan{
		Boxes: []redact.Box{
			{Kind: redact.Blur, StartMS: 600, EndMS: 2500, W: 0.3, H: 0.3, Keyframes: []redact.Keyframe{{TMS: 1000, X: 0.1, Y: 0.1}}, Label: "name on the board"},
			{Kind: redact.Blur, StartMS: 0, EndMS: 3500, W: 0.2, H: 0.2, Keyframes: []redact.Keyframe{{TMS: 0, X: 0.05, Y: 0.6}, {TMS: 3500, X: 0.75, Y: 0.6}}, Label: "student walking"},
		},
		Mutes: []redact.Mute{{StartMS: 1000, EndMS: 2000}},
	}
}

// gray decodes one frame of file at second at (ignored for images) as
// w×h 8-bit luma.
func gray(t *testing.T, file string, at float64, w, h int, crop string) []byte {
	t.Helper()
	args := []string{"-nostdin", "-v", "error"}
	if at >= 0 {
		args = append(args, "-ss", strconv.FormatFloat(at, 'f', 3, 64))
	}
	vf := fmt.Sprintf("scale=%d:%d:flags=area", w, h)
	if crop != "" {
		vf = crop + "," + vf
	}
	args = append(args, "-i", file, "-frames:v", "1", "-vf", vf, "-f", "rawvideo", "-pix_fmt", "gray", "-")
	out, err := exec.Command("ffmpeg", args...).Output()
	if err != nil || len(out) != w*h {
		t.Fatalf("decode %s at %v: %v (%d bytes)", file, at, err, len(out))
	}
	return out
}

// energy is the mean absolute difference between neighbouring pixels in
// the inner half of a region given in fractions of the frame: the edges
// of the checkerboard, which a blur removes.
func energy(img []byte, w, h int, x, y, bw, bh float64) float64 {
	x0, y0 := int((x+bw/4)*float64(w)), int((y+bh/4)*float64(h))
	x1, y1 := int((x+3*bw/4)*float64(w)), int((y+3*bh/4)*float64(h))
	var sum float64
	n := 0
	for yy := y0; yy < y1 && yy+1 < h; yy++ {
		for xx := x0; xx < x1 && xx+1 < w; xx++ {
			p := float64(img[yy*w+xx])
			sum += math.Abs(p-float64(img[yy*w+xx+1])) + math.Abs(p-float64(img[(yy+1)*w+xx]))
			n++
		}
	}
	return sum / float64(max(n, 1))
}

// checkFrame compares one decoded frame with the source's at the same
// time and size, box by box.
func checkFrame(t *testing.T, what string, got, src []byte, w, h int, atMS float64, plan redact.Plan) {
	t.Helper()
	for i, b := range plan.Boxes {
		x, y := b.At(atMS)
		e, ref := energy(got, w, h, x, y, b.W, b.H), energy(src, w, h, x, y, b.W, b.H)
		if ref < 5 {
			t.Fatalf("%s: the source has no detail at box %d (energy %.1f); the test proves nothing", what, i, ref)
		}
		if b.Active(atMS) {
			if e > 0.15*ref {
				t.Errorf("%s at %.0f ms: box %d is not blurred: energy %.1f, source %.1f", what, atMS, i, e, ref)
			}
		} else if e < 0.6*ref {
			t.Errorf("%s at %.0f ms: outside box %d's time the picture changed: energy %.1f, source %.1f", what, atMS, i, e, ref)
		}
	}
}

// rms is the loudness of the mono 8 kHz audio of file between two times.
func rms(t *testing.T, pcm []int16, fromS, toS float64) float64 {
	t.Helper()
	a, b := int(fromS*8000), min(int(toS*8000), len(pcm))
	var sum float64
	for _, s := range pcm[a:b] {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(max(b-a, 1)))
}

func audio(t *testing.T, file string) []int16 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", file, "-map", "0:a:0", "-ac", "1", "-ar", "8000", "-f", "s16le", "-").Output()
	if err != nil {
		t.Fatalf("decode audio of %s: %v", file, err)
	}
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return pcm
}

func checkMuted(t *testing.T, what, file string) {
	t.Helper()
	pcm := audio(t, file)
	before, inside, after := rms(t, pcm, 0.2, 0.8), rms(t, pcm, 1.15, 1.85), rms(t, pcm, 2.2, 3.5)
	if before < 1000 || after < 1000 {
		t.Errorf("%s: the tone is gone outside the muted range: rms %.0f before, %.0f after", what, before, after)
	}
	if inside > 30 {
		t.Errorf("%s: the muted range is not silent: rms %.0f (%.0f outside)", what, inside, before)
	}
}

// snapshot copies every object of the clip into a folder (keys as paths)
// and returns key → sha256.
func snapshot(t *testing.T, fe *forgetEnv, clipID, dir string) map[string]string {
	t.Helper()
	ctx := context.Background()
	objs, err := fe.srv.media.store.List(ctx, "clips/"+clipID+"/")
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, o := range objs {
		r, err := fe.srv.media.store.Open(ctx, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(o.Key))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(io.MultiWriter(f, h), r); err != nil {
			t.Fatal(err)
		}
		r.Close()
		f.Close()
		sums[o.Key] = hex.EncodeToString(h.Sum(nil))
	}
	return sums
}

// thumbCues reads thumbs.vtt: the time each thumbnail shows and its tile.
// A cue spans the sprite interval, and its picture is the last frame before
// the middle of it (ffmpeg's fps filter rounds to the nearest output time).
func thumbCues(t *testing.T, path string) (shows []float64, tiles [][4]int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var start float64
	for sc.Scan() {
		line := sc.Text()
		if a, b, ok := strings.Cut(line, " --> "); ok {
			start = (vttSeconds(t, a)+vttSeconds(t, b))/2 - 1.0/15
		}
		if _, xywh, ok := strings.Cut(line, "#xywh="); ok {
			var tile [4]int
			for i, p := range strings.Split(xywh, ",") {
				tile[i], _ = strconv.Atoi(p)
			}
			shows, tiles = append(shows, start), append(tiles, tile)
		}
	}
	return shows, tiles
}

func vttSeconds(t *testing.T, s string) float64 {
	parts := strings.Split(strings.TrimSpace(s), ":")
	var v float64
	for _, p := range parts {
		f, err := strconv.ParseFloat(p, 64)
		if err != nil {
			t.Fatalf("vtt time %q", s)
		}
		v = v*60 + f
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitRedacted(t *testing.T, fe *forgetEnv, owner person, clipID string) media.Redaction {
	t.Helper()
	var red media.Redaction
	waitFor(t, "the redaction to be applied", 4*time.Minute, func() bool {
		var got struct{ Redaction media.Redaction }
		mustStatus(t, fe.do(owner, "GET", "/api/v1/clips/"+clipID+"/redaction", ""), 200, "read redaction").json(t, &got)
		red = got.Redaction
		if red.Status == media.RedactionFailed {
			t.Fatalf("redaction failed: %s", red.Failure)
		}
		return red.Status == "" && len(red.Applied) > 0
	})
	return red
}

func TestRedactionBurnsIntoEveryFile(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg", "ffprobe")
	srcPath := redactionSource(t)
	data, err := os.ReadFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	plan := redactionPlan()
	planJSON := mustJSON(t, plan)
	times := []float64{300, 1700, 3000, 3800} // ms: each box on and off
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := newForgetEnv(t, tc.db.Open(t), tc.s3, nil)
			owner := fe.user("teacher@example.org", "Tess", false)
			clip := readyClip(t, fe.env, owner, "redact.mp4", data)
			base := "/api/v1/clips/" + clip.ID
			before := snapshot(t, fe, clip.ID, t.TempDir())
			if len(before) < 6 {
				t.Fatalf("before redaction only %d objects", len(before))
			}

			mustStatus(t, fe.do(owner, "PUT", base+"/redaction", planJSON), 200, "save plan")
			mustStatus(t, fe.do(owner, "POST", base+"/redaction/apply", ""), 202, "apply")
			red := waitRedacted(t, fe, owner, clip.ID)
			if red.OriginalUntil != nil || len(red.Plan.Boxes) != 0 || len(red.Applied) != 1 || len(red.Applied[0].Plan.Boxes) != 2 {
				t.Fatalf("after apply: %+v", red)
			}

			dir := t.TempDir()
			after := snapshot(t, fe, clip.ID, dir)
			// Nothing stored before is left: every picture, segment and
			// the source were made again (playlists and the thumbnail
			// track may read the same, so they are not compared).
			for key, sum := range after {
				if strings.HasSuffix(key, ".m3u8") || strings.HasSuffix(key, ".vtt") {
					continue
				}
				for oldKey, oldSum := range before {
					if sum == oldSum {
						t.Errorf("%s after redaction has the bytes of %s before it", key, oldKey)
					}
				}
			}
			srcSum := sha256.Sum256(data)
			for key, sum := range after {
				if sum == hex.EncodeToString(srcSum[:]) {
					t.Errorf("the unredacted upload is still stored, as %s", key)
				}
			}
			if _, ok := after["clips/"+clip.ID+"/redaction/original"]; ok {
				t.Error("an original was kept although --keep-originals-for is 0")
			}
			clipDir := filepath.Join(dir, "clips", clip.ID)
			var c struct{ Clip media.Clip }
			fe.do(owner, "GET", base, "").json(t, &c)
			var info media.MediaInfo
			if err := jsonUnmarshal(c.Clip.Media, &info); err != nil {
				t.Fatal(err)
			}
			if len(info.Renditions) < 2 || info.Poster == "" || info.Thumbnails == "" || info.MP4 == "" {
				t.Fatalf("media after redaction: %+v", info)
			}

			video := map[string]string{
				"master (source)": filepath.Join(clipDir, "source", "original"),
				"download":        filepath.Join(clipDir, "media", info.MP4),
			}
			for _, r := range info.Renditions {
				video["rendition "+r.Name] = filepath.Join(clipDir, "media", filepath.FromSlash(r.Playlist))
			}
			for what, file := range video {
				for _, at := range times {
					got := gray(t, file, at/1000, anaW, anaH, "")
					ref := gray(t, srcPath, at/1000, anaW, anaH, "")
					checkFrame(t, what, got, ref, anaW, anaH, at, plan)
				}
				checkMuted(t, what, file)
			}

			// The poster is a frame a tenth into the clip.
			posterAt := 400.0
			checkFrame(t, "poster", gray(t, filepath.Join(clipDir, "media", info.Poster), -1, anaW, anaH, ""),
				gray(t, srcPath, posterAt/1000, anaW, anaH, ""), anaW, anaH, posterAt, plan)

			starts, tiles := thumbCues(t, filepath.Join(clipDir, "media", info.Thumbnails))
			if len(starts) < 2 {
				t.Fatalf("only %d thumbnails", len(starts))
			}
			for i, tile := range tiles {
				crop := fmt.Sprintf("crop=%d:%d:%d:%d", tile[2], tile[3], tile[0], tile[1])
				got := gray(t, filepath.Join(clipDir, "media", info.Sprite), -1, tile[2], tile[3], crop)
				ref := gray(t, srcPath, starts[i], tile[2], tile[3], "")
				checkFrame(t, fmt.Sprintf("thumbnail %d", i), got, ref, tile[2], tile[3], starts[i]*1000, plan)
			}

			// The download route serves the redacted MP4 when downloads are on.
			if res := fe.do(owner, "GET", base+"/download", ""); res.status == 200 {
				sum := sha256.Sum256([]byte(res.body))
				if hex.EncodeToString(sum[:]) != after["clips/"+clip.ID+"/media/"+info.MP4] {
					t.Error("the download route does not serve the redacted MP4")
				}
			}
			if res := fe.do(owner, "GET", base+"/redaction/original", ""); res.status != 404 {
				t.Errorf("original download without a kept original: %d", res.status)
			}

			// A later transcode (a retry, a new ladder) reads the master,
			// so the redaction survives it.
			ctx := context.Background()
			if _, err := fe.db.Writer().Exec(ctx, `UPDATE clips SET status = 'probing' WHERE id = ?`, clip.ID); err != nil {
				t.Fatal(err)
			}
			if err := fe.srv.media.pipeline.Process(ctx, clip.ID); err != nil {
				t.Fatal(err)
			}
			again := t.TempDir()
			snapshot(t, fe, clip.ID, again)
			fe.do(owner, "GET", base, "").json(t, &c)
			info = media.MediaInfo{}
			if err := jsonUnmarshal(c.Clip.Media, &info); err != nil {
				t.Fatal(err)
			}
			top := info.Renditions[len(info.Renditions)-1]
			file := filepath.Join(again, "clips", clip.ID, "media", filepath.FromSlash(top.Playlist))
			for _, at := range times {
				checkFrame(t, "re-transcoded "+top.Name, gray(t, file, at/1000, anaW, anaH, ""), gray(t, srcPath, at/1000, anaW, anaH, ""), anaW, anaH, at, plan)
			}
		})
	}
}

// TestRedactionKeepsOriginalForOwner: with --keep-originals-for the
// unredacted upload stays for its owner alone, and housekeeping purges it
// when its time is up.
func TestRedactionKeepsOriginalForOwner(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg", "ffprobe")
	data, err := os.ReadFile(lessonClip(t))
	if err != nil {
		t.Fatal(err)
	}
	tc := forgetBackends()[0]
	fe := newForgetEnv(t, tc.db.Open(t), false, nil)
	fe.srv.media.pipeline.KeepOriginals = time.Hour
	owner := fe.user("teacher@example.org", "Tess", false)
	admin := fe.user("admin@example.org", "Ada", true)
	clip := readyClip(t, fe.env, owner, "keep.mp4", data)
	base := "/api/v1/clips/" + clip.ID
	mustStatus(t, fe.do(owner, "PUT", base+"/audience", `{"emails":["admin@example.org"]}`), 200, "share with the admin")
	mustStatus(t, fe.do(owner, "PUT", base+"/redaction", `{"boxes":[{"kind":"solid","start_ms":0,"end_ms":2000,"w":0.5,"h":0.5,"keyframes":[{"t_ms":0,"x":0,"y":0}]}],"mutes":[]}`), 200, "save")
	mustStatus(t, fe.do(owner, "POST", base+"/redaction/apply", ""), 202, "apply")
	red := waitRedacted(t, fe, owner, clip.ID)
	if red.OriginalUntil == nil || red.OriginalUntil.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("kept original until %v", red.OriginalUntil)
	}
	res := mustStatus(t, fe.do(owner, "GET", base+"/redaction/original", ""), 200, "owner downloads the original")
	if res.body != string(data) {
		t.Error("the kept original is not the upload")
	}
	if !strings.Contains(res.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("Content-Disposition %q", res.header.Get("Content-Disposition"))
	}
	if res := fe.do(admin, "GET", base+"/redaction/original", ""); res.status != 403 && res.status != 404 {
		t.Errorf("a viewer (the admin) got the original: %d", res.status)
	}
	// A second redaction keeps the first original and its deadline.
	mustStatus(t, fe.do(owner, "PUT", base+"/redaction", `{"boxes":[],"mutes":[{"start_ms":0,"end_ms":500}]}`), 200, "save again")
	mustStatus(t, fe.do(owner, "POST", base+"/redaction/apply", ""), 202, "apply again")
	if r := waitRedacted(t, fe, owner, clip.ID); len(r.Applied) != 2 {
		t.Fatalf("after the second redaction: %+v", r)
	}
	if res := fe.do(owner, "GET", base+"/redaction/original", ""); res.body != string(data) {
		t.Error("the second redaction replaced the kept original")
	}

	ctx := context.Background()
	// The audit log has both redactions and the owner's download of the original.
	var redacts, downloads int
	if err := fe.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE clip_id = ? AND action = 'clip.redact' AND actor_id = ?`, clip.ID, owner.user.ID).Scan(&redacts); err != nil {
		t.Fatal(err)
	}
	if err := fe.db.Reader().QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE clip_id = ? AND action = 'clip.download' AND detail = 'unredacted original'`, clip.ID).Scan(&downloads); err != nil {
		t.Fatal(err)
	}
	if redacts != 2 || downloads < 1 {
		t.Errorf("audit log: %d clip.redact entries (want 2), %d downloads of the original", redacts, downloads)
	}
	if _, err := fe.db.Writer().Exec(ctx, `UPDATE clip_redactions SET original_until = 1 WHERE clip_id = ?`, clip.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := fe.srv.media.pipeline.PurgeOriginals(ctx); err != nil || n != 1 {
		t.Fatalf("purge: %d %v", n, err)
	}
	if _, err := fe.srv.media.store.Stat(ctx, "clips/"+clip.ID+"/redaction/original"); err == nil {
		t.Error("the original is still stored after its purge")
	}
	mustStatus(t, fe.do(owner, "GET", base+"/redaction/original", ""), 404, "original after purge")

	// A hard delete takes a kept original and the redaction rows with it.
	orig := "an unredacted original"
	if err := fe.srv.media.store.Put(ctx, "clips/"+clip.ID+"/redaction/original", strings.NewReader(orig), int64(len(orig)), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := fe.db.Writer().Exec(ctx, `UPDATE clip_redactions SET original_until = ? WHERE clip_id = ?`, time.Now().Add(time.Hour).UnixMilli(), clip.ID); err != nil {
		t.Fatal(err)
	}
	mustStatus(t, fe.do(owner, "DELETE", base, ""), 204, "delete")
	fe.assertForgotten(t, clip.ID, clip.UploadID)
}
