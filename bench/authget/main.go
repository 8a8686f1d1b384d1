// Command authget serves one handler twice on loopback, bare at /plain and
// behind the Tollgate middleware at /auth, and prints a valid access token,
// so a load generator can compare the requests/s of the two side by side:
//
//	bench/authget.sh              # wrk against both, 10 s each
//
// It is a benchmark fixture, not an example: the key is random per run.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/middleware"
	"github.com/tollgate/tollgate/token"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8301", "loopback address to listen on")
	cache := flag.Int("cache", 0, "verified-token cache size (0 default, -1 off)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here until SIGINT/SIGTERM")
	flag.Parse()
	if *cpuprofile != "" {
		stop := startProfile(*cpuprofile)
		defer stop()
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatal("authget: -addr must be a loopback address")
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		log.Fatal(err)
	}
	ks, err := token.NewHMACKeySet("HS256", key)
	if err != nil {
		log.Fatal(err)
	}
	codec, err := token.New(token.Config{Keys: ks, CacheSize: *cache})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	raw, err := codec.Sign(&tollgate.Claims{Type: tollgate.AccessToken, JTI: "0123456789abcdef0123456789abcdef",
		UserID: "42", SessionID: "0123456789abcdef0123456789abcdef", IssuedAt: now, ExpiresAt: now.Add(time.Hour)})
	if err != nil {
		log.Fatal(err)
	}
	auth, err := middleware.New(middleware.Config{Tokens: codec})
	if err != nil {
		log.Fatal(err)
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"hello":"world"}`))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /plain", hello)
	mux.Handle("GET /auth", auth(hello))
	fmt.Fprintln(os.Stdout, raw)
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

// startProfile writes a CPU profile to path until the returned func runs.
func startProfile(path string) func() {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		log.Fatal(err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}
