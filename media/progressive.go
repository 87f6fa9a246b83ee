package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/filmroom/filmroom/media/transcode"
)

// progressive publishes a clip's quick rendition (the source packaged,
// or the preview) while ffmpeg writes it (transcode.PackageProgress): the
// clip is marked ready with the first segments, each later call stores the newly listed segments and then the
// playlist that lists them, so a player never reads a segment that is not
// there, and the last call stores the master with the measured bandwidth.
type progressive struct {
	ctx                context.Context
	p                  *Pipeline
	clipID, token, out string
	start              transcode.StartPath
	rendition          string // from the first call's result
	// ready: the clip was marked ready from this rendition.
	ready    bool
	stored   map[string]bool
	playlist []byte // as last stored
}

func (g *progressive) progress(res *transcode.Result, final bool) error {
	ctx := g.ctx
	if err := g.still(ctx); err != nil {
		return err
	}
	if !g.ready {
		// The first call, with the result as it will be: replace any
		// partial output of an earlier attempt, then store and publish.
		g.rendition = res.Renditions[0].Name
		if err := g.p.Store.DeletePrefix(ctx, mediaKey(g.clipID, "")); err != nil {
			return fmt.Errorf("clear old media of clip %s: %w", g.clipID, err)
		}
		if err := g.sync(ctx); err != nil {
			return err
		}
		for _, f := range []string{res.Poster, res.Master} {
			if err := g.p.putFile(ctx, mediaKey(g.clipID, f), filepath.Join(g.out, f)); err != nil {
				return fmt.Errorf("store media of clip %s: %w", g.clipID, err)
			}
		}
		if err := g.p.markReady(ctx, g.clipID, g.token, res, string(g.start)); err != nil {
			return err
		}
		g.ready = true
		return g.still(ctx) // deleted meanwhile: stop storing
	}
	if err := g.sync(ctx); err != nil {
		return err
	}
	if final {
		if err := g.p.putFile(ctx, mediaKey(g.clipID, res.Master), filepath.Join(g.out, res.Master)); err != nil {
			return fmt.Errorf("store media of clip %s: %w", g.clipID, err)
		}
	}
	return nil
}

// still stops a packaging whose clip was deleted or whose lease another
// attempt took over.
func (g *progressive) still(ctx context.Context) error {
	if err := g.p.stillThere(ctx, g.clipID); err != nil {
		return err
	}
	return g.p.holds(ctx, g.clipID, g.token)
}

// sync stores the segments the playlist lists that are not stored yet,
// then the playlist as it was read.
func (g *progressive) sync(ctx context.Context) error {
	rel := g.rendition + "/index.m3u8"
	body, err := os.ReadFile(filepath.Join(g.out, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("store media of clip %s: %w", g.clipID, err)
	}
	if g.stored == nil {
		g.stored = map[string]bool{}
	}
	for _, line := range strings.Split(string(body), "\n") {
		uri := strings.TrimSpace(line)
		if uri == "" || strings.HasPrefix(uri, "#") || g.stored[uri] {
			continue
		}
		segRel := g.rendition + "/" + uri
		if strings.Contains(uri, "/") || !validMediaPath(segRel) {
			return fmt.Errorf("store media of clip %s: unexpected segment %q in the packaged playlist", g.clipID, uri)
		}
		if err := g.p.putFile(ctx, mediaKey(g.clipID, segRel), filepath.Join(g.out, g.rendition, uri)); err != nil {
			return fmt.Errorf("store media of clip %s: %w", g.clipID, err)
		}
		g.stored[uri] = true
	}
	if err := g.p.Store.Put(ctx, mediaKey(g.clipID, rel), bytes.NewReader(body), int64(len(body)), ""); err != nil {
		return fmt.Errorf("store media of clip %s: %w", g.clipID, err)
	}
	g.playlist = body
	return nil
}

// finish ends the stored playlist where it is, after a packaging that
// stopped once the clip was playable, so players stop waiting for more;
// the ladder replaces the rendition. Nothing is done for a deleted clip
// or a lost lease: the attempt that took over finishes.
func (g *progressive) finish(ctx context.Context, cause error) error {
	switch {
	case errors.Is(cause, ErrClipDeleted):
		return nil // its objects went with it (stillThere)
	case errors.Is(cause, errLeaseLost) || ctx.Err() != nil:
		return cause
	}
	if err := g.still(ctx); err != nil {
		if errors.Is(err, ErrClipDeleted) {
			return nil
		}
		return err
	}
	body := g.playlist
	if !bytes.Contains(body, []byte("#EXT-X-ENDLIST")) {
		body = append(bytes.TrimRight(body, "\n"), []byte("\n#EXT-X-ENDLIST\n")...)
	}
	if err := g.p.Store.Put(ctx, mediaKey(g.clipID, g.rendition+"/index.m3u8"), bytes.NewReader(body), int64(len(body)), ""); err != nil {
		return fmt.Errorf("end the playlist of clip %s: %w", g.clipID, err)
	}
	return nil
}
