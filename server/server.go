package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/internal/apperr"
	"github.com/filmroom/filmroom/internal/httpx"
	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy"
	"github.com/filmroom/filmroom/privacy/export"
	"github.com/filmroom/filmroom/privacy/policy"
)

// Migrations lists every component's schema in dependency order.
func Migrations() []sqldb.Migrations {
	return []sqldb.Migrations{accounts.Migrations(), media.Migrations(), annotations.Migrations(), ratelimit.Migrations(),
		privacy.Migrations(), policy.Migrations()}
}

// Deps are the things New needs that main (or a test) makes.
type Deps struct {
	DB     *sqldb.DB
	Log    *slog.Logger
	Static fs.FS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is a running filmroom node's HTTP side.
type Server struct {
	cfg      Config
	log      *slog.Logger
	echo     *echo.Echo
	Accounts *accounts.Service
	Clips    *media.Clips
	// Export builds data exports and deletes accounts (privacy/export).
	Export  *export.Exporter
	media   *mediaParts
	live    *liveParts
	limiter ratelimit.Limiter
	metrics http.Handler
	closers []func(context.Context) error
	stop    context.CancelFunc

	// Audit is the audit log every domain records into.
	Audit      *privacy.Log
	auditPurge *auditPurge
	// Policy is the site's privacy policy (consent, downloads, retention).
	Policy    *policy.Store
	retention *retentionJob
	now       func() time.Time
}

// New builds every service and the HTTP handler. It does not listen; call
// Serve or use Handler in tests. Close releases what New started.
func New(ctx context.Context, cfg Config, d Deps) (*Server, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if _, err := d.DB.Check(ctx, Migrations()); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: d.Log, now: d.Now}
	bg, stop := context.WithCancel(context.Background())
	s.stop = stop

	s.Accounts = accounts.New(d.DB, d.Log, d.Now)
	s.Accounts.Limits = cfg.Limits.SignIn
	s.limiter = ratelimit.NewSQL(d.DB, d.Now)
	s.Clips = media.NewClips(d.DB, s.Accounts, d.Log, d.Now)
	s.Audit = privacy.NewLog(d.DB, d.Now)
	s.Audit.Retention = cfg.AuditRetention
	s.Accounts.Audit, s.Clips.Audit = s.Audit, s.Audit
	s.auditPurge = &auditPurge{log: s.Audit}
	s.Policy = policy.NewStore(d.DB, d.Now)
	s.Clips.Policy = s.Policy
	s.retention = &retentionJob{clips: s.Clips}
	mp, err := newMedia(ctx, cfg, d.DB, s.Clips, d.Log, true)
	if err != nil {
		stop()
		return nil, err
	}
	s.media = mp
	s.OnClose(mp.close)
	lp, err := newLive(ctx, cfg, d.DB, s.Accounts, s.Clips, d.Log, d.Now)
	if err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	s.live = lp
	s.OnClose(lp.close)
	mp.captions.Captions.OnChange = captionEvents(mp.captions.Captions, annotations.NewEventLog(d.DB),
		func(ctx context.Context, e annotations.Event) error { lp.hub.Publish(ctx, e); return nil }, d.Log)

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	httpMetrics := newHTTPMetrics(reg)
	reg.MustRegister(newLiveCollector(lp.hub))

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = httpx.ErrorHandler(d.Log)
	e.IPExtractor = clientIP(cfg.TrustedProxies)
	e.Use(middleware.RequestID())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			d.Log.Error("Handler panicked.", "path", c.Path(), "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(accessLog(d.Log, httpMetrics))
	e.Use(auditAddress)
	e.Use(securityHeaders(cfg, mp.origin))
	e.Use(middleware.GzipWithConfig(middleware.GzipConfig{Level: 5, MinLength: 1024, Skipper: notCompressed}))

	e.GET("/healthz", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.GET("/readyz", func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
		defer cancel()
		if err := d.DB.Ping(ctx); err != nil {
			d.Log.Warn("Readiness check failed.", "error", err)
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	s.metrics = metricsHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), cfg.MetricsToken)
	if cfg.MetricsListen == "" && cfg.MetricsToken != "" {
		e.GET("/metrics", echo.WrapHandler(s.metrics))
	} else {
		// Not on the public address: the figures describe the site's load
		// and users to anyone who asks.
		e.GET("/metrics", func(c echo.Context) error { return apperr.NotFound("page") })
	}

	accountsHTTP := accounts.NewHandler(s.Accounts, cfg.BaseURL)
	api := e.Group("/api/v1", noStore, originCheck(cfg.Origins()), accountsHTTP.Authenticate(), writeLimit(s.limiter, cfg.Limits, d.Log))
	accountsHTTP.Routes(api)
	mediaHTTP := media.NewHandler(s.Clips, mp.store)
	mediaHTTP.UseCaptionJob(mp.captions)
	mediaHTTP.UseRedactions(media.NewRedactions(mp.pipeline, mp.jobs))
	key, err := media.SigningKey(ctx, d.DB, cfg.Secret)
	if err != nil {
		_ = s.Close(ctx)
		return nil, err
	}
	ttl := cfg.MediaURLTTL
	if ttl <= 0 {
		ttl = 30 * time.Minute
	}
	mediaHTTP.UseSigner(media.NewURLSigner(key, d.Now), ttl)
	mediaHTTP.Routes(api)
	mp.routes(api)
	annotations.NewHandler(lp.annotations).Routes(api)
	live.NewHandler(lp.hub).Routes(api)
	privacy.NewHandler(s.Audit, auditClipAccess(s.Clips)).Routes(api)
	policyHTTP := policy.NewHandler(s.Policy, s.Audit)
	policyHTTP.RunRetention = func(ctx context.Context) (any, error) { return s.Clips.ApplyRetention(ctx) }
	// A changed policy can take access to clips away: live rooms check again.
	policyHTTP.Changed = func(ctx context.Context) { s.Accounts.AccessChanged(ctx, accounts.AccessChange{}) }
	policyHTTP.Routes(api)
	s.Export = export.New(export.Deps{DB: d.DB, Accounts: s.Accounts, Clips: s.Clips, Store: mp.store, Annotations: lp.annotations,
		Log: d.Log, Now: d.Now, SecureCookies: strings.HasPrefix(cfg.BaseURL, "https://")})
	s.Export.SetAuditLog(s.Audit)
	export.NewHandler(s.Export).Routes(api)
	api.Any("/*", func(c echo.Context) error {
		return apperr.New(apperr.ErrNotFound, "not_found", "there is no API route "+c.Request().Method+" "+c.Request().URL.Path)
	})

	if d.Static != nil {
		e.GET("/*", staticHandler(d.Static))
	}
	s.echo = e

	if err := mp.start(bg); err != nil {
		_ = s.Close(ctx)
		return nil, fmt.Errorf("start media jobs: %w", err)
	}
	go s.housekeeping(bg)
	return s, nil
}

// Handler is the whole HTTP handler (for tests and for Serve).
func (s *Server) Handler() http.Handler { return s.echo }

// MetricsHandler serves the Prometheus metrics (with the token check when
// one is configured), for the separate metrics listener.
func (s *Server) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", s.metrics)
	return mux
}

// Echo exposes the router so that later wiring can add routes.
func (s *Server) Echo() *echo.Echo { return s.echo }

// OnClose registers a function Close runs, in reverse order.
func (s *Server) OnClose(fn func(context.Context) error) { s.closers = append(s.closers, fn) }

// Close stops background work.
func (s *Server) Close(ctx context.Context) error {
	s.stop()
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i](ctx))
	}
	return errors.Join(errs...)
}

func (s *Server) housekeeping(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Accounts.PurgeExpired(ctx); err != nil {
				s.log.Warn("Could not purge expired sessions.", "error", err)
			}
			if _, err := s.limiter.Sweep(ctx, s.cfg.Limits.forget()); err != nil {
				s.log.Warn("Could not sweep old rate-limit counts.", "error", err)
			}
			s.media.sweepUploads(ctx, s.log)
			s.media.purgeOriginals(ctx, s.log)
			s.auditPurge.due(ctx, s.now(), s.log)
			s.retention.due(ctx, s.now(), s.log)
		}
	}
}

// Serve listens until ctx is cancelled, then drains requests for up to
// grace before closing.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("Shutting down: draining requests.", "grace", grace.String())
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	return errors.Join(err, s.Close(sctx))
}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "filmroom_http_requests_total", Help: "HTTP requests by route and status."},
			[]string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "filmroom_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// accessLog writes one structured line per request and records metrics.
func accessLog(log *slog.Logger, m *httpMetrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			status := c.Response().Status
			elapsed := time.Since(start)
			m.requests.WithLabelValues(c.Request().Method, route, strconv.Itoa(status)).Inc()
			m.duration.WithLabelValues(c.Request().Method, route).Observe(elapsed.Seconds())
			attrs := []any{"method", c.Request().Method, "path", c.Request().URL.Path, "route", route, "status", status,
				"duration_ms", elapsed.Milliseconds(), "bytes", c.Response().Size, "request_id", c.Response().Header().Get(echo.HeaderXRequestID)}
			if a, ok := accounts.ActorFrom(c.Request().Context()); ok {
				attrs = append(attrs, "user_id", a.UserID)
			}
			if route == "/healthz" || route == "/readyz" || route == "/metrics" {
				log.Debug("Request served.", attrs...)
			} else {
				log.Info("Request served.", attrs...)
			}
			return nil
		}
	}
}

// notCompressed skips gzip where it does harm or nothing: video segments,
// downloads and other media (already compressed, and served with Range
// requests), tus uploads, websocket upgrades, and /metrics (the Prometheus
// handler compresses on its own), and the annotation views, which send a
// gzipped copy they keep with the cached JSON. The web app's scripts and
// the API's other JSON are compressed here.
func notCompressed(c echo.Context) bool {
	p := c.Request().URL.Path
	return p == "/metrics" || p == "/api/v1/me/export" || strings.Contains(p, "/media/") || strings.HasSuffix(p, "/download") ||
		strings.HasPrefix(p, "/api/v1/uploads") || c.Request().Header.Get("Upgrade") != "" ||
		annotations.ServesCompressed(c.Request().Method, p)
}

// securityHeaders sets the page's security policy. Scripts, styles and
// fetches go to this site only; its websocket origin is named for browsers
// whose 'self' does not cover ws/wss; mediaOrigin (the object store's, when
// media redirects to presigned URLs) may serve images, media and segment
// fetches. Behind https, browsers are told to use nothing else (HSTS).
func securityHeaders(cfg Config, mediaOrigin string) echo.MiddlewareFunc {
	extra := ""
	if mediaOrigin != "" {
		extra = " " + mediaOrigin
	}
	ws := ""
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Host != "" {
		ws = " ws://" + u.Host
		if u.Scheme == "https" {
			ws = " wss://" + u.Host
		}
	}
	csp := "default-src 'self'; img-src 'self' data: blob:" + extra + "; media-src 'self' blob:" + extra +
		"; connect-src 'self'" + ws + extra + "; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
	hsts := strings.HasPrefix(cfg.BaseURL, "https://")
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Content-Security-Policy", csp)
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			return next(c)
		}
	}
}

// noStore marks API answers uncacheable unless the handler chose its own
// caching (media, the annotation views' private revalidated copies): they
// hold people's data and must not stay in shared or browser caches.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		res := c.Response()
		res.Before(func() {
			if res.Header().Get("Cache-Control") == "" {
				res.Header().Set("Cache-Control", "no-store")
			}
		})
		return next(c)
	}
}

// metricsHandler asks for the bearer token when one is configured.
func metricsHandler(h http.Handler, token string) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the bearer token from --metrics-token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// originCheck refuses state-changing requests and websocket upgrades sent
// by a page of another site: cookies alone must never be enough.
func originCheck(allowed []string) echo.MiddlewareFunc {
	ok := map[string]bool{}
	for _, o := range allowed {
		if u, err := url.Parse(o); err == nil {
			ok[strings.ToLower(u.Scheme+"://"+u.Host)] = true
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			origin := req.Header.Get("Origin")
			upgrade := strings.EqualFold(req.Header.Get("Upgrade"), "websocket")
			if origin == "" || (req.Method == http.MethodGet && !upgrade) || req.Method == http.MethodHead || req.Method == http.MethodOptions {
				return next(c)
			}
			o := strings.ToLower(strings.TrimRight(origin, "/"))
			// The request's own host is always same-origin (a reverse proxy or a
			// second name for the site).
			self := "http://" + strings.ToLower(req.Host)
			if req.TLS != nil {
				self = "https://" + strings.ToLower(req.Host)
			}
			if ok[o] || o == self {
				return next(c)
			}
			return apperr.New(apperr.ErrForbidden, "bad_origin", "requests from "+origin+" are not allowed; open filmroom at its own address")
		}
	}
}
