package http

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/middleware"
)

var loginFields = []field{{name: "username", trim: true}, {name: "password"}}

func TestDecodeFields_Valid(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		want        map[string]string
	}{
		{"json", "application/json", `{"username":"alice","password":"pw"}`, map[string]string{"username": "alice", "password": "pw"}},
		{"json with charset", "application/json; charset=UTF-8", `{"username":"alice","password":"pw"}`, map[string]string{"username": "alice", "password": "pw"}},
		{"unknown fields are ignored", "application/json", `{"username":"alice","password":"pw","remember":true,"x":{"y":[1]}}`, map[string]string{"username": "alice", "password": "pw"}},
		{"login is trimmed, password is not", "application/json", `{"username":"  alice\t","password":"  pw  "}`, map[string]string{"username": "alice", "password": "  pw  "}},
		{"white-space password is not blank", "application/json", `{"username":"alice","password":"   "}`, map[string]string{"username": "alice", "password": "   "}},
		{"escapes decoded", "application/json", `{"username":"al\u00efce","password":"p\"w"}`, map[string]string{"username": "alïce", "password": `p"w`}},
		{"surrounding white space", "application/json", " \n{\"username\":\"a\",\"password\":\"b\"}\n ", map[string]string{"username": "a", "password": "b"}},
		{"form", "application/x-www-form-urlencoded", "username=alice&password=p%26w", map[string]string{"username": "alice", "password": "p&w"}},
		{"form repeated key takes the last, as Django", "application/x-www-form-urlencoded", "username=a&username=b&password=x", map[string]string{"username": "b", "password": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeFields(tt.contentType, []byte(tt.body), jsonOrForm, loginFields)
			if err != nil {
				t.Fatalf("decodeFields: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeFields_FieldErrorsInDRFShape(t *testing.T) {
	tests := []struct {
		name string
		body string
		want map[string][]string
	}{
		{"both missing", `{}`, map[string][]string{"username": {msgRequired}, "password": {msgRequired}}},
		{"one missing", `{"username":"a"}`, map[string][]string{"password": {msgRequired}}},
		{"blank", `{"username":"","password":""}`, map[string][]string{"username": {msgBlank}, "password": {msgBlank}}},
		{"blank after trim", `{"username":"   ","password":"x"}`, map[string][]string{"username": {msgBlank}}},
		{"number", `{"username":1,"password":"x"}`, map[string][]string{"username": {msgNotString}}},
		{"object", `{"username":{},"password":"x"}`, map[string][]string{"username": {msgNotString}}},
		{"array", `{"username":["a"],"password":"x"}`, map[string][]string{"username": {msgNotString}}},
		{"null", `{"username":null,"password":"x"}`, map[string][]string{"username": {msgNotString}}},
		{"bool", `{"username":"a","password":true}`, map[string][]string{"password": {msgNotString}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeFields("application/json", []byte(tt.body), jsonOrForm, loginFields)
			var e *tollgate.Error
			if !errors.As(err, &e) || e.Code != tollgate.EInvalid {
				t.Fatalf("err = %v, want an EInvalid *tollgate.Error", err)
			}
			if !reflect.DeepEqual(e.Fields, tt.want) {
				t.Errorf("fields = %v, want %v", e.Fields, tt.want)
			}
		})
	}
}

func TestDecodeFields_NoContentTypeAndNoBodyReportsMissingFields(t *testing.T) {
	_, err := decodeFields("", nil, jsonOrForm, loginFields)
	var e *tollgate.Error
	if !errors.As(err, &e) || e.Code != tollgate.EInvalid || len(e.Fields) != 2 {
		t.Fatalf("err = %v, want both fields required", err)
	}
}

// DRF parses an empty JSON body as no data, so front-ends get the field map.
func TestDecodeFields_EmptyJSONBodyReportsMissingFields(t *testing.T) {
	_, err := decodeFields("application/json", []byte{}, jsonOrForm, loginFields)
	var e *tollgate.Error
	if !errors.As(err, &e) || e.Code != tollgate.EInvalid || len(e.Fields) != 2 {
		t.Fatalf("err = %v, want both fields required", err)
	}
}

func TestDecodeFields_RejectsBadBodies(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		format      bodyFormat
		wantCode    string
	}{
		{"not json", "application/json", `username=a`, jsonOrForm, middleware.EParseError},
		{"truncated", "application/json", `{"username":"a"`, jsonOrForm, middleware.EParseError},
		{"blank json body", "application/json", "  \n", jsonOrForm, middleware.EParseError},
		{"array", "application/json", `[{"username":"a"}]`, jsonOrForm, middleware.EParseError},
		{"string", "application/json", `"a"`, jsonOrForm, middleware.EParseError},
		{"null", "application/json", `null`, jsonOrForm, middleware.EParseError},
		{"number", "application/json", `12`, jsonOrForm, middleware.EParseError},
		{"trailing data", "application/json", `{"username":"a","password":"b"} {}`, jsonOrForm, middleware.EParseError},
		{"invalid utf-8", "application/json", "{\"username\":\"\xff\",\"password\":\"b\"}", jsonOrForm, middleware.EParseError},
		{"bad form escape", "application/x-www-form-urlencoded", "username=%zz&password=b", jsonOrForm, middleware.EParseError},
		{"form where only json is read", "application/x-www-form-urlencoded", "username=a&password=b", jsonOnly, middleware.EUnsupportedMediaType},
		{"text/plain", "text/plain", `{"username":"a","password":"b"}`, jsonOrForm, middleware.EUnsupportedMediaType},
		{"multipart", "multipart/form-data; boundary=x", "--x--", jsonOrForm, middleware.EUnsupportedMediaType},
		{"body without content type", "", `{"username":"a","password":"b"}`, jsonOrForm, middleware.EUnsupportedMediaType},
		{"unparseable content type", "application/json; charset", `{}`, jsonOrForm, middleware.EUnsupportedMediaType},
		{"other charset", "application/json; charset=latin1", `{}`, jsonOrForm, middleware.EUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeFields(tt.contentType, []byte(tt.body), tt.format, loginFields)
			if got := tollgate.ErrorCode(err); got != tt.wantCode {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.wantCode)
			}
			if st := middleware.StatusCode(tt.wantCode); st < 400 || st > 499 {
				t.Errorf("status %d for %q is not a 4xx", st, tt.wantCode)
			}
		})
	}
}

func TestDecodeBody_OverLimitIsRequestTooLarge(t *testing.T) {
	big := `{"username":"a","password":"` + strings.Repeat("x", 200) + `"}`
	for _, declared := range []bool{true, false} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
		r.Header.Set("Content-Type", "application/json")
		if !declared {
			r.ContentLength = -1 // chunked: the limit must hold while reading
		}
		_, err := decodeBody(r, 100, jsonOrForm, loginFields...)
		if got := tollgate.ErrorCode(err); got != middleware.ERequestTooLarge {
			t.Errorf("declared=%v: code = %q, want %q", declared, got, middleware.ERequestTooLarge)
		}
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(big))
	r.Header.Set("Content-Type", "application/json")
	if _, err := decodeBody(r, int64(len(big)), jsonOrForm, loginFields...); err != nil {
		t.Errorf("a body exactly at the limit: %v", err)
	}
}

// FuzzDecodeTokenRequest drives the body decoders with any content type and
// body: the result is either the fields or a *tollgate.Error whose status is
// a 4xx, never a panic or a 5xx.
func FuzzDecodeTokenRequest(f *testing.F) {
	f.Add("application/json", []byte(`{"username":"alice","password":"pw"}`))
	f.Add("application/json; charset=utf-8", []byte(`{"refresh":"a.b.c"}`))
	f.Add("application/x-www-form-urlencoded", []byte(`username=a&password=b`))
	f.Add("", []byte(``))
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/json", []byte(`[1,2,3]`))
	f.Add("application/json", []byte(`{"username":null,"password":{"a":1}}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		if contentType != "" {
			r.Header["Content-Type"] = []string{contentType}
		}
		out, err := decodeBody(r, 1024, jsonOrForm, append(loginFields, field{name: "refresh", trim: true})...)
		if err == nil {
			for _, k := range []string{"username", "password", "refresh"} {
				if out[k] == "" {
					t.Fatalf("decoded without error but %q is blank", k)
				}
			}
			return
		}
		var e *tollgate.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v is not a *tollgate.Error (would be a 500)", err)
		}
		if st := middleware.StatusCode(e.Code); st < 400 || st > 499 {
			t.Fatalf("code %q maps to %d, want a 4xx", e.Code, st)
		}
		if e.Code == tollgate.EInvalid && len(e.Fields) == 0 {
			t.Fatalf("EInvalid without fields")
		}
	})
}
