package link

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kessai/internal/vault"
)

// Mail-payment links (wire.md §9) are hosted-page links a store sends by e-mail, opened with GET:
// /link/creditcard?aid=…&am=…&mailauthckey=…. The key proves that Kessai issued the link for
// that store and exactly those parameters, until an expiry:
//
//	mailauthckey = <expiry, unix seconds in base 36> "." <MAC, 24 characters of base64url>
//
// The MAC is an HMAC-SHA256, under the vault's lookup key (the secret every instance and the CLI
// already share: the vault key must be the same everywhere, and the lookup key survives key
// rotation), over a digest of a purpose label, the expiry and the link's parameters in canonical
// form: every query parameter except mailauthckey itself and lang (the page language, which a
// shopper may change), names sorted, values in order, as url.Values.Encode writes them. Changing,
// adding or removing any parameter, or the expiry, makes the key fail. The key is never a free
// parameter: it is not echoed to the merchant.

// MailKeyParam is the name of the key parameter.
const MailKeyParam = "mailauthckey"

// Mail-link verification failures.
var (
	ErrMailKeyInvalid = errors.New("link: mail link key does not verify")
	ErrMailKeyExpired = errors.New("link: mail link expired")
)

// MaxMailLinkTTL bounds how long a mail link may stay valid.
const MaxMailLinkTTL = 366 * 24 * time.Hour

func mailMAC(kr *vault.KeyRing, exp string, q url.Values) []byte {
	c := url.Values{}
	for k, vs := range q {
		if k == MailKeyParam || k == "lang" {
			continue
		}
		c[k] = vs
	}
	d := sha256.Sum256([]byte("kessai-mail-link/v1\x00" + exp + "\x00" + c.Encode()))
	return kr.Lookup("kessaimaillink" + hex.EncodeToString(d[:]))[:18]
}

// MailKey returns the key of a mail link with the parameters q (aid among them) valid until
// expires.
func MailKey(kr *vault.KeyRing, q url.Values, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 36)
	return exp + "." + base64.RawURLEncoding.EncodeToString(mailMAC(kr, exp, q))
}

// MailLink is the whole link: base (scheme://host[/prefix]) + /link/creditcard + q + the key.
func MailLink(kr *vault.KeyRing, base string, q url.Values, expires time.Time) string {
	key := MailKey(kr, q, expires)
	return strings.TrimRight(base, "/") + "/link/creditcard?" + q.Encode() + "&" + MailKeyParam + "=" + url.QueryEscape(key)
}

// VerifyMailKey checks the key carried in q against the other parameters of q at now.
func VerifyMailKey(kr *vault.KeyRing, q url.Values, now time.Time) error {
	vs := q[MailKeyParam]
	if len(vs) != 1 {
		return ErrMailKeyInvalid
	}
	exp, mac, ok := strings.Cut(vs[0], ".")
	if !ok || exp == "" || len(exp) > 12 {
		return ErrMailKeyInvalid
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, mailMAC(kr, exp, q)) {
		return ErrMailKeyInvalid
	}
	secs, err := strconv.ParseInt(exp, 36, 64)
	if err != nil {
		return ErrMailKeyInvalid
	}
	if !now.Before(time.Unix(secs, 0)) {
		return ErrMailKeyExpired
	}
	return nil
}

// MailOrder is what a mail link asks the shopper for: an amount (Am, Tx, Sf), a registered product
// (IID, which may carry an auto-charge plan), or a card check (Check, nothing charged).
type MailOrder struct {
	AID        string
	Am, Tx, Sf int64
	IID        string
	Check      bool
}

// Params are the link's parameters, aid first.
func (m MailOrder) Params() url.Values {
	q := url.Values{"aid": {m.AID}}
	switch {
	case m.Check:
		q.Set("jb", "CHECK")
		q.Set("am", "0")
		q.Set("tx", "0")
		q.Set("sf", "0")
	case m.IID != "":
		q.Set("iid", m.IID)
	default:
		q.Set("am", strconv.FormatInt(m.Am, 10))
		q.Set("tx", strconv.FormatInt(m.Tx, 10))
		q.Set("sf", strconv.FormatInt(m.Sf, 10))
	}
	return q
}

// ParseTTL reads a link lifetime: a Go duration (72h, 90m) or whole days (30d), at most
// MaxMailLinkTTL.
func ParseTTL(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, errors.New("not a number of days")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, errors.New("not a duration (e.g. 72h or 30d)")
		}
	}
	if d <= 0 || d > MaxMailLinkTTL {
		return 0, errors.New("must be more than 0 and at most 366 days")
	}
	return d, nil
}
