// Package django reads the users of a Django project, as written by
// `python manage.py dumpdata auth.user`, so they can be imported into
// Tollgate with their ids and password hashes intact: tokens keep naming the
// same user ids, and password.Hasher verifies the Django hashes (upgrading
// them to argon2id on each user's next login).
package django

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate"
)

// ErrMalformed is wrapped by every error about the input's content; the
// message names the (0-based) index of the offending entry.
var ErrMalformed = errors.New("django: malformed dumpdata")

// UserModel is the model label of Django's built-in user. Entries of other
// models (groups, permissions, anything else in a whole-app dump) are skipped.
const UserModel = "auth.user"

// entry is one object of dumpdata's JSON list.
type entry struct {
	Model  string          `json:"model"`
	PK     json.RawMessage `json:"pk"`
	Fields json.RawMessage `json:"fields"`
}

// userFields are the fields of auth.user that Tollgate keeps. Pointers tell
// a missing field from a zero one. first_name, last_name, is_superuser,
// groups and user_permissions have no counterpart in tollgate.User and are
// dropped.
type userFields struct {
	Password   *string `json:"password"`
	Username   *string `json:"username"`
	Email      string  `json:"email"`
	IsActive   *bool   `json:"is_active"`
	IsStaff    bool    `json:"is_staff"`
	DateJoined *string `json:"date_joined"`
	LastLogin  *string `json:"last_login"` // null when the user never logged in
}

// ReadUsers reads dumpdata JSON (a list of {"model", "pk", "fields"}) and
// returns the auth.user entries as users: pk becomes the user id, the
// password hash is kept verbatim (unusable "!..." ones included), is_active
// and is_staff are kept, date_joined becomes CreatedAt and last_login
// LastLogin (zero when null). Dates may carry "Z", an offset or no zone at
// all (USE_TZ=False), with or without fractional seconds; zoneless dates are
// read as UTC. Any malformed entry, a missing pk (a dump made with
// --natural-primary) or a pk seen twice fails the whole read.
func ReadUsers(r io.Reader) ([]*tollgate.User, error) {
	dec := json.NewDecoder(r)
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("%w: input is not a JSON list (dumpdata --format json)", ErrMalformed)
	}
	var users []*tollgate.User
	seen := map[int64]int{}
	for i := 0; dec.More(); i++ {
		var e entry
		if err := dec.Decode(&e); err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrMalformed, i, err)
		}
		if !strings.EqualFold(e.Model, UserModel) {
			if e.Model == "" {
				return nil, fmt.Errorf("%w: entry %d: no model", ErrMalformed, i)
			}
			continue
		}
		u, err := userFromEntry(e)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d: %v", ErrMalformed, i, err)
		}
		if first, dup := seen[u.ID]; dup {
			return nil, fmt.Errorf("%w: entry %d: pk %d already used by entry %d", ErrMalformed, i, u.ID, first)
		}
		seen[u.ID] = i
		users = append(users, u)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, fmt.Errorf("%w: unterminated list after %d entries", ErrMalformed, len(seen))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the end of the list", ErrMalformed)
	}
	return users, nil
}

func userFromEntry(e entry) (*tollgate.User, error) {
	if len(e.PK) == 0 || string(e.PK) == "null" {
		return nil, errors.New("no pk: dump without --natural-primary so user ids are kept")
	}
	id, err := strconv.ParseInt(string(e.PK), 10, 64)
	if err != nil || id <= 0 {
		return nil, fmt.Errorf("pk %.40s is not a positive integer", e.PK)
	}
	if len(e.Fields) == 0 || e.Fields[0] != '{' {
		return nil, fmt.Errorf("pk %d: fields is not an object", id)
	}
	var f userFields
	dec := json.NewDecoder(bytes.NewReader(e.Fields))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("pk %d: fields: %v", id, err)
	}
	switch {
	case f.Username == nil || *f.Username == "":
		return nil, fmt.Errorf("pk %d: no username", id)
	case f.Password == nil:
		return nil, fmt.Errorf("pk %d: no password field", id)
	case f.IsActive == nil:
		return nil, fmt.Errorf("pk %d: no is_active field", id)
	case f.DateJoined == nil:
		return nil, fmt.Errorf("pk %d: no date_joined", id)
	}
	u := &tollgate.User{
		ID:           id,
		Username:     *f.Username,
		Email:        f.Email,
		PasswordHash: *f.Password,
		IsActive:     *f.IsActive,
		IsStaff:      f.IsStaff,
	}
	if u.CreatedAt, err = parseTime(*f.DateJoined); err != nil {
		return nil, fmt.Errorf("pk %d: date_joined: %v", id, err)
	}
	if f.LastLogin != nil {
		if u.LastLogin, err = parseTime(*f.LastLogin); err != nil {
			return nil, fmt.Errorf("pk %d: last_login: %v", id, err)
		}
	}
	return u, nil
}

// parseTime reads DjangoJSONEncoder's datetimes: ISO 8601 with "Z" or an
// offset when USE_TZ=True, zoneless when USE_TZ=False (read as UTC: the dump
// does not say which TIME_ZONE it was in). Fractional seconds are optional.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%.40q is not an ISO 8601 date and time", s)
}
