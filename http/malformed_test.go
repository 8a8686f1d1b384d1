package http_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate"
)

// TestMalformedRequests_AreClear4xx sends what broken or hostile clients
// send: every answer is a 4xx with a JSON body naming the problem, never a
// 5xx (env.call fails the test on any 5xx).
func TestMalformedRequests_AreClear4xx(t *testing.T) {
	e := newEnv(t)
	e.createUser("alice", "", alicePW)
	access, _ := e.login("alice", alicePW)
	huge := `{"refresh":"` + strings.Repeat("x", 70<<10) + `"}`

	type want struct {
		status int
		code   string              // for {"detail","code"} bodies
		fields map[string][]string // for DRF field maps
	}
	fieldErr := func(kv ...string) want {
		m := map[string][]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = []string{kv[i+1]}
		}
		return want{status: http.StatusBadRequest, fields: m}
	}
	const required, blank, notString = "This field is required.", "This field may not be blank.", "Not a valid string."
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		opts   []reqOption
		want   want
	}{
		{"refresh without body", "POST", "token/refresh/", "", []reqOption{withHeader("Content-Type", "")}, fieldErr("refresh", required)},
		{"refresh empty object", "POST", "token/refresh/", `{}`, nil, fieldErr("refresh", required)},
		{"refresh blank", "POST", "token/refresh/", `{"refresh":"  "}`, nil, fieldErr("refresh", blank)},
		{"refresh number", "POST", "token/refresh/", `{"refresh":42}`, nil, fieldErr("refresh", notString)},
		{"refresh null", "POST", "token/refresh/", `{"refresh":null}`, nil, fieldErr("refresh", notString)},
		{"refresh object", "POST", "token/refresh/", `{"refresh":{"a":1}}`, nil, fieldErr("refresh", notString)},
		{"login both missing", "POST", "token/", `{"user":"alice"}`, nil, fieldErr("username", required, "password", required)},
		{"login blank password", "POST", "token/", `{"username":"alice","password":""}`, nil, fieldErr("password", blank)},
		{"verify missing", "POST", "token/verify/", `{"refresh":"x"}`, nil, fieldErr("token", required)},
		{"logout missing", "POST", "logout/", `{}`, nil, fieldErr("refresh", required)},
		{"not json", "POST", "token/", `username=alice`, nil, want{status: 400, code: "parse_error"}},
		{"truncated json", "POST", "token/refresh/", `{"refresh":"abc`, nil, want{status: 400, code: "parse_error"}},
		{"json array", "POST", "token/refresh/", `["abc"]`, nil, want{status: 400, code: "parse_error"}},
		{"json string", "POST", "token/verify/", `"abc"`, nil, want{status: 400, code: "parse_error"}},
		{"invalid utf-8", "POST", "token/", "{\"username\":\"\xc3\x28\",\"password\":\"x\"}", nil, want{status: 400, code: "parse_error"}},
		{"body too large", "POST", "token/refresh/", huge, nil, want{status: 400, code: "request_too_large"}},
		{"text/plain", "POST", "token/", `{"username":"a","password":"b"}`, []reqOption{withHeader("Content-Type", "text/plain")}, want{status: 415, code: "unsupported_media_type"}},
		{"form on logout", "POST", "logout/", `refresh=abc`, []reqOption{withHeader("Content-Type", "application/x-www-form-urlencoded")}, want{status: 415, code: "unsupported_media_type"}},
		{"xml", "POST", "token/verify/", `<token/>`, []reqOption{withHeader("Content-Type", "application/xml")}, want{status: 415, code: "unsupported_media_type"}},
		{"garbage content type", "POST", "token/verify/", `{}`, []reqOption{withHeader("Content-Type", ";;;")}, want{status: 415, code: "unsupported_media_type"}},
		{"garbage token", "POST", "token/verify/", `{"token":"not a jwt"}`, nil, want{status: 401, code: tollgate.ETokenNotValid}},
		{"token of nine kilobytes", "POST", "token/verify/", `{"token":"` + strings.Repeat("a", 9<<10) + `.b.c"}`, nil, want{status: 401, code: tollgate.ETokenNotValid}},
		{"alg none token", "POST", "token/refresh/", `{"refresh":"eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9."}`, nil, want{status: 401, code: tollgate.ETokenNotValid}},
		{"no credentials", "GET", "user/", "", nil, want{status: 401, code: tollgate.ENotAuthenticated}},
		{"Bearer alone", "GET", "user/", "", []reqOption{withHeader("Authorization", "Bearer")}, want{status: 401, code: tollgate.EBadAuthHeader}},
		{"Bearer with two parts", "GET", "user/", "", []reqOption{withHeader("Authorization", "Bearer a b")}, want{status: 401, code: tollgate.EBadAuthHeader}},
		{"bad bearer token", "GET", "sessions/", "", []reqOption{withBearer("a.b.c")}, want{status: 401, code: tollgate.ETokenNotValid}},
		{"other scheme is ignored", "GET", "user/", "", []reqOption{withHeader("Authorization", "Basic YTpi")}, want{status: 401, code: tollgate.ENotAuthenticated}},
		{"password change not json", "POST", "password/change/", `old_password=x`, []reqOption{withBearer(access), withHeader("Content-Type", "application/x-www-form-urlencoded")}, want{status: 415, code: "unsupported_media_type"}},
		{"password change wrong types", "POST", "password/change/", `{"old_password":1,"new_password":[]}`, []reqOption{withBearer(access)}, fieldErr("old_password", notString, "new_password", notString)},
		{"unknown path", "GET", "nope/", "", nil, want{status: 404, code: tollgate.ENotFound}},
		{"path below an endpoint", "POST", "token/extra/", `{}`, nil, want{status: 404, code: tollgate.ENotFound}},
		{"root", "GET", "/", "", nil, want{status: 404, code: tollgate.ENotFound}},
		{"session id with an encoded slash", "DELETE", "sessions/a%2Fb/", "", []reqOption{withBearer(access)}, want{status: 404, code: tollgate.ENotFound}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body any
			if tt.body != "" {
				body = tt.body
			}
			res := e.call(tt.method, tt.path, body, tt.opts...)
			if res.status != tt.want.status {
				t.Fatalf("status = %d, want %d; body %s", res.status, tt.want.status, res.body)
			}
			if tt.want.fields != nil {
				var want = map[string]any{}
				for k, v := range tt.want.fields {
					want[k] = []any{v[0]}
				}
				if got := res.json(t); !reflect.DeepEqual(got, want) {
					t.Fatalf("body %s, want %v", res.body, want)
				}
				return
			}
			m := res.json(t)
			if m["code"] != tt.want.code || m["detail"] == "" || m["detail"] == nil {
				t.Fatalf("body %s, want code %q and a detail", res.body, tt.want.code)
			}
		})
	}
}

func TestWrongMethod_Is405WithAllowAndJSON(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path, allow string
	}{
		{"GET", "token/", "POST"},
		{"PUT", "token/refresh/", "POST"},
		{"DELETE", "logout/all/", "POST"},
		{"POST", "user/", "GET, HEAD"},
		{"GET", "sessions/abc/", "DELETE"},
		{"POST", "/healthz", "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := e.call(tt.method, tt.path, nil)
			if res.status != http.StatusMethodNotAllowed {
				t.Fatalf("status = %d, want 405; body %s", res.status, res.body)
			}
			if got := res.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
			want := map[string]any{"detail": `Method "` + tt.method + `" not allowed.`, "code": "method_not_allowed"}
			if got := res.json(t); !reflect.DeepEqual(got, want) {
				t.Errorf("body = %v, want %v", got, want)
			}
		})
	}
}
