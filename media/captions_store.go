package media

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media/captions"
	"github.com/filmroom/filmroom/media/storage"
)

// Caption track versions. Both are kept; a track's Current names the one
// players get, so an owner can always go back to what the engine heard.
const (
	CaptionMachine = "machine"
	CaptionEdited  = "edited"
)

// Caption job states, stored in clips.caption_status. The clip itself stays
// ready to watch in every one of them.
const (
	CaptionPending = "pending" // queued (or waiting to retry)
	CaptionRunning = "running" // the speech engine is at work; see progress
	CaptionReady   = "ready"   // machine captions exist
	CaptionNone    = "none"    // nothing to do: no sound, no engine, no speech
	CaptionFailed  = "failed"  // the engine kept failing; see the reason
)

// CaptionTrack is one language's captions of a clip.
type CaptionTrack struct {
	Lang  string `json:"lang"`
	Label string `json:"label"`
	// Current is the version players get: machine or edited.
	Current    string  `json:"current"`
	HasMachine bool    `json:"has_machine"`
	HasEdited  bool    `json:"has_edited"`
	Engine     string  `json:"engine,omitempty"`
	Cues       int     `json:"cues"`
	EditedBy   *Person `json:"edited_by,omitempty"`
	// Path is the current version's WebVTT under the clip's media route.
	Path      string    `json:"path"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// CaptionState is a clip's captioning: where the automatic captions job is
// and which tracks exist.
type CaptionState struct {
	Status   string  `json:"status"`
	Progress float64 `json:"progress"`
	Reason   string  `json:"reason,omitempty"`
	// Parts and PartsDone count the chunks of the captioning under way
	// (both 0 when none is): a track grows as parts finish.
	Parts     int            `json:"parts"`
	PartsDone int            `json:"parts_done"`
	Tracks    []CaptionTrack `json:"tracks"`
}

// Captions stores caption tracks (WebVTT objects), their word-level
// transcripts and the transcript search index, and enforces who may change
// them. The speech job (CaptionJob) and the HTTP handlers both go through it.
type Captions struct {
	clips *Clips
	store storage.Store
	log   *slog.Logger
	// OnChange is told when a clip's captions change; may be nil.
	OnChange func(ctx context.Context, clipID string)
}

// NewCaptions returns the caption store over the clips' database and the
// media object store.
func NewCaptions(clips *Clips, store storage.Store) *Captions {
	log := clips.log
	if log == nil {
		log = slog.Default()
	}
	return &Captions{clips: clips, store: store, log: log}
}

// captionFile is a version's WebVTT, relative to the clip's media folder.
// The machine version keeps the plain "<lang>.vtt" name.
func captionFile(lang, version string) string {
	if version == CaptionEdited {
		return "captions/" + lang + ".edited.vtt"
	}
	return "captions/" + lang + ".vtt"
}

// ParseLanguage validates a BCP 47 tag ("en", "en-US", "pt-BR", "zh-Hant")
// and returns its canonical form, which names tracks and objects.
func ParseLanguage(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 35 {
		return "", apperr.Invalid("lang", "give a language tag such as en, en-US or es")
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return "", apperr.Invalid("lang", "%q is not a language tag; use one such as en, en-US or es", s)
		}
	}
	tag, err := language.Parse(strings.ReplaceAll(s, "_", "-"))
	if err != nil || tag == language.Und {
		return "", apperr.Invalid("lang", "%q is not a language tag; use one such as en, en-US or es", s)
	}
	return tag.String(), nil
}

// languageLabel names a language for a player's caption menu, in that
// language ("English", "español").
func languageLabel(lang string) string {
	tag, err := language.Parse(lang)
	if err != nil {
		return lang
	}
	base, _ := tag.Base()
	name := display.Languages(tag).Name(base)
	if name == "" {
		name = display.Self.Name(base)
	}
	if name == "" {
		return lang
	}
	// Players list tracks by name, and HLS wants names unique: keep the
	// region ("English (United States)") so en and en-US differ.
	var extra []string
	if script, conf := tag.Script(); conf == language.Exact {
		if s := display.Scripts(tag).Name(script); s != "" {
			extra = append(extra, s)
		}
	}
	if region, conf := tag.Region(); conf == language.Exact {
		if r := display.Regions(tag).Name(region); r != "" {
			extra = append(extra, r)
		}
	}
	if len(extra) > 0 {
		name += " (" + strings.Join(extra, ", ") + ")"
	}
	return name
}

func (cs *Captions) changed(ctx context.Context, clipID string) {
	if cs.OnChange != nil {
		cs.OnChange(ctx, clipID)
	}
}

// State returns the clip's caption job state and tracks (no authorization).
func (cs *Captions) State(ctx context.Context, clipID string) (CaptionState, error) {
	st := CaptionState{Tracks: []CaptionTrack{}}
	err := cs.clips.db.Reader().QueryRow(ctx, `SELECT caption_status, caption_progress, caption_reason FROM clips WHERE id = ?`, clipID).
		Scan(&st.Status, &st.Progress, &st.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return st, apperr.NotFound("clip")
	}
	if err != nil {
		return st, fmt.Errorf("read caption state of clip %s: %w", clipID, err)
	}
	if st.Parts, st.PartsDone, err = cs.chunkCounts(ctx, cs.clips.db.Reader(), clipID); err != nil {
		return st, err
	}
	st.Tracks, err = cs.tracks(ctx, cs.clips.db.Reader(), clipID)
	return st, err
}

const trackCols = `t.lang, t.label, t.current, t.has_machine, t.has_edited, t.machine_engine, t.machine_cues, t.edited_cues,
	COALESCE(t.edited_by, ''), COALESCE(u.name, ''), t.created_at, t.updated_at`

func scanTrack(row interface{ Scan(...any) error }) (CaptionTrack, error) {
	var t CaptionTrack
	var machineCues, editedCues int
	var byID, byName string
	var created, updated int64
	if err := row.Scan(&t.Lang, &t.Label, &t.Current, &t.HasMachine, &t.HasEdited, &t.Engine, &machineCues, &editedCues,
		&byID, &byName, &created, &updated); err != nil {
		return t, err
	}
	t.Cues = machineCues
	if t.Current == CaptionEdited {
		t.Cues = editedCues
	}
	if byID != "" {
		t.EditedBy = &Person{ID: byID, Name: byName}
	}
	t.Path = captionFile(t.Lang, t.Current)
	t.CreatedAt, t.UpdatedAt = sqldb.Time(created), sqldb.Time(updated)
	return t, nil
}

// tracks lists a clip's caption tracks by language.
func (cs *Captions) tracks(ctx context.Context, q sqldb.Q, clipID string) ([]CaptionTrack, error) {
	rows, err := q.Query(ctx, `SELECT `+trackCols+` FROM caption_tracks t LEFT JOIN users u ON u.id = t.edited_by
		WHERE t.clip_id = ? ORDER BY t.lang`, clipID)
	if err != nil {
		return nil, fmt.Errorf("list caption tracks of clip %s: %w", clipID, err)
	}
	defer rows.Close()
	out := []CaptionTrack{}
	for rows.Next() {
		t, err := scanTrack(rows)
		if err != nil {
			return nil, fmt.Errorf("list caption tracks of clip %s: %w", clipID, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// track returns one track, apperr.NotFound when the clip has none in lang.
func (cs *Captions) track(ctx context.Context, q sqldb.Q, clipID, lang string) (CaptionTrack, error) {
	t, err := scanTrack(q.QueryRow(ctx, `SELECT `+trackCols+` FROM caption_tracks t LEFT JOIN users u ON u.id = t.edited_by
		WHERE t.clip_id = ? AND t.lang = ?`, clipID, lang))
	if errors.Is(err, sql.ErrNoRows) {
		return t, apperr.NotFound("captions in " + lang)
	}
	if err != nil {
		return t, fmt.Errorf("read %s captions of clip %s: %w", lang, clipID, err)
	}
	return t, nil
}

// setJobState records where the automatic captions job is.
func (cs *Captions) setJobState(ctx context.Context, clipID, status string, progress float64, reason string) error {
	if _, err := cs.clips.db.Writer().Exec(ctx, `UPDATE clips SET caption_status = ?, caption_progress = ?, caption_reason = ?, updated_at = ? WHERE id = ?`,
		status, progress, reason, sqldb.Millis(cs.clips.now()), clipID); err != nil {
		return fmt.Errorf("set caption status of clip %s to %s: %w", clipID, status, err)
	}
	cs.changed(ctx, clipID)
	return nil
}

// newVersion is a caption version about to be saved.
type newVersion struct {
	clipID, lang, version string
	cues                  []captions.Cue
	words                 []captions.Word
	engine                string
	// by is the user who uploaded or edited (edited versions only).
	by string
}

// save stores a version: the WebVTT object, the transcript, and (when the
// version is or becomes current) the search index. An edited version always
// becomes current; a machine version only when nobody has edited the track,
// so a job that finishes late never overwrites a person's work. The object
// is written inside the transaction, so concurrent saves of one track are
// serialized by the row lock and the database never names a file that holds
// another save's cues.
func (cs *Captions) save(ctx context.Context, v newVersion) (CaptionTrack, error) {
	var out CaptionTrack
	err := cs.clips.db.Tx(ctx, func(q sqldb.Q) error {
		var err error
		out, err = cs.saveTx(ctx, q, v)
		return err
	})
	if err != nil {
		return CaptionTrack{}, err
	}
	cs.changed(ctx, v.clipID)
	return out, nil
}

// saveTx is save inside the caller's transaction (the chunked captions job
// saves each partial track with the chunk results it read in the same one).
func (cs *Captions) saveTx(ctx context.Context, q sqldb.Q, v newVersion) (CaptionTrack, error) {
	var transcript bytes.Buffer
	if err := captions.EncodeTranscript(&transcript, captions.Transcript{Engine: v.engine, Language: v.lang, Words: v.words}); err != nil {
		return CaptionTrack{}, err
	}
	vtt := captions.VTT(v.cues)
	now := sqldb.Millis(cs.clips.now())
	var out CaptionTrack
	err := func() error {
		var by any
		if v.by != "" {
			by = v.by
		}
		var err error
		if v.version == CaptionMachine {
			_, err = q.Exec(ctx, `INSERT INTO caption_tracks (clip_id, lang, label, current, has_machine, machine_engine, machine_cues, created_at, updated_at)
				VALUES (?, ?, ?, 'machine', TRUE, ?, ?, ?, ?)
				ON CONFLICT (clip_id, lang) DO UPDATE SET has_machine = TRUE, machine_engine = excluded.machine_engine,
				machine_cues = excluded.machine_cues, updated_at = excluded.updated_at`,
				v.clipID, v.lang, languageLabel(v.lang), v.engine, len(v.cues), now, now)
		} else {
			_, err = q.Exec(ctx, `INSERT INTO caption_tracks (clip_id, lang, label, current, has_edited, edited_cues, edited_by, created_at, updated_at)
				VALUES (?, ?, ?, 'edited', TRUE, ?, ?, ?, ?)
				ON CONFLICT (clip_id, lang) DO UPDATE SET current = 'edited', has_edited = TRUE, edited_cues = excluded.edited_cues,
				edited_by = excluded.edited_by, updated_at = excluded.updated_at`,
				v.clipID, v.lang, languageLabel(v.lang), len(v.cues), by, now, now)
		}
		if err != nil {
			return fmt.Errorf("save %s captions of clip %s: %w", v.lang, v.clipID, err)
		}
		if _, err := q.Exec(ctx, `INSERT INTO transcripts (clip_id, lang, version, engine, word_count, words_json, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (clip_id, lang, version) DO UPDATE SET engine = excluded.engine, word_count = excluded.word_count,
			words_json = excluded.words_json, updated_at = excluded.updated_at`,
			v.clipID, v.lang, v.version, v.engine, len(v.words), transcript.String(), now); err != nil {
			return fmt.Errorf("save %s transcript of clip %s: %w", v.lang, v.clipID, err)
		}
		t, err := cs.track(ctx, q, v.clipID, v.lang)
		if err != nil {
			return err
		}
		if t.Current == v.version {
			if err := reindex(ctx, q, v.clipID, v.lang, v.words); err != nil {
				return err
			}
		}
		if err := cs.syncMediaJSON(ctx, q, v.clipID); err != nil {
			return err
		}
		if err := cs.store.Put(ctx, mediaKey(v.clipID, captionFile(v.lang, v.version)), bytes.NewReader(vtt), int64(len(vtt)), "text/vtt; charset=utf-8"); err != nil {
			return fmt.Errorf("store %s captions of clip %s: %w", v.lang, v.clipID, err)
		}
		out = t
		return nil
	}()
	return out, err
}

// revert makes the machine version current again; the edited version stays
// stored so that a later edit starts from it if the owner wants.
func (cs *Captions) revert(ctx context.Context, clipID, lang string) (CaptionTrack, error) {
	var out CaptionTrack
	err := cs.clips.db.Tx(ctx, func(q sqldb.Q) error {
		t, err := cs.track(ctx, q, clipID, lang)
		if err != nil {
			return err
		}
		if !t.HasMachine {
			return apperr.New(apperr.ErrConflict, "no_machine_captions", "these captions were uploaded, not made automatically, so there is no automatic version to go back to")
		}
		if t.Current != CaptionMachine {
			if _, err := q.Exec(ctx, `UPDATE caption_tracks SET current = 'machine', updated_at = ? WHERE clip_id = ? AND lang = ?`,
				sqldb.Millis(cs.clips.now()), clipID, lang); err != nil {
				return fmt.Errorf("revert %s captions of clip %s: %w", lang, clipID, err)
			}
			tr, err := cs.transcript(ctx, q, clipID, lang, CaptionMachine)
			if err != nil {
				return err
			}
			if err := reindex(ctx, q, clipID, lang, tr.Words); err != nil {
				return err
			}
			if err := cs.syncMediaJSON(ctx, q, clipID); err != nil {
				return err
			}
		}
		out, err = cs.track(ctx, q, clipID, lang)
		return err
	})
	if err != nil {
		return out, err
	}
	cs.changed(ctx, clipID)
	return out, nil
}

// remove deletes a language's track, both versions and their objects.
func (cs *Captions) remove(ctx context.Context, clipID, lang string) error {
	err := cs.clips.db.Tx(ctx, func(q sqldb.Q) error {
		if _, err := cs.track(ctx, q, clipID, lang); err != nil {
			return err
		}
		// The schema cascades to the transcripts and the search index.
		if _, err := q.Exec(ctx, `DELETE FROM caption_tracks WHERE clip_id = ? AND lang = ?`, clipID, lang); err != nil {
			return fmt.Errorf("delete %s captions of clip %s: %w", lang, clipID, err)
		}
		if err := cs.syncMediaJSON(ctx, q, clipID); err != nil {
			return err
		}
		for _, version := range []string{CaptionMachine, CaptionEdited} {
			if err := cs.store.Delete(ctx, mediaKey(clipID, captionFile(lang, version))); err != nil {
				return fmt.Errorf("delete %s captions of clip %s: %w", lang, clipID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	cs.changed(ctx, clipID)
	return nil
}

// transcript reads a version's stored transcript.
func (cs *Captions) transcript(ctx context.Context, q sqldb.Q, clipID, lang, version string) (captions.Transcript, error) {
	var words string
	err := q.QueryRow(ctx, `SELECT words_json FROM transcripts WHERE clip_id = ? AND lang = ? AND version = ?`, clipID, lang, version).Scan(&words)
	if errors.Is(err, sql.ErrNoRows) {
		return captions.Transcript{}, apperr.NotFound(version + " transcript in " + lang)
	}
	if err != nil {
		return captions.Transcript{}, fmt.Errorf("read %s transcript of clip %s: %w", lang, clipID, err)
	}
	return captions.DecodeTranscript(strings.NewReader(words))
}

// readVTT returns a version's stored WebVTT bytes.
func (cs *Captions) readVTT(ctx context.Context, clipID, lang, version string) ([]byte, error) {
	obj, err := cs.store.Open(ctx, mediaKey(clipID, captionFile(lang, version)))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, apperr.NotFound(version + " captions in " + lang)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s captions of clip %s: %w", lang, clipID, err)
	}
	defer obj.Close()
	b, err := io.ReadAll(io.LimitReader(obj, captions.DefaultMaxCaptionBytes*4))
	if err != nil {
		return nil, fmt.Errorf("read %s captions of clip %s: %w", lang, clipID, err)
	}
	return b, nil
}

// syncMediaJSON copies the track list into the clip's media JSON, which the
// clip API returns, so a player learns of captions with the renditions. Keys
// it does not know are kept as they are.
func (cs *Captions) syncMediaJSON(ctx context.Context, q sqldb.Q, clipID string) error {
	tracks, err := cs.tracks(ctx, q, clipID)
	if err != nil {
		return err
	}
	// Lock the row before reading it: the pipeline replaces the rest of the
	// JSON concurrently (PostgreSQL; SQLite has one writer anyway).
	if _, err := q.Exec(ctx, `UPDATE clips SET media_json = media_json WHERE id = ?`, clipID); err != nil {
		return fmt.Errorf("lock media of clip %s: %w", clipID, err)
	}
	var raw string
	if err := q.QueryRow(ctx, `SELECT media_json FROM clips WHERE id = ?`, clipID).Scan(&raw); err != nil {
		return fmt.Errorf("read media of clip %s: %w", clipID, err)
	}
	m := map[string]json.RawMessage{}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return fmt.Errorf("read media of clip %s: %w", clipID, err)
		}
	}
	infos := make([]CaptionTrackInfo, 0, len(tracks))
	for _, t := range tracks {
		infos = append(infos, CaptionTrackInfo{Lang: t.Lang, Label: t.Label, Kind: t.Current, Path: t.Path})
	}
	if len(infos) == 0 {
		delete(m, "captions")
	} else {
		b, _ := json.Marshal(infos)
		m["captions"] = b
	}
	b, _ := json.Marshal(m)
	if _, err := q.Exec(ctx, `UPDATE clips SET media_json = ? WHERE id = ?`, string(b), clipID); err != nil {
		return fmt.Errorf("update media of clip %s: %w", clipID, err)
	}
	return nil
}

// Segment bounds of the search index: short enough that a hit's snippet is
// one thought, long enough that phrases rarely straddle two rows.
const (
	segmentMaxWords = 14
	segmentMaxMS    = 8000
	segmentPauseMS  = 1500
)

// segmentWord is a word in a segment's words_json: [start_ms, "text"].
type segmentWord struct {
	StartMS int64
	Text    string
}

func (w segmentWord) MarshalJSON() ([]byte, error) { return json.Marshal([]any{w.StartMS, w.Text}) }

func (w *segmentWord) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil || len(pair) != 2 {
		return fmt.Errorf("segment word %s: want [start_ms, text]", b)
	}
	if err := json.Unmarshal(pair[0], &w.StartMS); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &w.Text)
}

// reindex replaces a track's rows in the search index with words.
func reindex(ctx context.Context, q sqldb.Q, clipID, lang string, words []captions.Word) error {
	if _, err := q.Exec(ctx, `DELETE FROM transcript_segments WHERE clip_id = ? AND lang = ?`, clipID, lang); err != nil {
		return fmt.Errorf("clear search index of clip %s: %w", clipID, err)
	}
	ws := make([]captions.Word, 0, len(words))
	for _, w := range words {
		if strings.TrimSpace(w.Text) != "" {
			ws = append(ws, w)
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].StartMS < ws[j].StartMS })
	for start := 0; start < len(ws); {
		end := start + 1
		for end < len(ws) && end-start < segmentMaxWords && ws[end].StartMS-ws[end-1].EndMS < segmentPauseMS &&
			ws[end].EndMS-ws[start].StartMS <= segmentMaxMS {
			end++
		}
		seg := ws[start:end]
		texts := make([]string, len(seg))
		sw := make([]segmentWord, len(seg))
		for i, w := range seg {
			texts[i] = strings.TrimSpace(w.Text)
			sw[i] = segmentWord{StartMS: w.StartMS, Text: texts[i]}
		}
		text := strings.Join(texts, " ")
		wj, _ := json.Marshal(sw)
		if _, err := q.Exec(ctx, `INSERT INTO transcript_segments (clip_id, lang, start_ms, end_ms, text, folded, words_json) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			clipID, lang, seg[0].StartMS, seg[len(seg)-1].EndMS, text, foldText(text), string(wj)); err != nil {
			return fmt.Errorf("index transcript of clip %s: %w", clipID, err)
		}
		start = end
	}
	return nil
}

// authorize loads the clip when the actor may do act, and validates lang
// (when given).
func (cs *Captions) authorize(ctx context.Context, a accounts.Actor, act accounts.Action, clipID, lang string) (Clip, string, error) {
	c, err := cs.clips.Authorize(ctx, a, act, clipID)
	if err != nil {
		return c, "", err
	}
	if lang == "" {
		return c, "", nil
	}
	l, err := ParseLanguage(lang)
	return c, l, err
}
