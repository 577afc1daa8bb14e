package wire

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// DefaultSkew is how far ut may be from the server's clock (spec §2.1 says 300 s).
const DefaultSkew = 300 * time.Second

// Sign returns hak for a request sent at unix second ut by a store whose 接続認証コード is
// authCode: lowercase hex SHA-256 of ut in decimal followed by the code.
func Sign(ut int64, authCode string) string {
	h := sha256.Sum256([]byte(strconv.FormatInt(ut, 10) + authCode))
	return hex.EncodeToString(h[:])
}

// CheckSignature verifies a request's ut/hak pair for a store with 接続認証 on: ut must be unix
// seconds within skew of now (skew <= 0 means DefaultSkew) and hak must equal Sign(ut, authCode),
// compared in constant time (hex case ignored). Every failure is ER001 [D]: the spec names no code
// for it, and saying more than "malformed" would help whoever is forging requests. Field and Msg
// tell the operator which part failed.
func CheckSignature(ut, hak, authCode string, now time.Time, skew time.Duration) error {
	if skew <= 0 {
		skew = DefaultSkew
	}
	if ut == "" || hak == "" {
		return Errf(ERMalformed, "hak", "signature required")
	}
	if len(ut) > 12 || !isDigits(ut) {
		return Errf(ERMalformed, "ut", "not unix seconds")
	}
	t, _ := strconv.ParseInt(ut, 10, 64)
	if d := now.Sub(time.Unix(t, 0)); d > skew || d < -skew {
		return Errf(ERMalformed, "ut", "off by %v", d.Round(time.Second))
	}
	want := sha256.Sum256([]byte(ut + authCode))
	var got [sha256.Size]byte
	if len(hak) != 2*sha256.Size {
		return Errf(ERMalformed, "hak", "signature mismatch")
	}
	if _, err := hex.Decode(got[:], []byte(strings.ToLower(hak))); err != nil {
		return Errf(ERMalformed, "hak", "signature mismatch")
	}
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return Errf(ERMalformed, "hak", "signature mismatch")
	}
	return nil
}

// CheckSignature verifies the request's own ut and hak; see the function CheckSignature.
func (p *Params) CheckSignature(authCode string, now time.Time, skew time.Duration) error {
	return CheckSignature(p.value("ut"), p.value("hak"), authCode, now, skew)
}
