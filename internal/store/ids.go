package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
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
// Allocation: numbers come from one counter row in the database (id_blocks), which each process
// advances by a block of IDBlock numbers in a transaction of its own and then hands out from
// memory. Two instances on one PostgreSQL get disjoint blocks from the row's lock, so their
// numbers never collide — the earlier format drew a random 10-bit instance number, which two
// instances shared once in 1,024 starts. Numbers of a block a process did not use before it
// stopped are skipped, never reissued.
//
// Body: the counter is not shown as it is. Sequential IDs let a merchant read the provider's
// payment volume off two of its own payments (the difference of their gids is the number of
// payments everyone made in between). The body is therefore a keyed permutation of the counter
// (IDs.Format) that keeps the payments table's gid index local:
//   - the counter is cut into groups of IDGroup consecutive values; the group's number is
//     permuted over all groups (a 10-round Feistel network with SipHash-2-4 as its round
//     function, cycle-walked into the range of groups), and the value's place in its group is
//     permuted by a second, small network keyed by the installation's key and the group;
//   - so two IDs in different groups are far apart in no particular order, and two in one group
//     are in no particular order either: a merchant learns at most that fewer than IDGroup
//     payments were made between two of its own;
//   - yet the IDs of one group — the payments an instance makes in a few milliseconds — are
//     neighbours in the gid index. A permutation of the whole counter put every payment's index
//     entry on a page of its own: each group commit then rewrote a b-tree page per payment, which
//     doubled the WAL written per commit and cost a fifth of a payment's CPU on SQLite (issue 18).
//
// The secret is random, made once per installation and kept in the database (id_key), so every
// instance sharing the database applies the same permutation. A permutation of a set is
// one-to-one, so distinct counters still give distinct IDs — uniqueness across instances is the
// counter's, unchanged. An installation that issued counter values in sequence before the
// permutation (counters below id_key.floor, whose IDs are their plain bodies) keeps those bodies
// out of the permuted range: groups start at the first whole group at or above the floor, and the
// few counters between the floor and that group keep their plain bodies, which no earlier ID has.
//
// IDs issued before this format are 19 digits, zero-padded ("0913…"): a 63-bit time-based number
// whose value has had 18 digits since October 2020. They keep working as issued and with their
// leading zeros dropped: CanonicalID maps both forms to the stored one, and every look-up by
// gid/tid/acid goes through it.
const (
	idLen      = 16
	idMinBody  = 100_000_000_000_000 // the first body: 15 digits, no leading zero
	idMaxBody  = 900_719_925_474_098 // body*10+9 stays below 2^53−1
	idSpace    = idMaxBody - idMinBody + 1
	legacyLen  = 19 // the old zero-padded format
	legacyMinN = 17 // an old ID without its zeros has at least this many digits
)

// IDBlock is how many IDs a process reserves from the database at a time (whole groups).
const IDBlock = 1024

// IDGroup is how many consecutive counter values share a permuted group (see above).
const IDGroup = 256

// ErrIDsExhausted means the counter reached the end of the 16-digit space.
var ErrIDsExhausted = errors.New("store: ID space exhausted")

// IDKeySize is the length of the permutation's secret (a SipHash key).
const IDKeySize = 16

// IDs turns allocated counter values into IDs: the installation's permutation of the counter.
// It is safe for concurrent use (it holds only its key).
type IDs struct {
	groups feistel // over group numbers [loGroup, idGroups)
	k0, k1 uint64  // the key, for the in-group networks
	floor  int64   // counters below were issued in sequence
}

// IDUsable is the end of the counter's range: whole groups only.
const IDUsable = idGroups * IDGroup

const (
	idGroups       = idSpace / IDGroup // the last, partial group of the space is not used
	idGroupHalf    = 21                // 2^42 ≥ idGroups
	idOffsetHalf   = 4                 // 2^8 = IDGroup
	idGroupTweakK0 = 0x9e3779b97f4a7c15
	idGroupTweakK1 = 0xc2b2ae3d27d4eb4f
)

// NewIDs makes the permutation for a key; counter values below floor were issued unpermuted
// (see above) and are neither taken nor produced.
func NewIDs(key [IDKeySize]byte, floor int64) *IDs {
	lo := (uint64(floor) + IDGroup - 1) / IDGroup
	x := &IDs{groups: newFeistel(key, idGroupHalf, lo, idGroups), floor: floor}
	x.k0, x.k1 = x.groups.k0, x.groups.k1
	return x
}

// offsets is the network that orders the values of group g: its key is derived from the
// installation's key and g (SipHash of the group number under the key, one half at a time).
func (x *IDs) offsets(g uint64) feistel {
	k0 := sipHash5(x.k0, x.k1, g&(1<<32-1)|0xa0<<32) ^ idGroupTweakK0
	k1 := sipHash5(x.k0^k0, x.k1, g>>32|0xa1<<32) ^ idGroupTweakK1
	return feistel{k0: k0, k1: k1, half: idOffsetHalf, mask: 1<<idOffsetHalf - 1, lo: 0, hi: IDGroup}
}

// Format turns counter value n (floor ≤ n < the end of the space) into its ID.
func (x *IDs) Format(n int64) string {
	u := uint64(n)
	g := u / IDGroup
	if g < x.groups.lo {
		// between the floor and the first whole group: its plain body, which no earlier ID has
		return formatBody(idMinBody + n)
	}
	off := x.offsets(g)
	y := x.groups.permute(g)*IDGroup + off.permute(u%IDGroup)
	return formatBody(idMinBody + int64(y))
}

// Counter is Format's inverse: the counter value an ID of this installation was made from, and
// false for anything Format never returns.
func (x *IDs) Counter(id string) (int64, bool) {
	if len(id) != idLen || id[0] == '0' {
		return 0, false
	}
	var body int64
	for i := 0; i < idLen-1; i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, false
		}
		body = body*10 + int64(id[i]-'0')
	}
	if body > idMaxBody || formatBody(body) != id {
		return 0, false
	}
	y := uint64(body - idMinBody)
	switch gy := y / IDGroup; {
	case y < uint64(x.floor):
		return 0, false // issued in sequence before the permutation, not one of ours
	case gy < x.groups.lo:
		return int64(y), true
	case gy >= idGroups:
		return 0, false
	default:
		g := x.groups.invert(gy)
		off := x.offsets(g)
		return int64(g*IDGroup + off.invert(y%IDGroup)), true
	}
}

// SequentialID is the ID that counter value n had before the permutation (its plain body): what
// an installation issued for counters below its floor.
func SequentialID(n int64) string { return formatBody(idMinBody + n) }

// formatBody writes a 15-digit body and its failing check digit.
func formatBody(body int64) string {
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

// ReserveIDs takes the next block of n counter values from the database and returns the first;
// the caller owns [first, first+n) and turns them into IDs with IDs().Format.
//
// The counter row is named 'ids' since the permutation (migration 0230 renamed it from 'id'): a
// binary from before, still running while the database is upgraded, finds no row to advance and
// answers ER000 instead of issuing plain sequential IDs that could meet permuted ones.
func (db *DB) ReserveIDs(ctx context.Context, n int64) (int64, error) {
	var next int64
	err := db.Tx(ctx, func(tx *Tx) error {
		return tx.QueryRow(`UPDATE id_blocks SET next_value = next_value + ? WHERE name = 'ids' RETURNING next_value`, n).Scan(&next)
	})
	if err != nil {
		return 0, classify(err)
	}
	first := next - n
	if first+n > IDUsable {
		return 0, ErrIDsExhausted
	}
	return first, nil
}

// IDs is the installation's permutation of the counter (loaded when the database is opened).
func (db *DB) IDs() *IDs { return db.ids }

// loadIDs reads the installation's permutation key, making it on first use: the first instance to
// open the migrated database draws it, every other one (now or later) reads that one, so all
// instances sharing the database issue IDs from the same permutation.
func (db *DB) loadIDs(ctx context.Context) (*IDs, error) {
	var fresh [IDKeySize]byte
	if _, err := rand.Read(fresh[:]); err != nil {
		return nil, err
	}
	var secret []byte
	var floor int64
	err := db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE id_key SET secret = ? WHERE name = 'ids' AND secret IS NULL`, fresh[:]); err != nil {
			return err
		}
		return tx.QueryRow(`SELECT secret, floor FROM id_key WHERE name = 'ids'`).Scan(&secret, &floor)
	})
	if err != nil {
		return nil, fmt.Errorf("ID key: %w", err)
	}
	if len(secret) != IDKeySize || floor < 0 || floor >= idSpace {
		return nil, fmt.Errorf("ID key: stored key has %d bytes, floor %d", len(secret), floor)
	}
	return NewIDs([IDKeySize]byte(secret), floor), nil
}
