package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// testApp returns an app over a fake environment with its own SQLite file.
func testApp(t *testing.T, stdin string, terminal bool, typed ...string) (*app, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	env := map[string]string{
		"TOLLGATE_DATABASE_URL":           filepath.Join(t.TempDir(), "t.db"),
		"TOLLGATE_DEV":                    "true",
		"TOLLGATE_PASSWORD_ARGON2_MEMORY": "64",
		"TOLLGATE_PASSWORD_ARGON2_TIME":   "1",
	}
	var stdout, stderr bytes.Buffer
	a := &app{
		stdin: strings.NewReader(stdin), stdout: &stdout, stderr: &stderr,
		lookupEnv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		isTerminal: func() bool { return terminal },
		readPassword: func() ([]byte, error) {
			if len(typed) == 0 {
				return nil, errors.New("nothing typed")
			}
			p := typed[0]
			typed = typed[1:]
			return []byte(p), nil
		},
	}
	return a, &stdout, &stderr
}

func TestMain_ExitStatuses(t *testing.T) {
	cases := []struct {
		args    []string
		status  int
		mention string
	}{
		{nil, exitUsage, "Usage: tollgate"},
		{[]string{"help"}, exitOK, "Commands:"},
		{[]string{"nope"}, exitUsage, `unknown command "nope"`},
		{[]string{"users"}, exitUsage, "users needs a subcommand"},
		{[]string{"users", "remove"}, exitUsage, `unknown command "remove" for users`},
		{[]string{"users", "create", "--bogus"}, exitUsage, "flag provided but not defined"},
		{[]string{"users", "create"}, exitUsage, "--username is required"},
		{[]string{"users", "create", "-h"}, exitOK, "--password-stdin"},
		{[]string{"users", "deactivate"}, exitUsage, "exactly one username"},
		{[]string{"users", "deactivate", "ghost"}, exitFail, `no user named "ghost"`},
		{[]string{"users", "import", "/nonexistent.json"}, exitFail, "no such file"},
		{[]string{"tokens", "flush", "extra"}, exitUsage, "no arguments"},
		{[]string{"version"}, exitOK, ""},
		{[]string{"migrate"}, exitOK, ""},
		{[]string{"config"}, exitOK, "TOLLGATE_ACCESS_TOKEN_LIFETIME=15m"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			a, stdout, stderr := testApp(t, "", false)
			if got := a.main(context.Background(), tc.args); got != tc.status {
				t.Errorf("status = %d, want %d\n%s%s", got, tc.status, stdout, stderr)
			}
			if !strings.Contains(stdout.String()+stderr.String(), tc.mention) {
				t.Errorf("output lacks %q:\n%s%s", tc.mention, stdout, stderr)
			}
		})
	}
}

func TestLoadConfig_InvalidSettingNamesItAndFails(t *testing.T) {
	a, _, stderr := testApp(t, "", false)
	env := a.lookupEnv
	a.lookupEnv = func(k string) (string, bool) {
		if k == "TOLLGATE_ACCESS_TOKEN_LIFETIME" {
			return "soon", true
		}
		return env(k)
	}
	if got := a.main(context.Background(), []string{"migrate"}); got != exitFail {
		t.Errorf("status = %d, want %d", got, exitFail)
	}
	if !strings.Contains(stderr.String(), "TOLLGATE_ACCESS_TOKEN_LIFETIME") {
		t.Errorf("message does not name the setting: %s", stderr)
	}
}

func TestUsersCreate_PasswordSources(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		stdin    string
		terminal bool
		typed    []string
		status   int
		mention  string
	}{
		{"stdin flag", []string{"--password-stdin"}, "correct horse battery\n", false, nil, exitOK, `created user "bob"`},
		{"piped stdin without flag", nil, "correct horse battery\n", false, nil, exitOK, `created user "bob"`},
		{"terminal prompt", nil, "", true, []string{"correct horse battery", "correct horse battery"}, exitOK, `created user "bob"`},
		{"terminal prompt mismatch", nil, "", true, []string{"correct horse battery", "correct horse batterY"}, exitFail, "do not match"},
		{"flag warns", []string{"--password", "correct horse battery"}, "", false, nil, exitOK, "shell history"},
		{"two sources", []string{"--password", "x", "--password-stdin"}, "", false, nil, exitUsage, "only one of"},
		{"too short names the field", []string{"--password-stdin"}, "short\n", false, nil, exitFail, "password: This password is too short"},
		{"same as the email", []string{"--password-stdin"}, "bob@example.com\n", false, nil, exitFail, "too similar"},
		{"empty stdin", []string{"--password-stdin"}, "", false, nil, exitFail, "no input"},
		{"no password", []string{"--no-password"}, "", false, nil, exitOK, `created user "bob"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, stdout, stderr := testApp(t, tc.stdin, tc.terminal, tc.typed...)
			args := append([]string{"users", "create", "--username", "bob", "--email", "bob@example.com"}, tc.args...)
			got := a.main(context.Background(), args)
			if got != tc.status || !strings.Contains(stdout.String()+stderr.String(), tc.mention) {
				t.Errorf("status = %d (want %d), output lacks %q?\n%s%s", got, tc.status, tc.mention, stdout, stderr)
			}
		})
	}
}

func TestUsersCreate_TakenUsernameIsClear(t *testing.T) {
	a, _, stderr := testApp(t, "", false)
	args := []string{"users", "create", "--username", "carol", "--no-password"}
	if got := a.main(context.Background(), args); got != exitOK {
		t.Fatalf("first create: %d %s", got, stderr)
	}
	if got := a.main(context.Background(), args); got != exitFail || !strings.Contains(stderr.String(), "already exists") {
		t.Errorf("second create: status %d, %s", got, stderr)
	}
}

func TestRegister_RefusesDuplicates(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("registering serve twice did not panic")
		}
	}()
	register("serve", "again", runServe)
}

func TestUsersImport_KeepsIdsAndSkipsExisting(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "users.json")
	const body = `[
{"model": "auth.user", "pk": 7, "fields": {"password": "pbkdf2_sha256$1000$c2FsdA$aGFzaA==", "last_login": null,
 "is_superuser": false, "username": "dora", "first_name": "", "last_name": "", "email": "dora@example.com",
 "is_staff": false, "is_active": true, "date_joined": "2021-03-04T05:06:07Z", "groups": [], "user_permissions": []}}
]`
	if err := os.WriteFile(dump, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	a, stdout, stderr := testApp(t, "", false)
	if got := a.main(context.Background(), []string{"users", "import", dump}); got != exitOK || !strings.Contains(stdout.String(), "imported 1 users, skipped 0") {
		t.Fatalf("first import: status %d\n%s%s", got, stdout, stderr)
	}
	stdout.Reset()
	if got := a.main(context.Background(), []string{"users", "import", dump}); got != exitOK || !strings.Contains(stdout.String(), "imported 0 users, skipped 1") {
		t.Fatalf("second import: status %d\n%s%s", got, stdout, stderr)
	}
	stdout.Reset()
	if got := a.main(context.Background(), []string{"users", "list"}); got != exitOK || !regexp.MustCompile(`(?m)^7\s+dora\s+dora@example.com`).MatchString(stdout.String()) {
		t.Errorf("list after import: status %d\n%s", got, stdout)
	}
}

// An imported username may hold anything Django's database held; listing it
// must not hand escape sequences to the administrator's terminal.
func TestUsersList_QuotesControlCharacters(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "users.json")
	const body = `[{"model": "auth.user", "pk": 3, "fields": {"password": "!", "last_login": null, "username": "evil\u001b[31mRED",
 "email": "", "is_staff": false, "is_active": true, "date_joined": "2021-03-04T05:06:07Z"}}]`
	if err := os.WriteFile(dump, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	a, stdout, stderr := testApp(t, "", false)
	if got := a.main(context.Background(), []string{"users", "import", dump}); got != exitOK {
		t.Fatalf("import: status %d\n%s%s", got, stdout, stderr)
	}
	stdout.Reset()
	if got := a.main(context.Background(), []string{"users", "list"}); got != exitOK {
		t.Fatalf("list: status %d\n%s", got, stderr)
	}
	if out := stdout.String(); strings.ContainsRune(out, 0x1b) || !strings.Contains(out, `"evil\x1b[31mRED"`) {
		t.Errorf("list printed the raw name or did not quote it:\n%q", out)
	}
}

func TestUsersImport_WarnsOfHashesItCannotVerify(t *testing.T) {
	dump := filepath.Join(t.TempDir(), "users.json")
	const body = `[{"model": "auth.user", "pk": 4, "fields": {"password": "md5$salt$0123456789abcdef0123456789abcdef", "last_login": null,
 "username": "old", "email": "", "is_staff": false, "is_active": true, "date_joined": "2021-03-04T05:06:07Z"}},
{"model": "auth.user", "pk": 5, "fields": {"password": "pbkdf2_sha256$1000$c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "last_login": null,
 "username": "new", "email": "", "is_staff": false, "is_active": true, "date_joined": "2021-03-04T05:06:07Z"}}]`
	if err := os.WriteFile(dump, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	a, stdout, stderr := testApp(t, "", false)
	if got := a.main(context.Background(), []string{"users", "import", dump}); got != exitOK {
		t.Fatalf("import: status %d\n%s%s", got, stdout, stderr)
	}
	if !strings.Contains(stderr.String(), "old (id 4)") || strings.Contains(stderr.String(), "new (id 5)") {
		t.Errorf("warnings should name exactly the md5 user:\n%s", stderr)
	}
	if !strings.Contains(stdout.String(), "1 of them have a password hash Tollgate cannot verify") {
		t.Errorf("summary:\n%s", stdout)
	}
}
