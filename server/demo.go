package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/media"
)

// DemoPassword is the password of every demo account.
const DemoPassword = "filmroom-demo"

var demoPeople = []struct {
	email, name string
	role        accounts.Role
}{
	{"coach@demo.filmroom.local", "Cora Coach", accounts.RoleFacilitator},
	{"teacher@demo.filmroom.local", "Theo Teacher", accounts.RoleTeacher},
	{"peer1@demo.filmroom.local", "Priya Peer", accounts.RolePeer},
	{"peer2@demo.filmroom.local", "Pat Peer", accounts.RolePeer},
}

// demoScript is what the demo lesson's voice says, so captions and
// transcript search have something to find.
const demoScript = "Good morning everyone. Today we are going to compare fractions. " +
	"Look at the two pizzas on the board. Which slice is bigger, one third or one quarter? " +
	"Take a moment to think, then tell your partner why."

// seedDemo creates demo accounts, a cohort, a generated lesson clip (video
// from ffmpeg's test source, voice from espeak-ng when installed) and coach
// feedback on it, so a newcomer can try every part of filmroom. It does
// nothing when the demo accounts exist.
func seedDemo(ctx context.Context, s *Server, log *slog.Logger, w io.Writer) error {
	var users []accounts.User
	for _, p := range demoPeople {
		u, err := s.Accounts.CreateUser(ctx, accounts.NewUser{Email: p.email, Name: p.name, Password: DemoPassword}, false)
		if err != nil {
			if strings.Contains(err.Error(), "already exists") {
				fmt.Fprintf(w, "The demo is already set up. Sign in as %s with the password %q.\n", demoPeople[1].email, DemoPassword)
				return nil
			}
			return fmt.Errorf("demo account %s: %w", p.email, err)
		}
		users = append(users, u)
	}
	coach := users[0].Actor("demo")
	g, err := s.Accounts.CreateGroup(ctx, coach, accounts.GroupInput{Name: "Demo microteaching cohort",
		Description: "A practice cohort made by 'filmroom demo'."})
	if err != nil {
		return err
	}
	for i, p := range demoPeople[1:] {
		inv, err := s.Accounts.CreateInvitation(ctx, coach, g.ID, accounts.InvitationInput{Role: p.role})
		if err != nil {
			return err
		}
		a := users[i+1].Actor("demo")
		if _, _, err := s.Accounts.AcceptInvitation(ctx, inv.Token, &a, accounts.NewUser{}); err != nil {
			return err
		}
	}

	dir, err := os.MkdirTemp("", "filmroom-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clipPath, err := renderDemoClip(ctx, dir)
	if err != nil {
		return err
	}
	sum, size, err := fileSHA256(clipPath)
	if err != nil {
		return err
	}
	teacher := users[1].Actor("demo")
	clipID, err := s.media.pipeline.Ingest(ctx, teacher, media.NewClip{Title: "Comparing fractions (demo)", Filename: "demo-lesson.mp4",
		ContentType: "video/mp4", SizeBytes: size, GroupID: g.ID}, media.IngestFile{SHA256: sum, Path: clipPath, Open: func(context.Context) (io.ReadCloser, error) { return os.Open(clipPath) }})
	if err != nil {
		return fmt.Errorf("demo clip: %w", err)
	}
	fmt.Fprintln(w, "Processing and captioning the demo lesson (a few seconds)…")
	if err := waitDemoClip(ctx, s, teacher, clipID); err != nil {
		return err
	}
	notes := []struct {
		at   int64
		kind string
		body string
	}{
		{2000, "strength", "A warm, clear opening: everyone knows the goal of the lesson."},
		{6000, "question", "What did you expect students to say when you asked which slice is bigger?"},
		{11000, "suggestion", "Try waiting **five seconds** before taking answers: more hands go up."},
	}
	for _, n := range notes {
		at := n.at
		if _, _, err := s.live.annotations.Create(ctx, coach, clipID, annotations.AnnotationInput{StartMS: &at, Body: n.body,
			Kind: n.kind, Visibility: "audience"}); err != nil {
			return fmt.Errorf("demo annotation: %w", err)
		}
	}
	log.Info("Demo data created.", "clip_id", clipID, "group_id", g.ID)
	fmt.Fprintf(w, "\nDemo ready. Sign in as any of these, password %q:\n", DemoPassword)
	for _, p := range demoPeople {
		fmt.Fprintf(w, "  %-30s %s (%s)\n", p.email, p.name, p.role)
	}
	return nil
}

// renderDemoClip makes a 16-second lesson-like clip with ffmpeg.
func renderDemoClip(ctx context.Context, dir string) (string, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "", errors.New("the demo needs ffmpeg; run scripts/setup.sh")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	audio := []string{"-f", "lavfi", "-i", "sine=frequency=220:duration=16"}
	if _, err := exec.LookPath("espeak-ng"); err == nil {
		wav := filepath.Join(dir, "voice.wav")
		if out, err := exec.CommandContext(ctx, "espeak-ng", "-s", "140", "-w", wav, demoScript).CombinedOutput(); err != nil {
			return "", fmt.Errorf("espeak-ng: %v: %s", err, out)
		}
		audio = []string{"-i", wav}
	}
	out := filepath.Join(dir, "demo-lesson.mp4")
	args := append([]string{"-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=16"}, audio...)
	args = append(args, "-af", "apad", "-t", "16", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-c:a", "aac", out)
	if b, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("render the demo clip: %v: %s", err, b)
	}
	return out, nil
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// waitDemoClip waits until the media jobs have made the demo clip playable
// and captioned it. The clip goes through the job queue like any upload, so
// a server already running on the same database cannot process it at the
// same time as the demo (the queue runs a job once).
func waitDemoClip(ctx context.Context, s *Server, teacher accounts.Actor, clipID string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		c, err := s.Clips.Authorize(ctx, teacher, accounts.ClipView, clipID)
		if err != nil {
			return fmt.Errorf("demo clip: %w", err)
		}
		switch {
		case c.Status == media.StatusFailed:
			reason := "unknown"
			if c.Failure != nil {
				reason = c.Failure.Reason
			}
			return fmt.Errorf("the demo clip could not be processed: %s", reason)
		case c.Status == media.StatusReady && c.CaptionStatus != media.CaptionPending && c.CaptionStatus != media.CaptionRunning:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the demo clip was not ready in time (status %s, captions %s): %w", c.Status, c.CaptionStatus, ctx.Err())
		case <-t.C:
		}
	}
}
