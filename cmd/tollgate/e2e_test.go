package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end test drives the real binary as a newcomer would: a fresh
// directory, `serve --dev` on embedded SQLite, `users create`, then the
// token API over HTTP, across a restart.

// TestMain gives the binary a directory that outlives single tests, so
// the tests share one build.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tollgate-e2e-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	binDir    string
	buildOnce sync.Once
	buildErr  error
)

// binary builds cmd/tollgate once, the first time a test needs it.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := filepath.Join(binDir, "tollgate")
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// newcomerEnv is the environment without any TOLLGATE_* variable of the
// machine, plus cheap password hashing (allowed in dev) and a port the
// kernel picks.
func newcomerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOLLGATE_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"TOLLGATE_DEV=true",
		"TOLLGATE_PASSWORD_ARGON2_MEMORY=64",
		"TOLLGATE_PASSWORD_ARGON2_TIME=1",
		"TOLLGATE_ADDR=127.0.0.1:0",
	)
}

// run runs one CLI command to completion and returns its stdout, stderr
// and exit status.
func run(t *testing.T, bin, dir, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir, cmd.Env = dir, newcomerEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("tollgate %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// server is a running `tollgate serve`.
type server struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port/api/auth/
	done chan error
	logs *logBuffer
}

// logBuffer collects the server's stderr while the test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) WriteString(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(s)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var servingLine = regexp.MustCompile(`tollgate: serving (http://\S+?/api/auth/)`)

// startServer starts `tollgate serve --dev` in dir, with extraEnv added to
// the newcomer's environment, and waits for the line that says where it
// listens. The process is killed when the test ends.
func startServer(t *testing.T, bin, dir string, extraEnv ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--dev")
	cmd.Dir, cmd.Env = dir, append(newcomerEnv(), extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan error, 1), logs: &logBuffer{}}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			if m := servingLine.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
		}
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			select {
			case <-s.done:
			case <-time.After(10 * time.Second):
			}
		}
	})
	select {
	case s.base = <-found:
	case err := <-s.done:
		t.Fatalf("serve exited before listening: %v\n%s", err, s.logs)
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not start listening within 60s")
	}
	return s
}

// stop sends SIGTERM and expects a clean, graceful exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	if !strings.Contains(s.logs.String(), "tollgate: stopped") {
		t.Errorf("no clean shutdown message:\n%s", s.logs)
	}
}

var client = &http.Client{Timeout: 10 * time.Second}

// post sends a JSON body and decodes the JSON answer.
func (s *server) post(t *testing.T, path string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := client.Post(s.base+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("POST %s: %d, not JSON: %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}

type pair struct{ access, refresh string }

func (s *server) login(t *testing.T, username, password string) pair {
	t.Helper()
	code, body := s.post(t, "token/", map[string]string{"username": username, "password": password})
	if code != http.StatusOK {
		t.Fatalf("login: %d %v", code, body)
	}
	p := pair{access: str(body["access"]), refresh: str(body["refresh"])}
	if p.access == "" || p.refresh == "" {
		t.Fatalf("login answer lacks tokens: %v", body)
	}
	return p
}

// refresh returns the new pair, or the status and code of the refusal.
func (s *server) refresh(t *testing.T, refresh string) (pair, int, string) {
	t.Helper()
	code, body := s.post(t, "token/refresh/", map[string]string{"refresh": refresh})
	return pair{access: str(body["access"]), refresh: str(body["refresh"])}, code, str(body["code"])
}

func (s *server) verify(t *testing.T, tok string) int {
	t.Helper()
	code, _ := s.post(t, "token/verify/", map[string]string{"token": tok})
	return code
}

func str(v any) string { s, _ := v.(string); return s }

// expectRefused checks that refreshing with tok is a 401 token_not_valid.
func (s *server) expectRefused(t *testing.T, what, tok string) {
	t.Helper()
	if _, code, c := s.refresh(t, tok); code != http.StatusUnauthorized || c != "token_not_valid" {
		t.Errorf("%s: refresh = %d %q, want 401 token_not_valid", what, code, c)
	}
}

func TestNewcomer_ServeCreateUserTokensAndRestart(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()

	// A command line mistake is a usage error, status 2.
	if _, stderr, code := run(t, bin, dir, "", "serv"); code != exitUsage || !strings.Contains(stderr, `unknown command "serv"`) {
		t.Errorf("tollgate serv: status %d, %q", code, stderr)
	}

	// serve first, as the README says, then create the user beside it.
	srv := startServer(t, bin, dir)
	if _, err := os.Stat(filepath.Join(dir, "tollgate.db.dev-key")); err != nil {
		t.Fatalf("dev mode kept no key next to the database: %v", err)
	}
	if !strings.Contains(srv.logs.String(), "DEV MODE") {
		t.Errorf("dev mode was not announced:\n%s", srv.logs)
	}
	const pw = "correct horse battery"
	out, stderr, code := run(t, bin, dir, pw+"\n", "users", "create", "--username", "alice", "--email", "alice@example.com", "--password-stdin")
	if code != 0 || !strings.Contains(out, `created user "alice"`) {
		t.Fatalf("users create: status %d\n%s%s", code, out, stderr)
	}

	// Obtain, verify, refresh.
	p1 := srv.login(t, "alice", pw)
	if c := srv.verify(t, p1.access); c != http.StatusOK {
		t.Errorf("verify access = %d", c)
	}
	p2, code, c := srv.refresh(t, p1.refresh)
	if code != http.StatusOK || p2.refresh == "" || p2.refresh == p1.refresh {
		t.Fatalf("refresh = %d %q, new refresh %q", code, c, p2.refresh)
	}

	// Replaying the rotated token is theft: refused, and the family dies,
	// so the newest token of the family is refused too.
	srv.expectRefused(t, "replayed rotated token", p1.refresh)
	srv.expectRefused(t, "newest token of a family revoked by reuse", p2.refresh)

	// Logout revokes its session.
	p3 := srv.login(t, "alice", pw)
	if code, body := srv.post(t, "logout/", map[string]string{"refresh": p3.refresh}); code != http.StatusOK {
		t.Fatalf("logout = %d %v", code, body)
	}
	srv.expectRefused(t, "logged-out token", p3.refresh)

	// A live session to carry over the restart.
	p4 := srv.login(t, "alice", pw)
	srv.stop(t)

	// Restart: users, revocations and the dev key are all kept.
	srv = startServer(t, bin, dir)
	if !strings.Contains(srv.logs.String(), "Using the development signing key") {
		t.Errorf("restart did not reuse the dev key:\n%s", srv.logs)
	}
	if c := srv.verify(t, p4.access); c != http.StatusOK {
		t.Errorf("an access token from before the restart: verify = %d, want 200", c)
	}
	srv.expectRefused(t, "reuse-revoked family after restart", p2.refresh)
	srv.expectRefused(t, "logged-out token after restart", p3.refresh)
	p5, code, c := srv.refresh(t, p4.refresh)
	if code != http.StatusOK || p5.refresh == "" {
		t.Fatalf("refresh of a live session after restart = %d %q", code, c)
	}
	srv.login(t, "alice", pw)

	out, _, code = run(t, bin, dir, "", "users", "list")
	if code != 0 || !strings.Contains(out, "alice") || !strings.Contains(out, "alice@example.com") {
		t.Errorf("users list: status %d\n%s", code, out)
	}

	// Deactivation is immediate: the live session's refresh token and new
	// logins are refused.
	if out, stderr, code := run(t, bin, dir, "", "users", "deactivate", "alice"); code != 0 {
		t.Fatalf("users deactivate: status %d\n%s%s", code, out, stderr)
	}
	if _, code, c := srv.refresh(t, p5.refresh); code != http.StatusUnauthorized || (c != "no_active_account" && c != "token_not_valid") {
		t.Errorf("refresh after deactivation = %d %q, want 401", code, c)
	}
	if code, body := srv.post(t, "token/", map[string]string{"username": "alice", "password": pw}); code != http.StatusUnauthorized || str(body["code"]) != "no_active_account" {
		t.Errorf("login after deactivation = %d %v", code, body)
	}

	if out, stderr, code := run(t, bin, dir, "", "tokens", "flush"); code != 0 || !strings.Contains(out, "deleted") {
		t.Errorf("tokens flush: status %d\n%s%s", code, out, stderr)
	}
	srv.stop(t)
}

func TestServe_RefusesToStartWithoutKeyOutsideDev(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve")
	cmd.Dir = dir
	for _, kv := range newcomerEnv() {
		if kv != "TOLLGATE_DEV=true" && !strings.HasPrefix(kv, "TOLLGATE_PASSWORD_ARGON2") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != exitFail {
		t.Fatalf("serve without a key: %v, want exit status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "TOLLGATE_SIGNING_KEY: not set") || !strings.Contains(string(out), "--dev") {
		t.Errorf("the message does not say what to set:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "tollgate.db.dev-key")); err == nil {
		t.Error("a dev key was generated outside dev mode")
	}
}
