package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/media/captions"
	"github.com/filmroom/filmroom/media/storage"
)

// forgetEnv is a media server whose pipeline stores through wrap (nil: as
// configured), with what the leftover checks need.
type forgetEnv struct {
	*env
	dataDir string
	minio   *testsvc.S3Env
}

// backends are the two set-ups every hard-delete test runs on.
func forgetBackends() []struct {
	name string
	db   testsvc.Database
	s3   bool
} {
	dbs := testsvc.Databases(Migrations()...)
	return []struct {
		name string
		db   testsvc.Database
		s3   bool
	}{{"sqlite+local", dbs[0], false}, {"postgres+minio", dbs[1], true}}
}

func newForgetEnv(t *testing.T, db *sqldb.DB, s3 bool, wrap func(storage.Store) storage.Store) *forgetEnv {
	t.Helper()
	fe := &forgetEnv{dataDir: t.TempDir()}
	cfg := Config{BaseURL: "http://filmroom.test", MaxUploadSize: 1 << 30, DataDir: fe.dataDir, Migrate: true, Workers: 1,
		TranscodeTimeout: 5 * time.Minute, FFmpegThreads: 1, CaptionEngine: captions.EngineNone}
	if s3 {
		m := testsvc.MinIO(t)
		fe.minio = &m
		cfg.S3Endpoint, cfg.S3Region, cfg.S3Bucket, cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3PathStyle = m.Endpoint, m.Region, m.Bucket, m.AccessKey, m.SecretKey, true
	}
	srv, err := New(context.Background(), cfg, Deps{DB: db, Log: discardLog()})
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		// Before the test server starts, so every request sees it.
		srv.media.pipeline.Store = wrap(srv.media.pipeline.Store)
	}
	fe.env = &env{t: t, srv: srv, ts: newTestServer(t, srv), db: db}
	return fe
}

// dbLeftovers lists "table.column" for every column of every table in the
// database (sqlite_master on SQLite, information_schema on PostgreSQL) that
// holds needle anywhere in its value, blobs and JSON included. The audit log
// is left out: it keeps that a clip was deleted, by design (docs/security.md).
func dbLeftovers(t *testing.T, db *sqldb.DB, needle string) []string {
	t.Helper()
	ctx := context.Background()
	q := db.Writer()
	var tableQuery, columnQuery, match string
	switch db.Dialect {
	case sqldb.SQLite:
		tableQuery = `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
		columnQuery = `SELECT name FROM pragma_table_info(?)`
		match = `instr(CAST(%s AS BLOB), CAST(? AS BLOB)) > 0`
	case sqldb.Postgres:
		tableQuery = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
		columnQuery = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?`
		match = `strpos(CAST(%s AS text), ?) > 0`
	}
	tables := queryStrings(t, q, tableQuery)
	if len(tables) < 10 {
		t.Fatalf("only %d tables found: %v", len(tables), tables)
	}
	var found []string
	for _, table := range tables {
		if strings.HasPrefix(table, "audit") {
			continue
		}
		for _, col := range queryStrings(t, q, columnQuery, table) {
			var n int
			query := fmt.Sprintf(`SELECT COUNT(*) FROM "%s" WHERE `+match, table, `"`+col+`"`)
			if err := q.QueryRow(ctx, query, needle).Scan(&n); err != nil {
				t.Fatalf("search %s.%s: %v", table, col, err)
			}
			if n > 0 {
				found = append(found, fmt.Sprintf("%s.%s (%d rows)", table, col, n))
			}
		}
	}
	return found
}

func queryStrings(t *testing.T, q sqldb.Q, query string, args ...any) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// storeLeftovers lists every stored object (media and, on S3, tus uploads
// and unfinished multipart uploads) whose key or bytes hold a needle, and
// every file in the data folder whose path or bytes do.
func (fe *forgetEnv) storeLeftovers(t *testing.T, needles ...string) []string {
	t.Helper()
	ctx := context.Background()
	var found []string
	has := func(s string) bool {
		for _, n := range needles {
			if n != "" && strings.Contains(s, n) {
				return true
			}
		}
		return false
	}
	store := fe.srv.media.store
	objects, err := store.List(ctx, "")
	if err != nil {
		t.Fatalf("list objects: %v", err)
	}
	for _, o := range objects {
		if has(o.Key) {
			found = append(found, "object "+o.Key)
			continue
		}
		if obj, err := store.Open(ctx, o.Key); err == nil {
			b, _ := io.ReadAll(obj)
			obj.Close()
			if has(string(b)) {
				found = append(found, "object "+o.Key+" (content)")
			}
		}
	}
	if fe.minio != nil {
		client := fe.minio.Client()
		out, err := client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(fe.minio.Bucket)})
		if err != nil {
			t.Fatalf("list multipart uploads: %v", err)
		}
		for _, u := range out.Uploads {
			found = append(found, "multipart upload "+aws.ToString(u.Key))
		}
		list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(fe.minio.Bucket)})
		if err != nil {
			t.Fatalf("list bucket: %v", err)
		}
		for _, o := range list.Contents {
			if has(aws.ToString(o.Key)) {
				found = append(found, "bucket object "+aws.ToString(o.Key))
			}
		}
	}
	err = filepath.WalkDir(fe.dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if has(path) {
			found = append(found, "file "+path)
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if has(string(b)) {
			found = append(found, "file "+path+" (content)")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk data folder: %v", err)
	}
	return found
}

// assertForgotten fails the test when anything names the clip or its upload.
func (fe *forgetEnv) assertForgotten(t *testing.T, clipID, uploadID string, words ...string) {
	t.Helper()
	for _, needle := range append([]string{clipID, uploadID}, words...) {
		if needle == "" {
			continue
		}
		if rows := dbLeftovers(t, fe.db, needle); len(rows) > 0 {
			t.Errorf("the database still names %q in %v", needle, rows)
		}
	}
	if left := fe.storeLeftovers(t, clipID, uploadID); len(left) > 0 {
		t.Errorf("storage still holds %v", left)
	}
}

// readyClip uploads a lesson through tus and waits until it plays.
func readyClip(t *testing.T, e *env, owner person, name string, data []byte) media.Clip {
	t.Helper()
	tusUpload(t, e, owner, data, name, 2, false)
	clip := waitClip(t, e, owner, "Lesson "+name)
	if clip.Status != media.StatusReady {
		t.Fatalf("clip %s: %+v", clip.Status, clip.Failure)
	}
	return clip
}

func mustStatus(t *testing.T, res response, want int, what string) response {
	t.Helper()
	if res.status != want {
		t.Fatalf("%s: %d %s", what, res.status, res.body)
	}
	return res
}

// TestHardDeleteLeavesNothing fills a clip with everything that can name
// it (captions and their search entries, annotations and replies by two
// people, a reflection, goal evidence, live-room events, queued and
// finished jobs, the upload it came from), deletes it, and then searches
// every column of every table, every stored object and every file for its
// ID, its upload's ID and its transcript's words.
func TestHardDeleteLeavesNothing(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	data, err := os.ReadFile(lessonClip(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fe := newForgetEnv(t, tc.db.Open(t), tc.s3, nil)
			owner := fe.user("teacher@example.org", "Tess", false)
			peer := fe.user("peer@example.org", "Pia", false)
			clip := readyClip(t, fe.env, owner, "forget.mp4", data)
			keep := readyClip(t, fe.env, owner, "keep.mp4", data)
			base := "/api/v1/clips/" + clip.ID
			mustStatus(t, fe.do(owner, "PUT", base+"/audience", `{"emails":["peer@example.org"]}`), 200, "share")
			vtt := "WEBVTT\n\n00:00.500 --> 00:02.000\nxylophonic quadrilaterals\n"
			mustStatus(t, fe.doWith(owner, "PUT", base+"/captions/en", vtt, map[string]string{"Content-Type": "text/vtt"}), 200, "captions")
			var page media.TranscriptPage
			fe.do(owner, "GET", "/api/v1/search/transcripts?q=xylophonic", "").json(t, &page)
			if len(page.Hits) != 1 {
				t.Fatalf("search before delete: %+v", page)
			}
			var ann struct{ ID string }
			mustStatus(t, fe.do(peer, "POST", base+"/annotations", `{"start_ms":1000,"body":"Good wait time","kind":"strength"}`), 201, "annotate").json(t, &ann)
			mustStatus(t, fe.do(owner, "POST", base+"/annotations", `{"start_ms":1500,"body":"note to self","visibility":"private"}`), 201, "private note")
			mustStatus(t, fe.do(owner, "POST", base+"/annotations/"+ann.ID+"/replies", `{"body":"Thanks!"}`), 201, "reply")
			mustStatus(t, fe.do(peer, "PATCH", base+"/annotations/"+ann.ID, `{"body":"Good wait time (3 s)"}`), 200, "edit")
			mustStatus(t, fe.do(owner, "PUT", base+"/reflection", `{"went_well":"the questions","to_change":"pace","evidence":"minute 1"}`), 200, "reflect")
			var goal struct{ ID string }
			mustStatus(t, fe.do(owner, "POST", "/api/v1/goals", `{"title":"More wait time"}`), 201, "goal").json(t, &goal)
			mustStatus(t, fe.do(owner, "POST", "/api/v1/goals/"+goal.ID+"/evidence", `{"clip_id":"`+clip.ID+`","annotation_id":"`+ann.ID+`"}`), 201, "evidence")
			mustStatus(t, fe.do(owner, "POST", "/api/v1/goals/"+goal.ID+"/evidence", `{"clip_id":"`+keep.ID+`"}`), 201, "evidence of the other clip")

			// Before: the ID is where the test looks, so the search can fail.
			before := strings.Join(dbLeftovers(t, fe.db, clip.ID), " ")
			for _, table := range []string{"clips.", "caption_tracks.", "transcript_segments.", "annotations.", "annotation_replies.",
				"annotation_revisions.", "reflections.", "goal_evidence.", "clip_events.", "clip_seq.", "river_job."} {
				if !strings.Contains(before, table) {
					t.Errorf("before the delete, %s does not name the clip: %s", table, before)
				}
			}
			if left := fe.storeLeftovers(t, clip.ID); len(left) < 5 {
				t.Fatalf("before the delete only %v name the clip", left)
			}

			mustStatus(t, fe.do(owner, "DELETE", base, ""), 204, "delete")
			fe.assertForgotten(t, clip.ID, clip.UploadID, "xylophonic", "quadrilaterals")
			fe.do(owner, "GET", "/api/v1/search/transcripts?q=xylophonic", "").json(t, &page)
			if len(page.Hits) != 0 {
				t.Errorf("search after delete: %+v", page)
			}
			// Everything else stays: the other clip, its evidence, the goal.
			mustStatus(t, fe.do(owner, "GET", "/api/v1/clips/"+keep.ID, ""), 200, "the other clip")
			res := mustStatus(t, fe.do(owner, "GET", "/api/v1/goals/"+goal.ID, ""), 200, "the goal")
			if !strings.Contains(res.body, keep.ID) || strings.Contains(res.body, clip.ID) {
				t.Errorf("goal after delete: %s", res.body)
			}
			if objects, err := fe.srv.media.store.List(context.Background(), "clips/"+keep.ID); err != nil || len(objects) < 5 {
				t.Errorf("the other clip's objects: %d, %v", len(objects), err)
			}
		})
	}
}

// gateStore holds the Put of a clip's source until the test lets it go.
type gateStore struct {
	storage.Store
	once    sync.Once
	reached chan string // the clip ID whose source is being stored
	release chan struct{}
}

func (g *gateStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	g.hold(key)
	return g.Store.Put(ctx, key, r, size, contentType)
}

// PutFile: on the local store the source is linked from the upload folder.
func (g *gateStore) PutFile(ctx context.Context, key, path, contentType string) error {
	g.hold(key)
	return g.Store.PutFile(ctx, key, path, contentType)
}

func (g *gateStore) hold(key string) {
	if rest, ok := strings.CutPrefix(key, "clips/"); ok && strings.HasSuffix(key, "/source/original") {
		first := false
		g.once.Do(func() { first = true })
		if first {
			g.reached <- strings.SplitN(rest, "/", 2)[0]
			<-g.release
		}
	}
}

// TestHardDeleteDuringUploadDelivery deletes a clip while its finished
// upload is being stored as its source: the late source object, the queued
// job and the upload are removed, and no clip comes back.
func TestHardDeleteDuringUploadDelivery(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	data, err := os.ReadFile(lessonClip(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			gate := &gateStore{reached: make(chan string, 1), release: make(chan struct{})}
			fe := newForgetEnv(t, tc.db.Open(t), tc.s3, func(s storage.Store) storage.Store { gate.Store = s; return gate })
			owner := fe.user("teacher@example.org", "Tess", false)
			path := tusUpload(t, fe.env, owner, data, "late.mp4", 1, false)
			upload := uploadID(path)
			var clipID string
			select {
			case clipID = <-gate.reached:
			case <-time.After(2 * time.Minute):
				t.Fatal("the upload was never stored") // only stops a hung test
			}
			mustStatus(t, fe.do(owner, "DELETE", "/api/v1/clips/"+clipID, ""), 204, "delete during delivery")
			close(gate.release)
			// Delivery is done when the upload's files are gone and no clip
			// is being made; the deadline only stops a hung test.
			waitFor(t, "the upload to be dropped", 2*time.Minute, func() bool {
				return len(fe.storeLeftovers(t, clipID, upload)) == 0 && len(dbLeftovers(t, fe.db, clipID)) == 0
			})
			var list struct{ Clips []media.Clip }
			fe.do(owner, "GET", "/api/v1/clips?scope=mine", "").json(t, &list)
			if len(list.Clips) != 0 {
				t.Fatalf("clips after delete during delivery: %+v", list.Clips)
			}
			// Let any retry of the delivery run, then look again.
			time.Sleep(2 * time.Second)
			fe.do(owner, "GET", "/api/v1/clips?scope=mine", "").json(t, &list)
			if len(list.Clips) != 0 {
				t.Fatalf("a clip came back: %+v", list.Clips)
			}
			fe.assertForgotten(t, clipID, upload)
		})
	}
}

// flakyStore fails the first DeletePrefix of a clip's folder.
type flakyStore struct {
	storage.Store
	mu     sync.Mutex
	failed bool
}

func (f *flakyStore) DeletePrefix(ctx context.Context, prefix string) error {
	f.mu.Lock()
	// Only the whole clip's folder (a transcode clears clips/<id>/media/).
	fail := !f.failed && strings.HasPrefix(prefix, "clips/") && strings.Count(strings.TrimSuffix(prefix, "/"), "/") == 1
	f.failed = f.failed || fail
	f.mu.Unlock()
	if fail {
		return errors.New("storage refused the delete (test)")
	}
	return f.Store.DeletePrefix(ctx, prefix)
}

// TestHardDeleteRetry: the store fails the first delete, which then
// deletes nothing (the clip is still there, whole); the retry leaves
// nothing.
func TestHardDeleteRetry(t *testing.T) {
	t.Parallel()
	needTools(t, "ffmpeg")
	data, err := os.ReadFile(lessonClip(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range forgetBackends() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			flaky := &flakyStore{}
			fe := newForgetEnv(t, tc.db.Open(t), tc.s3, func(s storage.Store) storage.Store { flaky.Store = s; return flaky })
			owner := fe.user("teacher@example.org", "Tess", false)
			clip := readyClip(t, fe.env, owner, "retry.mp4", data)
			base := "/api/v1/clips/" + clip.ID
			mustStatus(t, fe.do(owner, "POST", base+"/annotations", `{"start_ms":1000,"body":"keep going"}`), 201, "annotate")
			if res := fe.do(owner, "DELETE", base, ""); res.status < 500 {
				t.Fatalf("delete with a failing store: %d %s", res.status, res.body)
			}
			mustStatus(t, fe.do(owner, "GET", base, ""), 200, "the clip after a failed delete")
			if objects, err := fe.srv.media.store.List(context.Background(), "clips/"+clip.ID); err != nil || len(objects) < 5 {
				t.Fatalf("objects after a failed delete: %d, %v", len(objects), err)
			}
			mustStatus(t, fe.do(owner, "DELETE", base, ""), 204, "retried delete")
			mustStatus(t, fe.do(owner, "GET", base, ""), 404, "the clip after the retry")
			fe.assertForgotten(t, clip.ID, clip.UploadID)
		})
	}
}
