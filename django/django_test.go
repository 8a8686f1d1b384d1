package django

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/password"
)

// The fixtures users_tz.json and users_naive.json are real output of Django
// 3.2's `dumpdata auth.user auth.group --indent 2` (USE_TZ on and off), made
// by testdata/make_fixture.py from a throwaway sqlite project with one user
// per password hasher; passwords.json holds their plain passwords.

func readFixture(t *testing.T, name string) []*tollgate.User {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	users, err := ReadUsers(f)
	if err != nil {
		t.Fatalf("ReadUsers(%s): %v", name, err)
	}
	return users
}

func byName(users []*tollgate.User) map[string]*tollgate.User {
	m := map[string]*tollgate.User{}
	for _, u := range users {
		m[u.Username] = u
	}
	return m
}

func TestReadUsers_DjangoDumpKeepsIDsHashesFlagsAndDates(t *testing.T) {
	utc := func(y, mo, d, h, mi, s, ms int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ms*int(time.Millisecond), time.UTC)
	}
	for _, fixture := range []string{"users_tz.json", "users_naive.json"} {
		t.Run(fixture, func(t *testing.T) {
			users := readFixture(t, fixture)
			if len(users) != 7 {
				t.Fatalf("got %d users, want the 7 auth.user entries (the auth.group one skipped)", len(users))
			}
			want := []tollgate.User{
				{ID: 1, Username: "alice", Email: "alice@example.com", IsActive: true, IsStaff: true,
					CreatedAt: utc(2021, 3, 4, 5, 6, 7, 891), LastLogin: utc(2024, 1, 2, 3, 4, 5, 600)},
				{ID: 2, Username: "bob", Email: "bob@example.com", IsActive: true,
					CreatedAt: utc(2021, 3, 4, 5, 6, 7, 0)},
				{ID: 6, Username: "frank", Email: "frank@example.com", IsActive: false,
					CreatedAt: utc(2021, 3, 4, 5, 6, 7, 0), LastLogin: utc(2024, 1, 7, 3, 4, 5, 600)},
				{ID: 42, Username: "grace", Email: "grace@example.com", IsActive: true,
					CreatedAt: utc(2021, 3, 4, 5, 6, 7, 891), LastLogin: utc(2024, 1, 8, 3, 4, 5, 600)},
			}
			got := byName(users)
			for _, w := range want {
				g := got[w.Username]
				if g == nil {
					t.Fatalf("no user %q", w.Username)
				}
				if g.ID != w.ID || g.Email != w.Email || g.IsActive != w.IsActive || g.IsStaff != w.IsStaff ||
					!g.CreatedAt.Equal(w.CreatedAt) || !g.LastLogin.Equal(w.LastLogin) {
					t.Errorf("user %s = %+v\nwant %+v", w.Username, *g, w)
				}
				if g.CreatedAt.Location() != time.UTC {
					t.Errorf("user %s CreatedAt not in UTC: %v", w.Username, g.CreatedAt)
				}
			}
			if !strings.HasPrefix(got["frank"].PasswordHash, password.UnusablePrefix) {
				t.Errorf("frank's unusable password became %q", got["frank"].PasswordHash)
			}
		})
	}
}

func TestReadUsers_PasswordHashesKeptVerbatim(t *testing.T) {
	raw, err := os.ReadFile("testdata/users_tz.json")
	if err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		Model  string `json:"model"`
		Fields struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"fields"`
	}
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	got := byName(readFixture(t, "users_tz.json"))
	for _, e := range entries {
		if e.Model == "auth.user" && got[e.Fields.Username].PasswordHash != e.Fields.Password {
			t.Errorf("%s: hash %q, want %q", e.Fields.Username, got[e.Fields.Username].PasswordHash, e.Fields.Password)
		}
	}
}

func TestReadUsers_ImportedPasswordsVerifyAndNeedRehash(t *testing.T) {
	raw, err := os.ReadFile("testdata/passwords.json")
	if err != nil {
		t.Fatal(err)
	}
	var passwords map[string]string
	if err := json.Unmarshal(raw, &passwords); err != nil {
		t.Fatal(err)
	}
	h, err := password.New(password.InsecureTestParams(), nil)
	if err != nil {
		t.Fatal(err)
	}
	users := byName(readFixture(t, "users_tz.json"))
	if len(passwords) != 6 {
		t.Fatalf("%d passwords in passwords.json, want one per hasher (6)", len(passwords))
	}
	for name, pw := range passwords {
		u := users[name]
		if u == nil {
			t.Fatalf("no imported user %q", name)
		}
		ok, rehash, err := h.Verify(pw, u.PasswordHash)
		if !ok || !rehash || err != nil {
			t.Errorf("%s (%.20s...): Verify = %v, %v, %v; want true, true, nil", name, u.PasswordHash, ok, rehash, err)
		}
		if ok, _, _ := h.Verify(pw+"!", u.PasswordHash); ok {
			t.Errorf("%s: a wrong password verifies", name)
		}
	}
	if ok, _, err := h.Verify("", users["frank"].PasswordHash); ok || err != nil {
		t.Errorf("frank's unusable password: Verify = %v, %v; want false, nil", ok, err)
	}
}

// entryJSON is one auth.user entry with the given fields JSON.
func entryJSON(pk, fields string) string {
	return `{"model": "auth.user", "pk": ` + pk + `, "fields": ` + fields + `}`
}

const okFields = `{"password": "!x", "last_login": null, "username": "u", "email": "", "is_staff": false, "is_active": true, "date_joined": "2021-03-04T05:06:07Z"}`

func TestReadUsers_DjangoDateForms(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2021-03-04T05:06:07Z", time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)},
		{"2021-03-04T05:06:07.891Z", time.Date(2021, 3, 4, 5, 6, 7, 891e6, time.UTC)},
		{"2021-03-04T05:06:07.891234Z", time.Date(2021, 3, 4, 5, 6, 7, 891234e3, time.UTC)},
		{"2021-03-04T07:36:07.5+02:30", time.Date(2021, 3, 4, 5, 6, 7, 5e8, time.UTC)},
		{"2021-03-04T00:06:07-05:00", time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)},
		{"2021-03-04T05:06:07", time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)},
		{"2021-03-04T05:06:07.123", time.Date(2021, 3, 4, 5, 6, 7, 123e6, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			fields := strings.Replace(okFields, `"last_login": null`, `"last_login": "`+tt.in+`"`, 1)
			fields = strings.Replace(fields, "2021-03-04T05:06:07Z", tt.in, 1)
			users, err := ReadUsers(strings.NewReader("[" + entryJSON("1", fields) + "]"))
			if err != nil {
				t.Fatal(err)
			}
			if u := users[0]; !u.CreatedAt.Equal(tt.want) || !u.LastLogin.Equal(tt.want) || u.CreatedAt.Location() != time.UTC {
				t.Fatalf("CreatedAt %v, LastLogin %v; want %v", u.CreatedAt, u.LastLogin, tt.want)
			}
		})
	}
}

func TestReadUsers_SkipsOtherModels(t *testing.T) {
	in := `[{"model": "auth.group", "pk": 1, "fields": {"name": "x", "permissions": []}},
		{"model": "auth.permission", "pk": 1, "fields": {"name": "Can add", "content_type": ["auth", "user"], "codename": "add_user"}},
		{"model": "accounts.profile", "pk": 9, "fields": {"user": 1}},
		` + entryJSON("7", okFields) + `]`
	users, err := ReadUsers(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 || users[0].ID != 7 {
		t.Fatalf("got %d users (first %+v), want only pk 7", len(users), users)
	}
}

func TestReadUsers_EmptyDumpHasNoUsers(t *testing.T) {
	users, err := ReadUsers(strings.NewReader(" [ ]\n"))
	if err != nil || len(users) != 0 {
		t.Fatalf("ReadUsers([]) = %v, %v; want no users, nil", users, err)
	}
}

func TestReadUsers_MalformedInputNamesTheEntry(t *testing.T) {
	other := `{"model": "auth.group", "pk": 1, "fields": {}}`
	ok := entryJSON("1", okFields)
	tests := []struct {
		name, in, wantInMsg string
	}{
		{"empty input", "", "not a JSON list"},
		{"an object, not a list", `{"model": "auth.user"}`, "not a JSON list"},
		{"unterminated list", "[" + ok, "unterminated"},
		{"trailing data", "[" + ok + "] []", "after the end"},
		{"entry not an object", "[" + ok + ", 3]", "entry 1"},
		{"null entry", "[" + other + ", null]", "entry 1: no model"},
		{"syntax error", "[" + ok + ", " + other + ", {\"model\": }]", "entry 2"},
		{"no pk", "[" + other + ", " + `{"model": "auth.user", "fields": ` + okFields + "}]", "entry 1: no pk"},
		{"string pk", "[" + entryJSON(`"1"`, okFields) + "]", "entry 0: pk"},
		{"fractional pk", "[" + entryJSON("1.5", okFields) + "]", "entry 0: pk"},
		{"zero pk", "[" + entryJSON("0", okFields) + "]", "entry 0: pk"},
		{"duplicate pk", "[" + ok + ", " + other + ", " + ok + "]", "entry 2: pk 1 already used by entry 0"},
		{"no fields", "[" + `{"model": "auth.user", "pk": 1}` + "]", "entry 0: pk 1: fields"},
		{"fields a list", "[" + entryJSON("1", "[]") + "]", "entry 0: pk 1: fields"},
		{"no username", "[" + entryJSON("1", strings.Replace(okFields, `"username": "u"`, `"username": ""`, 1)) + "]", "no username"},
		{"no password", "[" + entryJSON("1", strings.Replace(okFields, `"password": "!x", `, "", 1)) + "]", "no password"},
		{"password not a string", "[" + entryJSON("1", strings.Replace(okFields, `"!x"`, `5`, 1)) + "]", "entry 0: pk 1: fields"},
		{"no is_active", "[" + entryJSON("1", strings.Replace(okFields, `"is_active": true, `, "", 1)) + "]", "no is_active"},
		{"is_active a string", "[" + entryJSON("1", strings.Replace(okFields, `"is_active": true`, `"is_active": "yes"`, 1)) + "]", "entry 0"},
		{"no date_joined", "[" + entryJSON("1", strings.Replace(okFields, `, "date_joined": "2021-03-04T05:06:07Z"`, "", 1)) + "]", "no date_joined"},
		{"date only", "[" + entryJSON("1", strings.Replace(okFields, "2021-03-04T05:06:07Z", "2021-03-04", 1)) + "]", "date_joined"},
		{"bad last_login", "[" + entryJSON("1", strings.Replace(okFields, `"last_login": null`, `"last_login": "yesterday"`, 1)) + "]", "entry 0: pk 1: last_login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := ReadUsers(strings.NewReader(tt.in))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.wantInMsg) {
				t.Fatalf("ReadUsers = %v users, err %v; want ErrMalformed mentioning %q", len(users), err, tt.wantInMsg)
			}
		})
	}
}
