package server

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/filmroom/filmroom/internal/ratelimit"
	"github.com/filmroom/filmroom/media"
	"github.com/filmroom/filmroom/privacy"
)

// Config is everything an operator can set, by flag or FILMROOM_*
// environment variable (a flag wins over the variable).
type Config struct {
	Listen        string
	DataDir       string
	DatabaseURL   string
	BaseURL       string
	Migrate       bool
	MaxUploadSize int64
	// AllowedOrigins may open websockets and send changes, besides BaseURL.
	AllowedOrigins []string
	// S3 storage; empty Bucket means the local data folder.
	S3Endpoint, S3Region, S3Bucket, S3AccessKey, S3SecretKey, S3Prefix string
	S3PathStyle                                                        bool
	// NATSURL, when set, fans live room events out between nodes.
	NATSURL string
	// Live rooms: keep-alive (a websocket ping every LivePingInterval; a
	// peer silent for LivePongWait is dropped), the periodic access
	// re-check, and what one user's sockets may do together on a node.
	LivePingInterval, LivePongWait, LiveAccessCheck time.Duration
	LiveMaxConnsPerUser, LiveUserRate               int
	// Workers is how many media jobs run at once in this process (0: none).
	Workers int
	// FFmpegThreads is how many threads one ffmpeg job uses (0: all cores).
	FFmpegThreads int
	// TranscodeTimeout bounds one transcode.
	TranscodeTimeout time.Duration
	// LadderChunk is the shortest chunk of a ladder encoded in parallel
	// chunks (the longest is twice that); 0 encodes every ladder whole.
	LadderChunk time.Duration
	// JobLease is how long a processing job may go without a heartbeat
	// before another node retries it.
	JobLease time.Duration
	// CaptionEngine: auto, pocketsphinx, whisper, aws-transcribe or none.
	CaptionEngine string
	WhisperBin    string
	WhisperModel  string
	// CaptionsLanguage is the BCP 47 tag the speech engine transcribes.
	CaptionsLanguage string
	// CaptionsChunk is the length of the parts a clip's audio is cut into
	// for captioning in parallel.
	CaptionsChunk time.Duration
	// AdminEmail and AdminPassword create the first admin at start when no
	// account exists (for unattended installs).
	AdminEmail, AdminPassword string
	LogLevel                  string
	LogFormat                 string
	// TrustedProxies are the load balancers whose X-Forwarded-For header
	// names the client address (which the per-address limits count); empty
	// means the connection's own address.
	TrustedProxies []*net.IPNet
	// Limits are the rate limits, counted in the database and so shared by
	// every node. Bind sets the defaults; the zero value (a Config built by
	// hand, as in tests) limits nothing.
	Limits Limits
	// MetricsListen, when set, serves /metrics on its own address (e.g.
	// 127.0.0.1:9090) instead of the public one.
	MetricsListen string
	// MetricsToken, when set, is the bearer token /metrics asks for; on the
	// public listener /metrics exists only when a token is set.
	MetricsToken string
	// Secret signs short-lived media URLs. Empty: a secret generated once
	// and kept in the database, so every node behind a balancer shares it.
	Secret string
	// MediaURLTTL is how long a signed media URL in a playlist works.
	MediaURLTTL time.Duration
	// MinFreeSpace is the margin of free disk space kept beyond what an
	// upload or a transcode needs.
	MinFreeSpace int64
	// AuditRetention is how long audit log entries are kept (0: forever).
	AuditRetention time.Duration
	// KeepOriginalsFor is how long the unredacted original of a redacted
	// clip stays, for its owner only (0: deleted when the redaction is
	// applied).
	KeepOriginalsFor time.Duration

	raw *rawConfig
}

// envName turns a flag name into its variable: "data-dir" → FILMROOM_DATA_DIR.
func envName(flagName string) string {
	return "FILMROOM_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type binder struct {
	fs *flag.FlagSet
}

func (b binder) str(p *string, name, def, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	b.fs.StringVar(p, name, def, usage+" ["+envName(name)+"]")
}

func (b binder) boolean(p *bool, name string, def bool, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if parsed, err := strconv.ParseBool(v); err == nil {
			def = parsed
		}
	}
	b.fs.BoolVar(p, name, def, usage+" ["+envName(name)+"]")
}

func (b binder) integer(p *int, name string, def int, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if parsed, err := strconv.Atoi(v); err == nil {
			def = parsed
		}
	}
	b.fs.IntVar(p, name, def, usage+" ["+envName(name)+"]")
}

func (b binder) duration(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		if parsed, err := time.ParseDuration(v); err == nil {
			def = parsed
		}
	}
	b.fs.DurationVar(p, name, def, usage+" ["+envName(name)+"]")
}

// Bind registers the configuration flags on fs. Call Finish after parsing.
func (c *Config) Bind(fs *flag.FlagSet) {
	b := binder{fs: fs}
	b.str(&c.Listen, "listen", ":8080", "address to serve HTTP on")
	b.str(&c.DataDir, "data-dir", "./data", "folder for the SQLite database, uploads and media (when not on S3)")
	b.str(&c.DatabaseURL, "database", "", "database: sqlite:<path> or postgres://user@host/db (default: sqlite in the data folder)")
	b.str(&c.BaseURL, "base-url", "http://localhost:8080", "public address of this site, for links and origin checks")
	b.boolean(&c.Migrate, "migrate", true, "apply pending database migrations at start (false: refuse to start on an old schema)")
	var maxUpload string
	b.str(&maxUpload, "max-upload", "4GiB", "largest upload accepted (e.g. 500MiB, 4GiB)")
	var origins string
	b.str(&origins, "allowed-origins", "", "comma-separated extra origins allowed to open live rooms and send changes")
	b.str(&c.S3Endpoint, "s3-endpoint", "", "S3 endpoint URL (empty: AWS); set with --s3-bucket to keep media in S3")
	b.str(&c.S3Region, "s3-region", "us-east-1", "S3 region")
	b.str(&c.S3Bucket, "s3-bucket", "", "S3 bucket for media (empty: the local data folder)")
	b.str(&c.S3AccessKey, "s3-access-key", "", "S3 access key (empty: the AWS default credential chain)")
	b.str(&c.S3SecretKey, "s3-secret-key", "", "S3 secret key")
	b.str(&c.S3Prefix, "s3-prefix", "", "key prefix inside the bucket")
	b.boolean(&c.S3PathStyle, "s3-path-style", false, "use path-style S3 addressing (MinIO and most S3-compatible stores)")
	b.str(&c.NATSURL, "nats-url", "", "NATS server for live rooms across several nodes (empty: in-process)")
	b.duration(&c.LivePingInterval, "live-ping-interval", 25*time.Second, "live rooms: websocket ping period")
	b.duration(&c.LivePongWait, "live-pong-wait", 60*time.Second, "live rooms: drop a connection silent this long (more than --live-ping-interval)")
	b.duration(&c.LiveAccessCheck, "live-access-check", 30*time.Second, "live rooms: re-check every connection's sign-in and clip access this often")
	b.integer(&c.LiveMaxConnsPerUser, "live-max-conns-per-user", 8, "live rooms: most sockets one user may open on this node")
	b.integer(&c.LiveUserRate, "live-user-rate", 40, "live rooms: messages per second all of one user's sockets may send together (burst twice that)")
	b.integer(&c.Workers, "workers", 1, "media jobs to run at once in this process (0: leave jobs to 'filmroom worker' nodes)")
	b.integer(&c.FFmpegThreads, "ffmpeg-threads", 0, "threads per ffmpeg job (0: every core)")
	b.duration(&c.TranscodeTimeout, "transcode-timeout", 2*time.Hour, "longest one transcode may run")
	b.duration(&c.LadderChunk, "ladder-chunk", time.Minute, "shortest chunk when a long video's ladder is encoded in chunks by any worker (longest: twice that); 0: every ladder in one piece")
	b.duration(&c.JobLease, "job-lease", media.DefaultLease, "how long a processing job may go without a heartbeat before another node retries it (a worker that died)")
	b.str(&c.CaptionEngine, "captions-engine", "auto", "speech engine for captions: auto, pocketsphinx, whisper, aws-transcribe or none")
	b.str(&c.WhisperBin, "whisper-bin", "whisper-cli", "whisper.cpp command-line program (captions engine whisper)")
	b.str(&c.WhisperModel, "whisper-model", "", "whisper.cpp model file (captions engine whisper)")
	b.str(&c.CaptionsLanguage, "captions-language", "en", "language the speech engine transcribes, as a BCP 47 tag (pocketsphinx: en only)")
	b.duration(&c.CaptionsChunk, "captions-chunk", media.DefaultCaptionChunk, "captions: length of the parts (cut at pauses) a clip's audio is captioned in, in parallel across workers")
	b.str(&c.AdminEmail, "admin-email", "", "create this admin at start when there is no account yet")
	b.str(&c.AdminPassword, "admin-password", "", "password for --admin-email")
	b.str(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	b.str(&c.LogFormat, "log-format", "text", "text or json")
	b.str(&c.MetricsListen, "metrics-listen", "", "serve /metrics on this address only (e.g. 127.0.0.1:9090), not on the public one")
	b.str(&c.MetricsToken, "metrics-token", "", "bearer token /metrics requires (needed to serve /metrics on the public address)")
	b.str(&c.Secret, "secret", "", "secret that signs media URLs, the same on every node (empty: generated once and kept in the database)")
	b.duration(&c.MediaURLTTL, "media-url-ttl", 30*time.Minute, "how long a signed media URL works beyond the length of its clip (access is checked on every request too)")
	b.duration(&c.KeepOriginalsFor, "keep-originals-for", 0, "how long the unredacted original of a redacted clip is kept, downloadable by its owner alone, before it is purged (e.g. 168h; 0: deleted when the redaction is applied)")
	b.duration(&c.AuditRetention, "audit-retention", privacy.DefaultRetention, "how long the audit log keeps who viewed, downloaded, shared or deleted what, and sign-ins (e.g. 9600h for 400 days; 0: forever)")
	var proxies string
	b.str(&proxies, "trusted-proxies", "", "comma-separated addresses or CIDR ranges of load balancers whose X-Forwarded-For names the client (empty: none)")
	var minFree string
	b.str(&minFree, "min-free-space", "1GiB", "free disk space to keep beyond what an upload or a transcode needs")
	c.raw = &rawConfig{maxUpload: &maxUpload, origins: &origins, proxies: &proxies, minFree: &minFree}
	c.bindLimits(b)
}

type rawConfig struct {
	maxUpload, origins, proxies, minFree *string
	rates                                []rawRate
}

// rawRate is a rate flag waiting for Finish to parse it.
type rawRate struct {
	flag string
	text *string
	into *ratelimit.Rate
}

// bindLimits registers the rate-limit flags (docs/security.md
// explains the defaults).
func (c *Config) bindLimits(b binder) {
	d := DefaultLimits()
	b.integer(&c.Limits.SignIn.Pair.After, "signin-backoff-after", d.SignIn.Pair.After,
		"failed sign-ins of one email from one address (and wrong current passwords of one user) before each further attempt must wait 1s, 2s, 4s… (0: off)")
	b.duration(&c.Limits.SignIn.Pair.Max, "signin-backoff-max", d.SignIn.Pair.Max, "longest wait between sign-in attempts of one email from one address")
	rate := func(into *ratelimit.Rate, name string, def ratelimit.Rate, usage string) {
		text := new(string)
		b.str(text, name, def.String(), usage+", as count/period,burst or off")
		c.raw.rates = append(c.raw.rates, rawRate{flag: name, text: text, into: into})
	}
	rate(&c.Limits.SignIn.Address, "signin-rate-address", d.SignIn.Address, "failed sign-ins from one client address, any email")
	rate(&c.Limits.SignIn.Email, "signin-rate-email", d.SignIn.Email, "failed sign-ins of one email from every address together")
	rate(&c.Limits.WritesPerUser, "write-rate-user", d.WritesPerUser, "API writes (POST, PUT, PATCH, DELETE) of one user")
	rate(&c.Limits.WritesPerAddress, "write-rate-address", d.WritesPerAddress, "API writes from one client address, every user together")
	rate(&c.Limits.UploadsPerUser, "upload-rate-user", d.UploadsPerUser, "uploads one user may start")
}

// Finish derives the settings that need parsing, after flags are parsed.
func (c *Config) Finish() error {
	if c.raw != nil {
		n, err := ParseSize(*c.raw.maxUpload)
		if err != nil {
			return fmt.Errorf("--max-upload: %w", err)
		}
		c.MaxUploadSize = n
		if c.MinFreeSpace, err = ParseSize(*c.raw.minFree); err != nil {
			return fmt.Errorf("--min-free-space: %w", err)
		}
		for _, o := range strings.Split(*c.raw.origins, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.AllowedOrigins = append(c.AllowedOrigins, strings.TrimRight(o, "/"))
			}
		}
		for _, p := range strings.Split(*c.raw.proxies, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			if !strings.Contains(p, "/") {
				if ip := net.ParseIP(p); ip != nil && ip.To4() != nil {
					p += "/32"
				} else {
					p += "/128"
				}
			}
			_, n, err := net.ParseCIDR(p)
			if err != nil {
				return fmt.Errorf("--trusted-proxies: %q is not an address or CIDR range", p)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
		for _, r := range c.raw.rates {
			parsed, err := ratelimit.ParseRate(*r.text)
			if err != nil {
				return fmt.Errorf("--%s: %w", r.flag, err)
			}
			*r.into = parsed
		}
		c.Limits.finish()
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if !strings.HasPrefix(c.BaseURL, "http://") && !strings.HasPrefix(c.BaseURL, "https://") {
		return fmt.Errorf("--base-url %q must start with http:// or https://", c.BaseURL)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "filmroom.db")
	}
	if c.MaxUploadSize <= 0 {
		c.MaxUploadSize = 4 << 30
	}
	if c.MediaURLTTL <= 0 {
		c.MediaURLTTL = 30 * time.Minute
	}
	if c.Secret != "" && len(c.Secret) < 32 {
		return errors.New("--secret must be at least 32 characters (e.g. the output of: openssl rand -hex 32)")
	}
	if c.LivePingInterval > 0 && c.LivePongWait > 0 && c.LivePongWait <= c.LivePingInterval {
		return fmt.Errorf("--live-pong-wait %s must be longer than --live-ping-interval %s", c.LivePongWait, c.LivePingInterval)
	}
	return nil
}

// Origins returns every origin allowed to open live rooms and send changes.
func (c *Config) Origins() []string {
	return append([]string{c.BaseURL}, c.AllowedOrigins...)
}

// ParseSize reads "4GiB", "500MiB", "10MB" or a plain byte count.
func ParseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
			if err != nil || n <= 0 {
				return 0, fmt.Errorf("%q is not a size like 4GiB", s)
			}
			return int64(n * float64(u.mult)), nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 4GiB", s)
	}
	return n, nil
}
