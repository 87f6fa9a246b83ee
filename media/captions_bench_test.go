package media

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/internal/testsvc"
	"github.com/filmroom/filmroom/media/captions"
)

// benchVocabulary is what the benchmark's teachers say; "photosynthesis"
// is rare (one clip in ten), the others common.
var benchVocabulary = []string{"the", "fractions", "question", "partner", "think", "about", "what", "numerator", "denominator",
	"share", "answer", "why", "group", "class", "today", "we", "look", "at", "turn", "to", "your", "explain", "how", "you", "know"}

// BenchmarkSearchTranscripts searches a library of 300 ten-minute lessons
// (about 450,000 words, 32,000 index rows) visible to the searcher, on both
// databases: a rare word, a common word, and a two-word phrase with a
// prefix.
func BenchmarkSearchTranscripts(b *testing.B) {
	for _, d := range testsvc.Databases(accounts.Migrations(), Migrations()) {
		b.Run(d.Name, func(b *testing.B) {
			ctx := context.Background()
			e := newCapEnv(b, d.Open(b))
			rng := rand.New(rand.NewPCG(1, 2))
			const clipsN, wordsPerClip = 300, 1500
			for c := 0; c < clipsN; c++ {
				clipID := e.clipID
				if c > 0 {
					cl, err := e.clips.Create(ctx, e.owner, NewClip{Title: fmt.Sprintf("Lesson %d", c)})
					if err != nil {
						b.Fatal(err)
					}
					clipID = cl.ID
				}
				ws := make([]captions.Word, wordsPerClip)
				for i := range ws {
					text := benchVocabulary[rng.IntN(len(benchVocabulary))]
					if c%10 == 0 && i == 700 {
						text = "photosynthesis"
					}
					start := int64(i) * 400
					ws[i] = captions.Word{StartMS: start, EndMS: start + 300, Text: text, Confidence: 1}
				}
				if _, err := e.caps.save(ctx, newVersion{clipID: clipID, lang: "en", version: CaptionMachine, words: ws,
					cues: captions.BuildCues(ws)}); err != nil {
					b.Fatal(err)
				}
			}
			if e.db.Dialect == sqldb.Postgres {
				// A running server's autovacuum keeps statistics; a fresh
				// schema has none yet.
				if _, err := e.db.Writer().Exec(ctx, `ANALYZE transcript_segments`); err != nil {
					b.Fatal(err)
				}
			}
			for _, q := range []string{"photosynthesis", "fractions", "your partn"} {
				b.Run(q, func(b *testing.B) {
					for b.Loop() {
						p, err := e.caps.SearchTranscripts(ctx, e.owner, q, 20, 0)
						if err != nil || len(p.Hits) == 0 {
							b.Fatalf("search %q: %d hits, %v", q, len(p.Hits), err)
						}
					}
				})
			}
		})
	}
}
