package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// User is a merchant's control-panel account. Logins are unique per store, so two stores may each
// have an "admin".
type User struct {
	ID          int64
	AID         string
	Login       string
	PwHash      string
	Role        string // RoleAdmin | RoleViewer
	Failed      int
	LockedUntil time.Time
	CreatedAt   time.Time
}

// User roles: admins act and change settings, viewers only look.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// Operator is an account of the operator console (the people who run Kessai).
type Operator struct {
	ID          int64
	Login       string
	PwHash      string
	Failed      int
	LockedUntil time.Time
	CreatedAt   time.Time
}

// Session kinds: a merchant user's or an operator's.
const (
	SessionMerchant = "merchant"
	SessionOperator = "operator"
)

// Session is a signed-in browser. ID is the SHA-256 of the cookie's token, so the table alone
// cannot be replayed; ExpiresAt is the idle deadline, CreatedAt bounds the absolute lifetime.
type Session struct {
	ID        string
	Kind      string
	Principal int64
	AID       string
	CSRF      string
	Lang      string
	CreatedAt time.Time
	ExpiresAt time.Time
	// Stage is "" for a signed-in session; StageCode or StageEnrol while the password is checked
	// but the second factor (or its enrolment) is still due: such a session opens nothing else.
	Stage string
}

// Session stages before a sign-in is complete.
const (
	StageCode  = "mfa"   // the one-time code is due
	StageEnrol = "enrol" // the account must set up a second factor first
)

const userCols = `id, aid, login, pw_hash, role, failed, locked_until, created_at`

func scanUser(r rowScanner) (*User, error) {
	var u User
	var lu, ca int64
	if err := r.Scan(&u.ID, &u.AID, &u.Login, &u.PwHash, &u.Role, &u.Failed, &lu, &ca); err != nil {
		return nil, err
	}
	u.LockedUntil, u.CreatedAt = FromNS(lu), FromNS(ca)
	return &u, nil
}

// CreateUser adds a control-panel user; ErrConflict when the store already has that login, and
// ErrNotFound when the store does not exist.
func (db *DB) CreateUser(ctx context.Context, u *User) error {
	if _, err := db.GetStore(ctx, u.AID); err != nil {
		return err
	}
	u.CreatedAt = db.Now()
	err := db.Tx(ctx, func(tx *Tx) error {
		id, err := tx.InsertID(`INSERT INTO users(aid, login, pw_hash, role, failed, locked_until, created_at) VALUES (?, ?, ?, ?, 0, 0, ?)`,
			u.AID, u.Login, u.PwHash, u.Role, NS(u.CreatedAt))
		u.ID = id
		return err
	})
	if IsUnique(err) {
		return fmt.Errorf("user %s of store %s already exists: %w", u.Login, u.AID, ErrConflict)
	}
	return classify(err)
}

// UserByLogin finds a store's user by login; ErrNotFound when absent.
func (db *DB) UserByLogin(ctx context.Context, aid, login string) (*User, error) {
	u, err := scanUser(db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE aid = ? AND login = ?`, aid, login))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return u, classify(err)
}

// UserByID reads a user of a store; ErrNotFound when absent or another store's.
func (db *DB) UserByID(ctx context.Context, aid string, id int64) (*User, error) {
	u, err := scanUser(db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = ? AND aid = ?`, id, aid))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return u, classify(err)
}

// Users lists a store's users by login.
func (db *DB) Users(ctx context.Context, aid string) ([]*User, error) {
	rows, err := db.Query(ctx, `SELECT `+userCols+` FROM users WHERE aid = ? ORDER BY login`, aid)
	if err != nil {
		return nil, classify(err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetUserRole changes a user's role.
func (db *DB) SetUserRole(ctx context.Context, aid string, id int64, role string) error {
	return db.execOne(ctx, `UPDATE users SET role = ? WHERE id = ? AND aid = ?`, role, id, aid)
}

// SetUserPassword replaces a user's password hash, clears its lock, and signs it out everywhere.
func (db *DB) SetUserPassword(ctx context.Context, aid string, id int64, hash string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE users SET pw_hash = ?, failed = 0, locked_until = 0 WHERE id = ? AND aid = ?`, hash, id, aid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(`DELETE FROM sessions WHERE kind = ? AND principal = ?`, SessionMerchant, id)
		return err
	})
}

// DeleteUser removes a user and its sessions.
func (db *DB) DeleteUser(ctx context.Context, aid string, id int64) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`DELETE FROM users WHERE id = ? AND aid = ?`, id, aid)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err = tx.Exec(`DELETE FROM sessions WHERE kind = ? AND principal = ?`, SessionMerchant, id); err != nil {
			return err
		}
		return deleteMFA(tx, SessionMerchant, id)
	})
}

func (db *DB) execOne(ctx context.Context, q string, args ...any) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(q, args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// accountTable names the table of a session kind's accounts.
func accountTable(kind string) string {
	if kind == SessionOperator {
		return "operators"
	}
	return "users"
}

// LoginFailed counts a failed password for an account; at max failures the account is locked
// until now+lock and the counter starts again. It reports whether this failure locked it.
func (db *DB) LoginFailed(ctx context.Context, kind string, id int64, now time.Time, max int, lock time.Duration) (bool, error) {
	locked := false
	err := db.Tx(ctx, func(tx *Tx) error {
		locked = false
		t := accountTable(kind)
		var failed int
		if err := tx.QueryRow(`SELECT failed FROM `+t+` WHERE id = ?`, id).Scan(&failed); err != nil {
			return err
		}
		failed++
		var until int64
		if failed >= max {
			failed, until, locked = 0, NS(now.Add(lock)), true
			_, err := tx.Exec(`UPDATE `+t+` SET failed = ?, locked_until = ? WHERE id = ?`, failed, until, id)
			return err
		}
		_, err := tx.Exec(`UPDATE `+t+` SET failed = ? WHERE id = ?`, failed, id)
		return err
	})
	return locked, classify(err)
}

// LoginSucceeded clears an account's failure counter and lock.
func (db *DB) LoginSucceeded(ctx context.Context, kind string, id int64) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE `+accountTable(kind)+` SET failed = 0, locked_until = 0 WHERE id = ?`, id)
		return err
	})
}

const operatorCols = `id, login, pw_hash, failed, locked_until, created_at`

func scanOperator(r rowScanner) (*Operator, error) {
	var o Operator
	var lu, ca int64
	if err := r.Scan(&o.ID, &o.Login, &o.PwHash, &o.Failed, &lu, &ca); err != nil {
		return nil, err
	}
	o.LockedUntil, o.CreatedAt = FromNS(lu), FromNS(ca)
	return &o, nil
}

// CreateOperator adds an operator account; ErrConflict when the login is taken.
func (db *DB) CreateOperator(ctx context.Context, o *Operator) error {
	o.CreatedAt = db.Now()
	err := db.Tx(ctx, func(tx *Tx) error {
		id, err := tx.InsertID(`INSERT INTO operators(login, pw_hash, failed, locked_until, created_at) VALUES (?, ?, 0, 0, ?)`,
			o.Login, o.PwHash, NS(o.CreatedAt))
		o.ID = id
		return err
	})
	if IsUnique(err) {
		return fmt.Errorf("operator %s already exists: %w", o.Login, ErrConflict)
	}
	return classify(err)
}

// OperatorByLogin finds an operator; ErrNotFound when absent.
func (db *DB) OperatorByLogin(ctx context.Context, login string) (*Operator, error) {
	o, err := scanOperator(db.QueryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE login = ?`, login))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return o, classify(err)
}

// OperatorByID reads an operator; ErrNotFound when absent.
func (db *DB) OperatorByID(ctx context.Context, id int64) (*Operator, error) {
	o, err := scanOperator(db.QueryRow(ctx, `SELECT `+operatorCols+` FROM operators WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return o, classify(err)
}

// SetOperatorPassword replaces an operator's password hash, clears its lock and ends its sessions.
func (db *DB) SetOperatorPassword(ctx context.Context, id int64, hash string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE operators SET pw_hash = ?, failed = 0, locked_until = 0 WHERE id = ?`, hash, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec(`DELETE FROM sessions WHERE kind = ? AND principal = ?`, SessionOperator, id)
		return err
	})
}

// InsertSession stores a new session.
func (db *DB) InsertSession(ctx context.Context, s *Session) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO sessions(id, kind, principal, aid, csrf, lang, created_at, expires_at, stage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			s.ID, s.Kind, s.Principal, s.AID, s.CSRF, s.Lang, NS(s.CreatedAt), NS(s.ExpiresAt), s.Stage)
		return err
	})
}

// GetSession reads a session by its ID (the token's hash); ErrNotFound when absent.
func (db *DB) GetSession(ctx context.Context, id string) (*Session, error) {
	var s Session
	var ca, ea int64
	err := db.QueryRow(ctx, `SELECT id, kind, principal, aid, csrf, lang, created_at, expires_at, stage FROM sessions WHERE id = ?`, id).
		Scan(&s.ID, &s.Kind, &s.Principal, &s.AID, &s.CSRF, &s.Lang, &ca, &ea, &s.Stage)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, classify(err)
	}
	s.CreatedAt, s.ExpiresAt = FromNS(ca), FromNS(ea)
	return &s, nil
}

// TouchSession moves a session's idle deadline.
func (db *DB) TouchSession(ctx context.Context, id string, expires time.Time) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET expires_at = ? WHERE id = ?`, NS(expires), id)
		return err
	})
}

// SetSessionLang records a session's language choice.
func (db *DB) SetSessionLang(ctx context.Context, id, lang string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE sessions SET lang = ? WHERE id = ?`, lang, id)
		return err
	})
}

// DeleteSession ends a session.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE id = ?`, id)
		return err
	})
}

// PurgeSessions deletes sessions whose idle deadline passed before now.
func (db *DB) PurgeSessions(ctx context.Context, now time.Time) error {
	return db.Tx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM sessions WHERE expires_at < ?`, NS(now))
		return err
	})
}
