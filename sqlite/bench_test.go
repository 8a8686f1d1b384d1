package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

// BenchmarkRotateSession measures one refresh-token rotation (the single
// conditional UPDATE with its user check, and the read of that user, in one
// committed transaction) on a sessions table of 10k and 1M rows, run
// one at a time and from parallel goroutines (which queue for the one write
// connection). It reports p50/p99 latency next to ns/op.
//
//	go test -run '^$' -bench RotateSession -benchtime 5000x ./sqlite/
func BenchmarkRotateSession(b *testing.B) {
	for _, rows := range []int{10_000, 1_000_000} {
		db, uid, ids := seedSessions(b, rows)
		current := make([]string, rows) // each session's current jti
		for i := range current {
			current[i] = "jti-" + ids[i]
		}
		// rotate rotates session i to a fresh jti and returns how long it took.
		rotate := func(b *testing.B, i int) time.Duration {
			now := time.Now()
			jti := fmt.Sprintf("jti-%s-%d", ids[i], now.UnixNano())
			_, _, err := db.RotateSession(context.Background(), tollgate.Rotation{
				SessionID: ids[i], UserID: uid, PresentedJTI: current[i], NewJTI: jti,
				NewIssuedAt: now, NewExpiresAt: now.Add(7 * 24 * time.Hour), Now: now,
				UserAgent: "bench", IP: "127.0.0.1",
			})
			if err != nil {
				b.Error(err)
			}
			current[i] = jti
			return time.Since(now)
		}
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for n := 0; b.Loop(); n++ {
				lat = append(lat, rotate(b, n%rows))
			}
			reportPercentiles(b, lat)
		})
		b.Run(fmt.Sprintf("rows=%d/parallel", rows), func(b *testing.B) {
			// 8 goroutines per core, as concurrent refresh requests; each
			// owns every maxGoroutines-th session, so none conflicts with another.
			const maxGoroutines = 64
			b.SetParallelism(8)
			var (
				mu  sync.Mutex
				lat []time.Duration
				gid atomic.Int64
			)
			b.RunParallel(func(pb *testing.PB) {
				g := int(gid.Add(1) - 1)
				if g >= maxGoroutines {
					b.Error("more goroutines than sessions are partitioned for")
					return
				}
				var mine []time.Duration
				for n := 0; pb.Next(); n++ {
					mine = append(mine, rotate(b, (g+n*maxGoroutines)%(rows-rows%maxGoroutines)))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			reportPercentiles(b, lat)
		})
	}
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// seedSessions opens a fresh database holding rows live sessions of one
// user, inserted in one transaction, and returns it with the user's id and
// the session ids.
func seedSessions(b *testing.B, rows int) (*DB, int64, []string) {
	b.Helper()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	u := &tollgate.User{Username: "bench", IsActive: true, CreatedAt: time.Now()}
	if err := db.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	ids := make([]string, rows)
	for i := range ids {
		ids[i] = fmt.Sprintf("%032x", i+1)
		_, err := stmt.ExecContext(ctx, ids[i], u.ID, unix(now), unix(now), unix(now.Add(7*24*time.Hour)), nil,
			"jti-"+ids[i], unix(now), "", nil, nil, "", "Mozilla/5.0 (X11; Linux x86_64)", "192.0.2.1")
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	return db, u.ID, ids
}

// BenchmarkLoginWrite measures the store side of a password login after the
// hash: the session insert with the last login recorded in its transaction
// (one commit, one fsync), beside the two separate writes a login made
// before (RecordLogin, then CreateSession: two commits).
//
//	go test -run '^$' -bench LoginWrite -benchtime 1s ./sqlite/
func BenchmarkLoginWrite(b *testing.B) {
	ctx := context.Background()
	for _, mode := range []string{"one-transaction", "two-writes"} {
		b.Run(mode, func(b *testing.B) {
			db, uid, _ := seedSessions(b, 1)
			lat := make([]time.Duration, 0, b.N)
			for n := 0; b.Loop(); n++ {
				now := time.Now()
				s := &tollgate.Session{
					ID: fmt.Sprintf("login-%032x", n), UserID: uid, CreatedAt: now, LastUsedAt: now,
					ExpiresAt: now.Add(7 * 24 * time.Hour), CurrentJTI: fmt.Sprintf("jti-login-%d", n), CurrentIssuedAt: now,
					UserAgent: "bench", IP: "127.0.0.1",
				}
				var err error
				if mode == "one-transaction" {
					err = db.CreateSession(ctx, s, tollgate.LoginRecord{At: now})
				} else if err = db.RecordLogin(ctx, uid, now); err == nil {
					err = db.CreateSession(ctx, s, tollgate.LoginRecord{})
				}
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(now))
			}
			reportPercentiles(b, lat)
		})
	}
}
