package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

// base64URL marks the bytes of the base64url alphabet.
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// checkCharset refuses any byte that is not base64url or a dot, and reports
// the number of dots. It validates bytes; it parses nothing. The standard
// library's base64 decoder skips CR and LF even in strict mode, so without
// this check a token with a newline in its signature segment would verify:
// two different strings, one token.
func checkCharset(raw string) (dots int, err error) {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if base64URL[c] {
			continue
		}
		if c != '.' {
			return dots, errBadCharset
		}
		dots++
	}
	return dots, nil
}

// checkJSON walks a decoded header or payload with encoding/json's token
// stream: it must be exactly one JSON object, with no duplicate name in any
// object at any level and no nesting deeper than maxJSONDepth. When names is
// not nil, the names of the top-level object are appended to it, in order.
//
// encoding/json lets the last of two duplicate names win while other
// libraries take the first, so a token with duplicates means different
// things to different verifiers; Tollgate refuses it. golang-jwt has already
// decoded the same bytes with encoding/json, so they are valid JSON: this
// walk only adds what that decoding does not check.
func checkJSON(b []byte, names []string) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers as text: no float parse, and 1e999 is no error here
	tok, err := dec.Token()
	if err != nil {
		return names, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return names, errNotObject
	}
	if names, err = walkObject(dec, 1, names, names != nil); err != nil {
		return names, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return names, errNotObject // trailing data after the object
	}
	return names, nil
}

// smallObject is how many names of an object are compared one by one before
// the duplicate check moves to a map.
const smallObject = 16

// walkObject consumes an object whose '{' was read, checking its names;
// with collect, it appends them to names.
func walkObject(dec *json.Decoder, depth int, names []string, collect bool) ([]string, error) {
	if depth > maxJSONDepth {
		return names, errTooDeep
	}
	var (
		few  [smallObject]string
		n    int
		many map[string]struct{}
	)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return names, err
		}
		name, ok := tok.(string)
		if !ok {
			return names, errNotObject
		}
		if many == nil {
			for _, seen := range few[:n] {
				if seen == name {
					return names, errDuplicateKey
				}
			}
			if n < smallObject {
				few[n] = name
				n++
			} else {
				many = make(map[string]struct{}, 2*smallObject)
				for _, seen := range few {
					many[seen] = struct{}{}
				}
			}
		}
		if many != nil {
			if _, dup := many[name]; dup {
				return names, errDuplicateKey
			}
			many[name] = struct{}{}
		}
		if collect {
			names = append(names, name)
		}
		if err := walkValue(dec, depth); err != nil {
			return names, err
		}
	}
	_, err := dec.Token() // '}'
	return names, err
}

// walkValue consumes one value inside a container depth levels deep,
// descending into objects and arrays.
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
		_, err := walkObject(dec, depth+1, nil, false)
		return err
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
