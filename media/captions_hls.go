package media

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path"
	"strings"
)

// subtitleGroup is the GROUP-ID of the caption renditions in the master
// playlist.
const subtitleGroup = "subs"

// DecorateMaster adds the clip's caption tracks to its master playlist: one
// EXT-X-MEDIA subtitles rendition per language and SUBTITLES on every
// variant, so HLS players (hls.js, Safari) offer the captions. HLS allows one
// DEFAULT=YES per group: the first language gets it, every track is
// AUTOSELECT. A database error leaves the playlist as it was (the video
// still plays) and is logged.
func (cs *Captions) DecorateMaster(ctx context.Context, clipID string, master *bytes.Buffer) {
	tracks, err := cs.tracks(ctx, cs.clips.db.Reader(), clipID)
	if err != nil {
		cs.log.Warn("Could not add captions to a master playlist.", "clip_id", clipID, "error", err)
		return
	}
	if len(tracks) == 0 {
		return
	}
	var media strings.Builder
	names := map[string]bool{}
	for i, t := range tracks {
		def := "NO"
		if i == 0 {
			def = "YES"
		}
		// NAME must be unique in the group.
		name := strings.ReplaceAll(t.Label, `"`, "'")
		if names[name] {
			name += " [" + t.Lang + "]"
		}
		names[name] = true
		fmt.Fprintf(&media, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"%s\",NAME=\"%s\",LANGUAGE=\"%s\",DEFAULT=%s,AUTOSELECT=YES,FORCED=NO,URI=\"captions/%s.m3u8\"\n",
			subtitleGroup, name, t.Lang, def, t.Lang)
	}
	lines := strings.Split(strings.TrimRight(master.String(), "\n"), "\n")
	var out bytes.Buffer
	inserted := false
	for _, line := range lines {
		if strings.HasPrefix(line, "#EXT-X-STREAM-INF:") {
			if !inserted {
				out.WriteString(media.String())
				inserted = true
			}
			if !strings.Contains(line, "SUBTITLES=") {
				line += `,SUBTITLES="` + subtitleGroup + `"`
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if !inserted {
		return // not a master playlist
	}
	master.Reset()
	master.Write(out.Bytes())
}

// subtitlePlaylist answers "captions/<lang>.m3u8": a one-segment VOD
// playlist whose segment is the track's current WebVTT version. It is made
// on request, so switching versions (edit, revert) takes effect at once.
// ok is false for any other path.
func (cs *Captions) subtitlePlaylist(ctx context.Context, clipID, rel string) (body []byte, ok bool, err error) {
	dir, file := path.Split(rel)
	lang, isPlaylist := strings.CutSuffix(file, ".m3u8")
	if dir != "captions/" || !isPlaylist {
		return nil, false, nil
	}
	lang, err = ParseLanguage(lang)
	if err != nil {
		return nil, true, err
	}
	t, err := cs.track(ctx, cs.clips.db.Reader(), clipID, lang)
	if err != nil {
		return nil, true, err
	}
	var durationMS int64
	if err := cs.clips.db.Reader().QueryRow(ctx, `SELECT duration_ms FROM clips WHERE id = ?`, clipID).Scan(&durationMS); err != nil {
		return nil, true, fmt.Errorf("read duration of clip %s: %w", clipID, err)
	}
	secs := math.Max(float64(durationMS)/1000, 0.001)
	var b bytes.Buffer
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:%.3f,\n%s\n#EXT-X-ENDLIST\n",
		int(math.Ceil(secs)), secs, path.Base(captionFile(t.Lang, t.Current)))
	return b.Bytes(), true, nil
}
