package token

import (
	"encoding/json"
	"errors"
	"strings"
)

// maxJSONDepth bounds the nesting of a token's header and payload. Tollgate's
// own tokens nest at most a few levels (aud arrays, custom claims); anything
// deeper is an attempt to make the decoder work hard.
const maxJSONDepth = 16

// smallObject is how many names an object may have before the duplicate
// check switches from comparing with each earlier name to a map.
const smallObject = 16

var (
	errDuplicateKey = errors.New("token: duplicate JSON object key")
	errTooDeep      = errors.New("token: JSON nested too deeply")
	errNotObject    = errors.New("token: JSON segment is not an object")
	errBadCharset   = errors.New("token: character outside base64url and '.'")
	errJSONSyntax   = errors.New("token: JSON syntax error")
)

// base64URL marks the bytes of the base64url alphabet.
var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

// checkCharset refuses any byte that is not base64url or a dot, and reports
// the number of dots. The standard library's base64 decoder skips CR and LF
// even in strict mode, so without this check a token with a newline in its
// signature segment would verify: two different strings, one token.
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

// member is one name/value pair of a JSON object: the name unescaped, the
// value as its raw JSON text.
type member struct {
	name  string
	value string
}

// scanObject reads a decoded header or payload segment in one pass: it must
// be exactly one JSON object (RFC 8259 grammar, as encoding/json accepts it),
// with no duplicate name in any object at any level and no nesting deeper
// than maxJSONDepth. It appends the top-level members to dst, in order.
//
// Why not encoding/json: it lets the last of two duplicate names win, while
// other libraries take the first, so a token with duplicates means different
// things to different verifiers; and walking its token stream to find them
// cost more than everything else in a parse together. Values are decoded by
// the caller: strings with escapes, and custom claims, through encoding/json.
func scanObject(s string, dst []member) ([]member, error) {
	sc := jsonScanner{s: s}
	sc.skipSpace()
	if sc.i >= len(s) || s[sc.i] != '{' {
		return dst, errNotObject
	}
	dst, err := sc.object(1, dst, true)
	if err != nil {
		return dst, err
	}
	sc.skipSpace()
	if sc.i != len(s) {
		return dst, errNotObject // trailing data after the object
	}
	return dst, nil
}

// jsonScanner walks JSON text in s from offset i.
type jsonScanner struct {
	s string
	i int
}

func (sc *jsonScanner) skipSpace() {
	for sc.i < len(sc.s) {
		switch sc.s[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// object reads the object whose '{' is at sc.i, nested depth levels deep
// (the outermost object is depth 1). With collect, its members are appended
// to dst; the duplicate check then uses dst itself.
func (sc *jsonScanner) object(depth int, dst []member, collect bool) ([]member, error) {
	if depth > maxJSONDepth {
		return dst, errTooDeep
	}
	sc.i++ // '{'
	start := len(dst)
	var (
		few  [smallObject]string // names of a small object that is not collected
		n    int
		many map[string]struct{}
	)
	sc.skipSpace()
	if sc.i < len(sc.s) && sc.s[sc.i] == '}' {
		sc.i++
		return dst, nil
	}
	for {
		sc.skipSpace()
		if sc.i >= len(sc.s) || sc.s[sc.i] != '"' {
			return dst, errJSONSyntax
		}
		raw, err := sc.str()
		if err != nil {
			return dst, err
		}
		name, err := unquote(raw)
		if err != nil {
			return dst, err
		}
		// Duplicate check, on unescaped names: "user\u005fid" is user_id.
		switch {
		case many != nil:
			if _, dup := many[name]; dup {
				return dst, errDuplicateKey
			}
			many[name] = struct{}{}
		case collect:
			for _, m := range dst[start:] {
				if m.name == name {
					return dst, errDuplicateKey
				}
			}
		default:
			for _, seen := range few[:n] {
				if seen == name {
					return dst, errDuplicateKey
				}
			}
		}
		if many == nil {
			if n < smallObject {
				few[n] = name
			} else {
				many = make(map[string]struct{}, 2*smallObject)
				for _, seen := range few {
					many[seen] = struct{}{}
				}
				if collect {
					for _, m := range dst[start:] {
						many[m.name] = struct{}{}
					}
				}
				many[name] = struct{}{}
			}
			n++
		}
		sc.skipSpace()
		if sc.i >= len(sc.s) || sc.s[sc.i] != ':' {
			return dst, errJSONSyntax
		}
		sc.i++
		sc.skipSpace()
		vstart := sc.i
		if err := sc.value(depth); err != nil {
			return dst, err
		}
		if collect {
			dst = append(dst, member{name: name, value: sc.s[vstart:sc.i]})
		}
		sc.skipSpace()
		if sc.i >= len(sc.s) {
			return dst, errJSONSyntax
		}
		switch sc.s[sc.i] {
		case ',':
			sc.i++
		case '}':
			sc.i++
			return dst, nil
		default:
			return dst, errJSONSyntax
		}
	}
}

// array reads the array whose '[' is at sc.i, nested depth levels deep.
func (sc *jsonScanner) array(depth int) error {
	if depth > maxJSONDepth {
		return errTooDeep
	}
	sc.i++ // '['
	sc.skipSpace()
	if sc.i < len(sc.s) && sc.s[sc.i] == ']' {
		sc.i++
		return nil
	}
	for {
		sc.skipSpace()
		if err := sc.value(depth); err != nil {
			return err
		}
		sc.skipSpace()
		if sc.i >= len(sc.s) {
			return errJSONSyntax
		}
		switch sc.s[sc.i] {
		case ',':
			sc.i++
		case ']':
			sc.i++
			return nil
		default:
			return errJSONSyntax
		}
	}
}

// value reads one value at sc.i inside a container depth levels deep.
func (sc *jsonScanner) value(depth int) error {
	if sc.i >= len(sc.s) {
		return errJSONSyntax
	}
	switch c := sc.s[sc.i]; {
	case c == '{':
		_, err := sc.object(depth+1, nil, false)
		return err
	case c == '[':
		return sc.array(depth + 1)
	case c == '"':
		_, err := sc.str()
		return err
	case c == '-' || ('0' <= c && c <= '9'):
		return sc.number()
	case c == 't':
		return sc.literal("true")
	case c == 'f':
		return sc.literal("false")
	case c == 'n':
		return sc.literal("null")
	}
	return errJSONSyntax
}

// plainByte marks the bytes a string may hold as they are: not '"', not
// '\\', not a control character, and ASCII (other bytes go to unquote,
// which checks their UTF-8).
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the string whose '"' is at sc.i and returns it with its quotes.
// Control characters must be escaped and escapes must be JSON's; bytes that
// are not UTF-8 are left for unquote, as encoding/json does.
func (sc *jsonScanner) str() (string, error) {
	start := sc.i
	sc.i++
	for sc.i < len(sc.s) {
		c := sc.s[sc.i]
		switch {
		case plainByte[c]:
			sc.i++
		case c == '"':
			sc.i++
			return sc.s[start:sc.i], nil
		case c < 0x20:
			return "", errJSONSyntax
		case c == '\\':
			if sc.i+1 >= len(sc.s) {
				return "", errJSONSyntax
			}
			switch sc.s[sc.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				sc.i += 2
			case 'u':
				if sc.i+6 > len(sc.s) {
					return "", errJSONSyntax
				}
				for _, h := range []byte(sc.s[sc.i+2 : sc.i+6]) {
					if !isHex(h) {
						return "", errJSONSyntax
					}
				}
				sc.i += 6
			default:
				return "", errJSONSyntax
			}
		default: // 0x80 and above
			sc.i++
		}
	}
	return "", errJSONSyntax
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// number reads a number at sc.i: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (sc *jsonScanner) number() error {
	s := sc.s
	i := sc.i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return errJSONSyntax
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return errJSONSyntax
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			return errJSONSyntax
		}
	}
	sc.i = i
	return nil
}

func (sc *jsonScanner) literal(lit string) error {
	if !strings.HasPrefix(sc.s[sc.i:], lit) {
		return errJSONSyntax
	}
	sc.i += len(lit)
	return nil
}

// unquote returns the value of a JSON string given with its quotes, as
// encoding/json decodes it. Strings of plain ASCII without escapes (every
// name and almost every value) are a substring of their text; the rest go
// through encoding/json, which also replaces bad UTF-8 with U+FFFD.
func unquote(raw string) (string, error) {
	inner := raw[1 : len(raw)-1]
	for i := 0; i < len(inner); i++ {
		if !plainByte[inner[i]] {
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err != nil {
				return "", err
			}
			return s, nil
		}
	}
	return inner, nil
}
