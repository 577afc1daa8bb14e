package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"kessai/internal/store"
)

// A new order session is not written to the database when the hosted page opens: the page carries
// the order as a signed field (d), and the order's row is created by the first card submission.
// Opening the page therefore costs no disk flush, and page views that never turn into a payment
// (link previews of e-mailed links, abandoned carts, a flood of forged forms) leave nothing behind.
// The signature is what keeps amounts honest: the browser holds the order but cannot change it.
//
// The MAC key is the vault's lookup key, which every instance shares (the vault key must be the
// same everywhere), used through KeyRing.Lookup over a digest of the payload with a prefix of
// its own, so it can never collide with the lookup of a card number (digits only).

// signedOrder is the order in the signed field: short names keep the field small.
type signedOrder struct {
	ID      string `json:"i"`
	AID     string `json:"a"`
	Jb      string `json:"j"`
	Cod     string `json:"c,omitempty"`
	Am      int64  `json:"m"`
	Tx      int64  `json:"t"`
	Sf      int64  `json:"s"`
	Inm     string `json:"n,omitempty"`
	Em      string `json:"e,omitempty"`
	Pn      string `json:"p,omitempty"`
	Md      string `json:"d,omitempty"`
	Free    string `json:"f,omitempty"`
	Plan    string `json:"l,omitempty"`
	Binding string `json:"b"`
	Created int64  `json:"k"`
	Expires int64  `json:"x"`
}

var errBadSignature = errors.New("link: order field invalid")

func (h *Handler) mac(purpose string, payload []byte) []byte {
	d := sha256.Sum256(payload)
	return h.Pay.Vault.Lookup("kessailink" + purpose + hex.EncodeToString(d[:]))
}

// csrfFor is an order session's anti-forgery token: derived, so the signed page and the stored row
// agree on it without storing anything first.
func (h *Handler) csrfFor(id string) string {
	return base64.RawURLEncoding.EncodeToString(h.mac("csrf", []byte(id)))[:32]
}

// seal returns the signed field for o.
func (h *Handler) seal(o *store.LinkOrder) string {
	b, _ := json.Marshal(signedOrder{ID: o.ID, AID: o.AID, Jb: o.Jb, Cod: o.Cod, Am: o.Am, Tx: o.Tx, Sf: o.Sf, Inm: o.Inm, Em: o.Em,
		Pn: o.Pn, Md: o.Md, Free: o.Free, Plan: o.Plan, Binding: o.Binding, Created: o.CreatedAt.UnixNano(), Expires: o.ExpiresAt.UnixNano()})
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(h.mac("order", b))
}

// unseal checks a signed field and returns its order, open and not yet stored.
func (h *Handler) unseal(d string) (*store.LinkOrder, error) {
	body, sig, ok := strings.Cut(d, ".")
	if !ok || len(d) > MaxBody {
		return nil, errBadSignature
	}
	b, err1 := base64.RawURLEncoding.DecodeString(body)
	mac, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, h.mac("order", b)) {
		return nil, errBadSignature
	}
	var s signedOrder
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errBadSignature
	}
	return &store.LinkOrder{ID: s.ID, AID: s.AID, Jb: s.Jb, Cod: s.Cod, Am: s.Am, Tx: s.Tx, Sf: s.Sf, Inm: s.Inm, Em: s.Em, Pn: s.Pn,
		Md: s.Md, Free: s.Free, Plan: s.Plan, Binding: s.Binding, CSRF: h.csrfFor(s.ID), Status: store.LinkOpen,
		CreatedAt: time.Unix(0, s.Created).UTC(), UpdatedAt: time.Unix(0, s.Created).UTC(), ExpiresAt: time.Unix(0, s.Expires).UTC()}, nil
}
