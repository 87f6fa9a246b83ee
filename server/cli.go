package server

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/filmroom/filmroom/accounts"
	"github.com/filmroom/filmroom/annotations"
	"github.com/filmroom/filmroom/annotations/live"
	"github.com/filmroom/filmroom/annotations/live/bus"
	"github.com/filmroom/filmroom/frontend"
	"github.com/filmroom/filmroom/internal/id"
	"github.com/filmroom/filmroom/internal/sqldb"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy"
)

// Version is set at build time with -ldflags "-X ...server.Version=…".
var Version = "dev"

const usage = `filmroom — video-based reflection and microteaching

Usage:
  filmroom serve [flags]        serve the web app and API (and run media jobs)
  filmroom worker [flags]       run media jobs only (extra transcoding nodes; needs the same database and storage)
  filmroom migrate [flags]      apply pending database migrations and exit
  filmroom demo [flags]         add demo accounts, a cohort and a captioned demo lesson with feedback
  filmroom user add [flags] EMAIL NAME    create an account (password from --password or stdin)
  filmroom user list [flags]    list accounts
  filmroom user set-password [flags] EMAIL   set a password (from --password or stdin)
  filmroom version              print the version

Every flag can also be set with a FILMROOM_* environment variable, named in
each flag's help: "filmroom serve --help".
`

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "worker":
		err = cmdWorker(ctx, args[1:], stderr)
	case "migrate":
		err = cmdMigrate(ctx, args[1:], stdout, stderr)
	case "user":
		err = cmdUser(ctx, args[1:], stdin, stdout, stderr)
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "filmroom", Version)
	default:
		fmt.Fprintf(stderr, "filmroom: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "filmroom:", err)
		return 1
	}
	return 0
}

// parse binds the config flags plus extra ones and parses args.
func parse(name string, args []string, stderr io.Writer, extra func(*flag.FlagSet)) (Config, *flag.FlagSet, error) {
	var cfg Config
	fs := flag.NewFlagSet("filmroom "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.Bind(fs)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	return cfg, fs, cfg.Finish()
}

// NewLogger builds the slog logger the configuration asks for.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func openDB(ctx context.Context, cfg Config, migrate bool, log *slog.Logger) (*sqldb.DB, error) {
	db, err := sqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if migrate {
		n, err := db.Up(ctx, Migrations())
		if err != nil {
			db.Close()
			return nil, err
		}
		if n > 0 {
			log.Info("Database migrated.", "applied", n, "dialect", string(db.Dialect))
		}
	}
	if _, err := db.Check(ctx, Migrations()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("serve", args, stderr, nil)
	if err != nil {
		return err
	}
	log := NewLogger(cfg, stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data folder %s: %w", cfg.DataDir, err)
	}
	db, err := openDB(ctx, cfg, cfg.Migrate, log)
	if err != nil {
		return err
	}
	defer db.Close()
	srv, err := New(ctx, cfg, Deps{DB: db, Log: log, Static: frontend.Dist()})
	if err != nil {
		return err
	}
	if err := firstRun(ctx, cfg, srv.Accounts, stdout, log); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	if cfg.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen for metrics on %s: %w", cfg.MetricsListen, err)
		}
		go serveMetrics(ctx, mln, srv.MetricsHandler(), log)
		log.Info("Serving metrics on their own address.", "address", mln.Addr().String())
	}
	log.Info("filmroom is serving.", "address", ln.Addr().String(), "base_url", cfg.BaseURL, "database", string(db.Dialect), "version", Version)
	return srv.Serve(ctx, ln, 20*time.Second)
}

// serveMetrics serves h on ln (the --metrics-listen address) until ctx
// ends. A failure there is logged, not fatal: the site keeps serving.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Error("The metrics listener stopped.", "error", err)
	}
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("demo", args, stderr, nil)
	if err != nil {
		return err
	}
	log := NewLogger(cfg, stderr)
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data folder %s: %w", cfg.DataDir, err)
	}
	db, err := openDB(ctx, cfg, cfg.Migrate, log)
	if err != nil {
		return err
	}
	defer db.Close()
	// The demo's clip goes through the job queue like any upload (so a
	// server running on the same database never processes it twice); this
	// process runs one worker and waits for it.
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	srv, err := New(ctx, cfg, Deps{DB: db, Log: log})
	if err != nil {
		return err
	}
	defer srv.Close(context.Background())
	return seedDemo(ctx, srv, log, stdout)
}

// firstRun makes sure a newcomer can sign in: it creates the admin named by
// the configuration, or says where the first-run page is.
func firstRun(ctx context.Context, cfg Config, acc *accounts.Service, stdout io.Writer, log *slog.Logger) error {
	n, err := acc.UserCount(ctx)
	if err != nil || n > 0 {
		return err
	}
	if cfg.AdminEmail != "" {
		u, err := acc.Setup(ctx, accounts.NewUser{Email: cfg.AdminEmail, Name: "Administrator", Password: cfg.AdminPassword})
		if err != nil {
			return fmt.Errorf("create the first admin from --admin-email: %w", err)
		}
		log.Info("Created the first admin account.", "email", u.Email)
		fmt.Fprintf(stdout, "\nfilmroom: sign in at %s with %s and the password from --admin-password.\n\n", cfg.BaseURL, u.Email)
		return nil
	}
	fmt.Fprintf(stdout, "\nfilmroom: no account exists yet. Open %s/ in your browser to create the first admin account.\n\n", cfg.BaseURL)
	return nil
}

// cmdWorker runs media jobs until interrupted, then lets running jobs
// finish for up to a minute; a job cut off there is retried elsewhere.
func cmdWorker(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, _, err := parse("worker", args, stderr, nil)
	if err != nil {
		return err
	}
	if cfg.Workers <= 0 {
		return errors.New("worker: --workers must be at least 1")
	}
	log := NewLogger(cfg, stderr)
	// A worker never migrates: the serve nodes own the schema.
	cfg.Migrate = false
	db, err := openDB(ctx, cfg, false, log)
	if err != nil {
		return err
	}
	defer db.Close()
	acc := accounts.New(db, log, nil)
	clips := media.NewClips(db, acc, log, nil)
	clips.Audit = privacy.NewLog(db, nil) // what the worker's jobs do is in the log too
	mp, err := newMedia(ctx, cfg, db, clips, log, false)
	if err != nil {
		return err
	}
	// Caption changes go to the rooms' log; with NATS the serve nodes hear
	// of them at once, without it at their next repair (10 s).
	var publish func(context.Context, annotations.Event) error
	if cfg.NATSURL != "" {
		nc, err := nats.Connect(cfg.NATSURL, nats.Name("filmroom-worker"), nats.MaxReconnects(-1), nats.Timeout(10*time.Second))
		if err != nil {
			return fmt.Errorf("connect to NATS at %s: %w", cfg.NATSURL, err)
		}
		defer nc.Close()
		b, node := bus.NewNATS(nc), "worker-"+id.New()
		publish = func(ctx context.Context, e annotations.Event) error { return live.PublishEvent(ctx, b, node, e) }
		// A clip the worker deletes (an abandoned upload) closes its live
		// sockets on the serve nodes at once.
		acc.OnAccessChange = func(ctx context.Context, ch accounts.AccessChange) {
			if err := live.PublishAccessChange(ctx, b, node, ch); err != nil {
				log.Warn("Could not announce an access change on the bus.", "error", err)
			}
		}
	}
	mp.captions.Captions.OnChange = captionEvents(mp.captions.Captions, annotations.NewEventLog(db), publish, log)
	if err := mp.start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	log.Info("filmroom worker is running.", "workers", cfg.Workers, "database", string(db.Dialect), "version", Version)
	<-ctx.Done()
	log.Info("Stopping: letting running jobs finish.")
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return mp.close(sctx)
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, _, err := parse("migrate", args, stderr, nil)
	if err != nil {
		return err
	}
	db, err := sqldb.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Up(ctx, Migrations())
	if err != nil {
		return err
	}
	// The job queue keeps its own schema; building it with migrate set
	// brings that up to date too.
	cfg.Workers, cfg.Migrate = 0, true
	log := NewLogger(cfg, stderr)
	jobs, err := media.NewJobs(ctx, db, media.JobsConfig{Timeout: time.Hour}, nil, nil, true, log)
	if err != nil {
		return err
	}
	_ = jobs.Stop(ctx)
	st, err := db.Check(ctx, Migrations())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
	for _, s := range st {
		fmt.Fprintf(stdout, "  %-12s version %d\n", s.Component, s.Applied)
	}
	return nil
}

func readPassword(flagValue string, stdin io.Reader) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("give the password with --password or on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func cmdUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("user: choose add, list or set-password")
	}
	var password string
	var admin bool
	cfg, fs, err := parse("user "+args[0], args[1:], stderr, func(fs *flag.FlagSet) {
		if args[0] != "list" {
			fs.StringVar(&password, "password", "", "the password (default: read a line from standard input)")
		}
		if args[0] == "add" {
			fs.BoolVar(&admin, "admin", false, "make the account a site admin")
		}
	})
	if err != nil {
		return err
	}
	log := NewLogger(cfg, stderr)
	db, err := openDB(ctx, cfg, cfg.Migrate, log)
	if err != nil {
		return err
	}
	defer db.Close()
	acc := accounts.New(db, log, nil)
	switch args[0] {
	case "add":
		if fs.NArg() != 2 {
			return errors.New("user add: give EMAIL and NAME (quote a name with spaces)")
		}
		pw, err := readPassword(password, stdin)
		if err != nil {
			return err
		}
		u, err := acc.CreateUser(ctx, accounts.NewUser{Email: fs.Arg(0), Name: fs.Arg(1), Password: pw}, admin)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s)\n", u.Email, u.ID)
	case "list":
		us, err := acc.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tADMIN\tCREATED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", u.ID, u.Email, u.Name, u.Admin, u.CreatedAt.Format(time.DateOnly))
		}
		return tw.Flush()
	case "set-password":
		if fs.NArg() != 1 {
			return errors.New("user set-password: give EMAIL")
		}
		pw, err := readPassword(password, stdin)
		if err != nil {
			return err
		}
		var target *accounts.User
		us, err := acc.Users(ctx)
		if err != nil {
			return err
		}
		for i := range us {
			if strings.EqualFold(us[i].Email, strings.TrimSpace(fs.Arg(0))) {
				target = &us[i]
			}
		}
		if target == nil {
			return fmt.Errorf("no account uses %s", fs.Arg(0))
		}
		if cfg.NATSURL != "" {
			// The serve nodes close the user's live sockets at once; without
			// NATS (one node) its periodic re-check does within 30 s.
			if nc, err := nats.Connect(cfg.NATSURL, nats.Name("filmroom-cli"), nats.Timeout(10*time.Second)); err != nil {
				log.Warn("Could not reach NATS; live rooms notice the reset at their next access check.", "error", err)
			} else {
				defer nc.Close()
				b, node := bus.NewNATS(nc), "cli-"+id.New()
				acc.OnAccessChange = func(ctx context.Context, ch accounts.AccessChange) {
					err := live.PublishAccessChange(ctx, b, node, ch)
					if err == nil {
						err = nc.FlushTimeout(5 * time.Second) // the process exits next
					}
					if err != nil {
						log.Warn("Could not announce an access change on the bus.", "error", err)
					}
				}
			}
		}
		if err := acc.SetPassword(ctx, target.ID, pw); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password set for %s; their sessions were signed out and their API tokens revoked\n", target.Email)
	default:
		return fmt.Errorf("user: unknown command %q; choose add, list or set-password", args[0])
	}
	return nil
}
