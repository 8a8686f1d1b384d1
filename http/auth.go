package http

import (
	"net/http"
	"strconv"
	"time"

	"github.com/tollgate/tollgate"
	"github.com/tollgate/tollgate/middleware"
)

// tokenPair is the body of token/ and token/refresh/; refresh is left out
// when the refresh did not rotate, as SimpleJWT does.
type tokenPair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh,omitempty"`
}

// empty is SimpleJWT's body for verify and logout: {}.
type empty struct{}

// Rate-limit scopes, recorded as the Reason of rate_limited events.
const (
	scopeLogin          = "login_ip"
	scopeRefresh        = "refresh_ip"
	scopePasswordChange = "password_change_ip"
)

// handleObtain is POST token/: credentials in, token pair out.
func (s *server) handleObtain(w http.ResponseWriter, r *http.Request) {
	info := s.requestInfo(r)
	if !s.allow(w, r, s.cfg.LoginLimiter, scopeLogin, info.IP, info) {
		return
	}
	in, err := decodeBody(r, s.maxBody, jsonOrForm, field{name: s.loginKey, trim: true}, field{name: "password"})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pair, _, err := s.svc.Login(r.Context(), in[s.loginKey], in["password"], info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenPair{Access: pair.Access, Refresh: pair.Refresh})
}

// handleRefresh is POST token/refresh/: rotation with reuse detection.
func (s *server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	info := s.requestInfo(r)
	if !s.allow(w, r, s.cfg.RefreshLimiter, scopeRefresh, info.IP, info) {
		return
	}
	in, err := decodeBody(r, s.maxBody, jsonOrForm, field{name: "refresh", trim: true})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	pair, err := s.svc.Refresh(r.Context(), in["refresh"], info)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenPair{Access: pair.Access, Refresh: pair.Refresh})
}

// handleVerify is POST token/verify/: 200 {} for a good token of either
// type, 401 token_not_valid for anything else (a blacklisted refresh token
// included; never a 400).
func (s *server) handleVerify(w http.ResponseWriter, r *http.Request) {
	info := s.requestInfo(r)
	if !s.allow(w, r, s.cfg.RefreshLimiter, scopeRefresh, info.IP, info) {
		return
	}
	in, err := decodeBody(r, s.maxBody, jsonOrForm, field{name: "token", trim: true})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.svc.Verify(r.Context(), in["token"])
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	// With access revocation on, an access token of a revoked session is
	// refused here as on every protected resource: clients that use verify
	// to introspect must get the same answer.
	if s.revocations != nil && c.Type == tollgate.AccessToken && c.SessionID != "" {
		revoked, err := s.revocations.SessionRevoked(r.Context(), c.SessionID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if revoked {
			s.writeError(w, r, tollgate.ErrTokenBlacklisted)
			return
		}
	}
	writeJSON(w, http.StatusOK, empty{})
}

// handleLogout is POST logout/: blacklists the refresh token and revokes
// its session.
func (s *server) handleLogout(w http.ResponseWriter, r *http.Request) {
	info := s.requestInfo(r)
	if !s.allow(w, r, s.cfg.RefreshLimiter, scopeRefresh, info.IP, info) {
		return
	}
	in, err := decodeBody(r, s.maxBody, jsonOnly, field{name: "refresh", trim: true})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Logout(r.Context(), in["refresh"], info); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty{})
}

// currentUser returns the user the middleware authenticated. The routes
// that call it are all behind s.auth, so a missing user is a wiring bug.
func (s *server) currentUser(w http.ResponseWriter, r *http.Request) (*tollgate.User, bool) {
	u, ok := middleware.UserFrom(r.Context())
	if !ok {
		s.writeError(w, r, tollgate.Errorf(tollgate.ENotAuthenticated, "Authentication credentials were not provided."))
		return nil, false
	}
	return u, true
}

// currentSessionID is the session of the access token in use ("" for a
// token minted elsewhere, e.g. by a Django service sharing the key).
func currentSessionID(r *http.Request) string {
	if c, ok := middleware.ClaimsFrom(r.Context()); ok && c != nil {
		return c.SessionID
	}
	return ""
}

// handleLogoutAll is POST logout/all/: revokes every session of the user.
func (s *server) handleLogoutAll(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	if _, err := s.svc.LogoutAll(r.Context(), u.ID, s.requestInfo(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, empty{})
}

// userBody is dj-rest-auth's user details shape.
type userBody struct {
	ID         int64      `json:"id"`
	PK         int64      `json:"pk"`
	Username   string     `json:"username"`
	Email      string     `json:"email"`
	IsStaff    bool       `json:"is_staff"`
	LastLogin  *time.Time `json:"last_login"`
	DateJoined time.Time  `json:"date_joined"`
}

// handleUser is GET user/.
func (s *server) handleUser(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	body := userBody{ID: u.ID, PK: u.ID, Username: u.Username, Email: u.Email, IsStaff: u.IsStaff, DateJoined: u.CreatedAt.UTC()}
	if !u.LastLogin.IsZero() {
		t := u.LastLogin.UTC()
		body.LastLogin = &t
	}
	writeJSON(w, http.StatusOK, body)
}

// sessionBody is one entry of GET sessions/.
type sessionBody struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	LastUsed  time.Time `json:"last_used"`
	Expires   time.Time `json:"expires"`
	UserAgent string    `json:"user_agent"`
	IP        string    `json:"ip"`
	Current   bool      `json:"current"`
}

// handleSessions is GET sessions/: the user's live sessions, newest first,
// with the one making the request marked current.
func (s *server) handleSessions(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	list, err := s.svc.Sessions(r.Context(), u.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	current := currentSessionID(r)
	out := make([]sessionBody, 0, len(list))
	for _, ss := range list {
		out = append(out, sessionBody{
			ID: ss.ID, Created: ss.CreatedAt.UTC(), LastUsed: ss.LastUsedAt.UTC(), Expires: ss.ExpiresAt.UTC(),
			UserAgent: ss.UserAgent, IP: ss.IP, Current: current != "" && ss.ID == current,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// maxSessionIDLen bounds the path parameter before it reaches the store;
// real ids are 32 hex characters.
const maxSessionIDLen = 64

// handleRevokeSession is DELETE sessions/{id}/: 204, or 404 for a session
// that is not the user's own (another user's looks the same as none).
func (s *server) handleRevokeSession(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if id == "" || len(id) > maxSessionIDLen {
		s.writeError(w, r, tollgate.ErrSessionNotFound)
		return
	}
	if err := s.svc.RevokeSession(r.Context(), u.ID, id, s.requestInfo(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// handlePasswordChange is POST password/change/: checks the old password,
// sets the new one, and revokes every session but the current one. It is
// throttled like a login: a stolen access token must not become an oracle
// for guessing the password.
func (s *server) handlePasswordChange(w http.ResponseWriter, r *http.Request) {
	u, ok := s.currentUser(w, r)
	if !ok {
		return
	}
	info := s.requestInfo(r)
	if !s.allow(w, r, s.cfg.LoginLimiter, scopePasswordChange, "password_change:"+strconv.FormatInt(u.ID, 10), info) {
		return
	}
	in, err := decodeBody(r, s.maxBody, jsonOnly, field{name: "old_password"}, field{name: "new_password"})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.ChangePassword(r.Context(), u.ID, currentSessionID(r), in["old_password"], in["new_password"], info); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"detail": "New password has been saved."})
}
