package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
)

// referenceCheck is the walk over encoding/json's token stream that
// scanObject replaced: the oracle it must agree with on what it accepts.
func referenceCheck(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errNotObject
	}
	if err := refObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errNotObject
	}
	// The token stream is lenient about what separates tokens; json.Valid is not.
	if !json.Valid(b) {
		return errJSONSyntax
	}
	return nil
}

func refObject(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errTooDeep
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errNotObject
		}
		if seen[key] {
			return errDuplicateKey
		}
		seen[key] = true
		if err := refValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
}

func refValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	switch d {
	case '{':
		return refObject(dec, depth+1)
	case '[':
		if depth+1 > maxJSONDepth {
			return errTooDeep
		}
		for dec.More() {
			if err := refValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	return errNotObject
}

var scanCases = []struct {
	name string
	json string
	want error // nil, or the sentinel scanObject must return; errJSONSyntax for any syntax error
}{
	{"claims", `{"token_type":"access","jti":"j","user_id":"1","exp":1893553445,"aud":["a","b"]}`, nil},
	{"whitespace everywhere", " \t\r\n{ \"a\" : 1 , \"b\" :[ 1 , 2 ] }\n", nil},
	{"empty object", `{}`, nil},
	{"nested empty", `{"a":{},"b":[],"c":[{}]}`, nil},
	{"every literal and number form", `{"a":true,"b":false,"c":null,"d":-0,"e":1.5e-3,"f":2E+10,"g":-12.25}`, nil},
	{"escapes", `{"a":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"}`, nil},
	{"utf-8 text", `{"名前":"値"}`, nil},
	{"same name at different levels", `{"a":{"a":{"a":1}}}`, nil},
	{"same name in sibling objects", `{"x":{"a":1},"y":{"a":2}}`, nil},
	{"depth 16", strings.Repeat(`{"a":`, 15) + `{}` + strings.Repeat(`}`, 15), nil},
	{"depth 17", strings.Repeat(`{"a":`, 16) + `{}` + strings.Repeat(`}`, 16), errTooDeep},
	{"array depth 17", `{"a":` + strings.Repeat(`[`, 16) + strings.Repeat(`]`, 16) + `}`, errTooDeep},
	{"duplicate", `{"a":1,"a":1}`, errDuplicateKey},
	{"duplicate escaped", `{"user_id":"1","user\u005fid":"2"}`, errDuplicateKey},
	{"duplicate nested", `{"ctx":{"role":"user","role":"admin"}}`, errDuplicateKey},
	{"duplicate in a large object", `{` + manyNames(40) + `,"n7":0}`, errDuplicateKey},
	{"large object", `{` + manyNames(40) + `}`, nil},
	{"array", `[1]`, errNotObject},
	{"null", `null`, errNotObject},
	{"string", `"x"`, errNotObject},
	{"trailing object", `{}{}`, errNotObject},
	{"trailing garbage", `{} x`, errNotObject},
	{"empty", ``, errNotObject},
	{"unterminated", `{"a":1`, errJSONSyntax},
	{"trailing comma", `{"a":1,}`, errJSONSyntax},
	{"array trailing comma", `{"a":[1,]}`, errJSONSyntax},
	{"missing colon", `{"a" 1}`, errJSONSyntax},
	{"missing comma", `{"a":1 "b":2}`, errJSONSyntax},
	{"name not a string", `{a:1}`, errJSONSyntax},
	{"single quotes", `{'a':1}`, errJSONSyntax},
	{"leading zero", `{"a":01}`, errJSONSyntax},
	{"bare minus", `{"a":-}`, errJSONSyntax},
	{"dot without digits", `{"a":1.}`, errJSONSyntax},
	{"exponent without digits", `{"a":1e}`, errJSONSyntax},
	{"plus sign", `{"a":+1}`, errJSONSyntax},
	{"hex number", `{"a":0x10}`, errJSONSyntax},
	{"NaN", `{"a":NaN}`, errJSONSyntax},
	{"truncated literal", `{"a":tru}`, errJSONSyntax},
	{"literal with tail", `{"a":nullx}`, errJSONSyntax},
	{"bad escape", `{"a":"\x"}`, errJSONSyntax},
	{"short unicode escape", `{"a":"\u12"}`, errJSONSyntax},
	{"control character", "{\"a\":\"\x01\"}", errJSONSyntax},
	{"raw newline in string", "{\"a\":\"\n\"}", errJSONSyntax},
	{"unterminated string", `{"a":"x}`, errJSONSyntax},
	{"NUL after", "{}\x00", errNotObject},
}

func manyNames(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"n` + itoa(i) + `":0`)
	}
	return b.String()
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestScanObject_AgreesWithEncodingJSON(t *testing.T) {
	for _, tc := range scanCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := scanObject(tc.json, nil)
			ref := referenceCheck([]byte(tc.json))
			if (err == nil) != (ref == nil) {
				t.Fatalf("scanObject: %v; encoding/json walk: %v", err, ref)
			}
			if tc.want == nil && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestScanObject_ReturnsTopLevelMembersUnescaped(t *testing.T) {
	members, err := scanObject(`{"a" : "x", "b\u0063":{"d":[1,2]}, "e":-1.5e3 }`, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []member{{"a", `"x"`}, {"bc", `{"d":[1,2]}`}, {"e", `-1.5e3`}}
	if len(members) != len(want) {
		t.Fatalf("members = %q, want %q", members, want)
	}
	for i := range want {
		if members[i] != want[i] {
			t.Fatalf("members = %q, want %q", members, want)
		}
	}
}

// FuzzScanObject checks that the one-pass scanner accepts exactly what the
// encoding/json walk it replaced accepts. Run: go test -fuzz FuzzScanObject ./token/
func FuzzScanObject(f *testing.F) {
	for _, tc := range scanCases {
		f.Add(tc.json)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := scanObject(s, nil)
		ref := referenceCheck([]byte(s))
		if (err == nil) != (ref == nil) {
			t.Fatalf("%q: scanObject: %v; encoding/json walk: %v", s, err, ref)
		}
	})
}
