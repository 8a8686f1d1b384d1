// Command rowscale measures the store side of a refresh (the one conditional
// rotation UPDATE, joined to the user, that Service.Refresh makes for a good
// token) on PostgreSQL with a sessions table of a given size, to show
// refresh latency stays flat as the table grows (the issue asks for 10k
// against 10M rows).
//
// It seeds the table in one INSERT ... SELECT FROM generate_series (rows
// sessions spread over rows/5 users, expiries spread over a week so the
// flush index is realistic), ANALYZEs it, then performs -n refreshes of
// distinct random sessions from -c goroutines and prints p50/p99.
//
//	go run ./bench/rowscale -url 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable' -rows 10000000
//
// The schema (rowscale_<rows>) is kept for a re-run with -reuse and dropped
// with -drop.
package main

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/postgres"
)

func main() {
	dbURL := flag.String("url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL")
	rows := flag.Int("rows", 10000, "sessions in the table")
	n := flag.Int("n", 5000, "refreshes to time")
	conc := flag.Int("c", 8, "concurrent refreshers")
	reuse := flag.Bool("reuse", false, "reuse an already seeded schema")
	drop := flag.Bool("drop", false, "drop the schema when done")
	flag.Parse()
	ctx := context.Background()
	schema := fmt.Sprintf("rowscale_%d", *rows)
	users := max(*rows/5, 1)

	admin, err := pgx.Connect(ctx, *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	if !*reuse {
		if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
			log.Fatal(err)
		}
	}
	u, _ := url.Parse(*dbURL)
	q := u.Query()
	q.Set("search_path", schema)
	q.Set("pool_max_conns", fmt.Sprint(*conc))
	u.RawQuery = q.Encode()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if !*reuse {
		if err := db.Migrate(ctx); err != nil {
			log.Fatal(err)
		}
		start := time.Now()
		seed := []string{
			fmt.Sprintf(`INSERT INTO users (id, username, created_at) SELECT g, 'bench' || g, now() FROM generate_series(1, %d) g`, users),
			fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('users', 'id'), %d)`, users),
			fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, current_jti, current_issued_at)
				SELECT md5(g::text), 1 + g %% %d, now(), now(), now() + interval '7 days' - (g %% 10080) * interval '1 minute', md5('j' || g), now()
				FROM generate_series(1, %d) g`, users, *rows),
			`ANALYZE users; ANALYZE sessions`,
		}
		for _, s := range seed {
			if _, err := db.Pool().Exec(ctx, s); err != nil {
				log.Fatal(err)
			}
		}
		fmt.Fprintf(os.Stderr, "seeded %d sessions in %v\n", *rows, time.Since(start).Round(time.Millisecond))
	}

	// Distinct random sessions, each refreshed once with its seeded jti.
	picks := make(map[int64]bool, *n)
	for len(picks) < min(*n, *rows) {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(*rows)))
		picks[v.Int64()+1] = true
	}
	work := make(chan int64, len(picks))
	for g := range picks {
		work <- g
	}
	close(work)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	start := time.Now()
	for range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for g := range work {
				sid, jti := md5hex(fmt.Sprint(g)), md5hex(fmt.Sprintf("j%d", g))
				uid := 1 + g%int64(users) // as seeded
				t0 := time.Now()
				if err := refresh(ctx, db, uid, sid, jti); err != nil {
					log.Fatalf("session %d: %v", g, err)
				}
				d := time.Since(t0)
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := time.Since(start)
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	fmt.Printf("RESULT rows=%d refreshes=%d conc=%d rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
		*rows, len(lat), *conc, float64(len(lat))/total.Seconds(),
		ms(pct(0.50)), ms(pct(0.99)), ms(lat[len(lat)-1]))
	if *drop {
		if _, err := admin.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			log.Fatal(err)
		}
	}
}

// refresh does what Service.Refresh asks of the store for a valid token:
// one RotateSession, which checks the session and its user and returns both.
func refresh(ctx context.Context, db *postgres.DB, uid int64, sid, jti string) error {
	var b [16]byte
	rand.Read(b[:])
	now := time.Now()
	_, _, err := db.RotateSession(ctx, tollgate.Rotation{
		SessionID: sid, UserID: uid, PresentedJTI: jti, NewJTI: hex.EncodeToString(b[:]),
		NewIssuedAt: now, NewExpiresAt: now.Add(7 * 24 * time.Hour), Now: now,
	})
	return err
}

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
