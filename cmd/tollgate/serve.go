package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	goredis "github.com/redis/go-redis/v9"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/audit"
	"github.com/tollgate/tollgate/config"
	tghttp "github.com/tollgate/tollgate/http"
	"github.com/tollgate/tollgate/inmem"
	"github.com/tollgate/tollgate/keys"
	tgredis "github.com/tollgate/tollgate/redis"
	"github.com/tollgate/tollgate/token"
)

// Server timeouts. ReadHeaderTimeout is the Slowloris guard; the others
// bound a request end to end. Token endpoints answer in milliseconds (a
// login in one password hash), so these are generous.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	// shutdownTimeout is how long in-flight requests may take to finish
	// after SIGINT/SIGTERM.
	shutdownTimeout = 20 * time.Second
	// flushBatch is how many expired sessions one DELETE removes.
	flushBatch = 1000
)

func init() {
	register("serve", "run the auth server (migrates the database first)", runServe)
}

func runServe(ctx context.Context, a *app, args []string) error {
	fs, cfgPath := a.flagSet("serve", "[--dev] [--config file.toml]")
	dev := fs.Bool("dev", false, "development mode: generate and keep a signing key if none is set (same as TOLLGATE_DEV=true); never in production")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve takes no arguments")
	}
	cfg, err := a.loadConfig(*cfgPath, *dev)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	auditSink := audit.NewSink(logger, reg)

	// A key from SIGNING_KEY is checked before the database is touched, so
	// a missing key fails without leaving a new database file behind.
	var sign *signing
	if !cfg.StoredKeys() {
		if sign, err = newSigning(ctx, cfg, nil, auditSink, logger); err != nil {
			return err
		}
	}
	if sign != nil && sign.devKey != nil {
		a.warnDevKey(sign.devKey)
	}
	if cfg.Dev {
		if host, _, _ := net.SplitHostPort(cfg.Addr); !isLoopback(host) {
			fmt.Fprintf(a.stderr, "tollgate: WARNING: dev mode while listening on %s, which is reachable from other machines\n", cfg.Addr)
		}
	}

	store, db, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if sign == nil {
		if sign, err = newSigning(ctx, cfg, store, auditSink, logger); err != nil {
			return err
		}
	}
	// The codec's algorithm allow-list is fixed here: a stored key set
	// offers the configured algorithm and those of every stored key.
	codec, err := token.New(cfg.Token(sign.keys))
	if err != nil {
		return err
	}

	hasher, err := newHasher(cfg)
	if err != nil {
		return err
	}

	var redisClient goredis.UniversalClient
	if cfg.RedisURL != "" {
		opts, err := goredis.ParseURL(cfg.RedisURL.Value())
		if err != nil {
			return fmt.Errorf("%sREDIS_URL: %w", config.EnvPrefix, err)
		}
		client := goredis.NewClient(opts)
		defer client.Close()
		redisClient = client
	}

	// With access-token revocation on and Redis configured, revocations
	// fan out: the instance that revokes a session publishes it (the
	// Revocations is one of the service's event sinks), every instance
	// subscribes, and the middleware answers from a cache, reading the
	// database only on a miss or while Redis is down.
	var svc *tollgate.Service
	var events tollgate.EventSink = auditSink
	var revocations *tgredis.Revocations
	if cfg.AccessTokenRevocation && redisClient != nil {
		source := revocationSource(func(ctx context.Context, sid string) (bool, error) { return svc.SessionRevoked(ctx, sid) })
		revocations = tgredis.NewRevocations(redisClient, source, tgredis.WithLogger(logger))
		events = sinks{auditSink, revocations}
	}

	core := cfg.Core()
	core.Events = events
	svc, err = tollgate.NewService(store, codec, hasher, core)
	if err != nil {
		return err
	}

	loginLimiter, refreshLimiter := newLimiters(cfg, redisClient, logger)

	// Asymmetric keys are published, so other services can verify tokens
	// with nothing but the JWKS URL (keys.NewRemoteKeySet), or the issuer
	// through the discovery document.
	extra := map[string]http.Handler{}
	if sign.publisher != nil {
		extra[keys.JWKSPath] = keys.JWKSHandler(sign.publisher)
		if iss, jwksURI, ok := discoveryURLs(cfg.Issuer); ok {
			extra[keys.DiscoveryPath] = keys.DiscoveryHandler(iss, jwksURI, sign.keys.Algorithms(), cfg.JWKSMaxAge)
		}
	}

	hcfg := tghttp.Config{
		Service:          svc,
		Prefix:           cfg.Prefix,
		LoginLimiter:     loginLimiter,
		RefreshLimiter:   refreshLimiter,
		TrustedProxies:   cfg.TrustedProxies,
		AccessRevocation: cfg.AccessTokenRevocation,
		HeaderName:       cfg.AuthHeaderName,
		HeaderTypes:      cfg.AuthHeaderTypes,
		Metrics:          promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Events:           events,
		Logger:           logger,
		Extra:            extra,
	}
	if revocations != nil {
		hcfg.Revocations = revocations
	}
	api, err := tghttp.NewHandler(hcfg)
	if err != nil {
		return err
	}
	tlsOn := cfg.TLSCertFile != ""
	var handler http.Handler = api
	if tlsOn && cfg.HSTS > 0 {
		handler = hsts(handler, cfg.HSTS)
	}

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if tlsOn {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("%sADDR: %w", config.EnvPrefix, err)
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	// The one plain line a person (or a test) reads to find the server.
	fmt.Fprintf(a.stderr, "tollgate: serving %s://%s%s (database %s)\n", scheme, ln.Addr(), cfg.Prefix, db)
	logger.Info("serving", "addr", ln.Addr().String(), "tls", tlsOn, "database", db.String(), "dev", cfg.Dev)

	// Background work (flush, key reloads and rotation, revocation
	// subscription) stops with stopFlush, after the server has drained.
	var wg sync.WaitGroup
	flushCtx, stopFlush := context.WithCancel(ctx)
	defer stopFlush()
	if cfg.FlushInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			flushPeriodically(flushCtx, svc, cfg.FlushInterval, logger)
		}()
	}
	if sign.rotating != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sign.run(flushCtx, cfg, events, logger)
		}()
	}
	if revocations != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = revocations.Run(flushCtx)
		}()
	}

	serveErr := make(chan error, 1)
	go func() {
		if tlsOn {
			serveErr <- srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			serveErr <- srv.Serve(ln)
		}
	}()

	select {
	case err := <-serveErr:
		stopFlush()
		wg.Wait()
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	fmt.Fprintln(a.stderr, "tollgate: shutting down; finishing in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	stopFlush()
	wg.Wait()
	if err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintln(a.stderr, "tollgate: stopped")
	return nil
}

// warnDevKey tells, loudly, that tokens are signed with a generated key.
func (a *app) warnDevKey(dk *config.DevKey) {
	line := strings.Repeat("*", 78)
	what := "Using the development signing key kept in " + dk.Path
	if dk.Created {
		what = "Generated a development signing key and saved it to " + dk.Path + " (mode 0600)"
	}
	if dk.ReplacedShort {
		what += ".\nTOLLGATE_SIGNING_KEY was set but is shorter than 32 bytes, so it is NOT used"
	}
	fmt.Fprintf(a.stderr, "%s\ntollgate: DEV MODE. %s;\nrestarts reuse it, so tokens stay valid. Never run --dev in production:\nset TOLLGATE_SIGNING_KEY (e.g. $(openssl rand -hex 32)) or TOLLGATE_SIGNING_KEY_FILE.\n%s\n",
		line, what, line)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// hsts adds Strict-Transport-Security, so browsers that met the server over
// HTTPS never try plain HTTP for it again.
func hsts(next http.Handler, maxAge time.Duration) http.Handler {
	v := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", v)
		next.ServeHTTP(w, r)
	})
}

// newLimiters returns the per-IP limiters of token obtain and refresh: in
// memory, or shared through Redis (falling back to memory while Redis is
// down) when client is not nil.
func newLimiters(cfg *config.Config, client goredis.UniversalClient, logger *slog.Logger) (login, refresh tollgate.Limiter) {
	memLogin := inmem.NewLimiter(cfg.LoginRate.N, cfg.LoginRate.Per)
	memRefresh := inmem.NewLimiter(cfg.RefreshRate.N, cfg.RefreshRate.Per)
	if client == nil {
		return memLogin, memRefresh
	}
	login = tgredis.NewLimiter(client, cfg.LoginRate.N, cfg.LoginRate.Per, memLogin,
		tgredis.WithKeyPrefix("tollgate:obtain-ip:"), tgredis.WithLogger(logger))
	refresh = tgredis.NewLimiter(client, cfg.RefreshRate.N, cfg.RefreshRate.Per, memRefresh,
		tgredis.WithKeyPrefix("tollgate:refresh-ip:"), tgredis.WithLogger(logger))
	return login, refresh
}

// revocationSource adapts a function to redis.RevocationSource; serve
// passes one that asks the service, which is built after the Revocations
// (the Revocations is one of the service's event sinks).
type revocationSource func(ctx context.Context, sessionID string) (bool, error)

// SessionRevoked calls f.
func (f revocationSource) SessionRevoked(ctx context.Context, sessionID string) (bool, error) {
	return f(ctx, sessionID)
}

// flushPeriodically deletes expired sessions every interval until ctx ends,
// so storage stays bounded without a cron job.
func flushPeriodically(ctx context.Context, svc *tollgate.Service, every time.Duration, logger *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.FlushExpired(ctx, flushBatch)
			if err != nil && ctx.Err() == nil {
				logger.Error("flushing expired sessions", "err", err, "deleted", n)
				continue
			}
			if n > 0 {
				logger.Info("flushed expired sessions", "deleted", n)
			}
		}
	}
}
