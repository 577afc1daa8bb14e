package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"kessai/internal/clock"
	"kessai/internal/store"
)

// Session lifetimes: signed out after 30 minutes without a request, and 12 hours after signing in
// whatever happens.
const (
	DefaultIdle     = 30 * time.Minute
	DefaultAbsolute = 12 * time.Hour
)

// PendingLifetime bounds a session whose second factor (or its enrolment) is still due: the
// password alone keeps nothing open for long.
const PendingLifetime = 15 * time.Minute

// ErrNoSession means the cookie names no live session of the wanted kind.
var ErrNoSession = errors.New("no session")

// Sessions keeps signed-in browsers in the database, so every instance behind a load balancer
// knows them. The cookie carries a random token; the table holds only its SHA-256.
type Sessions struct {
	DB       *store.DB
	Clock    clock.Clock
	Idle     time.Duration
	Absolute time.Duration
}

// NewSessions returns a session keeper with the default lifetimes.
func NewSessions(db *store.DB, clk clock.Clock) *Sessions {
	return &Sessions{DB: db, Clock: clk, Idle: DefaultIdle, Absolute: DefaultAbsolute}
}

// RandomToken returns n random bytes, URL-safe base64.
func RandomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenID is the stored form of a session token.
func TokenID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// Start creates a fresh session for an account and returns the token for its cookie. A new token
// every time is what defeats session fixation: a token planted before login is never promoted.
func (m *Sessions) Start(ctx context.Context, kind string, principal int64, aid, lang string) (string, *store.Session, error) {
	return m.StartStage(ctx, kind, principal, aid, lang, "")
}

// StartStage is Start for a sign-in that is not complete yet: stage is store.StageCode or
// store.StageEnrol (or "" for a complete one).
func (m *Sessions) StartStage(ctx context.Context, kind string, principal int64, aid, lang, stage string) (string, *store.Session, error) {
	now := m.Clock.Now()
	tok := RandomToken(32)
	s := &store.Session{ID: TokenID(tok), Kind: kind, Principal: principal, AID: aid, CSRF: RandomToken(32), Lang: lang,
		CreatedAt: now, ExpiresAt: m.deadline(now, now), Stage: stage}
	if err := m.DB.InsertSession(ctx, s); err != nil {
		return "", nil, err
	}
	_ = m.DB.PurgeSessions(ctx, now.Add(-time.Hour)) // housekeeping; a failure here is harmless
	return tok, s, nil
}

func (m *Sessions) deadline(created, now time.Time) time.Time {
	d := now.Add(m.Idle)
	if abs := created.Add(m.Absolute); abs.Before(d) {
		d = abs
	}
	return d
}

// Get returns the live session of kind named by token and moves its idle deadline; ErrNoSession
// when there is none or it has expired (an expired one is deleted).
func (m *Sessions) Get(ctx context.Context, kind, token string) (*store.Session, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrNoSession
	}
	s, err := m.DB.GetSession(ctx, TokenID(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, err
	}
	if s.Kind != kind {
		return nil, ErrNoSession
	}
	now := m.Clock.Now()
	if !now.Before(s.ExpiresAt) || !now.Before(s.CreatedAt.Add(m.Absolute)) || (s.Stage != "" && !now.Before(s.CreatedAt.Add(PendingLifetime))) {
		_ = m.DB.DeleteSession(ctx, s.ID)
		return nil, ErrNoSession
	}
	// Write the new deadline only when it moved by a minute or more: most requests then read only.
	if nd := m.deadline(s.CreatedAt, now); nd.Sub(s.ExpiresAt) >= time.Minute {
		if err := m.DB.TouchSession(ctx, s.ID, nd); err == nil {
			s.ExpiresAt = nd
		}
	}
	return s, nil
}

// End deletes the session named by token.
func (m *Sessions) End(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return m.DB.DeleteSession(ctx, TokenID(token))
}
