package annotations

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// Page sizes of List.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// ListQuery filters a clip's annotations. Zero values do not filter.
type ListQuery struct {
	// FromMS and ToMS keep annotations that overlap [FromMS, ToMS]: a
	// moment inside it, or a range that reaches into it.
	FromMS, ToMS *int64
	Criterion    string
	AuthorID     string
	Tag          string
	Visibility   string
	Kind         string
	// Text matches the body, case-insensitively (ASCII letters only on
	// SQLite, whose LOWER() folds ASCII only).
	Text string
	// Cursor continues after the last item of the previous page.
	Cursor string
	Limit  int
}

// Page is one page of annotations in time order (start_ms, then id).
type Page struct {
	Items      []Annotation `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func encodeCursor(start int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(start, 10) + ":" + id))
}

func decodeCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", apperr.Invalid("cursor", "is not a cursor this server gave out")
	}
	num, id, ok := strings.Cut(string(raw), ":")
	start, err := strconv.ParseInt(num, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", apperr.Invalid("cursor", "is not a cursor this server gave out")
	}
	return start, id, nil
}

// likePattern escapes LIKE wildcards; both dialects honour ESCAPE '\'.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + strings.ToLower(r.Replace(s)) + "%"
}

// actorScope is the actor's own scope: audience annotations and their
// own, only their own while feedback is hidden. (The cached views use
// the shared audience scope instead when the actor has no private notes
// on the clip, which selects the same rows.)
func actorScope(a accounts.Actor, hidden bool) viewScope {
	if hidden {
		return viewScope{kind: "own", userID: a.UserID}
	}
	return viewScope{kind: "user", userID: a.UserID}
}

// visibilityWhere restricts annotations to those the actor may see.
func visibilityWhere(a accounts.Actor, hidden bool) (string, []any) {
	return actorScope(a, hidden).where()
}

// normalize applies the page size defaults and bounds.
func (lq *ListQuery) normalize() {
	if lq.Limit <= 0 {
		lq.Limit = DefaultPageSize
	}
	if lq.Limit > MaxPageSize {
		lq.Limit = MaxPageSize
	}
}

// where builds the filters; maxSpan is the clip's longest range (see
// annotation_clip_spans), which turns from_ms into an index bound.
func (lq *ListQuery) where(scope viewScope, maxSpan int64) (string, []any, error) {
	v := &apperr.Validation{}
	var b strings.Builder
	var args []any
	add := func(cond string, xs ...any) {
		b.WriteString(cond)
		args = append(args, xs...)
	}
	vw, va := scope.where()
	add(vw, va...)
	for field, val := range map[string]string{"criterion": lq.Criterion, "author": lq.AuthorID, "tag": lq.Tag, "q": lq.Text} {
		if !utf8.ValidString(val) || strings.ContainsRune(val, 0) {
			v.Add(field, "must be valid UTF-8 text without NUL characters")
		}
	}
	if lq.FromMS != nil {
		if *lq.FromMS < 0 {
			v.Add("from_ms", "must not be negative")
		}
		// Ranges that began earlier may reach into the window, but none
		// began earlier than from - maxSpan: that is the index bound.
		add(` AND a.start_ms >= ? AND COALESCE(a.end_ms, a.start_ms) >= ?`, *lq.FromMS-maxSpan, *lq.FromMS)
	}
	if lq.ToMS != nil {
		if lq.FromMS != nil && *lq.ToMS < *lq.FromMS {
			v.Add("to_ms", "must not be before from_ms")
		}
		// The index bound: annotations_clip_start is walked up to here.
		add(` AND a.start_ms <= ?`, *lq.ToMS)
	}
	if lq.Criterion != "" {
		add(` AND a.criterion_key = ?`, lq.Criterion)
	}
	if lq.AuthorID != "" {
		add(` AND a.author_id = ?`, lq.AuthorID)
	}
	if lq.Tag != "" {
		add(` AND EXISTS (SELECT 1 FROM annotation_tags t WHERE t.annotation_id = a.id AND t.tag = ?)`, strings.ToLower(strings.TrimSpace(lq.Tag)))
	}
	if lq.Visibility != "" {
		checkVisibility(v, lq.Visibility)
		add(` AND a.visibility = ?`, lq.Visibility)
	}
	if lq.Kind != "" {
		checkKind(v, lq.Kind)
		add(` AND a.kind = ?`, lq.Kind)
	}
	if lq.Text != "" {
		add(` AND LOWER(a.body) LIKE ? ESCAPE '\'`, likePattern(lq.Text))
	}
	return b.String(), args, v.Err()
}

// List returns a page of the clip's annotations the actor may see, in
// time order. The query walks the (clip_id, start_ms, id) index and
// continues from the cursor with a row-value comparison, so every page
// costs the same however deep it is.
func (s *Service) List(ctx context.Context, a accounts.Actor, clipID string, lq ListQuery) (Page, error) {
	if err := requireActor(a); err != nil {
		return Page{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return Page{}, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return Page{}, err
	}
	var span int64
	if lq.FromMS != nil {
		if span, err = s.maxSpan(ctx, clipID); err != nil {
			return Page{}, err
		}
	}
	return s.listScoped(ctx, clipID, actorScope(a, hidden), span, lq)
}

// maxSpan reads the longest range length ever stored on the clip (0 when
// it has only moments).
func (s *Service) maxSpan(ctx context.Context, clipID string) (int64, error) {
	var span int64
	err := s.db.Reader().QueryRow(ctx, `SELECT max_span_ms FROM annotation_clip_spans WHERE clip_id = ?`, clipID).Scan(&span)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read range lengths of clip %s: %w", clipID, err)
	}
	return span, nil
}

// listQuery builds List's SQL; span is the clip's maxSpan (read only
// when lq.FromMS is set).
func listQuery(clipID string, scope viewScope, span int64, lq *ListQuery) (string, []any, error) {
	lq.normalize()
	where, args, err := lq.where(scope, span)
	if err != nil {
		return "", nil, err
	}
	query := `SELECT ` + annotationCols + annotationFrom + ` WHERE a.clip_id = ? AND a.deleted_at IS NULL` + where
	args = append([]any{clipID}, args...)
	if lq.Cursor != "" {
		start, id, err := decodeCursor(lq.Cursor)
		if err != nil {
			return "", nil, err
		}
		// Row values compare lexicographically on both dialects and both
		// turn this into an index range.
		query += ` AND (a.start_ms, a.id) > (?, ?)`
		args = append(args, start, id)
	}
	query += ` ORDER BY a.start_ms, a.id LIMIT ?`
	args = append(args, lq.Limit+1)
	return query, args, nil
}

// ExplainList returns the database's plan for the query List runs (for
// the benchmark and for operators checking that the index is used).
func (s *Service) ExplainList(ctx context.Context, a accounts.Actor, clipID string, lq ListQuery) (string, error) {
	var span int64
	if lq.FromMS != nil {
		var err error
		if span, err = s.maxSpan(ctx, clipID); err != nil {
			return "", err
		}
	}
	query, args, err := listQuery(clipID, actorScope(a, false), span, &lq)
	if err != nil {
		return "", err
	}
	// The one dialect difference here: the EXPLAIN syntax.
	prefix := "EXPLAIN QUERY PLAN "
	if s.db.Dialect == sqldb.Postgres {
		prefix = "EXPLAIN (ANALYZE, BUFFERS) "
	}
	rows, err := s.db.Reader().Query(ctx, prefix+query, args...)
	if err != nil {
		return "", fmt.Errorf("explain list: %w", err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return "", fmt.Errorf("explain list: %w", err)
		}
		// SQLite: id, parent, notused, detail; PostgreSQL: one text line.
		fmt.Fprintf(&b, "%v\n", vals[len(vals)-1])
	}
	return b.String(), rows.Err()
}

// listScoped reads one page of the rows in scope; span is the clip's
// maxSpan (used only when lq.FromMS is set).
func (s *Service) listScoped(ctx context.Context, clipID string, scope viewScope, span int64, lq ListQuery) (Page, error) {
	query, args, err := listQuery(clipID, scope, span, &lq)
	if err != nil {
		return Page{}, err
	}
	rows, err := s.db.Reader().Query(ctx, query, args...)
	if err != nil {
		return Page{}, fmt.Errorf("list annotations of clip %s: %w", clipID, err)
	}
	defer rows.Close()
	page := Page{Items: []Annotation{}}
	for rows.Next() {
		ann, err := scanAnnotation(rows)
		if err != nil {
			return Page{}, fmt.Errorf("list annotations of clip %s: %w", clipID, err)
		}
		page.Items = append(page.Items, ann)
	}
	if err := rows.Err(); err != nil {
		return Page{}, fmt.Errorf("list annotations of clip %s: %w", clipID, err)
	}
	if len(page.Items) > lq.Limit {
		page.Items = page.Items[:lq.Limit]
		last := page.Items[len(page.Items)-1]
		page.NextCursor = encodeCursor(last.StartMS, last.ID)
	}
	if scope.kind == "own" {
		// Reflect-first: the reply counts of the thread the viewer gets.
		if err := s.ownReplyCounts(ctx, accounts.Actor{UserID: scope.userID}, page.Items); err != nil {
			return Page{}, err
		}
	}
	return page, nil
}

// searchScanLimit bounds how many matching rows a site-wide search
// examines (each new clip among them costs an authorization check).
const searchScanLimit = 2000

// Search finds annotations whose body contains text, across every clip
// the actor may view (or one clip), newest first. It examines at most
// searchScanLimit matches; the response says so when it stopped early.
func (s *Service) Search(ctx context.Context, a accounts.Actor, text, clipID string, limit int) (items []Annotation, truncated bool, err error) {
	if err := requireActor(a); err != nil {
		return nil, false, err
	}
	if strings.TrimSpace(text) == "" {
		return nil, false, apperr.Invalid("q", "is required")
	}
	if !utf8.ValidString(text) || strings.ContainsRune(text, 0) {
		return nil, false, apperr.Invalid("q", "must be valid UTF-8 text without NUL characters")
	}
	if limit <= 0 || limit > MaxPageSize {
		limit = DefaultPageSize
	}
	if clipID != "" {
		p, err := s.List(ctx, a, clipID, ListQuery{Text: text, Limit: limit})
		return p.Items, p.NextCursor != "", err
	}
	allowed := map[string]bool{}
	hiddenFor := map[string]bool{}
	items = []Annotation{}
	scanned := 0
	var beforeAt int64 = 1<<63 - 1
	beforeID := ""
	for scanned < searchScanLimit && len(items) < limit {
		rows, err := s.db.Reader().Query(ctx, `SELECT `+annotationCols+annotationFrom+`
			WHERE a.deleted_at IS NULL AND (a.visibility = 'audience' OR a.author_id = ?)
			AND LOWER(a.body) LIKE ? ESCAPE '\' AND (a.created_at, a.id) < (?, ?)
			ORDER BY a.created_at DESC, a.id DESC LIMIT 200`, a.UserID, likePattern(text), beforeAt, beforeID)
		if err != nil {
			return nil, false, fmt.Errorf("search annotations: %w", err)
		}
		var batch []Annotation
		for rows.Next() {
			ann, err := scanAnnotation(rows)
			if err != nil {
				rows.Close()
				return nil, false, fmt.Errorf("search annotations: %w", err)
			}
			batch = append(batch, ann)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, false, fmt.Errorf("search annotations: %w", err)
		}
		for _, ann := range batch {
			scanned++
			beforeAt, beforeID = sqldb.Millis(ann.CreatedAt), ann.ID
			ok, seen := allowed[ann.ClipID]
			if !seen {
				clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, ann.ClipID)
				ok = err == nil
				if err != nil && !isNotFound(err) {
					return nil, false, err
				}
				if ok {
					h, err := s.HidesFeedback(ctx, a, clip)
					if err != nil {
						return nil, false, err
					}
					hiddenFor[ann.ClipID] = h
				}
				allowed[ann.ClipID] = ok
			}
			if ok && (!hiddenFor[ann.ClipID] || ann.Author.ID == a.UserID) && len(items) < limit {
				if hiddenFor[ann.ClipID] {
					one := []Annotation{ann}
					if err := s.ownReplyCounts(ctx, a, one); err != nil {
						return nil, false, err
					}
					ann = one[0]
				}
				items = append(items, ann)
			}
		}
		if len(batch) < 200 {
			return items, false, nil
		}
	}
	return items, scanned >= searchScanLimit, nil
}

// Summary is a per-clip overview of the feedback the actor may see.
type Summary struct {
	ClipID     string            `json:"clip_id"`
	DurationMS int64             `json:"duration_ms"`
	Total      int               `json:"total"`
	ByKind     map[string]int    `json:"by_kind"`
	Uncoded    int               `json:"uncoded"`
	Criteria   []CriterionCounts `json:"criteria"`
	Ranges     RangeCoverage     `json:"ranges"`
}

// CriterionCounts counts annotations coded with one criterion (by key,
// across every version of the rubric).
type CriterionCounts struct {
	Key       string        `json:"key"`
	Title     string        `json:"title"`
	Count     int           `json:"count"`
	Scored    int           `json:"scored"`
	MeanScore *float64      `json:"mean_score"`
	Levels    []LevelCounts `json:"levels"`
}

// LevelCounts is one bar of a level distribution.
type LevelCounts struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Score int    `json:"score"`
	Count int    `json:"count"`
}

// RangeCoverage says how much of the clip the range annotations cover
// (overlaps counted once).
type RangeCoverage struct {
	Count     int      `json:"count"`
	CoveredMS int64    `json:"covered_ms"`
	Fraction  *float64 `json:"covered_fraction"`
}

// Summarize computes the clip's summary in two grouped queries.
func (s *Service) Summarize(ctx context.Context, a accounts.Actor, clipID string) (Summary, error) {
	if err := requireActor(a); err != nil {
		return Summary{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return Summary{}, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return Summary{}, err
	}
	return s.summarize(ctx, clipID, clip, actorScope(a, hidden))
}

// summarize computes the summary of the rows in scope.
func (s *Service) summarize(ctx context.Context, clipID string, clip ClipInfo, scope viewScope) (Summary, error) {
	sum := Summary{ClipID: clipID, DurationMS: clip.DurationMS, ByKind: map[string]int{}, Criteria: []CriterionCounts{}}
	vw, va := scope.where()
	args := append([]any{clipID}, va...)
	// annotations_clip_summary holds every column read here, in GROUP BY
	// order: an index-only scan without a sort. Titles and labels come from
	// the (cached, immutable) rubric versions instead of the rows.
	rows, err := s.db.Reader().Query(ctx, `SELECT a.kind, a.criterion_key, a.rubric_id, a.rubric_version, a.level_key, a.level_score, COUNT(*)
		FROM annotations a WHERE a.clip_id = ? AND a.deleted_at IS NULL`+vw+`
		GROUP BY a.kind, a.criterion_key, a.rubric_id, a.rubric_version, a.level_key, a.level_score`, args...)
	if err != nil {
		return sum, fmt.Errorf("summarize clip %s: %w", clipID, err)
	}
	type critAcc struct {
		CriterionCounts
		version  int
		sum      int
		levelIdx map[string]int
	}
	type group struct {
		kind, ck, rid, lk string
		ver, score, n     int
	}
	var groups []group
	for rows.Next() {
		var g group
		var ck, rid, lk sql.NullString
		var ver, score sql.NullInt64
		if err := rows.Scan(&g.kind, &ck, &rid, &ver, &lk, &score, &g.n); err != nil {
			rows.Close()
			return sum, fmt.Errorf("summarize clip %s: %w", clipID, err)
		}
		g.ck, g.rid, g.lk, g.ver, g.score = ck.String, rid.String, lk.String, int(ver.Int64), int(score.Int64)
		groups = append(groups, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("summarize clip %s: %w", clipID, err)
	}
	crits := map[string]*critAcc{}
	for _, g := range groups {
		kind, ck, ver, lk, score, n := g.kind, g.ck, g.ver, g.lk, g.score, g.n
		sum.Total += n
		sum.ByKind[kind] += n
		if ck == "" {
			sum.Uncoded += n
			continue
		}
		ct, ll := ck, lk
		if g.rid != "" && ver > 0 {
			if r, err := s.versionContent(ctx, s.db.Reader(), g.rid, ver); err == nil {
				if cr, ok := r.Criterion(ck); ok {
					ct = cr.Title
					if l, ok := cr.Level(lk); ok {
						ll = l.Label
					}
				}
			} else if !isNotFound(err) {
				return sum, err
			}
		}
		c := crits[ck]
		if c == nil {
			c = &critAcc{CriterionCounts: CriterionCounts{Key: ck, Title: ct, Levels: []LevelCounts{}}, version: ver, levelIdx: map[string]int{}}
			crits[ck] = c
		}
		if ver > c.version { // the newest version names the criterion
			c.version, c.Title = ver, ct
		}
		c.Count += n
		if lk != "" {
			c.Scored += n
			c.sum += score * n
			i, ok := c.levelIdx[lk]
			if !ok {
				i = len(c.Levels)
				c.levelIdx[lk] = i
				c.Levels = append(c.Levels, LevelCounts{Key: lk, Label: ll, Score: score})
			}
			c.Levels[i].Count += n
		}
	}
	for _, c := range crits {
		if c.Scored > 0 {
			m := float64(c.sum) / float64(c.Scored)
			c.MeanScore = &m
		}
		sort.Slice(c.Levels, func(i, j int) bool {
			return c.Levels[i].Score < c.Levels[j].Score || c.Levels[i].Score == c.Levels[j].Score && c.Levels[i].Key < c.Levels[j].Key
		})
		sum.Criteria = append(sum.Criteria, c.CriterionCounts)
	}
	sort.Slice(sum.Criteria, func(i, j int) bool { return sum.Criteria[i].Key < sum.Criteria[j].Key })

	// Coverage: merge ranges in start order (the index delivers them so).
	rows, err = s.db.Reader().Query(ctx, `SELECT a.start_ms, a.end_ms FROM annotations a
		WHERE a.clip_id = ? AND a.deleted_at IS NULL AND a.end_ms IS NOT NULL`+vw+` ORDER BY a.start_ms`, args...)
	if err != nil {
		return sum, fmt.Errorf("summarize ranges of clip %s: %w", clipID, err)
	}
	defer rows.Close()
	var curStart, curEnd int64 = -1, -1
	for rows.Next() {
		var st, en int64
		if err := rows.Scan(&st, &en); err != nil {
			return sum, fmt.Errorf("summarize ranges of clip %s: %w", clipID, err)
		}
		sum.Ranges.Count++
		if st > curEnd {
			if curEnd >= 0 {
				sum.Ranges.CoveredMS += curEnd - curStart
			}
			curStart, curEnd = st, en
		} else if en > curEnd {
			curEnd = en
		}
	}
	if err := rows.Err(); err != nil {
		return sum, fmt.Errorf("summarize ranges of clip %s: %w", clipID, err)
	}
	if curEnd >= 0 {
		sum.Ranges.CoveredMS += curEnd - curStart
	}
	if clip.DurationMS > 0 {
		f := float64(sum.Ranges.CoveredMS) / float64(clip.DurationMS)
		sum.Ranges.Fraction = &f
	}
	return sum, nil
}

// Growth is a teacher's feedback per criterion over time.
type Growth struct {
	UserID string `json:"user_id"`
	// Bucket is "week" (ISO week of the clip's date) or "clip".
	Bucket   string            `json:"bucket"`
	Buckets  []GrowthBucket    `json:"buckets"`
	Criteria []GrowthCriterion `json:"criteria"`
}

// GrowthBucket is one column of the growth table.
type GrowthBucket struct {
	Key string `json:"key"`
	// Label is the clip title or the ISO week ("2026-W07").
	Label string    `json:"label"`
	Start time.Time `json:"start"`
	Clips int       `json:"clips"`
}

// GrowthCriterion is one row: the criterion's points per bucket.
type GrowthCriterion struct {
	Key    string        `json:"key"`
	Title  string        `json:"title"`
	Points []GrowthPoint `json:"points"`
}

// GrowthPoint is the feedback on one criterion in one bucket.
type GrowthPoint struct {
	Bucket    string   `json:"bucket"`
	Count     int      `json:"count"`
	Scored    int      `json:"scored"`
	MeanScore *float64 `json:"mean_score"`
}

func isoWeek(t time.Time) (string, time.Time) {
	y, w := t.ISOWeek()
	wd := (int(t.Weekday()) + 6) % 7 // Monday = 0
	start := time.Date(t.Year(), t.Month(), t.Day()-wd, 0, 0, 0, 0, time.UTC)
	return fmt.Sprintf("%04d-W%02d", y, w), start
}

// Growth aggregates, per criterion, the coded feedback on every clip of
// ownerID that the actor may view, by ISO week of the clip's date or by
// clip, with the same visibility rules as everywhere else.
func (s *Service) Growth(ctx context.Context, a accounts.Actor, ownerID, bucket string) (Growth, error) {
	if err := requireActor(a); err != nil {
		return Growth{}, err
	}
	if bucket == "" {
		bucket = "week"
	}
	if bucket != "week" && bucket != "clip" {
		return Growth{}, apperr.Invalid("bucket", "must be week or clip")
	}
	clips, err := s.clips.VisibleOwnedBy(ctx, a, ownerID)
	if err != nil {
		return Growth{}, err
	}
	g := Growth{UserID: ownerID, Bucket: bucket, Buckets: []GrowthBucket{}, Criteria: []GrowthCriterion{}}
	bucketOf := map[string]string{}
	bucketIdx := map[string]int{}
	var open, hiddenClips []string
	for _, c := range clips {
		key, label, start := c.ID, c.Title, c.CreatedAt
		if bucket == "week" {
			key, start = isoWeek(c.CreatedAt.UTC())
			label = key
		}
		bucketOf[c.ID] = key
		if i, ok := bucketIdx[key]; ok {
			g.Buckets[i].Clips++
		} else {
			bucketIdx[key] = len(g.Buckets)
			g.Buckets = append(g.Buckets, GrowthBucket{Key: key, Label: label, Start: start, Clips: 1})
		}
		hidden, err := s.HidesFeedback(ctx, a, c)
		if err != nil {
			return g, err
		}
		if hidden {
			hiddenClips = append(hiddenClips, c.ID)
		} else {
			open = append(open, c.ID)
		}
	}
	type acc struct {
		count, scored, sum int
	}
	type critInfo struct {
		title   string
		version int
	}
	cells := map[[2]string]*acc{}
	info := map[string]*critInfo{}
	collect := func(ids []string, onlyOwn bool) error {
		for len(ids) > 0 {
			n := min(len(ids), 500)
			chunk := ids[:n]
			ids = ids[n:]
			args := make([]any, 0, n+1)
			for _, id := range chunk {
				args = append(args, id)
			}
			cond := ` AND (a.visibility = 'audience' OR a.author_id = ?)`
			if onlyOwn {
				cond = ` AND a.author_id = ?`
			}
			args = append(args, a.UserID)
			rows, err := s.db.Reader().Query(ctx, `SELECT a.clip_id, a.criterion_key, COALESCE(a.criterion_title, ''), COALESCE(a.rubric_version, 0),
				COUNT(*), COUNT(a.level_score), COALESCE(SUM(a.level_score), 0)
				FROM annotations a WHERE a.clip_id IN (`+sqldb.In(n)+`) AND a.deleted_at IS NULL AND a.criterion_key IS NOT NULL`+cond+`
				GROUP BY a.clip_id, a.criterion_key, a.criterion_title, a.rubric_version`, args...)
			if err != nil {
				return fmt.Errorf("growth of %s: %w", ownerID, err)
			}
			for rows.Next() {
				var clipID, ck, ct string
				var ver, cnt, scored, total int
				if err := rows.Scan(&clipID, &ck, &ct, &ver, &cnt, &scored, &total); err != nil {
					rows.Close()
					return fmt.Errorf("growth of %s: %w", ownerID, err)
				}
				ci := info[ck]
				if ci == nil {
					ci = &critInfo{title: ct, version: ver}
					info[ck] = ci
				} else if ver > ci.version {
					ci.title, ci.version = ct, ver
				}
				k := [2]string{ck, bucketOf[clipID]}
				c := cells[k]
				if c == nil {
					c = &acc{}
					cells[k] = c
				}
				c.count += cnt
				c.scored += scored
				c.sum += total
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("growth of %s: %w", ownerID, err)
			}
		}
		return nil
	}
	if err := collect(open, false); err != nil {
		return g, err
	}
	if err := collect(hiddenClips, true); err != nil {
		return g, err
	}
	keys := make([]string, 0, len(info))
	for k := range info {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		gc := GrowthCriterion{Key: k, Title: info[k].title, Points: []GrowthPoint{}}
		for _, b := range g.Buckets {
			c := cells[[2]string{k, b.Key}]
			if c == nil {
				continue
			}
			p := GrowthPoint{Bucket: b.Key, Count: c.count, Scored: c.scored}
			if c.scored > 0 {
				m := float64(c.sum) / float64(c.scored)
				p.MeanScore = &m
			}
			gc.Points = append(gc.Points, p)
		}
		g.Criteria = append(g.Criteria, gc)
	}
	return g, nil
}
