package token

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// maxJSONDepth bounds the nesting of a token's header and payload. Tollgate's
// own tokens nest at most a few levels (aud arrays, custom claims); anything
// deeper is an attempt to make the decoder work hard.
const maxJSONDepth = 16

var (
	errDuplicateKey = errors.New("token: duplicate JSON object key")
	errTooDeep      = errors.New("token: JSON nested too deeply")
	errNotObject    = errors.New("token: JSON segment is not an object")
	errBadCharset   = errors.New("token: character outside base64url and '.'")
)

// checkCharset refuses any byte that is not base64url or the two dots.
// The standard library's base64 decoder skips CR and LF even in strict mode,
// so without this check a token with a newline in its signature segment
// would verify: two different strings, one token.
func checkCharset(raw string) error {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.' {
			continue
		}
		return errBadCharset
	}
	return nil
}

// checkSegments validates the JSON of the header and payload segments of a
// compact JWS before the JOSE library decodes them: each must be one JSON
// object with no duplicate key at any level and no deeper nesting than
// maxJSONDepth. golang-jwt (like encoding/json) lets the last of two
// duplicate keys win while other libraries take the first, so a token with
// duplicates means different things to different verifiers; we refuse it.
// This only validates, walking encoding/json's token stream; the values are
// decoded by golang-jwt.
func checkSegments(raw string) error {
	header, rest, _ := strings.Cut(raw, ".")
	payload, _, _ := strings.Cut(rest, ".")
	for _, seg := range [...]string{header, payload} {
		b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
		if err != nil {
			return err
		}
		if err := checkJSONObject(b); err != nil {
			return err
		}
	}
	return nil
}

// checkJSONObject reports whether b is exactly one JSON object without
// duplicate keys (at any depth) and nested at most maxJSONDepth levels.
func checkJSONObject(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errNotObject
	}
	if err := walkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errNotObject // trailing data after the object
	}
	return nil
}

// walkObject consumes an object whose '{' was read, checking its keys.
func walkObject(dec *json.Decoder, depth int) error {
	if depth > maxJSONDepth {
		return errTooDeep
	}
	seen := make(map[string]struct{}, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errNotObject
		}
		if _, dup := seen[key]; dup {
			return errDuplicateKey
		}
		seen[key] = struct{}{}
		if err := walkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// walkValue consumes one value, descending into objects and arrays.
func walkValue(dec *json.Decoder, depth int) error {
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
		return walkObject(dec, depth+1)
	case '[':
		if depth+1 > maxJSONDepth {
			return errTooDeep
		}
		for dec.More() {
			if err := walkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return errNotObject
}
