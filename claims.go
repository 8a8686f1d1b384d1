package tollgate

import "time"

// TokenType is the token_type claim.
type TokenType string

// Token types, as SimpleJWT names them.
const (
	AccessToken  TokenType = "access"
	RefreshToken TokenType = "refresh"
)

// Claims are the claims of an access or refresh token, decoded and verified.
type Claims struct {
	Type      TokenType
	JTI       string // random 128 bits, hex
	UserID    string // the user id claim ("user_id" by default), as a string
	SessionID string // "sid": the session (refresh-token family); empty in tokens minted elsewhere
	IssuedAt  time.Time
	ExpiresAt time.Time
	Issuer    string
	Audience  []string
	// Extra holds custom claims: those a ClaimsHook adds when minting, and
	// any claims not listed above when parsing. Anyone holding a token can
	// read them: never put secrets here.
	Extra map[string]any
}

// TokenCodec signs claims into compact JWS tokens and parses tokens back,
// enforcing signature, algorithm allow-list, expiry (with leeway), issuer,
// audience and token type. The token package implements it.
type TokenCodec interface {
	// Sign returns the compact JWS of c.
	Sign(c *Claims) (string, error)
	// Parse verifies raw and returns its claims. want is the token type the
	// caller accepts; "" accepts either. Every failure is an *Error with code
	// ETokenNotValid (ErrTokenExpired, ErrWrongTokenType or ErrTokenInvalid).
	Parse(raw string, want TokenType) (*Claims, error)
}

// Pair is what a login or refresh returns. Refresh is empty when a refresh
// did not rotate (ROTATE_REFRESH_TOKENS off).
type Pair struct {
	Access           string
	Refresh          string
	AccessExpiresAt  time.Time
	RefreshExpiresAt time.Time
	SessionID        string
}
