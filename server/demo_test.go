package server

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg is not installed")
	}
	e := mediaEnv(t, testsvc.Databases(Migrations()...)[0].Open(t), false)
	ctx := context.Background()
	var out bytes.Buffer
	if err := seedDemo(ctx, e.srv, discardLog(), &out); err != nil {
		t.Fatal(err)
	}
	teacher, err := e.srv.Accounts.Authenticate(ctx, "teacher@demo.filmroom.local", DemoPassword, "127.0.0.1")
	if err != nil {
		t.Fatalf("demo teacher cannot sign in: %v", err)
	}
	clips, err := e.srv.Clips.List(ctx, teacher.Actor("session"), media.ScopeMine, "")
	if err != nil || len(clips) != 1 || clips[0].Status != media.StatusReady || clips[0].DurationMS < 15000 {
		t.Fatalf("demo clip: %+v, %v", clips, err)
	}
	peer, _ := e.srv.Accounts.Authenticate(ctx, "peer1@demo.filmroom.local", DemoPassword, "127.0.0.1")
	if _, err := e.srv.Clips.Authorize(ctx, peer.Actor("session"), accounts.ClipView, clips[0].ID); err != nil {
		t.Fatalf("the demo clip is not shared with the cohort: %v", err)
	}
	// Running it again changes nothing and says how to sign in.
	out.Reset()
	if err := seedDemo(ctx, e.srv, discardLog(), &out); err != nil || !strings.Contains(out.String(), "already set up") {
		t.Fatalf("second demo: %v %q", err, out.String())
	}
}
