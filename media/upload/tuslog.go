package upload

import (
	"context"
	"log/slog"

	expslog "golang.org/x/exp/slog"
)

// tusLogger adapts our log/slog logger to the golang.org/x/exp/slog logger
// tusd v2 takes. tusd logs every request at Info level; those are per-chunk
// details, so they are passed on at Debug and only warnings and errors keep
// their level.
func tusLogger(log *slog.Logger) *expslog.Logger {
	return expslog.New(expHandler{h: log.Handler()})
}

type expHandler struct{ h slog.Handler }

func level(l expslog.Level) slog.Level {
	if l < expslog.LevelWarn {
		return slog.LevelDebug
	}
	return slog.Level(l)
}

func (e expHandler) Enabled(ctx context.Context, l expslog.Level) bool {
	return e.h.Enabled(ctx, level(l))
}

func (e expHandler) Handle(ctx context.Context, r expslog.Record) error {
	out := slog.NewRecord(r.Time, level(r.Level), "tusd: "+r.Message, r.PC)
	r.Attrs(func(a expslog.Attr) bool {
		out.AddAttrs(attr(a))
		return true
	})
	return e.h.Handle(ctx, out)
}

func attr(a expslog.Attr) slog.Attr {
	if a.Value.Kind() == expslog.KindGroup {
		group := a.Value.Group()
		attrs := make([]any, len(group))
		for i, g := range group {
			attrs[i] = attr(g)
		}
		return slog.Group(a.Key, attrs...)
	}
	return slog.Any(a.Key, a.Value.Resolve().Any())
}

func (e expHandler) WithAttrs(as []expslog.Attr) expslog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = attr(a)
	}
	return expHandler{h: e.h.WithAttrs(out)}
}

func (e expHandler) WithGroup(name string) expslog.Handler {
	return expHandler{h: e.h.WithGroup(name)}
}
