package annotations

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/filmroom/filmroom/accounts"
)

// The read views (a page of a clip's annotations, the clip's summary) are
// cached as the JSON bytes the API sends, keyed by what decides their
// content:
//
//   - the clip's event seq (clip_seq): every change to an annotation or a
//     reply of the clip appends a clip event in the same transaction, so a
//     new seq means "something may have changed" and the old entries are
//     never looked up again (they age out of the LRU);
//   - the viewer's visibility scope (viewScope): who sees which rows;
//   - the query (filters, cursor, limit), and for the summary the clip's
//     duration, which the media pipeline sets without a clip event.
//
// Authorization is not cached: every request asks the clip boundary
// first, so losing access takes effect at once. What a view shows beyond
// the rows above (author names, immutable rubric versions) does not change
// without a clip event today; a feature that renames users must add the
// rename to the key or append events to the clips concerned.
//
// The key is also the ETag, so a client that sends If-None-Match gets 304
// Not Modified without the body being sent again.

// DefaultViewCacheBytes bounds the view cache when Config.ViewCacheBytes
// is 0: room for a few hundred pages of 200 annotations.
const DefaultViewCacheBytes = 64 << 20

// View is an encoded read: the JSON body the handler sends and its ETag.
type View struct {
	Body []byte
	ETag string
	// gz holds the body gzipped, made once by the first request that
	// accepts gzip and shared by every copy of the cached view: a page of
	// 200 annotations is about 150 KB, and compressing it on every request
	// would cost many times what serving it from the cache does.
	gz *gzipOnce
}

type gzipOnce struct {
	once sync.Once
	b    []byte
}

// newView returns a view whose gzipped body is made on first use.
func newView(body []byte, etag string) View {
	return View{Body: body, ETag: etag, gz: &gzipOnce{}}
}

// Gzipped returns the body gzipped (compressed once per cached view).
func (v View) Gzipped() []byte {
	if v.gz == nil {
		return gzipBody(v.Body)
	}
	v.gz.once.Do(func() { v.gz.b = gzipBody(v.Body) })
	return v.gz.b
}

// GzipLevel is the level views are compressed at: the server's level for
// its other responses.
const GzipLevel = 5

func gzipBody(b []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(b) / 6)
	zw, _ := gzip.NewWriterLevel(&buf, GzipLevel) // a valid level cannot fail
	_, _ = zw.Write(b)                            // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// viewScope is whose rows a view holds. Most viewers see the same rows
// (every audience annotation, and their own private notes, of which they
// usually have none), so they share one cached view; a viewer with private
// notes on the clip, or one whose view reflect-first narrows to their own
// annotations, gets views of their own.
type viewScope struct {
	// kind is "audience" (audience rows only), "user" (audience rows and
	// the user's own) or "own" (the user's own rows only: reflect-first).
	kind   string
	userID string
}

func (sc viewScope) String() string {
	if sc.kind == "audience" {
		return sc.kind
	}
	return sc.kind + ":" + sc.userID
}

// where restricts annotations (alias a) to the scope. For the audience
// scope it names no user at all, so a view computed for one viewer can
// never hold another viewer's private note, even if that note was written
// between reading the seq and running the query.
func (sc viewScope) where() (string, []any) {
	switch sc.kind {
	case "own":
		return ` AND a.author_id = ?`, []any{sc.userID}
	case "user":
		return ` AND (a.visibility = 'audience' OR a.author_id = ?)`, []any{sc.userID}
	}
	return ` AND a.visibility = 'audience'`, nil
}

// scopeFor is the actor's scope on a clip in a given state. hidden is
// HidesFeedback's answer.
func scopeFor(a accounts.Actor, hidden bool, st *clipState) viewScope {
	switch {
	case hidden:
		return viewScope{kind: "own", userID: a.UserID}
	case st.privateAuthors[a.UserID]:
		return viewScope{kind: "user", userID: a.UserID}
	}
	return viewScope{kind: "audience"}
}

// clipState is what the views need to know about a clip at one seq.
type clipState struct {
	seq int64
	// privateAuthors have private, not deleted notes on the clip.
	privateAuthors map[string]bool
	// maxSpan is annotation_clip_spans' bound (see ListQuery.FromMS).
	maxSpan int64
}

// viewCache is a least-recently-used map bounded by the bytes it holds,
// with one computation per key at a time (concurrent misses of the same
// key wait for the first instead of all querying the database).
type viewCache struct {
	mu    sync.Mutex
	max   int64
	size  int64
	ll    *list.List // front = most recently used
	items map[string]*list.Element
	// clips tracks, per clip, the newest seq cached and that seq's entries.
	// An entry of an older seq can never be looked up again (every read
	// asks for the clip's current seq), so putting a newer seq drops them
	// at once instead of leaving them to age out: under steady writes
	// they would otherwise fill the whole bound with dead views (the soak,
	// scripts/soak, saw the heap grow by the cache's bound this way).
	clips map[string]*clipViews
	group singleflight.Group
	// hits and misses count view loads (a miss computes or waits for a
	// concurrent computation), not the clip state's; for operators and the
	// benchmark.
	hits, misses atomic.Int64
}

// ViewCacheStats counts the page and summary views served since the
// service started: hits were answered from memory, misses queried the
// database (or waited for a concurrent request that did).
type ViewCacheStats struct {
	Hits, Misses int64
	Bytes        int64
	Entries      int
}

// ViewCacheStats reports the view cache's counters (zero when it is off).
func (s *Service) ViewCacheStats() ViewCacheStats {
	c := s.views
	if !c.enabled() {
		return ViewCacheStats{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return ViewCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Bytes: c.size, Entries: len(c.items)}
}

type cacheEntry struct {
	key   string
	value any
	cost  int64
	clip  string // "" for keys without a clip and seq
}

// clipViews are the cached entries of one clip, all of seq.
type clipViews struct {
	seq int64
	els map[*list.Element]struct{}
}

// clipSeq reads the clip and seq of a view key ("kind\x00clip\x00seq\x00…").
func clipSeq(key string) (string, int64, bool) {
	parts := strings.SplitN(key, "\x00", 4)
	if len(parts) < 3 {
		return "", 0, false
	}
	seq, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return parts[1], seq, true
}

func newViewCache(max int64) *viewCache {
	return &viewCache{max: max, ll: list.New(), items: map[string]*list.Element{}, clips: map[string]*clipViews{}}
}

// remove drops one entry; the caller holds c.mu.
func (c *viewCache) remove(el *list.Element) {
	e := el.Value.(*cacheEntry)
	c.ll.Remove(el)
	delete(c.items, e.key)
	c.size -= e.cost
	if cv := c.clips[e.clip]; e.clip != "" && cv != nil {
		delete(cv.els, el)
		if len(cv.els) == 0 {
			delete(c.clips, e.clip)
		}
	}
}

func (c *viewCache) enabled() bool { return c != nil && c.max > 0 }

func (c *viewCache) get(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*cacheEntry).value, true
}

func (c *viewCache) put(key string, value any, cost int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cost > c.max/4 {
		return // one entry may not push out most of the others
	}
	clip, seq, hasSeq := clipSeq(key)
	if hasSeq {
		if cv := c.clips[clip]; cv != nil {
			switch {
			case seq < cv.seq:
				return // computed for a seq already superseded: nobody will ask for it
			case seq > cv.seq:
				for el := range cv.els {
					c.remove(el)
				}
			}
		}
	}
	if el, ok := c.items[key]; ok {
		e := el.Value.(*cacheEntry)
		c.size += cost - e.cost
		e.value, e.cost = value, cost
		c.ll.MoveToFront(el)
	} else {
		e := &cacheEntry{key: key, value: value, cost: cost}
		el := c.ll.PushFront(e)
		c.items[key] = el
		c.size += cost
		if hasSeq {
			e.clip = clip
			cv := c.clips[clip]
			if cv == nil || cv.seq < seq {
				cv = &clipViews{seq: seq, els: map[*list.Element]struct{}{}}
				c.clips[clip] = cv
			}
			cv.els[el] = struct{}{}
		}
	}
	for c.size > c.max {
		c.remove(c.ll.Back())
	}
}

// computeTimeout bounds a shared computation, which runs detached from
// the request that started it (the others waiting on it must not fail
// because the first client went away).
const computeTimeout = 30 * time.Second

// load returns the cached value of key or computes, caches and returns it.
// Errors are not cached.
func (c *viewCache) load(ctx context.Context, key string, compute func(ctx context.Context) (any, int64, error)) (any, error) {
	if v, ok := c.get(key); ok {
		return v, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		if v, ok := c.get(key); ok {
			return v, nil
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), computeTimeout)
		defer cancel()
		v, cost, err := compute(cctx)
		if err != nil {
			return nil, err
		}
		c.put(key, v, cost)
		return v, nil
	})
	select {
	case r := <-ch:
		return r.Val, r.Err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// seqOf reads the clip's current event seq (0 before its first event).
func (s *Service) seqOf(ctx context.Context, clipID string) (int64, error) {
	var seq int64
	err := s.db.Reader().QueryRow(ctx, `SELECT seq FROM clip_seq WHERE clip_id = ?`, clipID).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read seq of clip %s: %w", clipID, err)
	}
	return seq, nil
}

// clipState reads the clip's seq and returns its state at that seq, from
// the cache when it is there. The seq is read before the state, so the
// state is at least as new as its seq: private authors and the span bound
// may include a change that commits in between, which can only put a
// viewer in a narrower scope or widen the index range, never show a row
// to someone who may not see it.
func (s *Service) clipState(ctx context.Context, clipID string) (*clipState, error) {
	seq, err := s.seqOf(ctx, clipID)
	if err != nil {
		return nil, err
	}
	compute := func(ctx context.Context) (any, int64, error) {
		st := &clipState{seq: seq, privateAuthors: map[string]bool{}}
		// annotations_clip_private holds exactly these rows.
		rows, err := s.db.Reader().Query(ctx, `SELECT DISTINCT author_id FROM annotations
			WHERE clip_id = ? AND visibility = 'private' AND deleted_at IS NULL`, clipID)
		if err != nil {
			return nil, 0, fmt.Errorf("read private note authors of clip %s: %w", clipID, err)
		}
		defer rows.Close()
		cost := int64(128)
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				return nil, 0, fmt.Errorf("read private note authors of clip %s: %w", clipID, err)
			}
			st.privateAuthors[u] = true
			cost += int64(len(u)) + 48
		}
		if err := rows.Err(); err != nil {
			return nil, 0, fmt.Errorf("read private note authors of clip %s: %w", clipID, err)
		}
		if st.maxSpan, err = s.maxSpan(ctx, clipID); err != nil {
			return nil, 0, err
		}
		return st, cost, nil
	}
	if !s.views.enabled() {
		v, _, err := compute(ctx)
		if err != nil {
			return nil, err
		}
		return v.(*clipState), nil
	}
	v, err := s.views.load(ctx, "state\x00"+clipID+"\x00"+strconv.FormatInt(seq, 10), compute)
	if err != nil {
		return nil, err
	}
	return v.(*clipState), nil
}

// cacheKey names a list query's result; every field that changes the
// rows or their order is in it.
func (lq *ListQuery) cacheKey() string {
	var b strings.Builder
	num := func(p *int64) {
		if p != nil {
			b.WriteString(strconv.FormatInt(*p, 10))
		} else {
			b.WriteByte('-')
		}
		b.WriteByte(0)
	}
	num(lq.FromMS)
	num(lq.ToMS)
	for _, f := range []string{lq.Criterion, lq.AuthorID, lq.Tag, lq.Visibility, lq.Kind, lq.Text, lq.Cursor} {
		b.WriteString(f)
		b.WriteByte(0)
	}
	b.WriteString(strconv.Itoa(lq.Limit))
	return b.String()
}

// etag turns a cache key into an entity tag: the seq (readable in logs)
// and a hash of the rest, weak because two nodes may encode the same view
// differently should the encoder ever change.
func etag(seq int64, key string) string {
	h := fnv.New64a()
	h.Write([]byte(key))
	return `W/"` + strconv.FormatInt(seq, 10) + "-" + strconv.FormatUint(h.Sum64(), 36) + `"`
}

// ETagMatches reports whether an If-None-Match header value names etag
// (weak comparison, as RFC 9110 prescribes for If-None-Match).
func ETagMatches(ifNoneMatch, etag string) bool {
	if ifNoneMatch == "" {
		return false
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == want {
			return true
		}
	}
	return false
}

// encodeJSON encodes v exactly as echo's c.JSON does (encoding/json with
// HTML escaping and a trailing newline), so a cached view is byte for byte
// what the uncached handler sent.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ListView is List as encoded JSON with an ETag, served from the view
// cache when the clip has not changed since the same view was computed.
func (s *Service) ListView(ctx context.Context, a accounts.Actor, clipID string, lq ListQuery) (View, error) {
	if err := requireActor(a); err != nil {
		return View{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return View{}, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return View{}, err
	}
	st, err := s.clipState(ctx, clipID)
	if err != nil {
		return View{}, err
	}
	lq.normalize()
	scope := scopeFor(a, hidden, st)
	key := "list\x00" + clipID + "\x00" + strconv.FormatInt(st.seq, 10) + "\x00" + scope.String() + "\x00" + lq.cacheKey()
	compute := func(ctx context.Context) (any, int64, error) {
		page, err := s.listScoped(ctx, clipID, scope, st.maxSpan, lq)
		if err != nil {
			return nil, 0, err
		}
		body, err := encodeJSON(page)
		if err != nil {
			return nil, 0, fmt.Errorf("encode annotations of clip %s: %w", clipID, err)
		}
		// The size counts the gzipped copy too (about a sixth of the body).
		v := newView(body, etag(st.seq, key))
		return v, int64(len(body) + len(body)/6 + len(key) + 128), nil
	}
	return s.view(ctx, key, compute)
}

// SummaryView is Summarize as encoded JSON with an ETag, cached like
// ListView.
func (s *Service) SummaryView(ctx context.Context, a accounts.Actor, clipID string) (View, error) {
	if err := requireActor(a); err != nil {
		return View{}, err
	}
	clip, err := s.clips.Authorize(ctx, a, accounts.ClipView, clipID)
	if err != nil {
		return View{}, err
	}
	hidden, err := s.HidesFeedback(ctx, a, clip)
	if err != nil {
		return View{}, err
	}
	st, err := s.clipState(ctx, clipID)
	if err != nil {
		return View{}, err
	}
	scope := scopeFor(a, hidden, st)
	key := "summary\x00" + clipID + "\x00" + strconv.FormatInt(st.seq, 10) + "\x00" + scope.String() + "\x00" + strconv.FormatInt(clip.DurationMS, 10)
	compute := func(ctx context.Context) (any, int64, error) {
		sum, err := s.summarize(ctx, clipID, clip, scope)
		if err != nil {
			return nil, 0, err
		}
		body, err := encodeJSON(sum)
		if err != nil {
			return nil, 0, fmt.Errorf("encode summary of clip %s: %w", clipID, err)
		}
		return newView(body, etag(st.seq, key)), int64(len(body) + len(body)/6 + len(key) + 128), nil
	}
	return s.view(ctx, key, compute)
}

func (s *Service) view(ctx context.Context, key string, compute func(ctx context.Context) (any, int64, error)) (View, error) {
	if !s.views.enabled() {
		v, _, err := compute(ctx)
		if err != nil {
			return View{}, err
		}
		return v.(View), nil
	}
	if v, ok := s.views.get(key); ok {
		s.views.hits.Add(1)
		return v.(View), nil
	}
	s.views.misses.Add(1)
	v, err := s.views.load(ctx, key, compute)
	if err != nil {
		return View{}, err
	}
	return v.(View), nil
}
