package token

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

var (
	errClaimType   = errors.New("token: a claim has the wrong JSON type")
	errClaimFormat = errors.New("token: a claim is out of range or too long")
)

// maxClaimLength bounds jti, the user id and sid, as the stores do.
const maxClaimLength = 255

// parsedClaims is a verified payload, decoded once into typed fields. It
// implements jwt.Claims so golang-jwt's Validator checks exp (required,
// exclusive, with leeway), nbf, iss and aud with its own rules. It embeds
// the tollgate.Claims that Parse returns, so one allocation holds both.
type parsedClaims struct {
	tollgate.Claims

	exp, nbf, iat          jwt.NumericDate
	hasExp, hasNbf, hasIat bool
	hasType, hasUserID     bool
	// issErr and audErr are the type errors golang-jwt's MapClaims would
	// report for iss and aud; they matter only when the Validator checks
	// them (an issuer or audience is configured), as before.
	issErr, audErr error
}

var _ jwt.Claims = (*parsedClaims)(nil)

// GetExpirationTime implements jwt.Claims.
func (p *parsedClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	if !p.hasExp {
		return nil, nil
	}
	return &p.exp, nil
}

// GetNotBefore implements jwt.Claims.
func (p *parsedClaims) GetNotBefore() (*jwt.NumericDate, error) {
	if !p.hasNbf {
		return nil, nil
	}
	return &p.nbf, nil
}

// GetIssuedAt implements jwt.Claims.
func (p *parsedClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	if !p.hasIat {
		return nil, nil
	}
	return &p.iat, nil
}

// GetIssuer implements jwt.Claims.
func (p *parsedClaims) GetIssuer() (string, error) { return p.Issuer, p.issErr }

// GetSubject implements jwt.Claims; Tollgate neither sets nor checks sub.
func (p *parsedClaims) GetSubject() (string, error) { return "", nil }

// GetAudience implements jwt.Claims.
func (p *parsedClaims) GetAudience() (jwt.ClaimStrings, error) { return p.Audience, p.audErr }

// decode fills p from the top-level members of a verified payload. It
// refuses claims of the wrong JSON type; which claims are required is
// checked after the Validator (check), so an expired token reports expiry
// first, as it always has.
func (p *parsedClaims) decode(members []member, userIDClaim string) error {
	for _, m := range members {
		if m.name == userIDClaim {
			if err := p.decodeUserID(m.value); err != nil {
				return err
			}
			continue
		}
		switch m.name {
		case ClaimTokenType:
			s, err := stringValue(m.value)
			if err != nil {
				return err
			}
			switch tollgate.TokenType(s) {
			case tollgate.AccessToken:
				p.Type = tollgate.AccessToken
			case tollgate.RefreshToken:
				p.Type = tollgate.RefreshToken
			default:
				return errClaimFormat
			}
			p.hasType = true
		case ClaimJTI:
			s, err := stringValue(m.value)
			if err != nil {
				return err
			}
			p.JTI = s
		case ClaimSessionID:
			s, err := stringValue(m.value)
			if err != nil {
				return err
			}
			if len(s) > maxClaimLength {
				return errClaimFormat
			}
			p.SessionID = s
		case ClaimExp:
			if err := numericDate(m.value, &p.exp); err != nil {
				return err
			}
			p.hasExp = true
		case "nbf":
			if err := numericDate(m.value, &p.nbf); err != nil {
				return err
			}
			p.hasNbf = true
		case ClaimIat:
			if err := numericDate(m.value, &p.iat); err != nil {
				return err
			}
			p.hasIat = true
		case ClaimIss:
			p.Issuer, p.issErr = stringValue(m.value)
		case ClaimAud:
			p.Audience, p.audErr = audience(m.value)
		case "sub":
			// Reserved: never a custom claim, and not used.
		default:
			v, err := customValue(m.value)
			if err != nil {
				return err
			}
			if p.Extra == nil {
				p.Extra = make(map[string]any)
			}
			p.Extra[m.name] = v
		}
	}
	return nil
}

// decodeUserID accepts a string, or an integer as SimpleJWT before 5.3
// wrote integer ids.
func (p *parsedClaims) decodeUserID(raw string) error {
	switch {
	case raw[0] == '"':
		s, err := unquote(raw)
		if err != nil {
			return err
		}
		p.UserID = s
	case raw[0] == '-' || ('0' <= raw[0] && raw[0] <= '9'):
		if _, err := strconv.ParseInt(raw, 10, 64); err != nil {
			return errClaimFormat
		}
		p.UserID = raw
	default:
		return errClaimType
	}
	p.hasUserID = true
	return nil
}

// check refuses payloads without the claims every Tollgate token carries.
func (p *parsedClaims) check() error {
	if !p.hasType || !p.hasUserID {
		return errClaimType
	}
	if p.JTI == "" || len(p.JTI) > maxClaimLength || p.UserID == "" || len(p.UserID) > maxClaimLength {
		return errClaimFormat
	}
	p.ExpiresAt = p.exp.Time
	if p.hasIat {
		p.IssuedAt = p.iat.Time
	}
	return nil
}

// stringValue returns a JSON string value, refusing any other type.
func stringValue(raw string) (string, error) {
	if raw[0] != '"' {
		return "", errClaimType
	}
	return unquote(raw)
}

// numericDate reads a NumericDate as golang-jwt reads a json.Number:
// seconds, possibly fractional, truncated to jwt.TimePrecision. A number
// out of float64's range (1e999) is refused rather than read as infinity,
// which golang-jwt would turn into a date far in the past.
func numericDate(raw string, d *jwt.NumericDate) error {
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return errClaimType
	}
	// Integer seconds, as every issuer writes them, skip the float parse;
	// up to 15 digits they are exact in a float64 too, so both agree.
	if len(raw) <= 15 && isDigits(raw) {
		d.Time = time.Unix(smallInt(raw), 0)
		return nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errClaimFormat
	}
	sec, frac := math.Modf(f)
	d.Time = time.Unix(int64(sec), int64(frac*1e9)).Truncate(jwt.TimePrecision)
	return nil
}

// isDigits reports whether s is an optional '-' and one or more digits.
func isDigits(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// smallInt is the value of s, which isDigits accepted and which has at most
// 15 characters, so it cannot overflow.
func smallInt(s string) int64 {
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}

// audience reads aud as golang-jwt's MapClaims does: a string, or an array
// whose elements must all be strings; any other type is no audience.
func audience(raw string) (jwt.ClaimStrings, error) {
	switch raw[0] {
	case '"':
		s, err := unquote(raw)
		if err != nil {
			return nil, err
		}
		return jwt.ClaimStrings{s}, nil
	case '[':
		var elems []any
		if err := json.Unmarshal([]byte(raw), &elems); err != nil {
			return nil, err
		}
		aud := make(jwt.ClaimStrings, 0, len(elems))
		for _, e := range elems {
			s, ok := e.(string)
			if !ok {
				return nil, errClaimType
			}
			aud = append(aud, s)
		}
		return aud, nil
	}
	return nil, nil
}

// customValue decodes a custom claim as a MapClaims decoded with
// json.Number would hold it, so Claims.Extra keeps its types: string,
// json.Number, bool, nil, []any or map[string]any.
func customValue(raw string) (any, error) {
	switch c := raw[0]; {
	case c == '"':
		return unquote(raw)
	case c == '-' || ('0' <= c && c <= '9'):
		return json.Number(raw), nil
	case raw == "true":
		return true, nil
	case raw == "false":
		return false, nil
	case raw == "null":
		return nil, nil
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
