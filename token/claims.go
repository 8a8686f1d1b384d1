package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tollgate/tollgate"
)

var (
	errClaimType   = errors.New("token: a claim has the wrong JSON type")
	errClaimFormat = errors.New("token: a claim is out of range or too long")
	errClaimCase   = errors.New("token: a claim name differs from a registered one only in case")
)

// maxClaimLength bounds jti, the user id and sid, as the stores do.
const maxClaimLength = 255

// parsedClaims is what golang-jwt decodes a payload into (encoding/json into
// typed fields: far cheaper than a MapClaims), and what its Validator checks
// (exp required and exclusive, with leeway; nbf; iss and aud when
// configured). out is the tollgate.Claims Parse returns, kept in the same
// allocation; it is unexported, so encoding/json never sees it.
type parsedClaims struct {
	TokenType string           `json:"token_type"`
	JTI       string           `json:"jti"`
	SessionID string           `json:"sid"`
	Issuer    string           `json:"iss"`
	Audience  jwt.ClaimStrings `json:"aud"`
	Expires   numericDate      `json:"exp"`
	NotBefore numericDate      `json:"nbf"`
	IssuedAt  numericDate      `json:"iat"`
	// UserID is the default user-id claim, kept as JSON text: a string or
	// an integer is a user id; with another USER_ID_CLAIM it is only a
	// custom claim, whatever its type.
	UserID json.RawMessage `json:"user_id"`

	out tollgate.Claims
}

// structClaims are the JSON names of parsedClaims's fields. encoding/json
// matches names without regard to case (and folds 'ſ' to 's', 'K' to 'k'),
// so a payload holding "exp" and "EXP" sets one field twice; such names are
// refused once the payload is walked.
var structClaims = [...]string{ClaimTokenType, ClaimJTI, ClaimSessionID, ClaimIss, ClaimAud, ClaimExp, "nbf", ClaimIat, DefaultUserIDClaim}

var _ jwt.Claims = (*parsedClaims)(nil)

// GetExpirationTime implements jwt.Claims.
func (p *parsedClaims) GetExpirationTime() (*jwt.NumericDate, error) { return p.Expires.get(), nil }

// GetNotBefore implements jwt.Claims.
func (p *parsedClaims) GetNotBefore() (*jwt.NumericDate, error) { return p.NotBefore.get(), nil }

// GetIssuedAt implements jwt.Claims.
func (p *parsedClaims) GetIssuedAt() (*jwt.NumericDate, error) { return p.IssuedAt.get(), nil }

// GetIssuer implements jwt.Claims.
func (p *parsedClaims) GetIssuer() (string, error) { return p.Issuer, nil }

// GetSubject implements jwt.Claims; Tollgate neither sets nor checks sub.
func (p *parsedClaims) GetSubject() (string, error) { return "", nil }

// GetAudience implements jwt.Claims.
func (p *parsedClaims) GetAudience() (jwt.ClaimStrings, error) { return p.Audience, nil }

// finish completes the claims of a verified, validated token. names are the
// payload's top-level names, from checkJSON. Only a payload with names the
// struct does not hold (custom claims, or a non-default user-id claim) is
// decoded a second time, into a map.
func (p *parsedClaims) finish(payload []byte, names []string, userIDClaim string) error {
	needMap := userIDClaim != DefaultUserIDClaim
	for _, name := range names {
		if reserved[name] || name == userIDClaim {
			continue
		}
		for _, known := range structClaims {
			if name != known && strings.EqualFold(name, known) {
				return errClaimCase
			}
		}
		needMap = true
	}
	out := &p.out
	switch tollgate.TokenType(p.TokenType) {
	case tollgate.AccessToken:
		out.Type = tollgate.AccessToken
	case tollgate.RefreshToken:
		out.Type = tollgate.RefreshToken
	default:
		return errClaimFormat
	}
	if p.JTI == "" || len(p.JTI) > maxClaimLength || len(p.SessionID) > maxClaimLength {
		return errClaimFormat
	}
	out.JTI = p.JTI
	out.SessionID = p.SessionID
	out.Issuer = p.Issuer
	out.Audience = p.Audience
	out.ExpiresAt = p.Expires.Time // set: the Validator requires exp
	if p.IssuedAt.set {
		out.IssuedAt = p.IssuedAt.Time
	}
	var m map[string]any
	if needMap {
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.UseNumber() // Extra keeps numbers as json.Number, as MapClaims with WithJSONNumber would
		if err := dec.Decode(&m); err != nil {
			return err
		}
		for name, v := range m {
			if reserved[name] || name == userIDClaim {
				continue
			}
			if out.Extra == nil {
				out.Extra = make(map[string]any)
			}
			out.Extra[name] = v
		}
	}
	var err error
	if userIDClaim == DefaultUserIDClaim {
		out.UserID, err = userIDFromJSON(p.UserID)
	} else {
		out.UserID, err = userIDFromValue(m[userIDClaim])
	}
	if err != nil {
		return err
	}
	if out.UserID == "" || len(out.UserID) > maxClaimLength {
		return errClaimFormat
	}
	return nil
}

// userIDFromJSON reads the default user-id claim: a string, or an integer
// as SimpleJWT before 5.3 wrote integer ids.
func userIDFromJSON(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", errClaimType // absent
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case c == '-' || ('0' <= c && c <= '9'):
		return integerID(string(raw))
	}
	return "", errClaimType
}

// userIDFromValue reads a user-id claim decoded with json.Number.
func userIDFromValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case json.Number:
		return integerID(v.String())
	}
	return "", errClaimType
}

// integerID accepts a JSON number that is an int64, as its decimal text.
func integerID(s string) (string, error) {
	if _, err := strconv.ParseInt(s, 10, 64); err != nil {
		return "", errClaimFormat
	}
	return s, nil
}

// numericDate is a NumericDate claim decoded by jwt.NumericDate, with
// three refusals it lacks: a JSON value that is not a number (it reads
// "1900000000", a string, as a date, and json null would leave the claim
// silently unset), and a date outside the years 0 to 9999 (1e300 seconds
// does not fit in a time.Time and comes out as some other date). Infinite
// values (1e999) jwt.NumericDate refuses itself.
type numericDate struct {
	jwt.NumericDate
	set bool
}

// maxNumericDate is 9999-12-31T23:59:59Z in Unix seconds.
const maxNumericDate = 253402300799

// minNumericDate is 0000-01-01T00:00:00Z in Unix seconds.
const minNumericDate = -62167219200

// UnmarshalJSON implements json.Unmarshaler.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	// The first byte of a JSON value says its type; only numbers start
	// with '-' or a digit.
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || '9' < b[0])) {
		return errClaimType
	}
	if err := d.NumericDate.UnmarshalJSON(b); err != nil {
		return err
	}
	if s := d.Unix(); s < minNumericDate || s > maxNumericDate {
		return errClaimFormat
	}
	d.set = true
	return nil
}

// get returns the date for golang-jwt's Validator, nil when absent.
func (d *numericDate) get() *jwt.NumericDate {
	if !d.set {
		return nil
	}
	return &d.NumericDate
}
