package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/postgres"
	"github.com/tollgate/tollgate/postgres/pgtest"
	"github.com/tollgate/tollgate/storetest"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newUser(t *testing.T, db *postgres.DB, name string) *tollgate.User {
	t.Helper()
	u := &tollgate.User{Username: name, Email: name + "@example.com", IsActive: true, CreatedAt: t0}
	if err := db.CreateUser(ctxT(t), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func newSession(t *testing.T, db *postgres.DB, uid int64, id string, expires time.Time) *tollgate.Session {
	t.Helper()
	s := &tollgate.Session{
		ID: id, UserID: uid, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: expires,
		CurrentJTI: "jti-" + id, CurrentIssuedAt: t0,
	}
	if err := db.CreateSession(ctxT(t), s, tollgate.LoginRecord{}); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return s
}

func TestMigrate_ConcurrentCallsApplyEachMigrationOnce(t *testing.T) {
	u, _ := pgtest.SchemaURL(t)
	ctx := ctxT(t)
	const instances = 4
	dbs := make([]*postgres.DB, instances)
	for i := range dbs {
		db, err := postgres.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	var wg sync.WaitGroup
	errs := make([]error, instances)
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Migrate(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: Migrate: %v", i, err)
		}
	}
	files, err := fs.Glob(postgres.Migrations(), "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("embedded migrations: %v %v", files, err)
	}
	var applied, distinct int
	err = dbs[0].Pool().QueryRow(ctx, `SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) || distinct != len(files) {
		t.Errorf("goose_db_version has %d rows for %d versions; want each of the %d migrations applied once", applied, distinct, len(files))
	}
	v, err := dbs[1].Version(ctx)
	if err != nil || v == 0 {
		t.Errorf("Version = %d, %v; want the latest migration", v, err)
	}
}

func TestRotateSession_ConcurrentRefreshesWithOneTokenOnlyOneWins(t *testing.T) {
	db := pgtest.Open(t)
	u := newUser(t, db, "alice")
	s := newSession(t, db, u.ID, "s1", t0.Add(time.Hour))
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = db.RotateSession(context.Background(), tollgate.Rotation{
				SessionID: s.ID, UserID: u.ID, PresentedJTI: s.CurrentJTI, NewJTI: fmt.Sprintf("new-%d", i),
				NewIssuedAt: t0.Add(time.Minute), NewExpiresAt: t0.Add(2 * time.Hour), Now: t0.Add(time.Minute),
			})
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both rotated the same token", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, tollgate.ErrRotationConflict):
			t.Errorf("racer %d: %v; want ErrRotationConflict", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer rotated the token")
	}
	got, err := db.Session(ctxT(t), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("new-%d", winner); got.CurrentJTI != want || got.PreviousJTI != s.CurrentJTI {
		t.Errorf("row has current %q previous %q; want the winner's %q after %q", got.CurrentJTI, got.PreviousJTI, want, s.CurrentJTI)
	}
}

func TestDeleteExpiredSessions_DeletesInBatchesAndKeepsLive(t *testing.T) {
	db := pgtest.Open(t)
	ctx := ctxT(t)
	u := newUser(t, db, "bob")
	for i := range 25 {
		newSession(t, db, u.ID, fmt.Sprintf("old-%02d", i), t0.Add(-time.Duration(i+1)*time.Minute))
	}
	newSession(t, db, u.ID, "edge", t0) // expires exactly at the cut-off: flushed
	for i := range 5 {
		newSession(t, db, u.ID, fmt.Sprintf("live-%d", i), t0.Add(time.Second))
	}
	var got []int
	for {
		n, err := db.DeleteExpiredSessions(ctx, t0, 10)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, n)
		if n < 10 {
			break
		}
	}
	if fmt.Sprint(got) != "[10 10 6]" {
		t.Errorf("batches deleted %v; want [10 10 6]", got)
	}
	live, err := db.ListSessions(ctx, u.ID, t0)
	if err != nil || len(live) != 5 {
		t.Errorf("after flush %d live sessions (%v); want 5", len(live), err)
	}
}

// The hot paths must be able to use their indexes whatever the table size;
// with sequential scans disabled the planner shows which index serves each.
func TestSchema_HotPathsUseIndexes(t *testing.T) {
	db := pgtest.Open(t)
	ctx := ctxT(t)
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(context.Background(), "RESET enable_seqscan")
	tests := []struct {
		name, query, index string
	}{
		{"rotation by id", `UPDATE sessions SET current_jti = 'n' WHERE id = 'x' AND current_jti = 'c' AND revoked_at IS NULL`, "sessions_pkey"},
		{"sessions of a user", `SELECT id FROM sessions WHERE user_id = 1 AND revoked_at IS NULL ORDER BY created_at DESC`, "sessions_user_id"},
		{"flush batch", `SELECT id FROM sessions WHERE expires_at <= now() ORDER BY expires_at LIMIT 1000`, "sessions_expires_at"},
		{"login by email", `SELECT id FROM users WHERE lower(email) = lower('A@b.c') AND email <> ''`, "users_email_lower"},
	}
	for _, tt := range tests {
		rows, err := conn.Query(ctx, "EXPLAIN "+tt.query)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var plan strings.Builder
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan.WriteString(line + "\n")
		}
		rows.Close()
		if !strings.Contains(plan.String(), tt.index) {
			t.Errorf("%s: plan does not use %s:\n%s", tt.name, tt.index, plan.String())
		}
	}
}

func TestCreateUser_ExplicitIDMovesTheSequencePastIt(t *testing.T) {
	db := pgtest.Open(t)
	ctx := ctxT(t)
	imported := &tollgate.User{ID: 42, Username: "imported", IsActive: true, CreatedAt: t0}
	if err := db.CreateUser(ctx, imported); err != nil {
		t.Fatal(err)
	}
	next := newUser(t, db, "next")
	if next.ID <= 42 {
		t.Errorf("generated id %d after importing id 42; want > 42", next.ID)
	}
	dup := &tollgate.User{ID: 42, Username: "other", CreatedAt: t0}
	if err := db.CreateUser(ctx, dup); !errors.Is(err, tollgate.ErrUsernameTaken) {
		t.Errorf("second user with id 42: %v; want ErrUsernameTaken", err)
	}
}

func TestUsers_UsernameIsCaseSensitiveEmailIsNot(t *testing.T) {
	db := pgtest.Open(t)
	ctx := ctxT(t)
	u := newUser(t, db, "Carol")
	tests := []struct {
		field tollgate.LoginField
		login string
		found bool
	}{
		{tollgate.LoginByUsername, "Carol", true},
		{tollgate.LoginByUsername, "carol", false},
		{tollgate.LoginByEmail, "CAROL@EXAMPLE.COM", true},
		{tollgate.LoginByEmail, "", false},
	}
	for _, tt := range tests {
		got, err := db.UserByLogin(ctx, tt.field, tt.login)
		switch {
		case tt.found && (err != nil || got.ID != u.ID):
			t.Errorf("%s %q: %v, %v; want user %d", tt.field, tt.login, got, err, u.ID)
		case !tt.found && !errors.Is(err, tollgate.ErrUserNotFound):
			t.Errorf("%s %q: %v; want ErrUserNotFound", tt.field, tt.login, err)
		}
	}
	if err := db.CreateUser(ctx, &tollgate.User{Username: "Carol", Email: "other@example.com", CreatedAt: t0}); !errors.Is(err, tollgate.ErrUsernameTaken) {
		t.Errorf("same username again: %v; want ErrUsernameTaken", err)
	}
	if err := db.CreateUser(ctx, &tollgate.User{Username: "carol", Email: "carol2@example.com", CreatedAt: t0}); err != nil {
		t.Errorf("username differing only in case: %v; want it accepted", err)
	}
}

func TestOpen_UnreachableServerIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the dial is refused
	_, err = postgres.Open(ctxT(t), "postgres://postgres@"+addr+"/test?sslmode=disable")
	if !errors.Is(err, tollgate.ErrUnavailable) {
		t.Errorf("Open on a closed port: %v; want ErrUnavailable", err)
	}
}

func TestStore_ClosedPoolIsUnavailable(t *testing.T) {
	db := pgtest.Open(t)
	db.Close()
	_, err := db.Session(ctxT(t), "any")
	if !errors.Is(err, tollgate.ErrUnavailable) {
		t.Errorf("Session on a closed store: %v; want ErrUnavailable", err)
	}
	if got := tollgate.ErrorCode(err); got != tollgate.EUnavailable {
		t.Errorf("ErrorCode = %q; want %q", got, tollgate.EUnavailable)
	}
}

func TestOpen_InvalidURLDoesNotEchoIt(t *testing.T) {
	_, err := postgres.Open(ctxT(t), "postgres://u:s3cret@[::1/db")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open with a broken URL: %v; want an error that does not quote the password", err)
	}
}

// TestService runs the core's rules (storetest.RunService) over real
// PostgreSQL, each case in a fresh schema; it fails when the server is
// unreachable (pgtest), never skips.
func TestService(t *testing.T) {
	storetest.RunService(t, func(t *testing.T) tollgate.Store { return pgtest.Open(t) })
}

// The pool is sized for commit-bound refreshes unless the URL says otherwise.
func TestOpen_PoolSizeDefaultAndOverride(t *testing.T) {
	base := pgtest.BaseURL(t)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, tc := range []struct {
		url  string
		want int32
	}{
		{base, int32(max(16, 4*runtime.NumCPU()))},
		{base + sep + "pool_max_conns=3", 3},
	} {
		db, err := postgres.Open(ctxT(t), tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := db.Pool().Config().MaxConns; got != tc.want {
			t.Errorf("MaxConns = %d, want %d", got, tc.want)
		}
		db.Close()
	}
}
