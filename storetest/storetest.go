// Package storetest is the one test suite every tollgate.Store backend
// passes: the same cases, run against sqlite, postgres and any store to come.
// It speaks only the tollgate interfaces (no SQL), so a case that fails names
// a rule the backend breaks, not a detail of how it is built.
//
// Three entry points share that constructor: Run (the Store interface
// itself), RunKeyStore (stored signing keys) and RunService (the core's own
// rules — login, rotation, reuse detection, grace window, revocation, flush —
// driven through tollgate.Service over the backend, so the core is tested
// against every store, not just the one the HTTP tests use).
//
// A backend's test calls Run with a constructor of fresh, empty, migrated
// stores:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) tollgate.Store {
//			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// Rules the suite pins that the interface comments leave open:
//
//   - Times are kept to the second at least and come back in UTC; the suite
//     compares them after truncating to the second. Zero times (never logged
//     in, not revoked, no absolute cap) come back zero.
//   - User ids are never reused, and an import that keeps given ids moves the
//     id counter past them.
//   - Usernames are unique and compare case-sensitively (Django); emails are
//     not unique and compare case-insensitively (ASCII is enough: the suite
//     uses no other letters). A login by an email that two users share, or by
//     an empty email, finds no user.
//   - Deleting a user deletes its sessions; creating a session for a missing
//     user fails with ErrUserNotFound.
//   - "Live" means not revoked and ExpiresAt after the time given: an
//     ExpiresAt equal to now is expired (as DeleteExpiredSessions' "at or
//     before" says). RevokeSession alone ignores expiry: it reports whether
//     the session was unrevoked.
//   - RotateSession caps the new ExpiresAt at AbsoluteExpiresAt itself, and
//     refuses (ErrRotationConflict, nothing changed) a session of another
//     user than Rotation.UserID, or of an inactive or deleted user.
//   - CreateSession with a LoginRecord sets the user's LastLogin (a
//     non-zero At) only if the session is created, and the session only
//     with it.
//   - RotateSession of a missing session is ErrRotationConflict (one
//     conditional write cannot tell it apart; the service reloads).
//   - A login-failure window lasts `window` from its first failure: a failure
//     exactly `window` later still counts in it, one a second later starts a
//     new window, and so does a failure once the lock has expired (a fresh
//     allowance). Every failure at or past the limit sets LockedUntil =
//     now+lockout; a failure below the limit never shortens a live lock.
//   - A store that fails (here: after Close) answers with an error whose
//     code is internal or service_unavailable, never a domain sentinel.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
)

// Run runs every case against stores made by newStore. Each case gets its own
// fresh, empty store; newStore should register the store's cleanup with t
// (the suite may also Close a store itself, so Close must be idempotent).
func Run(t *testing.T, newStore func(t *testing.T) tollgate.Store) {
	t.Helper()
	groups := []struct {
		name  string
		cases []storeCase
	}{
		{"Users", userCases},
		{"Sessions", sessionCases},
		{"Throttle", throttleCases},
		{"Store", storeCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
			}
		})
	}
}

type storeCase struct {
	name string
	run  func(t *testing.T, s tollgate.Store)
}

// t0 is the suite's clock: a whole second in UTC, far from the Unix epoch.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// concurrency is how many goroutines race in the concurrent cases.
const concurrency = 50

// ---------------------------------------------------------------- users

var userCases = []storeCase{
	{"CreateUser_AssignsIncreasingIDs", func(t *testing.T, s tollgate.Store) {
		a := createUser(t, s, "alice")
		b := createUser(t, s, "bob")
		if a.ID <= 0 || b.ID <= a.ID {
			t.Fatalf("ids %d then %d; want positive and increasing", a.ID, b.ID)
		}
	}},
	{"CreateUser_KeepsGivenIDAndMovesCounterPastIt", func(t *testing.T, s tollgate.Store) {
		// A Django import keeps ids, in any order; users created after it
		// must not collide with them.
		imported := []int64{42, 7}
		for _, id := range imported {
			u := newUser(fmt.Sprintf("imported%d", id))
			u.ID = id
			if err := s.CreateUser(t.Context(), u); err != nil {
				t.Fatalf("CreateUser with id %d: %v", id, err)
			}
			if u.ID != id {
				t.Fatalf("CreateUser changed the given id %d to %d", id, u.ID)
			}
			got := mustUser(t, s, id)
			if got.Username != u.Username {
				t.Fatalf("UserByID(%d).Username = %q, want %q", id, got.Username, u.Username)
			}
		}
		fresh := createUser(t, s, "fresh")
		if fresh.ID <= 42 {
			t.Fatalf("user created after importing id 42 got id %d; want > 42", fresh.ID)
		}
	}},
	{"CreateUser_ExistingIDIsConflict", func(t *testing.T, s tollgate.Store) {
		first := newUser("first")
		first.ID = 5
		if err := s.CreateUser(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		second := newUser("second")
		second.ID = 5
		if err := s.CreateUser(t.Context(), second); !errors.Is(err, tollgate.ErrUsernameTaken) {
			t.Fatalf("CreateUser with a taken id: err = %v, want ErrUsernameTaken", err)
		}
		equalUser(t, mustUser(t, s, 5), first)
	}},
	{"CreateUser_DuplicateUsernameIsTaken", func(t *testing.T, s tollgate.Store) {
		first := createUser(t, s, "alice")
		dup := newUser("alice")
		dup.Email = "other@example.com"
		if err := s.CreateUser(t.Context(), dup); !errors.Is(err, tollgate.ErrUsernameTaken) {
			t.Fatalf("CreateUser with a taken username: err = %v, want ErrUsernameTaken", err)
		}
		users, err := s.ListUsers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 1 {
			t.Fatalf("ListUsers after a refused duplicate: %d users, want 1", len(users))
		}
		equalUser(t, users[0], first)
	}},
	{"CreateUser_UsernamesAreCaseSensitive", func(t *testing.T, s tollgate.Store) {
		lower := createUser(t, s, "alice")
		upper := createUser(t, s, "Alice")
		if got := mustLogin(t, s, tollgate.LoginByUsername, "alice"); got.ID != lower.ID {
			t.Fatalf("login alice found user %d, want %d", got.ID, lower.ID)
		}
		if got := mustLogin(t, s, tollgate.LoginByUsername, "Alice"); got.ID != upper.ID {
			t.Fatalf("login Alice found user %d, want %d", got.ID, upper.ID)
		}
		if _, err := s.UserByLogin(t.Context(), tollgate.LoginByUsername, "ALICE"); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("login ALICE: err = %v, want ErrUserNotFound", err)
		}
	}},
	{"CreateUser_EmailsNeedNotBeUnique", func(t *testing.T, s tollgate.Store) {
		// Django does not make email unique, and imported tables have
		// shared and empty emails.
		for i, email := range []string{"shared@example.com", "SHARED@example.com", "", ""} {
			u := newUser(fmt.Sprintf("user%d", i))
			u.Email = email
			if err := s.CreateUser(t.Context(), u); err != nil {
				t.Fatalf("CreateUser with email %q: %v", email, err)
			}
		}
	}},
	{"UserByID_RoundTripsEveryField", func(t *testing.T, s tollgate.Store) {
		full := &tollgate.User{
			Username:          "grace",
			Email:             "Grace.Hopper@Example.com",
			PasswordHash:      "pbkdf2_sha256$870000$salt$hash=",
			IsActive:          false,
			IsStaff:           true,
			CreatedAt:         t0.Add(-48 * time.Hour),
			LastLogin:         t0.Add(-time.Hour),
			PasswordChangedAt: t0.Add(-24 * time.Hour),
		}
		bare := &tollgate.User{Username: "nobody", IsActive: true, CreatedAt: t0}
		for _, want := range []*tollgate.User{full, bare} {
			if err := s.CreateUser(t.Context(), want); err != nil {
				t.Fatal(err)
			}
			equalUser(t, mustUser(t, s, want.ID), want)
		}
	}},
	{"UserByID_MissingIsNotFound", func(t *testing.T, s tollgate.Store) {
		createUser(t, s, "alice")
		if _, err := s.UserByID(t.Context(), 999); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("UserByID(999): err = %v, want ErrUserNotFound", err)
		}
	}},
	{"UserByLogin_UsernameIsExact", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		equalUser(t, mustLogin(t, s, tollgate.LoginByUsername, "alice"), u)
		for _, login := range []string{"Alice", "alic", "alice ", " alice", "alice@example.com", ""} {
			if _, err := s.UserByLogin(t.Context(), tollgate.LoginByUsername, login); !errors.Is(err, tollgate.ErrUserNotFound) {
				t.Errorf("login by username %q: err = %v, want ErrUserNotFound", login, err)
			}
		}
	}},
	{"UserByLogin_EmailIgnoresCase", func(t *testing.T, s tollgate.Store) {
		u := newUser("bob")
		u.Email = "Bob.Smith@Example.COM"
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		createUser(t, s, "carol")
		for _, login := range []string{"Bob.Smith@Example.COM", "bob.smith@example.com", "BOB.SMITH@EXAMPLE.COM"} {
			equalUser(t, mustLogin(t, s, tollgate.LoginByEmail, login), u)
		}
		for _, login := range []string{"bob.smith@example.co", "bob", "Bob.Smith"} {
			if _, err := s.UserByLogin(t.Context(), tollgate.LoginByEmail, login); !errors.Is(err, tollgate.ErrUserNotFound) {
				t.Errorf("login by email %q: err = %v, want ErrUserNotFound", login, err)
			}
		}
	}},
	{"UserByLogin_SharedEmailFindsNoOne", func(t *testing.T, s tollgate.Store) {
		// Picking one of two accounts that share an email would log a
		// person into someone else's account; Django's get() refuses too.
		for i, email := range []string{"twin@example.com", "Twin@Example.com"} {
			u := newUser(fmt.Sprintf("twin%d", i))
			u.Email = email
			if err := s.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.UserByLogin(t.Context(), tollgate.LoginByEmail, "twin@example.com"); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("login by a shared email: err = %v, want ErrUserNotFound", err)
		}
	}},
	{"UserByLogin_EmptyEmailFindsNoOne", func(t *testing.T, s tollgate.Store) {
		u := newUser("noemail")
		u.Email = ""
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UserByLogin(t.Context(), tollgate.LoginByEmail, ""); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("login by an empty email: err = %v, want ErrUserNotFound", err)
		}
	}},
	{"ListUsers_OrderedByID", func(t *testing.T, s tollgate.Store) {
		users, err := s.ListUsers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(users) != 0 {
			t.Fatalf("ListUsers of an empty store: %d users", len(users))
		}
		var want []*tollgate.User
		for _, id := range []int64{30, 0, 10} {
			u := newUser(fmt.Sprintf("u%d", id))
			u.ID = id
			if err := s.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			want = append(want, u)
		}
		sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
		got, err := s.ListUsers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("ListUsers: %d users, want %d", len(got), len(want))
		}
		for i := range want {
			equalUser(t, got[i], want[i])
		}
	}},
	{"SetUserActive_RoundTrips", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		for _, active := range []bool{false, true, false} {
			if err := s.SetUserActive(t.Context(), u.ID, active); err != nil {
				t.Fatal(err)
			}
			u.IsActive = active
			equalUser(t, mustUser(t, s, u.ID), u)
		}
		equalUser(t, mustUser(t, s, other.ID), other)
		if err := s.SetUserActive(t.Context(), 999, false); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("SetUserActive(999): err = %v, want ErrUserNotFound", err)
		}
	}},
	{"SetPasswordHash_ChangeRecordsChangedAt", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		at := t0.Add(time.Hour)
		if err := s.SetPasswordHash(t.Context(), u.ID, "argon2$new", at); err != nil {
			t.Fatal(err)
		}
		u.PasswordHash, u.PasswordChangedAt = "argon2$new", at
		equalUser(t, mustUser(t, s, u.ID), u)
		equalUser(t, mustUser(t, s, other.ID), other)
		if err := s.SetPasswordHash(t.Context(), 999, "x", at); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("SetPasswordHash(999): err = %v, want ErrUserNotFound", err)
		}
	}},
	{"SetPasswordHash_RehashKeepsChangedAt", func(t *testing.T, s tollgate.Store) {
		// A zero changedAt is a transparent upgrade of the hash: the
		// password did not change, so neither does PasswordChangedAt.
		never := createUser(t, s, "never")
		if err := s.SetPasswordHash(t.Context(), never.ID, "argon2$upgraded", time.Time{}); err != nil {
			t.Fatal(err)
		}
		never.PasswordHash = "argon2$upgraded"
		equalUser(t, mustUser(t, s, never.ID), never)

		changed := createUser(t, s, "changed")
		at := t0.Add(time.Hour)
		if err := s.SetPasswordHash(t.Context(), changed.ID, "pbkdf2$old", at); err != nil {
			t.Fatal(err)
		}
		if err := s.SetPasswordHash(t.Context(), changed.ID, "argon2$upgraded", time.Time{}); err != nil {
			t.Fatal(err)
		}
		changed.PasswordHash, changed.PasswordChangedAt = "argon2$upgraded", at
		equalUser(t, mustUser(t, s, changed.ID), changed)
	}},
	{"RecordLogin_SetsLastLogin", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		for _, at := range []time.Time{t0.Add(time.Minute), t0.Add(time.Hour)} {
			if err := s.RecordLogin(t.Context(), u.ID, at); err != nil {
				t.Fatal(err)
			}
			u.LastLogin = at
			equalUser(t, mustUser(t, s, u.ID), u)
		}
		equalUser(t, mustUser(t, s, other.ID), other)
		if err := s.RecordLogin(t.Context(), 999, t0); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("RecordLogin(999): err = %v, want ErrUserNotFound", err)
		}
	}},
	{"DeleteUser_RemovesOnlyThatUser", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		if err := s.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UserByID(t.Context(), u.ID); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("UserByID of a deleted user: err = %v, want ErrUserNotFound", err)
		}
		if _, err := s.UserByLogin(t.Context(), tollgate.LoginByUsername, "alice"); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("UserByLogin of a deleted user: err = %v, want ErrUserNotFound", err)
		}
		equalUser(t, mustUser(t, s, other.ID), other)
		if err := s.DeleteUser(t.Context(), u.ID); !errors.Is(err, tollgate.ErrUserNotFound) {
			t.Fatalf("DeleteUser twice: err = %v, want ErrUserNotFound", err)
		}
		// The username is free again.
		createUser(t, s, "alice")
	}},
	{"DeleteUser_DeletesItsSessions", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		mine := createSession(t, s, newSession(u.ID, 1, t0))
		revoked := newSession(u.ID, 2, t0)
		revoked.RevokedAt, revoked.RevokeReason = t0, tollgate.RevokeLogout
		createSession(t, s, revoked)
		theirs := createSession(t, s, newSession(other.ID, 3, t0))
		if err := s.DeleteUser(t.Context(), u.ID); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{mine.ID, revoked.ID} {
			if _, err := s.Session(t.Context(), id); !errors.Is(err, tollgate.ErrSessionNotFound) {
				t.Errorf("Session of a deleted user: err = %v, want ErrSessionNotFound", err)
			}
		}
		equalSession(t, mustSession(t, s, theirs.ID), theirs)
	}},
	{"DeleteUser_IDsAreNeverReused", func(t *testing.T, s tollgate.Store) {
		// An access token names its user by id; a reused id would hand a
		// deleted user's token to a stranger.
		createUser(t, s, "alice")
		last := createUser(t, s, "bob")
		if err := s.DeleteUser(t.Context(), last.ID); err != nil {
			t.Fatal(err)
		}
		if next := createUser(t, s, "carol"); next.ID <= last.ID {
			t.Fatalf("user created after deleting id %d got id %d", last.ID, next.ID)
		}
	}},
	{"CreateUser_ConcurrentSameUsernameOneWins", func(t *testing.T, s tollgate.Store) {
		errs := race(concurrency, func(i int) error {
			u := newUser("contested")
			u.Email = fmt.Sprintf("c%d@example.com", i)
			return s.CreateUser(context.Background(), u)
		})
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, tollgate.ErrUsernameTaken):
				t.Errorf("concurrent CreateUser: err = %v, want nil or ErrUsernameTaken", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d concurrent CreateUser of one username: %d succeeded, want 1", concurrency, wins)
		}
	}},
}

// ------------------------------------------------------------- sessions

var sessionCases = []storeCase{
	{"CreateSession_RoundTripsEveryField", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		full := &tollgate.Session{
			ID: sessionID(1), UserID: u.ID,
			CreatedAt: t0, LastUsedAt: t0.Add(time.Minute),
			ExpiresAt: t0.Add(7 * 24 * time.Hour), AbsoluteExpiresAt: t0.Add(30 * 24 * time.Hour),
			CurrentJTI: "jti-current", CurrentIssuedAt: t0.Add(time.Minute),
			PreviousJTI: "jti-previous", RotatedAt: t0.Add(time.Minute),
			RevokedAt: t0.Add(2 * time.Minute), RevokeReason: tollgate.RevokeReuse,
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) ünïcode ✓", IP: "2001:db8::1",
		}
		bare := &tollgate.Session{
			ID: sessionID(2), UserID: u.ID,
			CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour),
			CurrentJTI: "jti-only", CurrentIssuedAt: t0,
		}
		for _, want := range []*tollgate.Session{full, bare} {
			createSession(t, s, want)
			equalSession(t, mustSession(t, s, want.ID), want)
		}
	}},
	{"CreateSession_KeepsTimesToTheSecondInUTC", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		cet := time.FixedZone("CET", 3600)
		at := t0.Add(123456789 * time.Nanosecond).In(cet)
		sess := newSession(u.ID, 1, at)
		sess.ExpiresAt = at.Add(time.Hour)
		createSession(t, s, sess)
		got := mustSession(t, s, sess.ID)
		equalSession(t, got, sess) // equalSession checks the UTC location
		if got.CreatedAt.Before(t0) || got.CreatedAt.After(at) {
			t.Fatalf("CreatedAt %v is not within the second of %v", got.CreatedAt, at)
		}
	}},
	{"Session_MissingIsNotFound", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		createSession(t, s, newSession(u.ID, 1, t0))
		if _, err := s.Session(t.Context(), sessionID(2)); !errors.Is(err, tollgate.ErrSessionNotFound) {
			t.Fatalf("Session of a missing id: err = %v, want ErrSessionNotFound", err)
		}
	}},
	{"CreateSession_DuplicateIDFails", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		first := createSession(t, s, newSession(u.ID, 1, t0))
		dup := newSession(u.ID, 1, t0.Add(time.Hour))
		dup.CurrentJTI = "jti-dup"
		if err := s.CreateSession(t.Context(), dup, tollgate.LoginRecord{}); err == nil {
			t.Fatal("CreateSession with a taken id succeeded")
		}
		equalSession(t, mustSession(t, s, first.ID), first)
	}},
	{"CreateSession_LastLoginSetWithTheSession", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		// Zero: the user is left as it was (a social sign-in, or
		// UpdateLastLogin off).
		createSession(t, s, newSession(u.ID, 1, t0))
		equalUser(t, mustUser(t, s, u.ID), u)

		at := t0.Add(time.Hour)
		sess := newSession(u.ID, 2, at)
		if err := s.CreateSession(t.Context(), sess, tollgate.LoginRecord{At: at}); err != nil {
			t.Fatalf("CreateSession with a last login: %v", err)
		}
		equalSession(t, mustSession(t, s, sess.ID), sess)
		u.LastLogin = at
		equalUser(t, mustUser(t, s, u.ID), u)
		equalUser(t, mustUser(t, s, other.ID), other)
	}},
	{"CreateSession_RefusedSessionLeavesLastLogin", func(t *testing.T, s tollgate.Store) {
		// One transaction: a session that cannot be created (its id is
		// taken) must not leave a login recorded behind it.
		u := createUser(t, s, "alice")
		first := createSession(t, s, newSession(u.ID, 1, t0))
		dup := newSession(u.ID, 1, t0.Add(time.Hour))
		dup.CurrentJTI = "jti-dup"
		if err := s.CreateSession(t.Context(), dup, tollgate.LoginRecord{At: t0.Add(time.Hour)}); err == nil {
			t.Fatal("CreateSession with a taken id succeeded")
		}
		equalSession(t, mustSession(t, s, first.ID), first)
		equalUser(t, mustUser(t, s, u.ID), u) // LastLogin still zero
	}},
	{"CreateSession_UnknownUserIsNotFound", func(t *testing.T, s tollgate.Store) {
		for i, lastLogin := range []time.Time{{}, t0} {
			err := s.CreateSession(t.Context(), newSession(999, i+1, t0), tollgate.LoginRecord{At: lastLogin})
			if !errors.Is(err, tollgate.ErrUserNotFound) {
				t.Fatalf("CreateSession for a missing user (last login %v): err = %v, want ErrUserNotFound", lastLogin, err)
			}
			if _, err := s.Session(t.Context(), sessionID(i+1)); !errors.Is(err, tollgate.ErrSessionNotFound) {
				t.Fatalf("Session after a refused create: err = %v, want ErrSessionNotFound", err)
			}
		}
	}},
	{"RotateSession_ReplacesCurrentToken", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		sess := newSession(u.ID, 1, t0)
		sess.AbsoluteExpiresAt = t0.Add(30 * 24 * time.Hour)
		createSession(t, s, sess)
		other := createSession(t, s, newSession(u.ID, 2, t0))

		now := t0.Add(10 * time.Minute)
		r := tollgate.Rotation{
			SessionID: sess.ID, UserID: u.ID, PresentedJTI: sess.CurrentJTI, NewJTI: "jti-next",
			NewIssuedAt: now, NewExpiresAt: now.Add(7 * 24 * time.Hour), Now: now,
			UserAgent: "curl/8.5", IP: "198.51.100.7",
		}
		gotSess, gotUser, err := s.RotateSession(t.Context(), r)
		if err != nil {
			t.Fatalf("RotateSession with the current jti: %v", err)
		}
		want := *sess
		want.PreviousJTI, want.RotatedAt = sess.CurrentJTI, now
		want.CurrentJTI, want.CurrentIssuedAt, want.ExpiresAt = r.NewJTI, r.NewIssuedAt, r.NewExpiresAt
		want.LastUsedAt, want.UserAgent, want.IP = now, r.UserAgent, r.IP
		equalSession(t, mustSession(t, s, sess.ID), &want)
		equalSession(t, mustSession(t, s, other.ID), other)
		// What it returns is the row as updated, and the session's user.
		equalSession(t, gotSess, &want)
		equalUser(t, gotUser, u)

		// The successor rotates in turn.
		later := now.Add(time.Minute)
		r2 := tollgate.Rotation{
			SessionID: sess.ID, UserID: u.ID, PresentedJTI: "jti-next", NewJTI: "jti-after",
			NewIssuedAt: later, NewExpiresAt: later.Add(time.Hour), Now: later,
		}
		if _, _, err := s.RotateSession(t.Context(), r2); err != nil {
			t.Fatalf("RotateSession with the successor: %v", err)
		}
		got := mustSession(t, s, sess.ID)
		if got.CurrentJTI != "jti-after" || got.PreviousJTI != "jti-next" {
			t.Fatalf("after two rotations current/previous = %q/%q, want jti-after/jti-next", got.CurrentJTI, got.PreviousJTI)
		}
	}},
	{"RotateSession_ReturnsTheUsersCurrentFields", func(t *testing.T, s tollgate.Store) {
		// The service mints from what RotateSession returns (the claims
		// hook sees this user): it must be the stored row, every field.
		u := &tollgate.User{
			Username: "grace", Email: "Grace@Example.com", PasswordHash: "argon2$x",
			IsActive: true, IsStaff: true, CreatedAt: t0.Add(-time.Hour),
			LastLogin: t0.Add(-time.Minute), PasswordChangedAt: t0.Add(-30 * time.Minute),
		}
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		sess := createSession(t, s, newSession(u.ID, 1, t0))
		if err := s.SetPasswordHash(t.Context(), u.ID, "argon2$changed", t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		u.PasswordHash, u.PasswordChangedAt = "argon2$changed", t0.Add(time.Second)
		_, got, err := s.RotateSession(t.Context(), rotation(u.ID, sess.ID, sess.CurrentJTI, "jti-next", t0.Add(time.Minute)))
		if err != nil {
			t.Fatal(err)
		}
		equalUser(t, got, u)
	}},
	{"RotateSession_CapsExpiryAtAbsoluteLifetime", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		now := t0.Add(time.Minute)
		tests := []struct {
			name           string
			absolute, want time.Time // want: the stored and returned ExpiresAt
		}{
			{"cap before the new expiry", now.Add(30 * time.Minute), now.Add(30 * time.Minute)},
			{"cap exactly at the new expiry", now.Add(time.Hour), now.Add(time.Hour)},
			{"cap after the new expiry", now.Add(2 * time.Hour), now.Add(time.Hour)},
			{"no cap", time.Time{}, now.Add(time.Hour)},
		}
		for i, tt := range tests {
			sess := newSession(u.ID, i+1, t0)
			sess.AbsoluteExpiresAt = tt.absolute
			createSession(t, s, sess)
			r := rotation(u.ID, sess.ID, sess.CurrentJTI, "jti-next", now) // asks for now+1h
			got, _, err := s.RotateSession(t.Context(), r)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			sameTime(t, tt.name+": returned ExpiresAt", got.ExpiresAt, tt.want)
			sameTime(t, tt.name+": returned AbsoluteExpiresAt", got.AbsoluteExpiresAt, tt.absolute)
			sameTime(t, tt.name+": stored ExpiresAt", mustSession(t, s, sess.ID).ExpiresAt, tt.want)
		}
	}},
	{"RotateSession_RefusedUnlessTheTokensUserIsActive", func(t *testing.T, s tollgate.Store) {
		alice := createUser(t, s, "alice")
		bob := createUser(t, s, "bob")
		ivan := createUser(t, s, "ivan")
		gone := createUser(t, s, "gone")
		mine := createSession(t, s, newSession(alice.ID, 1, t0))
		inactive := createSession(t, s, newSession(ivan.ID, 2, t0))
		deleted := createSession(t, s, newSession(gone.ID, 3, t0))
		if err := s.SetUserActive(t.Context(), ivan.ID, false); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteUser(t.Context(), gone.ID); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Minute)
		for _, c := range []struct {
			name string
			r    tollgate.Rotation
		}{
			{"another user's id", rotation(bob.ID, mine.ID, mine.CurrentJTI, "jti-branch", now)},
			{"a missing user's id", rotation(999, mine.ID, mine.CurrentJTI, "jti-branch", now)},
			{"an inactive user", rotation(ivan.ID, inactive.ID, inactive.CurrentJTI, "jti-branch", now)},
			{"a deleted user", rotation(gone.ID, deleted.ID, deleted.CurrentJTI, "jti-branch", now)},
		} {
			before := map[string]*tollgate.Session{mine.ID: mustSession(t, s, mine.ID), inactive.ID: mustSession(t, s, inactive.ID)}
			sess, u, err := s.RotateSession(t.Context(), c.r)
			if !errors.Is(err, tollgate.ErrRotationConflict) || sess != nil || u != nil {
				t.Errorf("RotateSession with %s = %v, %v, %v; want nil, nil, ErrRotationConflict", c.name, sess, u, err)
			}
			for id, b := range before {
				equalSession(t, mustSession(t, s, id), b)
			}
			if _, err := s.Session(t.Context(), deleted.ID); !errors.Is(err, tollgate.ErrSessionNotFound) {
				t.Errorf("after RotateSession with %s, the deleted user's session: err = %v, want ErrSessionNotFound", c.name, err)
			}
		}
		// Reactivated, the same rotation goes through: it was the user's
		// state that refused it.
		if err := s.SetUserActive(t.Context(), ivan.ID, true); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RotateSession(t.Context(), rotation(ivan.ID, inactive.ID, inactive.CurrentJTI, "jti-next", now)); err != nil {
			t.Fatalf("RotateSession after reactivation: %v", err)
		}
	}},
	{"RotateSession_ConflictChangesNothing", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		rotated := createSession(t, s, newSession(u.ID, 1, t0))
		now := t0.Add(time.Minute)
		if _, _, err := s.RotateSession(t.Context(), rotation(u.ID, rotated.ID, rotated.CurrentJTI, "jti-new", now)); err != nil {
			t.Fatal(err)
		}
		revoked := newSession(u.ID, 2, t0)
		revoked.RevokedAt, revoked.RevokeReason = t0.Add(time.Second), tollgate.RevokeLogout
		createSession(t, s, revoked)

		for _, c := range []struct {
			name string
			r    tollgate.Rotation
		}{
			{"the just-rotated jti", rotation(u.ID, rotated.ID, rotated.CurrentJTI, "jti-branch", now.Add(time.Second))},
			{"an unknown jti", rotation(u.ID, rotated.ID, "jti-unknown", "jti-branch", now.Add(time.Second))},
			{"an empty jti", rotation(u.ID, rotated.ID, "", "jti-branch", now.Add(time.Second))},
			{"a revoked session", rotation(u.ID, revoked.ID, revoked.CurrentJTI, "jti-branch", now.Add(time.Second))},
			{"a missing session", rotation(u.ID, sessionID(9), "jti-x", "jti-branch", now.Add(time.Second))},
		} {
			before := map[string]*tollgate.Session{rotated.ID: mustSession(t, s, rotated.ID), revoked.ID: mustSession(t, s, revoked.ID)}
			if sess, _, err := s.RotateSession(t.Context(), c.r); !errors.Is(err, tollgate.ErrRotationConflict) || sess != nil {
				t.Errorf("RotateSession with %s = %v, %v; want nil, ErrRotationConflict", c.name, sess, err)
			}
			for id, b := range before {
				equalSession(t, mustSession(t, s, id), b)
			}
		}
	}},
	{"RotateSession_ConcurrentSameTokenOneWins", func(t *testing.T, s tollgate.Store) {
		// The heart of refresh-token theft detection: of N refreshes with
		// one token, exactly one gets a successor. Several rounds, each
		// racing on the previous round's winner.
		u := createUser(t, s, "alice")
		sess := createSession(t, s, newSession(u.ID, 1, t0))
		presented := sess.CurrentJTI
		for round := 0; round < 5; round++ {
			now := t0.Add(time.Duration(round+1) * time.Minute)
			returned := make([]*tollgate.Session, concurrency)
			errs := race(concurrency, func(i int) error {
				var err error
				returned[i], _, err = s.RotateSession(context.Background(), rotation(u.ID, sess.ID, presented, fmt.Sprintf("jti-r%d-g%d", round, i), now))
				return err
			})
			winner := -1
			for i, err := range errs {
				switch {
				case err == nil && winner >= 0:
					t.Fatalf("round %d: goroutines %d and %d both rotated jti %q", round, winner, i, presented)
				case err == nil:
					winner = i
				case !errors.Is(err, tollgate.ErrRotationConflict):
					t.Errorf("round %d: concurrent RotateSession: err = %v, want nil or ErrRotationConflict", round, err)
				}
			}
			if winner < 0 {
				t.Fatalf("round %d: none of %d concurrent rotations succeeded", round, concurrency)
			}
			got := mustSession(t, s, sess.ID)
			want := fmt.Sprintf("jti-r%d-g%d", round, winner)
			if got.CurrentJTI != want || got.PreviousJTI != presented {
				t.Fatalf("round %d: current/previous = %q/%q, want the winner's %q/%q", round, got.CurrentJTI, got.PreviousJTI, want, presented)
			}
			equalSession(t, returned[winner], got)
			presented = want
		}
	}},
	{"RotateSession_ConcurrentSessionsAllSucceed", func(t *testing.T, s tollgate.Store) {
		// Writers to different rows queue; none fails for being busy.
		u := createUser(t, s, "alice")
		var sessions []*tollgate.Session
		for i := 0; i < concurrency; i++ {
			sessions = append(sessions, createSession(t, s, newSession(u.ID, i+1, t0)))
		}
		now := t0.Add(time.Minute)
		errs := race(concurrency, func(i int) error {
			_, _, err := s.RotateSession(context.Background(), rotation(u.ID, sessions[i].ID, sessions[i].CurrentJTI, fmt.Sprintf("jti-new-%d", i), now))
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("rotation %d of its own session: %v", i, err)
			}
		}
		for i, sess := range sessions {
			if got := mustSession(t, s, sess.ID); got.CurrentJTI != fmt.Sprintf("jti-new-%d", i) {
				t.Errorf("session %d: CurrentJTI = %q after its rotation", i, got.CurrentJTI)
			}
		}
	}},
	{"TouchSession_SetsLastUsedOnly", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		sess := createSession(t, s, newSession(u.ID, 1, t0))
		other := createSession(t, s, newSession(u.ID, 2, t0))
		at := t0.Add(5 * time.Minute)
		if err := s.TouchSession(t.Context(), sess.ID, at); err != nil {
			t.Fatal(err)
		}
		want := *sess
		want.LastUsedAt = at
		equalSession(t, mustSession(t, s, sess.ID), &want)
		equalSession(t, mustSession(t, s, other.ID), other)
		if err := s.TouchSession(t.Context(), sessionID(9), at); !errors.Is(err, tollgate.ErrSessionNotFound) {
			t.Fatalf("TouchSession of a missing session: err = %v, want ErrSessionNotFound", err)
		}
	}},
	{"RevokeSession_ReportsWhetherLiveAndKeepsFirstRevocation", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		sess := createSession(t, s, newSession(u.ID, 1, t0))
		other := createSession(t, s, newSession(u.ID, 2, t0))
		first := t0.Add(time.Minute)
		live, err := s.RevokeSession(t.Context(), sess.ID, first, tollgate.RevokeReuse)
		if err != nil || !live {
			t.Fatalf("first RevokeSession = %v, %v; want true, nil", live, err)
		}
		want := *sess
		want.RevokedAt, want.RevokeReason = first, tollgate.RevokeReuse
		equalSession(t, mustSession(t, s, sess.ID), &want)

		live, err = s.RevokeSession(t.Context(), sess.ID, first.Add(time.Hour), tollgate.RevokeLogout)
		if err != nil || live {
			t.Fatalf("second RevokeSession = %v, %v; want false, nil", live, err)
		}
		equalSession(t, mustSession(t, s, sess.ID), &want)
		equalSession(t, mustSession(t, s, other.ID), other)

		if _, err := s.RevokeSession(t.Context(), sessionID(9), first, tollgate.RevokeLogout); !errors.Is(err, tollgate.ErrSessionNotFound) {
			t.Fatalf("RevokeSession of a missing session: err = %v, want ErrSessionNotFound", err)
		}
	}},
	{"RevokeUserSessions_SparesExceptionOtherUsersAndDeadSessions", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		now := t0.Add(time.Hour)
		live1 := createSession(t, s, newSession(u.ID, 1, t0))
		live2 := createSession(t, s, newSession(u.ID, 2, t0))
		current := createSession(t, s, newSession(u.ID, 3, t0))
		revoked := newSession(u.ID, 4, t0)
		revoked.RevokedAt, revoked.RevokeReason = t0.Add(time.Minute), tollgate.RevokeLogout
		createSession(t, s, revoked)
		expired := newSession(u.ID, 5, t0)
		expired.ExpiresAt = now
		createSession(t, s, expired)
		theirs := createSession(t, s, newSession(other.ID, 6, t0))

		ids, err := s.RevokeUserSessions(t.Context(), u.ID, current.ID, now, tollgate.RevokePasswordChange)
		if err != nil {
			t.Fatal(err)
		}
		equalIDs(t, "RevokeUserSessions", ids, []string{live1.ID, live2.ID})
		for _, sess := range []*tollgate.Session{live1, live2} {
			want := *sess
			want.RevokedAt, want.RevokeReason = now, tollgate.RevokePasswordChange
			equalSession(t, mustSession(t, s, sess.ID), &want)
		}
		for _, sess := range []*tollgate.Session{current, revoked, expired, theirs} {
			equalSession(t, mustSession(t, s, sess.ID), sess)
		}

		// Again, with no exception: only the spared one is left to revoke.
		ids, err = s.RevokeUserSessions(t.Context(), u.ID, "", now.Add(time.Second), tollgate.RevokeLogoutAll)
		if err != nil {
			t.Fatal(err)
		}
		equalIDs(t, "RevokeUserSessions without exception", ids, []string{current.ID})
		ids, err = s.RevokeUserSessions(t.Context(), u.ID, "", now.Add(2*time.Second), tollgate.RevokeLogoutAll)
		if err != nil {
			t.Fatal(err)
		}
		equalIDs(t, "RevokeUserSessions with nothing live", ids, nil)
		equalSession(t, mustSession(t, s, theirs.ID), theirs)
	}},
	{"ListSessions_LiveOnlyNewestFirst", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		other := createUser(t, s, "bob")
		now := t0.Add(24 * time.Hour)
		if got, err := s.ListSessions(t.Context(), u.ID, now); err != nil || len(got) != 0 {
			t.Fatalf("ListSessions with no sessions = %d sessions, %v", len(got), err)
		}
		oldest := createSession(t, s, newSession(u.ID, 1, t0))
		newest := createSession(t, s, newSession(u.ID, 2, t0.Add(2*time.Hour)))
		middle := newSession(u.ID, 3, t0.Add(time.Hour))
		middle.ExpiresAt = now.Add(time.Second) // the last second it is live
		middle.PreviousJTI, middle.RotatedAt = "jti-old", t0.Add(90*time.Minute)
		middle.UserAgent, middle.IP = "Firefox", "203.0.113.9"
		createSession(t, s, middle)
		revoked := newSession(u.ID, 4, t0.Add(3*time.Hour))
		revoked.RevokedAt, revoked.RevokeReason = t0.Add(4*time.Hour), tollgate.RevokeByUser
		createSession(t, s, revoked)
		expiresNow := newSession(u.ID, 5, t0.Add(4*time.Hour))
		expiresNow.ExpiresAt = now
		createSession(t, s, expiresNow)
		createSession(t, s, newSession(other.ID, 6, t0.Add(5*time.Hour)))

		got, err := s.ListSessions(t.Context(), u.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		want := []*tollgate.Session{newest, middle, oldest}
		if len(got) != len(want) {
			t.Fatalf("ListSessions: %d sessions %v, want %d", len(got), sessionIDs(got), len(want))
		}
		for i := range want {
			equalSession(t, got[i], want[i])
		}
	}},
	{"DeleteExpiredSessions_DeletesOnlyExpired", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		now := t0.Add(24 * time.Hour)
		expiring := func(n int, exp time.Time, revoked bool) *tollgate.Session {
			sess := newSession(u.ID, n, t0)
			sess.ExpiresAt = exp
			if revoked {
				sess.RevokedAt, sess.RevokeReason = t0, tollgate.RevokeLogout
			}
			return createSession(t, s, sess)
		}
		gone := []*tollgate.Session{
			expiring(1, now.Add(-time.Hour), false),
			expiring(2, now, false), // at the time given: expired
			expiring(3, now.Add(-time.Minute), true),
		}
		kept := []*tollgate.Session{
			expiring(4, now.Add(time.Second), false),
			expiring(5, now.Add(time.Hour), true), // revoked but unexpired: still remembered
		}
		n, err := s.DeleteExpiredSessions(t.Context(), now, 100)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(gone) {
			t.Fatalf("DeleteExpiredSessions = %d, want %d", n, len(gone))
		}
		for _, sess := range gone {
			if _, err := s.Session(t.Context(), sess.ID); !errors.Is(err, tollgate.ErrSessionNotFound) {
				t.Errorf("expired session %s: err = %v, want ErrSessionNotFound", sess.ID, err)
			}
		}
		for _, sess := range kept {
			equalSession(t, mustSession(t, s, sess.ID), sess)
		}
		if n, err := s.DeleteExpiredSessions(t.Context(), now, 100); err != nil || n != 0 {
			t.Fatalf("DeleteExpiredSessions with nothing expired = %d, %v; want 0, nil", n, err)
		}
	}},
	{"DeleteExpiredSessions_AtMostLimitPerCall", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		now := t0.Add(24 * time.Hour)
		for i := 1; i <= 5; i++ {
			sess := newSession(u.ID, i, t0)
			sess.ExpiresAt = now.Add(-time.Duration(i) * time.Minute)
			createSession(t, s, sess)
		}
		live := createSession(t, s, newSession(u.ID, 6, now))
		for _, want := range []int{2, 2, 1, 0} {
			n, err := s.DeleteExpiredSessions(t.Context(), now, 2)
			if err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Fatalf("DeleteExpiredSessions(limit 2) = %d, want %d", n, want)
			}
		}
		equalSession(t, mustSession(t, s, live.ID), live)
	}},
}

// ------------------------------------------------------------- throttle

var throttleCases = []storeCase{
	{"LoginFailures_UnknownKeyIsZero", func(t *testing.T, s tollgate.Store) {
		f, err := s.LoginFailures(t.Context(), "nobody")
		if err != nil {
			t.Fatal(err)
		}
		equalFailures(t, "unknown key", f, tollgate.LoginFailures{})
	}},
	{"RecordLoginFailure_CountsWithinWindow", func(t *testing.T, s tollgate.Store) {
		for i := 1; i <= 4; i++ {
			f := recordFailure(t, s, "alice", t0.Add(time.Duration(i-1)*time.Minute), 15*time.Minute, 5, time.Hour)
			equalFailures(t, fmt.Sprintf("failure %d", i), f, tollgate.LoginFailures{Count: i, WindowStart: t0})
		}
		f, err := s.LoginFailures(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		equalFailures(t, "LoginFailures", f, tollgate.LoginFailures{Count: 4, WindowStart: t0})
	}},
	{"RecordLoginFailure_LocksAtLimit", func(t *testing.T, s tollgate.Store) {
		recordFailure(t, s, "alice", t0, 15*time.Minute, 3, 15*time.Minute)
		recordFailure(t, s, "alice", t0.Add(time.Minute), 15*time.Minute, 3, 15*time.Minute)
		third := t0.Add(2 * time.Minute)
		want := tollgate.LoginFailures{Count: 3, WindowStart: t0, LockedUntil: third.Add(15 * time.Minute)}
		equalFailures(t, "failure at the limit", recordFailure(t, s, "alice", third, 15*time.Minute, 3, 15*time.Minute), want)
		f, err := s.LoginFailures(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		equalFailures(t, "LoginFailures", f, want)

		// A limit of one locks on the first failure.
		equalFailures(t, "first failure with limit 1", recordFailure(t, s, "bob", t0, 15*time.Minute, 1, time.Minute),
			tollgate.LoginFailures{Count: 1, WindowStart: t0, LockedUntil: t0.Add(time.Minute)})
	}},
	{"RecordLoginFailure_FailurePastLimitWhileLockedRelocks", func(t *testing.T, s tollgate.Store) {
		// Attempts counted while the lock holds (a burst of concurrent
		// guesses) extend it.
		recordFailure(t, s, "alice", t0, 15*time.Minute, 2, time.Minute)
		recordFailure(t, s, "alice", t0.Add(time.Second), 15*time.Minute, 2, time.Minute)
		at := t0.Add(30 * time.Second)
		equalFailures(t, "failure past the limit", recordFailure(t, s, "alice", at, 15*time.Minute, 2, time.Minute),
			tollgate.LoginFailures{Count: 3, WindowStart: t0, LockedUntil: at.Add(time.Minute)})
	}},
	{"RecordLoginFailure_ExpiredLockStartsANewWindow", func(t *testing.T, s tollgate.Store) {
		// The lockout served, the window not yet over: the name gets a fresh
		// allowance (and the next failure is the first of a new window, not
		// one more past the limit).
		recordFailure(t, s, "alice", t0, 15*time.Minute, 2, time.Minute)
		recordFailure(t, s, "alice", t0.Add(time.Second), 15*time.Minute, 2, time.Minute)
		at := t0.Add(time.Second + time.Minute) // the lock ends exactly now
		equalFailures(t, "failure once the lock expired", recordFailure(t, s, "alice", at, 15*time.Minute, 2, time.Minute),
			tollgate.LoginFailures{Count: 1, WindowStart: at})
		equalFailures(t, "next failure locks again", recordFailure(t, s, "alice", at.Add(time.Second), 15*time.Minute, 2, time.Minute),
			tollgate.LoginFailures{Count: 2, WindowStart: at, LockedUntil: at.Add(time.Second + time.Minute)})
	}},
	{"RecordLoginFailure_NewWindowOnceOldIsOlderThanWindow", func(t *testing.T, s tollgate.Store) {
		window := 15 * time.Minute
		recordFailure(t, s, "alice", t0, window, 10, time.Hour)
		equalFailures(t, "failure exactly one window later", recordFailure(t, s, "alice", t0.Add(window), window, 10, time.Hour),
			tollgate.LoginFailures{Count: 2, WindowStart: t0})
		later := t0.Add(window + time.Second)
		equalFailures(t, "failure past the window", recordFailure(t, s, "alice", later, window, 10, time.Hour),
			tollgate.LoginFailures{Count: 1, WindowStart: later})
		equalFailures(t, "next failure", recordFailure(t, s, "alice", later.Add(time.Minute), window, 10, time.Hour),
			tollgate.LoginFailures{Count: 2, WindowStart: later})
	}},
	{"RecordLoginFailure_NewWindowKeepsLock", func(t *testing.T, s tollgate.Store) {
		// A lock longer than the window outlives it: a failure that starts
		// a new window must not unlock the account early.
		recordFailure(t, s, "alice", t0, time.Minute, 2, time.Hour)
		locked := recordFailure(t, s, "alice", t0.Add(10*time.Second), time.Minute, 2, time.Hour)
		lockedUntil := t0.Add(10*time.Second + time.Hour)
		equalFailures(t, "failure at the limit", locked, tollgate.LoginFailures{Count: 2, WindowStart: t0, LockedUntil: lockedUntil})
		at := t0.Add(5 * time.Minute)
		equalFailures(t, "failure in a new window", recordFailure(t, s, "alice", at, time.Minute, 2, time.Hour),
			tollgate.LoginFailures{Count: 1, WindowStart: at, LockedUntil: lockedUntil})
	}},
	{"RecordLoginFailure_KeysAreIndependent", func(t *testing.T, s tollgate.Store) {
		recordFailure(t, s, "alice", t0, time.Hour, 10, time.Hour)
		recordFailure(t, s, "alice", t0.Add(time.Second), time.Hour, 10, time.Hour)
		at := t0.Add(time.Minute)
		equalFailures(t, "bob's first failure", recordFailure(t, s, "bob", at, time.Hour, 10, time.Hour),
			tollgate.LoginFailures{Count: 1, WindowStart: at})
		f, err := s.LoginFailures(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		equalFailures(t, "alice", f, tollgate.LoginFailures{Count: 2, WindowStart: t0})
	}},
	{"ResetLoginFailures_Clears", func(t *testing.T, s tollgate.Store) {
		recordFailure(t, s, "alice", t0, time.Hour, 2, time.Hour)
		recordFailure(t, s, "alice", t0.Add(time.Second), time.Hour, 2, time.Hour)
		recordFailure(t, s, "bob", t0, time.Hour, 2, time.Hour)
		if err := s.ResetLoginFailures(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
		f, err := s.LoginFailures(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		equalFailures(t, "after reset", f, tollgate.LoginFailures{})
		at := t0.Add(time.Minute)
		equalFailures(t, "first failure after reset", recordFailure(t, s, "alice", at, time.Hour, 2, time.Hour),
			tollgate.LoginFailures{Count: 1, WindowStart: at})
		if f, err := s.LoginFailures(t.Context(), "bob"); err != nil || f.Count != 1 {
			t.Fatalf("bob after alice's reset = %+v, %v; want count 1", f, err)
		}
		if err := s.ResetLoginFailures(t.Context(), "nobody"); err != nil {
			t.Fatalf("ResetLoginFailures of an unknown key: %v", err)
		}
	}},
	{"RecordLoginFailure_ConcurrentFailuresAllCount", func(t *testing.T, s tollgate.Store) {
		errs := race(concurrency, func(i int) error {
			_, err := s.RecordLoginFailure(context.Background(), "alice", t0.Add(time.Second), time.Hour, 1000, time.Hour)
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Errorf("concurrent RecordLoginFailure: %v", err)
			}
		}
		f, err := s.LoginFailures(t.Context(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if f.Count != concurrency {
			t.Fatalf("after %d concurrent failures Count = %d", concurrency, f.Count)
		}
	}},
}

// ---------------------------------------------------------------- store

var storeCases = []storeCase{
	{"Ping_OpenStoreIsReachable", func(t *testing.T, s tollgate.Store) {
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}},
	{"Close_FailsLaterCallsWithoutDomainErrors", func(t *testing.T, s tollgate.Store) {
		u := createUser(t, s, "alice")
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		// A store that cannot answer must not pass for one that answered
		// "no": the HTTP layer renders these as a bare 500 or 503.
		checks := map[string]error{"Ping": s.Ping(t.Context())}
		_, checks["UserByID"] = s.UserByID(t.Context(), u.ID)
		_, checks["Session"] = s.Session(t.Context(), sessionID(1))
		_, _, checks["RotateSession"] = s.RotateSession(t.Context(), rotation(u.ID, sessionID(1), "a", "b", t0))
		checks["CreateSession"] = s.CreateSession(t.Context(), newSession(u.ID, 2, t0), tollgate.LoginRecord{At: t0})
		for name, err := range checks {
			if code := tollgate.ErrorCode(err); code != tollgate.EInternal && code != tollgate.EUnavailable {
				t.Errorf("%s on a closed store: err = %v (code %q), want an internal or unavailable error", name, err, code)
			}
		}
	}},
}

// -------------------------------------------------------------- helpers

func newUser(username string) *tollgate.User {
	return &tollgate.User{
		Username:     username,
		Email:        username + "@example.com",
		PasswordHash: "argon2$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		IsActive:     true,
		CreatedAt:    t0,
	}
}

func createUser(t *testing.T, s tollgate.Store, username string) *tollgate.User {
	t.Helper()
	u := newUser(username)
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", username, err)
	}
	if u.ID == 0 {
		t.Fatalf("CreateUser(%q) left the id zero", username)
	}
	return u
}

func mustUser(t *testing.T, s tollgate.Store, id int64) *tollgate.User {
	t.Helper()
	u, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

func mustLogin(t *testing.T, s tollgate.Store, field tollgate.LoginField, login string) *tollgate.User {
	t.Helper()
	u, err := s.UserByLogin(t.Context(), field, login)
	if err != nil {
		t.Fatalf("UserByLogin(%s, %q): %v", field, login, err)
	}
	return u
}

// sessionID is the n-th session id of a case: 32 hex digits, as the service makes.
func sessionID(n int) string { return fmt.Sprintf("%032x", n) }

// newSession is a live session of the user created at the given time and
// valid for a week.
func newSession(userID int64, n int, created time.Time) *tollgate.Session {
	return &tollgate.Session{
		ID: sessionID(n), UserID: userID,
		CreatedAt: created, LastUsedAt: created,
		ExpiresAt:  created.Add(7 * 24 * time.Hour),
		CurrentJTI: fmt.Sprintf("jti-%d", n), CurrentIssuedAt: created,
		UserAgent: "test-agent", IP: "192.0.2.1",
	}
}

func createSession(t *testing.T, s tollgate.Store, sess *tollgate.Session) *tollgate.Session {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess, tollgate.LoginRecord{}); err != nil {
		t.Fatalf("CreateSession(%s): %v", sess.ID, err)
	}
	return sess
}

func mustSession(t *testing.T, s tollgate.Store, id string) *tollgate.Session {
	t.Helper()
	sess, err := s.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%s): %v", id, err)
	}
	return sess
}

// rotation is a Rotation of the user's session whose new token is issued
// now and lives an hour.
func rotation(userID int64, sessionID, presented, next string, now time.Time) tollgate.Rotation {
	return tollgate.Rotation{
		SessionID: sessionID, UserID: userID, PresentedJTI: presented, NewJTI: next,
		NewIssuedAt: now, NewExpiresAt: now.Add(time.Hour), Now: now,
		UserAgent: "test-agent", IP: "192.0.2.1",
	}
}

func recordFailure(t *testing.T, s tollgate.Store, key string, now time.Time, window time.Duration, limit int, lockout time.Duration) tollgate.LoginFailures {
	t.Helper()
	f, err := s.RecordLoginFailure(t.Context(), key, now, window, limit, lockout)
	if err != nil {
		t.Fatalf("RecordLoginFailure(%q): %v", key, err)
	}
	return f
}

// race runs n calls of fn at once, released together, and returns their
// errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// sameTime reports a mismatch of a stored time: equal to the second, in
// UTC, or both zero.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want zero", what, got)
		}
		return
	}
	if !got.Truncate(time.Second).Equal(want.Truncate(time.Second)) {
		t.Errorf("%s = %v, want %v", what, got, want.UTC())
	}
	if got.Location() != time.UTC {
		t.Errorf("%s = %v is in %v, want UTC", what, got, got.Location())
	}
}

func equalUser(t *testing.T, got, want *tollgate.User) {
	t.Helper()
	if got.ID != want.ID || got.Username != want.Username || got.Email != want.Email ||
		got.PasswordHash != want.PasswordHash || got.IsActive != want.IsActive || got.IsStaff != want.IsStaff {
		t.Errorf("user = %+v\nwant %+v", *got, *want)
	}
	sameTime(t, "user "+want.Username+" CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, "user "+want.Username+" LastLogin", got.LastLogin, want.LastLogin)
	sameTime(t, "user "+want.Username+" PasswordChangedAt", got.PasswordChangedAt, want.PasswordChangedAt)
}

func equalSession(t *testing.T, got, want *tollgate.Session) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.CurrentJTI != want.CurrentJTI ||
		got.PreviousJTI != want.PreviousJTI || got.RevokeReason != want.RevokeReason ||
		got.UserAgent != want.UserAgent || got.IP != want.IP {
		t.Errorf("session = %+v\nwant %+v", *got, *want)
	}
	p := "session " + want.ID + " "
	sameTime(t, p+"CreatedAt", got.CreatedAt, want.CreatedAt)
	sameTime(t, p+"LastUsedAt", got.LastUsedAt, want.LastUsedAt)
	sameTime(t, p+"ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	sameTime(t, p+"AbsoluteExpiresAt", got.AbsoluteExpiresAt, want.AbsoluteExpiresAt)
	sameTime(t, p+"CurrentIssuedAt", got.CurrentIssuedAt, want.CurrentIssuedAt)
	sameTime(t, p+"RotatedAt", got.RotatedAt, want.RotatedAt)
	sameTime(t, p+"RevokedAt", got.RevokedAt, want.RevokedAt)
}

func equalFailures(t *testing.T, what string, got, want tollgate.LoginFailures) {
	t.Helper()
	if got.Count != want.Count {
		t.Errorf("%s: Count = %d, want %d", what, got.Count, want.Count)
	}
	sameTime(t, what+": WindowStart", got.WindowStart, want.WindowStart)
	sameTime(t, what+": LockedUntil", got.LockedUntil, want.LockedUntil)
}

func equalIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	g := append([]string(nil), got...)
	w := append([]string(nil), want...)
	sort.Strings(g)
	sort.Strings(w)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Errorf("%s = %v, want %v (any order)", what, got, want)
	}
}

func sessionIDs(ss []*tollgate.Session) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}
