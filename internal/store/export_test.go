package store

import "time"

// RunBatch runs fns as one group-commit batch (as the writer does when they arrive together) and
// returns each one's outcome.
func RunBatch(db *DB, fns ...func(*Tx) error) []error {
	batch := make([]*gcOp, len(fns))
	for i, fn := range fns {
		batch[i] = &gcOp{fn: fn, done: make(chan error, 1)}
	}
	db.gc.run(batch)
	out := make([]error, len(fns))
	for i, op := range batch {
		out[i] = <-op.done
	}
	return out
}

// BatchesAlone is how many batches were written as one statement without a transaction.
func BatchesAlone(db *DB) int64 { return db.batchesAlone.Load() }

// RowStatements is how many multi-row INSERTs wrote buffered rows.
func RowStatements(db *DB) int64 { return db.rowStatements.Load() }

// CardByCustomerQuery is CardByCustomer's query, for its plan.
const CardByCustomerQuery = cardByCustomerQuery

// Where is a filter's WHERE clause and arguments.
func (f *PaymentFilter) Where() (string, []any, error) { return f.where() }

// SipHash5 exposes the permutation's round function, to check it against SipHash's own vectors.
var SipHash5 = sipHash5

// SmallPermutation is the IDs permutation on a small range [lo, hi) of a 2·half-bit Feistel
// network, small enough to check whole.
func SmallPermutation(key [IDKeySize]byte, half uint, lo, hi uint64) (permute, invert func(uint64) uint64) {
	f := newFeistel(key, half, lo, hi)
	return f.permute, f.invert
}

// IDSpace is how many counter values there are.
const IDSpace = idSpace

// LingerOf is the longest db's writer waits for a batch to grow.
func LingerOf(db *DB) time.Duration { return db.gc.lingerMax }

// LingerAlways makes db's writer linger whenever another write is expected, without the trial
// that otherwise decides whether lingering pays (as KESSAI_GROUP_COMMIT_LINGER does).
func LingerAlways(db *DB) { db.gc.always.Store(true) }

// PaymentsInsert is the multi-row INSERT flush writes for payments, and its arguments.
func PaymentsInsert(pg bool, payments []Payment) (string, []any) {
	var b rowBuffer
	_, q, args := b.paymentRows(pg, payments, 1)
	return q, args
}

// FillRowShapes pretends the cache of statement shapes is full (true) or restores its count.
func FillRowShapes(full bool) (restore func()) {
	was := rowShapeCount.Load()
	if full {
		rowShapeCount.Store(maxRowShapes)
	}
	return func() { rowShapeCount.Store(was) }
}
