package store_test

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"kessai/internal/store"
	"kessai/internal/vault"
)

// testIDs is a permutation with a fixed key, as an installation has (its key drawn once).
func testIDs(floor int64) *store.IDs {
	var key [store.IDKeySize]byte
	copy(key[:], "kessai test key!")
	return store.NewIDs(key, floor)
}

// TestIDFormat: over many IDs (the first two million counter values and a million random ones up
// to the end of the space), every ID is 16 digits without a leading zero, exact as an int64 and as
// a JavaScript Number, fails the Luhn check, and is left alone by the log redaction that masks
// card numbers.
func TestIDFormat(t *testing.T) {
	ids := testIDs(0)
	const last = store.IDUsable - 1 // the last counter value ever issued (whole groups only)
	check := func(n int64) {
		id := ids.Format(n)
		if len(id) != 16 || id[0] == '0' {
			t.Fatalf("Format(%d) = %q", n, id)
		}
		v, err := strconv.ParseInt(id, 10, 64)
		if err != nil || v > 1<<53-1 || int64(float64(v)) != v {
			t.Fatalf("Format(%d) = %q is not exact as a JavaScript Number", n, id)
		}
		if vault.Luhn(id) {
			t.Fatalf("Format(%d) = %q passes the Luhn check", n, id)
		}
		if store.CanonicalID(id) != id {
			t.Fatalf("CanonicalID(%q) = %q", id, store.CanonicalID(id))
		}
	}
	for n := int64(0); n < 2_000_000; n++ {
		check(n)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		check(r.Int64N(last + 1))
	}
	check(last)
	// the unpermuted IDs of installations from before keep the same properties at both ends
	for _, n := range []int64{0, 1, 2, last - 1, last} {
		if id := store.SequentialID(n); len(id) != 16 || id[0] == '0' || vault.Luhn(id) {
			t.Fatalf("SequentialID(%d) = %q", n, id)
		}
	}
	if got := store.SequentialID(0); got != "1000000000000003" {
		t.Fatalf("SequentialID(0) = %q, the first ID installations issued before the permutation", got)
	}
	// the redaction safety net leaves IDs alone, in the shapes they appear in logs and kickbacks
	for n := int64(0); n < 10_000; n++ {
		id := ids.Format(n * 7919)
		for _, s := range []string{id, "gid=" + id + "&acid=" + id, "acid " + id + " period 20260815", id + "-20260815"} {
			if got := vault.Redact(s); got != s {
				t.Fatalf("Redact(%q) = %q", s, got)
			}
		}
	}
	// the old format, by contrast, is masked about once in ten: the reason for the change
	masked := 0
	for n := int64(0); n < 10_000; n++ {
		old := strconv.FormatInt(913533387558420480+n*4194304, 10)
		old = strings.Repeat("0", 19-len(old)) + old
		if vault.Redact(old) != old {
			masked++
		}
	}
	if masked < 500 {
		t.Fatalf("old-format IDs masked %d of 10000 times; the comparison is broken", masked)
	}
}

// TestSipHashVectors: the permutation's round function is SipHash-2-4, checked against the
// reference vectors of its authors (key 00…0f, message 00…04 and, for other lengths, the
// five-byte messages are all this function takes).
func TestSipHashVectors(t *testing.T) {
	k0, k1 := uint64(0x0706050403020100), uint64(0x0f0e0d0c0b0a0908)
	if got := store.SipHash5(k0, k1, 0x0403020100); got != 0x18765564cd99a68d {
		t.Fatalf("SipHash-2-4(00 01 02 03 04) = %#x, want 0x18765564cd99a68d", got)
	}
	if got := store.SipHash5(k0^1, k1, 0x0403020100); got == 0x18765564cd99a68d {
		t.Fatal("the key does not reach the hash")
	}
}

// TestIDPermutationIsBijection: the cycle-walked Feistel network maps its range onto itself one
// to one, checked whole on small ranges (every value, several keys, ranges that start above 0 as
// an upgraded installation's does), with its inverse undoing it.
func TestIDPermutationIsBijection(t *testing.T) {
	for k := byte(0); k < 4; k++ {
		var key [store.IDKeySize]byte
		key[0], key[15] = k, 0x5a
		for _, c := range []struct {
			half   uint
			lo, hi uint64
		}{{8, 0, 1 << 16}, {8, 1000, 47_000}, {10, 0, 745_000}, {10, 123_456, 1 << 20}, {3, 5, 6}} {
			perm, inv := store.SmallPermutation(key, c.half, c.lo, c.hi)
			seen := make([]bool, c.hi)
			for x := c.lo; x < c.hi; x++ {
				y := perm(x)
				if y < c.lo || y >= c.hi {
					t.Fatalf("key %d %+v: %d → %d, outside the range", k, c, x, y)
				}
				if seen[y] {
					t.Fatalf("key %d %+v: %d reached twice", k, c, y)
				}
				seen[y] = true
				if back := inv(y); back != x {
					t.Fatalf("key %d %+v: %d → %d → %d", k, c, x, y, back)
				}
			}
		}
	}
}

// TestIDsUnique: millions of counter values (from the start, and from a block in the middle of
// the space, as a busy installation's) give as many different IDs, each of which Counter maps
// back to its counter; with a floor, no ID repeats one issued in sequence below it.
func TestIDsUnique(t *testing.T) {
	const n = 3_000_000
	const floor = 1_000_000
	ids := testIDs(floor)
	for _, start := range []int64{floor, store.IDUsable/2 - n/2, store.IDUsable - n} {
		got := make([]int64, 0, n)
		for c := start; c < start+n; c++ {
			id := ids.Format(c)
			if back, ok := ids.Counter(id); !ok || back != c {
				t.Fatalf("Counter(Format(%d) = %s) = %d %v", c, id, back, ok)
			}
			v, _ := strconv.ParseInt(id, 10, 64)
			if v/10-100_000_000_000_000 < floor {
				t.Fatalf("Format(%d) = %s is below the floor: an ID issued in sequence", c, id)
			}
			got = append(got, v)
		}
		slices.Sort(got)
		for i := 1; i < len(got); i++ {
			if got[i] == got[i-1] {
				t.Fatalf("ID %d issued twice among counters %d…%d", got[i], start, start+n)
			}
		}
	}
	// what Format never returns, Counter refuses
	for _, s := range []string{store.SequentialID(5), "1000000000000000", "0123456789012345", "12345", "10000000000000x3", "9999999999999999"} {
		if c, ok := ids.Counter(s); ok {
			t.Errorf("Counter(%q) = %d, true", s, c)
		}
	}
}

// TestIDsShowNoOrder: IDs of consecutive counter values (a run of payments one after another)
// go up and down as a random sequence does and do not follow the counter's order, so two of a
// merchant's IDs say nothing about the payments in between — beyond, for two IDs of one group of
// IDGroup values, that fewer than IDGroup were made in between; another installation's key gives
// other IDs. Within a group the IDs are neighbours (that keeps the gid index local) but in no
// particular order.
func TestIDsShowNoOrder(t *testing.T) {
	ids := testIDs(0)
	var other [store.IDKeySize]byte
	copy(other[:], "another install.")
	ids2 := store.NewIDs(other, 0)
	const n = 40_960 // 160 groups
	const start = 1_234 * store.IDGroup
	vals := make([]int64, n)
	same := 0
	for i := range vals {
		id := ids.Format(int64(start + i))
		vals[i], _ = strconv.ParseInt(id, 10, 64)
		if ids2.Format(int64(start+i)) == id {
			same++
		}
	}
	if same > n/100 {
		t.Fatalf("%d of %d IDs equal under two keys", same, n)
	}
	var inUps, inSteps, acrossUps, acrossSteps int
	for i := 1; i < n; i++ {
		d := vals[i] - vals[i-1]
		abs := max(d, -d)
		if (start+i)%store.IDGroup != 0 { // both in one group
			inSteps++
			if d > 0 {
				inUps++
			}
			if abs >= 10*store.IDGroup {
				t.Fatalf("IDs %d and %d of one group are %d apart", vals[i-1], vals[i], abs)
			}
			continue
		}
		acrossSteps++
		if d > 0 {
			acrossUps++
		}
		if abs < 1_000_000_000 { // groups are spread over 8·10^14: this is 1 in 400,000 by chance
			t.Fatalf("consecutive IDs %d and %d of two groups are %d apart", vals[i-1], vals[i], abs)
		}
	}
	if inUps < inSteps*45/100 || inUps > inSteps*55/100 {
		t.Fatalf("%d of %d steps within a group go up: the IDs keep the counter's order", inUps, inSteps)
	}
	if acrossUps < acrossSteps*30/100 || acrossUps > acrossSteps*70/100 {
		t.Fatalf("%d of %d steps between groups go up: the groups keep the counter's order", acrossUps, acrossSteps)
	}
	// rank correlation with the counter (Spearman's rho), about ±0.1 for 160 groups in random order
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(vals[a], vals[b]) })
	var d2 float64
	for rank, i := range order {
		d := float64(rank - i)
		d2 += d * d
	}
	if rho := 1 - 6*d2/(float64(n)*(float64(n)*float64(n)-1)); rho > 0.3 || rho < -0.3 {
		t.Fatalf("rank correlation of IDs with the counter %.3f", rho)
	}
	// within one group, the order of the 256 values is the group's own: two groups order them
	// differently
	first := func(g int) []int64 {
		out := make([]int64, store.IDGroup)
		for o := range out {
			v, _ := strconv.ParseInt(ids.Format(int64(start+g*store.IDGroup+o)), 10, 64)
			out[o] = v
		}
		return out
	}
	a, b := first(0), first(1)
	agree := 0
	for o := 1; o < store.IDGroup; o++ {
		if (a[o] > a[o-1]) == (b[o] > b[o-1]) {
			agree++
		}
	}
	if agree > store.IDGroup*3/4 {
		t.Fatalf("two groups order their values alike (%d of %d steps)", agree, store.IDGroup-1)
	}
}

// TestCanonicalID: an old zero-padded ID is found whether it comes back as issued or as a number
// without its zeros; new IDs and anything that is not a number are taken as they are.
func TestCanonicalID(t *testing.T) {
	for in, want := range map[string]string{
		"0913533387558420480":  "0913533387558420480",
		"913533387558420480":   "0913533387558420480",
		"00913533387558420480": "00913533387558420480", // 20 characters: not an ID of ours, unchanged
		"1000000000000003":     "1000000000000003",
		"01000000000000003":    "1000000000000003", // a new ID sent with a zero in front
		"1234567890123456789":  "1234567890123456789",
		"abc":                  "abc",
		"":                     "",
		"000":                  "000",
	} {
		if got := store.CanonicalID(in); got != want {
			t.Errorf("CanonicalID(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIDBlocksAcrossInstances: two handles on one database (two instances; PostgreSQL when
// KESSAI_TEST_PG is set) reserving blocks concurrently never get overlapping numbers, share one
// permutation, and so never issue the same ID; a reopened database continues after the last block
// with the same key.
func TestIDBlocksAcrossInstances(t *testing.T) {
	db1, cfg := open(t)
	db2, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var mu sync.Mutex
	seen := map[int64]bool{}
	issued := map[string]bool{}
	var wg sync.WaitGroup
	for _, db := range []*store.DB{db1, db2, db1, db2} {
		wg.Add(1)
		go func(db *store.DB) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				first, err := db.ReserveIDs(context.Background(), store.IDBlock)
				if err != nil {
					t.Error(err)
					return
				}
				block := make([]string, 0, store.IDBlock)
				for n := first; n < first+store.IDBlock; n++ {
					block = append(block, db.IDs().Format(n))
				}
				mu.Lock()
				if seen[first] {
					t.Errorf("block %d handed out twice", first)
				}
				seen[first] = true
				for _, id := range block {
					if issued[id] {
						t.Errorf("ID %s issued twice", id)
					}
					issued[id] = true
				}
				mu.Unlock()
			}
		}(db)
	}
	wg.Wait()
	if len(seen) != 100 || len(issued) != 100*store.IDBlock {
		t.Fatalf("%d blocks, %d IDs", len(seen), len(issued))
	}
	for f := range seen {
		if f%store.IDBlock != 0 || seen[f+1] {
			t.Fatalf("block %d overlaps another", f)
		}
	}
	for n := int64(0); n < 100; n++ {
		if a, b := db1.IDs().Format(n), db2.IDs().Format(n); a != b {
			t.Fatalf("two instances format counter %d as %s and %s: not one key", n, a, b)
		}
	}
	next, err := db2.ReserveIDs(context.Background(), store.IDBlock)
	if err != nil || next != 100*store.IDBlock {
		t.Fatalf("next block %d %v, want %d", next, err, 100*store.IDBlock)
	}
	db2.Close()
	db3, err := store.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db3.Close()
	if a, b := db1.IDs().Format(12345), db3.IDs().Format(12345); a != b {
		t.Fatalf("reopened database formats counter 12345 as %s, before %s: the key changed", b, a)
	}
}

// TestIDPermutationUpgrade: a database that issued IDs in sequence (the counter at 5,000, before
// migration 0230) is upgraded: the permutation starts above what was issued, its IDs never repeat
// one of the 5,000 sequential ones, and a binary from before, still running, can no longer
// reserve a block (it would issue sequential IDs among the permuted ones).
func TestIDPermutationUpgrade(t *testing.T) {
	db, cfg := open(t)
	ctx := context.Background()
	// put the database back to how it was before 0230, 5,000 IDs issued
	if err := db.Tx(ctx, func(tx *store.Tx) error {
		for _, q := range []string{
			`DROP TABLE id_key`,
			`DELETE FROM schema_version WHERE version = 230`,
			`UPDATE id_blocks SET name = 'id', next_value = 5000 WHERE name = 'ids'`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	old := map[string]bool{}
	for n := int64(0); n < 5000; n++ {
		old[store.SequentialID(n)] = true
	}
	db.Close()
	db, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// how a binary from before reserved a block
	var next int64
	err = db.Tx(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(`UPDATE id_blocks SET next_value = next_value + 1000 WHERE name = 'id' RETURNING next_value`).Scan(&next)
	})
	if err == nil {
		t.Fatalf("an old binary still reserves blocks (next %d)", next)
	}
	first, err := db.ReserveIDs(ctx, store.IDBlock)
	if err != nil || first != 5000 {
		t.Fatalf("first block after the upgrade %d %v, want 5000", first, err)
	}
	for n := first; n < first+200_000; n++ {
		if id := db.IDs().Format(n); old[id] {
			t.Fatalf("counter %d gives %s, an ID issued in sequence before the upgrade", n, id)
		}
	}
	// the permutation knows the sequential IDs are not its own (it would take any 16-digit ID
	// that fails Luhn without a floor)
	if c, ok := db.IDs().Counter(store.SequentialID(4999)); ok {
		t.Fatalf("an ID issued in sequence maps back to counter %d", c)
	}
}

// BenchmarkIDFormat: the cost of turning a counter value into an ID, on the payment path once per
// gid/acid (go test -run - -bench IDFormat ./internal/store/).
func BenchmarkIDFormat(b *testing.B) {
	ids := testIDs(5000)
	b.ReportAllocs()
	n := int64(5000)
	for b.Loop() {
		_ = ids.Format(n)
		n++
	}
}

// BenchmarkSequentialID is the format alone (decimal digits and check digit), for comparison.
func BenchmarkSequentialID(b *testing.B) {
	b.ReportAllocs()
	n := int64(5000)
	for b.Loop() {
		_ = store.SequentialID(n)
		n++
	}
}
