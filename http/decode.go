package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/middleware"
)

// DRF's field messages; front-ends written for Django REST Framework match on
// them, so they are copied word for word.
const (
	msgRequired  = "This field is required."
	msgBlank     = "This field may not be blank."
	msgNotString = "Not a valid string."
)

// field describes one string field of a request body.
type field struct {
	name string
	// trim strips surrounding white space before the blank check, as DRF's
	// CharField does; passwords are never trimmed (SimpleJWT's PasswordField).
	trim bool
}

// bodyFormat says which encodings an endpoint reads.
type bodyFormat int

const (
	jsonOnly bodyFormat = iota
	jsonOrForm
)

// decodeBody reads r's body (at most maxBytes) and returns the named string
// fields. Every failure is a *tollgate.Error with a 4xx code: a DRF field map
// for missing, blank or mistyped fields (all of them at once, as DRF reports
// them), parse_error for a body that is not a JSON object,
// request_too_large, and unsupported_media_type. Unknown fields are ignored.
func decodeBody(r *http.Request, maxBytes int64, format bodyFormat, fields ...field) (map[string]string, error) {
	if r.ContentLength > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(maxBytes)
		}
		// The client went away or sent a broken chunked body.
		return nil, &tollgate.Error{Code: middleware.EParseError, Message: "Could not read the request body.", Err: err}
	}
	if int64(len(body)) > maxBytes {
		return nil, tooLarge(maxBytes)
	}
	return decodeFields(r.Header.Get("Content-Type"), body, format, fields)
}

func tooLarge(maxBytes int64) error {
	return tollgate.Errorf(middleware.ERequestTooLarge, "Request body is too large: the limit is %d bytes.", maxBytes)
}

// decodeFields is decodeBody after the body has been read; it is what the
// fuzz target drives.
func decodeFields(contentType string, body []byte, format bodyFormat, fields []field) (map[string]string, error) {
	var get func(name string) (value string, present bool, msg string)
	switch mediaType, params, err := mime.ParseMediaType(contentType); {
	case contentType == "" && len(bytes.TrimSpace(body)) == 0:
		// No body at all: as DRF, every field is reported missing.
		get = func(string) (string, bool, string) { return "", false, "" }
	case contentType == "":
		return nil, tollgate.Errorf(middleware.EUnsupportedMediaType, "Missing Content-Type: send the body as application/json.")
	case err != nil:
		return nil, tollgate.Errorf(middleware.EUnsupportedMediaType, "Unsupported media type in request: the Content-Type header cannot be parsed.")
	case mediaType == "application/json":
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
			return nil, tollgate.Errorf(middleware.EUnsupportedMediaType, "Unsupported charset %q: JSON must be UTF-8.", truncate(cs, 40))
		}
		obj, err := parseJSONObject(body)
		if err != nil {
			return nil, err
		}
		get = func(name string) (string, bool, string) {
			raw, ok := obj[name]
			if !ok {
				return "", false, ""
			}
			var s string
			if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
				return "", true, msgNotString
			}
			return s, true, ""
		}
	case mediaType == "application/x-www-form-urlencoded" && format == jsonOrForm:
		if !utf8.Valid(body) {
			return nil, tollgate.Errorf(middleware.EParseError, "Form parse error - the body is not valid UTF-8.")
		}
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, tollgate.Errorf(middleware.EParseError, "Form parse error - the body is not valid URL encoding.")
		}
		get = func(name string) (string, bool, string) {
			vs, ok := vals[name]
			if !ok || len(vs) == 0 {
				return "", false, ""
			}
			// Django's QueryDict returns the last value of a repeated key.
			return vs[len(vs)-1], true, ""
		}
	default:
		return nil, tollgate.Errorf(middleware.EUnsupportedMediaType, "Unsupported media type %q in request.", truncate(mediaType, 100))
	}

	out := make(map[string]string, len(fields))
	var bad map[string][]string
	fail := func(name, msg string) {
		if bad == nil {
			bad = make(map[string][]string)
		}
		bad[name] = []string{msg}
	}
	for _, f := range fields {
		v, present, msg := get(f.name)
		switch {
		case !present:
			fail(f.name, msgRequired)
			continue
		case msg != "":
			fail(f.name, msg)
			continue
		}
		if f.trim {
			v = strings.TrimSpace(v)
		}
		if v == "" {
			fail(f.name, msgBlank)
			continue
		}
		out[f.name] = v
	}
	if bad != nil {
		return nil, &tollgate.Error{Code: tollgate.EInvalid, Message: "Invalid request.", Fields: bad}
	}
	return out, nil
}

// parseJSONObject decodes body as one JSON object, keeping values raw so
// that a field of the wrong type is reported per field rather than as a
// parse error of the whole body.
func parseJSONObject(body []byte) (map[string]json.RawMessage, error) {
	if len(body) == 0 {
		// DRF parses an empty body as no data: the fields are then
		// reported as required, not the body as malformed.
		return map[string]json.RawMessage{}, nil
	}
	if !utf8.Valid(body) {
		return nil, tollgate.Errorf(middleware.EParseError, "JSON parse error - the body is not valid UTF-8.")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, tollgate.Errorf(middleware.EParseError, "JSON parse error - %s.", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, tollgate.Errorf(middleware.EParseError, "JSON parse error - unexpected data after the top-level value.")
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, tollgate.Errorf(middleware.EParseError, "JSON parse error - expected an object, got %s.", jsonKind(v))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		// Unreachable after the decode above; kept as a 400 to be safe.
		return nil, tollgate.Errorf(middleware.EParseError, "JSON parse error - %s.", jsonErrorText(err))
	}
	return obj, nil
}

// jsonErrorText describes a JSON syntax error without echoing the body
// (which may hold a password) beyond the one offending character.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	default:
		return "malformed JSON"
	}
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	default:
		return "another type"
	}
}

// truncate cuts s to at most n bytes on a rune boundary; client-chosen
// strings echoed in messages stay short.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
