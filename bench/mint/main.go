// Command mint prepares a Tollgate PostgreSQL database for the benchmark:
// it gives the benchmark user a Django pbkdf2_sha256 hash with Django 3.2's
// iteration count (so token obtain pays the same hash as the Django peer),
// and prints -n refresh tokens of fresh sessions of that user, one a line,
// for wrk's refresh mode (each token can be used once). It signs with the
// HS256 key the server uses (-key, the TOLLGATE_SIGNING_KEY value).
//
//	go run ./bench/mint -url "$DB_URL" -key "$KEY" -user alice -password alice-password-123 -n 30000 > tokens.txt
package main

import (
	"bufio"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/password"
	"github.com/tollgate/tollgate/postgres"
	"github.com/tollgate/tollgate/token"
)

// djangoIterations is Django 3.2's PBKDF2PasswordHasher.iterations.
const djangoIterations = 260000

func main() {
	dbURL := flag.String("url", "", "PostgreSQL URL of the Tollgate database")
	key := flag.String("key", "", "HS256 signing key (TOLLGATE_SIGNING_KEY)")
	user := flag.String("user", "alice", "benchmark user")
	pw := flag.String("password", "alice-password-123", "benchmark user's password")
	n := flag.Int("n", 0, "refresh tokens to print")
	flag.Parse()
	ctx := context.Background()
	db, err := postgres.Open(ctx, *dbURL)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	hash := djangoPBKDF2(*pw)
	u, err := db.UserByLogin(ctx, tollgate.LoginByUsername, *user)
	if err != nil {
		u = &tollgate.User{Username: *user, IsActive: true, PasswordHash: hash}
		if err := db.CreateUser(ctx, u); err != nil {
			log.Fatal(err)
		}
	} else if err := db.SetPasswordHash(ctx, u.ID, hash, time.Time{}); err != nil {
		log.Fatal(err)
	}
	if *n == 0 {
		return
	}
	keys, err := token.NewHMACKeySet("HS256", []byte(*key))
	if err != nil {
		log.Fatal(err)
	}
	codec, err := token.New(token.Config{Keys: keys})
	if err != nil {
		log.Fatal(err)
	}
	hasher, err := password.New(password.InsecureTestParams(), nil)
	if err != nil {
		log.Fatal(err)
	}
	svc, err := tollgate.NewService(db, codec, hasher, tollgate.DefaultConfig())
	if err != nil {
		log.Fatal(err)
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for range *n {
		p, err := svc.OpenSession(ctx, u, tollgate.RequestInfo{IP: "127.0.0.1", UserAgent: "bench"})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Fprintln(w, p.Refresh)
	}
}

// djangoPBKDF2 encodes password as Django's PBKDF2PasswordHasher does:
// pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte key>.
func djangoPBKDF2(pw string) string {
	var b [9]byte
	rand.Read(b[:])
	salt := base64.RawURLEncoding.EncodeToString(b[:])
	dk, err := pbkdf2.Key(sha256.New, pw, []byte(salt), djangoIterations, 32)
	if err != nil {
		log.Fatal(err)
	}
	return fmt.Sprintf("pbkdf2_sha256$%d$%s$%s", djangoIterations, salt, base64.StdEncoding.EncodeToString(dk))
}
