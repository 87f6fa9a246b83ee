package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/sqldb"
)

// allowAll lets every signed-in bench user do everything: the benchmark
// measures the live layer, not the policy.
type allowAll struct{}

func (allowAll) Authorize(context.Context, accounts.Actor, accounts.Action, string) error { return nil }

// benchAnnotator appends the body as an annotation.created event and
// publishes it, as the annotations service does after its own writes.
type benchAnnotator struct {
	log *annotations.EventLog
	pub annotations.Publisher
}

func (b *benchAnnotator) Create(ctx context.Context, a accounts.Actor, clipID string, body json.RawMessage) (json.RawMessage, error) {
	e, err := b.log.Append(ctx, annotations.Event{ClipID: clipID, Type: annotations.EventAnnotationCreated, ActorID: a.UserID, Data: body})
	if err != nil {
		return nil, err
	}
	b.pub.Publish(ctx, e)
	return body, nil
}

func (b *benchAnnotator) Update(ctx context.Context, a accounts.Actor, clipID, annID string, body json.RawMessage) (json.RawMessage, error) {
	return b.Create(ctx, a, clipID, body)
}

func (b *benchAnnotator) Delete(context.Context, accounts.Actor, string, string) error { return nil }

// runServer is the child process: one hub behind HTTP on addr, until stdin
// closes. It prints its address on stdout when ready.
func runServer(dbURL, natsURL, node string) error {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	var b live.Bus = bus.NewMemory()
	if natsURL != "" {
		nb, err := bus.ConnectNATS(natsURL, "benchlive-"+node)
		if err != nil {
			return err
		}
		b = nb
	}
	defer b.Close()
	ann := &benchAnnotator{log: annotations.NewEventLog(db)}
	hub, err := live.New(live.Config{NodeID: node, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), PingInterval: 25 * time.Second},
		live.Deps{DB: db, Bus: b, Authz: allowAll{}, Annotator: ann})
	if err != nil {
		return err
	}
	ann.pub = hub
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(slog.Default())
	g := e.Group("/api", func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := c.Request().Header.Get("X-Bench-User")
			ctx := accounts.WithActor(c.Request().Context(), accounts.Actor{UserID: u, Name: u, Via: "token"})
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	})
	live.NewHandler(hub).Routes(g)
	// Diagnostics for the driver: the hub's counters, and pprof so a run
	// can be profiled and traced (-trace).
	e.GET("/debug/stats", func(c echo.Context) error { return c.JSON(http.StatusOK, hub.Stats()) })
	stalls := newStallMeter()
	e.GET("/debug/stalls", func(c echo.Context) error { return c.JSON(http.StatusOK, stalls.take()) })
	e.GET("/debug/memstats", func(c echo.Context) error {
		runtime.GC() // count what is live, not garbage awaiting collection
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return c.JSON(http.StatusOK, map[string]uint64{"heap_inuse": m.HeapInuse, "heap_alloc": m.HeapAlloc,
			"stack_inuse": m.StackInuse, "sys": m.Sys, "goroutines": uint64(runtime.NumGoroutine())})
	})
	e.GET("/debug/pprof/*", echo.WrapHandler(http.HandlerFunc(pprof.Index)))
	e.GET("/debug/pprof/profile", echo.WrapHandler(http.HandlerFunc(pprof.Profile)))
	e.GET("/debug/pprof/trace", echo.WrapHandler(http.HandlerFunc(pprof.Trace)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	fmt.Println(ln.Addr().String())
	// The parent closes our stdin to stop us.
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	hub.Close()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
