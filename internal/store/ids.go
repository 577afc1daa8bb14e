package store

import (
	"context"
	"errors"
	"strings"
)

// Payment numbers (gid) and auto-charge numbers (acid) share one format and one allocator.
//
// Format (wire.md §3.1): a decimal number of exactly 16 digits that never starts with 0, made of a
// 15-digit body and a final digit chosen so that the whole number FAILS the Luhn check (the digit
// that would pass, plus 5, mod 10). So:
//   - merchants that keep IDs in numeric columns lose nothing: there is no leading zero to drop;
//   - every ID round-trips through a Java long and a PHP int (signed 64-bit, 19 digits) and also
//     through a JavaScript Number: the largest ID is below 2^53−1 (9007199254740991), so React
//     forms and JSON.parse keep it exact — the reason for 16 digits rather than 17–19;
//   - no ID is a Luhn-valid 13–19-digit number, so the log redaction that masks card numbers
//     (vault.Redact) never masks one, in logs or in the panel's delivery log.
//
// Allocation: bodies come from one counter row in the database (id_blocks), which each process
// advances by a block of IDBlock numbers in a transaction of its own and then hands out from
// memory. Two instances on one PostgreSQL get disjoint blocks from the row's lock, so their IDs
// never collide — the earlier format drew a random 10-bit instance number, which two instances
// shared once in 1,024 starts. Numbers of a block a process did not use before it stopped are
// skipped, never reissued.
//
// IDs issued before this format are 19 digits, zero-padded ("0913…"): a 63-bit time-based number
// whose value has had 18 digits since October 2020. They keep working as issued and with their
// leading zeros dropped: CanonicalID maps both forms to the stored one, and every look-up by
// gid/tid/acid goes through it.
const (
	idLen      = 16
	idMinBody  = 100_000_000_000_000 // the first body: 15 digits, no leading zero
	idMaxBody  = 900_719_925_474_098 // body*10+9 stays below 2^53−1
	legacyLen  = 19                  // the old zero-padded format
	legacyMinN = 17                  // an old ID without its zeros has at least this many digits
)

// IDBlock is how many IDs a process reserves from the database at a time.
const IDBlock = 1000

// ErrIDsExhausted means the counter reached the end of the 16-digit space.
var ErrIDsExhausted = errors.New("store: ID space exhausted")

// FormatID turns the n-th allocated number (n ≥ 0) into its ID.
func FormatID(n int64) string {
	body := idMinBody + n
	var b [idLen]byte
	for i := idLen - 2; i >= 0; i-- {
		b[i] = byte('0' + body%10)
		body /= 10
	}
	b[idLen-1] = byte('0' + (luhnDigit(b[:idLen-1])+5)%10)
	return string(b[:])
}

// luhnDigit returns the check digit that would make body||digit pass the Luhn check.
func luhnDigit(body []byte) int {
	sum := 0
	double := true // the digit left of the check digit is doubled
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// CanonicalID returns the form in which an ID given by a merchant (gid, tid, acid) is stored:
// new IDs as they are, and an old zero-padded ID whether it comes back as issued or as a number
// without its leading zeros. Anything that is not a plain decimal number is returned unchanged
// (it then matches nothing, as before).
func CanonicalID(s string) string {
	if s == "" || len(s) > legacyLen {
		return s
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return s
		}
	}
	t := strings.TrimLeft(s, "0")
	switch {
	case t == "":
		return s
	case len(t) >= legacyMinN:
		return strings.Repeat("0", legacyLen-len(t)) + t
	}
	return t
}

// ReserveIDs takes the next block of n numbers from the database's counter and returns the first;
// the caller owns [first, first+n).
func (db *DB) ReserveIDs(ctx context.Context, n int64) (int64, error) {
	var next int64
	err := db.Tx(ctx, func(tx *Tx) error {
		return tx.QueryRow(`UPDATE id_blocks SET next_value = next_value + ? WHERE name = 'id' RETURNING next_value`, n).Scan(&next)
	})
	if err != nil {
		return 0, classify(err)
	}
	first := next - n
	if idMinBody+first+n-1 > idMaxBody {
		return 0, ErrIDsExhausted
	}
	return first, nil
}
