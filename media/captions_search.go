package media

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Search limits: a page holds at most maxSearchLimit hits, and paging stops
// at maxSearchOffset (refine the query rather than page through thousands).
const (
	defaultSearchLimit = 20
	maxSearchLimit     = 50
	maxSearchOffset    = 1000
	maxSearchTerms     = 8
)

// TranscriptHit is one place in a clip where the searched words are said.
type TranscriptHit struct {
	ClipID string `json:"clip_id"`
	Title  string `json:"title"`
	Lang   string `json:"lang"`
	// TimeMS is where the first matching word starts: seek the player here.
	TimeMS int64 `json:"time_ms"`
	// StartMS and EndMS bound the stretch of speech the snippet quotes.
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Snippet string `json:"snippet"`
}

// TranscriptPage is one page of search hits, best first.
type TranscriptPage struct {
	Hits []TranscriptHit `json:"hits"`
	// NextOffset is the offset of the next page; 0 when there is none.
	NextOffset int `json:"next_offset,omitempty"`
}

// foldText lowercases, strips accents and turns punctuation into spaces, so
// that "Fractions," finds "fractions" and "élève" finds "eleve". Indexed text
// and queries are folded the same way on both databases.
func foldText(s string) string {
	tr := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(tr, strings.ToValidUTF8(s, " "))
	if err != nil {
		folded = s
	}
	var b strings.Builder
	space := true
	for _, r := range strings.ToLower(folded) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
			space = false
		case r == '\'' || r == '\u2019':
			// "don't" and "dont" match.
		default:
			if !space {
				b.WriteByte(' ')
				space = true
			}
		}
	}
	return strings.TrimSpace(b.String())
}

// searchTerms splits a query into folded words; the last one may be a prefix
// (the user is still typing).
func searchTerms(q string) []string {
	terms := strings.Fields(foldText(q))
	if len(terms) > maxSearchTerms {
		terms = terms[:maxSearchTerms]
	}
	return terms
}

// visibleClip is the SQL condition "the actor may view clip c", the same
// rule as accounts.CanClip for ClipView: the owner, people it is shared
// with (by ID, or by an email that named their account), and members of groups (not archived) it is shared with.
const visibleClip = `(c.owner_id = ?
	OR EXISTS (SELECT 1 FROM clip_audience_users au WHERE au.clip_id = c.id AND au.user_id = ?)
	OR EXISTS (SELECT 1 FROM clip_audience_emails ae WHERE ae.clip_id = c.id AND ae.user_id = ?)
	OR EXISTS (SELECT 1 FROM clip_audience_groups ag JOIN group_members m ON m.group_id = ag.group_id
		JOIN groups g ON g.id = ag.group_id WHERE ag.clip_id = c.id AND m.user_id = ? AND g.archived_at IS NULL))`

// SearchTranscripts finds spoken words in the transcripts of the clips the
// actor may view, best matches first. Every query word must occur in a hit;
// the last may be the start of a word.
func (cs *Captions) SearchTranscripts(ctx context.Context, a accounts.Actor, q string, limit, offset int) (TranscriptPage, error) {
	terms := searchTerms(q)
	if len(terms) == 0 {
		return TranscriptPage{}, apperr.Invalid("q", "type a word to search for")
	}
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	limit = min(limit, maxSearchLimit)
	if offset < 0 || offset > maxSearchOffset {
		return TranscriptPage{}, apperr.Invalid("offset", "use an offset between 0 and %d; refine the search to see other results", maxSearchOffset)
	}
	var query string
	var args []any
	pol, err := cs.clips.currentPolicy(ctx)
	if err != nil {
		return TranscriptPage{}, err
	}
	visible, visibleArgs := visibleClipUnder(pol, a.UserID)
	switch cs.clips.db.Dialect {
	case sqldb.SQLite:
		// SQLite: FTS5. Each term is a quoted string (folded terms hold only
		// letters and digits); a trailing * makes the last one a prefix.
		// bm25 ranks lower-is-better.
		parts := make([]string, len(terms))
		for i, t := range terms {
			parts[i] = `"` + t + `"`
		}
		parts[len(parts)-1] += "*"
		query = `SELECT s.clip_id, c.title, s.lang, s.start_ms, s.end_ms, s.text, s.words_json
			FROM transcript_fts f JOIN transcript_segments s ON s.id = f.rowid JOIN clips c ON c.id = s.clip_id
			WHERE transcript_fts MATCH ? AND ` + visible + `
			ORDER BY bm25(transcript_fts), c.created_at DESC, s.clip_id, s.start_ms LIMIT ? OFFSET ?`
		args = append(append([]any{strings.Join(parts, " ")}, visibleArgs...), limit+1, offset)
	case sqldb.Postgres:
		// PostgreSQL: the generated tsvector under its GIN index, with the
		// 'simple' configuration the column uses; ":*" makes a prefix.
		tsq := strings.Join(terms, " & ") + ":*"
		query = `SELECT s.clip_id, c.title, s.lang, s.start_ms, s.end_ms, s.text, s.words_json
			FROM transcript_segments s JOIN clips c ON c.id = s.clip_id
			WHERE s.tsv @@ to_tsquery('simple', ?) AND ` + visible + `
			ORDER BY ts_rank(s.tsv, to_tsquery('simple', ?)) DESC, c.created_at DESC, s.clip_id, s.start_ms LIMIT ? OFFSET ?`
		args = append(append([]any{tsq}, visibleArgs...), tsq, limit+1, offset)
	default:
		return TranscriptPage{}, fmt.Errorf("search transcripts: unsupported database %s", cs.clips.db.Dialect)
	}
	rows, err := cs.clips.db.Reader().Query(ctx, query, args...)
	if err != nil {
		return TranscriptPage{}, fmt.Errorf("search transcripts: %w", err)
	}
	defer rows.Close()
	page := TranscriptPage{Hits: []TranscriptHit{}}
	for rows.Next() {
		var h TranscriptHit
		var words string
		if err := rows.Scan(&h.ClipID, &h.Title, &h.Lang, &h.StartMS, &h.EndMS, &h.Snippet, &words); err != nil {
			return TranscriptPage{}, fmt.Errorf("search transcripts: %w", err)
		}
		if len(page.Hits) == limit {
			page.NextOffset = offset + limit
			break
		}
		h.TimeMS = hitTime(words, terms, h.StartMS)
		h.Snippet = clipRunes(h.Snippet, 240)
		page.Hits = append(page.Hits, h)
	}
	return page, rows.Err()
}

// hitTime places a hit on the first word that matches a query term, so the
// player seeks to the word itself rather than the start of the stretch.
func hitTime(wordsJSON string, terms []string, fallback int64) int64 {
	var words []segmentWord
	if err := json.Unmarshal([]byte(wordsJSON), &words); err != nil {
		return fallback
	}
	last := len(terms) - 1
	for _, w := range words {
		for _, f := range strings.Fields(foldText(w.Text)) {
			for i, t := range terms {
				if f == t || i == last && strings.HasPrefix(f, t) {
					return w.StartMS
				}
			}
		}
	}
	return fallback
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
