package faulttest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate/tollgate/postgres/pgtest"
	"github.com/tollgate/tollgate/redis/redistest"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// tollgateBinary builds cmd/tollgate once per test run.
func tollgateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "tollgate-instances-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "tollgate")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", binPath, "github.com/tollgate/tollgate/cmd/tollgate").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// deployment is the environment shared by every instance: one database
// schema, one Redis, one signing key.
func deployment(t *testing.T) []string {
	t.Helper()
	dbURL, _ := pgtest.SchemaURL(t)
	ropt := redistest.Options(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOLLGATE_") {
			env = append(env, kv)
		}
	}
	key := make([]byte, 24)
	rand.Read(key)
	return append(env,
		"TOLLGATE_DEV=true", // allows the cheap password hashing below
		"TOLLGATE_PASSWORD_ARGON2_MEMORY=64",
		"TOLLGATE_PASSWORD_ARGON2_TIME=1",
		"TOLLGATE_ADDR=127.0.0.1:0",
		"TOLLGATE_DATABASE_URL="+dbURL,
		fmt.Sprintf("TOLLGATE_REDIS_URL=redis://%s/%d", ropt.Addr, ropt.DB),
		fmt.Sprintf("TOLLGATE_SIGNING_KEY=%x", key),
		"TOLLGATE_ACCESS_TOKEN_REVOCATION=true",
		"TOLLGATE_FLUSH_INTERVAL=0",
	)
}

var servingLine = regexp.MustCompile(`tollgate: serving (http://\S+?/api/auth/)`)

// instance is one running `tollgate serve`.
type instance struct {
	name string
	base string
	logs *bytes.Buffer
	mu   *sync.Mutex
}

func startInstance(t *testing.T, bin, name string, env []string) *instance {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env, cmd.Dir = env, t.TempDir()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := &instance{name: name, logs: &bytes.Buffer{}, mu: &sync.Mutex{}}
	found := make(chan string, 1)
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			in.mu.Lock()
			in.logs.WriteString(sc.Text() + "\n")
			in.mu.Unlock()
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	select {
	case in.base = <-found:
	case err := <-exited:
		t.Fatalf("instance %s exited before listening: %v\n%s", name, err, in.logs)
	case <-time.After(60 * time.Second):
		t.Fatalf("instance %s did not listen within 60s", name)
	}
	return in
}

// clientFrom returns an HTTP client whose connections come from a loopback
// address of its own, so its per-IP rate-limit key in the shared Redis is
// this test's alone.
func clientFrom(t *testing.T) *http.Client {
	t.Helper()
	var b [3]byte
	rand.Read(b[:])
	ip := net.IPv4(127, b[0]|1, b[1], b[2]|1)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

func call(t *testing.T, c *http.Client, in *instance, method, path string, body any, access string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", method, path, in.name, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func loginOn(t *testing.T, c *http.Client, in *instance) (access, refresh string) {
	t.Helper()
	code, body := call(t, c, in, "POST", "token/", map[string]string{"username": "alice", "password": "correct horse battery"}, "")
	if code != 200 {
		t.Fatalf("login on %s: %d %v", in.name, code, body)
	}
	return body["access"].(string), body["refresh"].(string)
}

// TestThreeInstances_OneDatabaseOneRedis is the scale-out acceptance test:
// three `tollgate serve` processes on their own loopback ports over one
// PostgreSQL database and one Redis answer as one service.
func TestThreeInstances_OneDatabaseOneRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := tollgateBinary(t)
	env := deployment(t)

	// Start all three at once: they migrate the empty schema concurrently.
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

	create := exec.Command(bin, "users", "create", "--username", "alice", "--password-stdin")
	create.Env, create.Dir = env, t.TempDir()
	create.Stdin = strings.NewReader("correct horse battery\n")
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("users create: %v\n%s", err, out)
	}

	t.Run("RefreshReplayedOnAnotherInstanceRevokesTheFamily", func(t *testing.T) {
		cl := clientFrom(t)
		_, r0 := loginOn(t, cl, a)
		code, body := call(t, cl, a, "POST", "token/refresh/", map[string]string{"refresh": r0}, "")
		if code != 200 {
			t.Fatalf("refresh on A: %d %v", code, body)
		}
		r1 := body["refresh"].(string)
		if code, body := call(t, cl, b, "POST", "token/refresh/", map[string]string{"refresh": r0}, ""); code != 401 || body["code"] != "token_not_valid" {
			t.Fatalf("replay of the rotated token on B: %d %v; want 401 token_not_valid", code, body)
		}
		if code, body := call(t, cl, c, "POST", "token/refresh/", map[string]string{"refresh": r1}, ""); code != 401 || body["code"] != "token_not_valid" {
			t.Errorf("the legitimate successor on C after the replay: %d %v; want 401 (family revoked)", code, body)
		}
	})

	t.Run("PerIPLoginLimitHoldsAcrossInstances", func(t *testing.T) {
		cl := clientFrom(t)
		for i, in := range []*instance{a, b, c, a, b} {
			code, body := call(t, cl, in, "POST", "token/", map[string]string{"username": "alice", "password": "wrong password!"}, "")
			if code != 401 {
				t.Fatalf("attempt %d on %s: %d %v; want 401 (wrong password, not yet limited)", i+1, in.name, code, body)
			}
		}
		for _, in := range []*instance{c, a} {
			code, body := call(t, cl, in, "POST", "token/", map[string]string{"username": "alice", "password": "correct horse battery"}, "")
			if code != 429 || body["code"] != "throttled" {
				t.Errorf("6th attempt in the minute on %s: %d %v; want 429 throttled", in.name, code, body)
			}
		}
	})

	t.Run("LogoutAllOnAIsHonouredOnCWithinASecond", func(t *testing.T) {
		cl := clientFrom(t)
		access, _ := loginOn(t, cl, a)
		if code, body := call(t, cl, c, "GET", "user/", nil, access); code != 200 {
			t.Fatalf("access token on C before logout: %d %v", code, body)
		}
		if code, body := call(t, cl, a, "POST", "logout/all/", map[string]string{}, access); code != 200 && code != 204 {
			t.Fatalf("logout-all on A: %d %v", code, body)
		}
		deadline := time.Now().Add(time.Second)
		for {
			code, body := call(t, cl, c, "GET", "user/", nil, access)
			if code == 401 && body["code"] == "token_revoked" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("C still answers %d %v a second after logout-all on A; want 401 token_revoked", code, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestMain removes the binary built for the instance tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}
