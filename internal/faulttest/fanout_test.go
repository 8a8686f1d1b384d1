package faulttest

import (
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate/redis/redistest"
)

// revokedChannel is where serve's redis.Revocations publishes revoked
// session ids (the default key prefix "tollgate:").
const revokedChannel = "tollgate:revoked-sessions"

// TestRevocationFanOut_LogoutOnBReachesCThroughRedis checks serve's wiring
// of the Redis revocation fan-out with ACCESS_TOKEN_REVOCATION on: every
// instance subscribes to the revocation channel, the instance that revokes
// a session publishes its id, and an instance that had just answered "live"
// for the session (and caches that answer for seconds while subscribed)
// refuses its access token within a second.
func TestRevocationFanOut_LogoutOnBReachesCThroughRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := tollgateBinary(t)
	env := deployment(t)
	rdb := redistest.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The test listens on the channel too, to see the publication itself.
	sub := rdb.Subscribe(ctx, revokedChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatalf("subscribing: %v", err)
	}
	base, err := rdb.PubSubNumSub(ctx, revokedChannel).Result()
	if err != nil {
		t.Fatal(err)
	}

	instances := make([]*instance, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"A", "B", "C"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			instances[i] = startInstance(t, bin, name, env)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	a, b, c := instances[0], instances[1], instances[2]

	// Each instance subscribes once it serves; other deployments sharing
	// this Redis may add subscribers, never remove ours.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := rdb.PubSubNumSub(ctx, revokedChannel).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n[revokedChannel] >= base[revokedChannel]+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers to %s; want the test's and at least 3 more (one per instance)", n[revokedChannel], revokedChannel)
		}
		time.Sleep(50 * time.Millisecond)
	}

	create := exec.Command(bin, "users", "create", "--username", "alice", "--password-stdin")
	create.Env, create.Dir = env, t.TempDir()
	create.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}

	cl := clientFrom(t)
	access, refresh := loginOn(t, cl, a)
	var claims struct {
		jwt.RegisteredClaims
		SID string `json:"sid"`
	}
	if _, _, err := jwt.NewParser().ParseUnverified(access, &claims); err != nil || claims.SID == "" {
		t.Fatalf("access token without a session id: %v", err)
	}
	// C answers "live" and caches that answer.
	if code, body := call(t, cl, c, "GET", "user/", nil, access); code != 200 {
		t.Fatalf("access token on C before logout: %d %v", code, body)
	}

	if code, body := call(t, cl, b, "POST", "logout/", map[string]string{"refresh": refresh}, ""); code != 200 {
		t.Fatalf("logout on B: %d %v", code, body)
	}
	msgCtx, msgCancel := context.WithTimeout(ctx, time.Second)
	defer msgCancel()
	for {
		msg, err := sub.ReceiveMessage(msgCtx)
		if err != nil {
			t.Fatalf("B did not publish the revoked session within a second: %v", err)
		}
		if msg.Payload == claims.SID {
			break
		}
	}

	deadline = time.Now().Add(time.Second)
	for {
		code, body := call(t, cl, c, "GET", "user/", nil, access)
		if code == 401 && body["code"] == "token_revoked" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("C still answers %d %v a second after logout on B; want 401 token_revoked", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
