package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"kessai/internal/store"
)

// KeyPrefix starts every store API key, so a leaked one is recognisable (secret scanners).
const KeyPrefix = "ksk_"

// NewKey makes a new store API key: the text shown once, and what is stored of it.
func NewKey(aid, name, createdBy string, now time.Time) (string, *store.APIKey) {
	b := make([]byte, 24)
	rand.Read(b)
	text := KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return text, &store.APIKey{AID: aid, Name: name, Prefix: text[:len(KeyPrefix)+6], Hash: HashKey(text), CreatedAt: now, CreatedBy: createdBy}
}

// HashKey is the stored form of a key: hex SHA-256 (keys are 192 random bits; no stretching needed).
func HashKey(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// CheckName validates a key's name.
func CheckName(name string) error {
	name = strings.TrimSpace(name)
	if name == "" || len([]rune(name)) > 64 {
		return errors.New("a key needs a name of 1–64 characters")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("a key name cannot hold control characters")
		}
	}
	return nil
}

type keyCtx struct{}

// keyOf is the API key a request was authenticated with.
func keyOf(ctx context.Context) *store.APIKey {
	k, _ := ctx.Value(keyCtx{}).(*store.APIKey)
	return k
}

// authed requires a live store API key in "Authorization: Bearer": 401 problem+json otherwise.
func (h *Handler) authed(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		scheme, text, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		text = strings.TrimSpace(text)
		if !strings.EqualFold(scheme, "Bearer") || text == "" {
			writeProblem(w, r, http.StatusUnauthorized, "unauthorized", "Unauthorized",
				"send a store API key: Authorization: Bearer ksk_… (create one in the control panel or with kessai apikey create)")
			return
		}
		k, err := h.DB.APIKeyByHash(r.Context(), HashKey(text))
		if errors.Is(err, store.ErrNotFound) || err == nil && k.Revoked() {
			writeProblem(w, r, http.StatusUnauthorized, "invalid-key", "Invalid API key", "the API key is unknown or was revoked")
			return
		}
		if err != nil {
			unavailable(w, r)
			return
		}
		now := h.Clock.Now()
		if now.Sub(k.LastUsedAt) > time.Minute || now.Before(k.LastUsedAt) {
			if err := h.DB.TouchAPIKey(r.Context(), k.ID, now); err != nil {
				h.Log.Warn("api key last-used update failed", "id", k.ID, "err", err)
			}
		}
		fn(w, r.WithContext(context.WithValue(r.Context(), keyCtx{}, k)))
	}
}
