package store

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Multi-row statements for a group commit (issue 18).
//
// A payment's transaction is two inserts (its card, then its payment row). Run one by one, the
// group-commit writer spent more time in per-statement overhead (database/sql, binding, stepping,
// resetting, and on PostgreSQL a round trip each) than in SQLite's b-trees. In the optimistic pass
// of a batch (no savepoints), InsertCard and InsertPayment therefore only buffer their rows, and
// the batch writes each table's rows with one multi-row INSERT. Nothing else changes:
//   - statement order is kept: any other statement of the transaction (an UPDATE, a kickback, a
//     read) first writes the rows buffered so far, so it sees them exactly as before;
//   - a card's ID is known at once, as before: IDs are reserved from the table's own counter in
//     the transaction (SQLite's sqlite_sequence row, PostgreSQL's sequence), never reused;
//   - if a buffered row fails (a taken order number, another store's concurrent payment), the
//     whole batch is rolled back and run again with a savepoint per operation and no buffering,
//     so only the failing operation is refused and it gets its own error (ErrConflict) as before.

// rowBuffer holds the rows of a batch's optimistic pass not written yet.
type rowBuffer struct {
	cards    []Card
	payments []Payment
	// a statement's values (row after row), its arguments (shared columns once), and PostgreSQL's
	// arguments for cards and payments together — kept for the next batch, like the rows
	values, args, both []any
	// card IDs reserved in this transaction: SQLite counts from its counter, PostgreSQL takes
	// values of the sequence, as many as the batch has operations, in one round trip
	nextCard int64
	reserve  int // the batch's size
}

// maxRowsPerInsert bounds one multi-row INSERT (32 columns × 64 rows = 2,048 parameters, far
// below either database's limit); a larger batch takes several statements.
const maxRowsPerInsert = 64

var rowBuffers = sync.Pool{New: func() any { return new(rowBuffer) }}

// getRowBuffer returns an empty buffer for a batch of n operations (reused across batches: the
// rows of a batch were a good part of a payment's allocations).
func getRowBuffer(n int) *rowBuffer {
	b := rowBuffers.Get().(*rowBuffer)
	b.reserve = n
	return b
}

func putRowBuffer(b *rowBuffer) {
	clear(b.cards[:cap(b.cards)])
	clear(b.payments[:cap(b.payments)])
	clear(b.values[:cap(b.values)])
	clear(b.args[:cap(b.args)])
	clear(b.both[:cap(b.both)])
	b.values, b.args, b.both = b.values[:0], b.args[:0], b.both[:0]
	b.cards, b.payments, b.nextCard, b.reserve = b.cards[:0], b.payments[:0], 0, 0
	rowBuffers.Put(b)
}

func (b *rowBuffer) empty() bool { return len(b.cards) == 0 && len(b.payments) == 0 }

// cardID reserves the next card ID. SQLite counts from its AUTOINCREMENT counter inside the
// transaction (the only writer). PostgreSQL takes values of the sequence from a cache that is
// refilled pcardIDBlock values at a time, outside the transaction: one round trip for many
// batches, and a batch that only buffers rows needs no transaction at all (groupCommitter.try).
// Values left in the cache when the process stops are skipped, like any gap of a sequence; card
// IDs are therefore unique but not in time order across instances (CardByCustomer orders by time).
func (t *Tx) cardID() (int64, error) {
	b := t.rows
	if t.db.Dialect == Postgres {
		return t.db.cardIDs.next(t.db)
	}
	if b.nextCard == 0 {
		// the only writer: the AUTOINCREMENT counter is the highest ID ever used
		var seq int64
		if err := t.queryRow(`SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'cards'), 0)`).Scan(&seq); err != nil {
			return 0, err
		}
		b.nextCard = seq + 1
	}
	id := b.nextCard
	b.nextCard++
	return id, nil
}

// pgCardIDBlock is how many card IDs a PostgreSQL instance takes from the sequence at a time.
const pgCardIDBlock = 512

// idCache hands out values of the cards' sequence taken in blocks (PostgreSQL).
type idCache struct {
	mu  sync.Mutex
	ids []int64
}

func (c *idCache) next(db *DB) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ids) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rows, err := db.W.QueryContext(ctx, `SELECT nextval(pg_get_serial_sequence('cards', 'id')) FROM generate_series(1, $1)`, pgCardIDBlock)
		if err != nil {
			return 0, err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, err
			}
			c.ids = append(c.ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if len(c.ids) == 0 {
			return 0, errNoIDs
		}
	}
	id := c.ids[0]
	c.ids = c.ids[1:]
	return id, nil
}

type errString string

func (e errString) Error() string { return string(e) }

const errNoIDs = errString("store: the card sequence returned no value")

// oneStatement reports whether flush writes the buffered rows with one statement: on PostgreSQL
// at most maxRowsPerInsert cards and payments, written together; on SQLite at most
// maxRowsPerInsert payments and no card (a card's ID is read in a transaction, which is then open).
func (b *rowBuffer) oneStatement(pg bool) bool {
	if !pg {
		return len(b.cards) == 0 && len(b.payments) > 0 && len(b.payments) <= maxRowsPerInsert
	}
	return !b.empty() && len(b.cards) <= maxRowsPerInsert && len(b.payments) <= maxRowsPerInsert
}

// flushAlone writes the buffered rows — the whole of a batch that opened no transaction — with
// one statement on its own, which the database makes atomic (and SQLite, with synchronous=FULL,
// durable before it returns). A refused row (a taken order number) wrote nothing: errOpFailed, so
// the batch runs again one savepoint per operation. Any other error may hide a commit — on
// PostgreSQL the connection died after the statement was sent, on SQLite the commit's write or
// fsync failed — so it is errCommitLost, as a failed COMMIT is.
func (t *Tx) flushAlone(ctx context.Context) error {
	b := t.rows
	pg := t.db.Dialect == Postgres
	var q string
	var args []any
	switch {
	case len(b.cards) > 0 && len(b.payments) > 0:
		q, args = b.cardsAndPayments(pg)
	case len(b.cards) > 0:
		_, q, args = b.cardRows(pg, b.cards, 1)
	default:
		_, q, args = b.paymentRows(pg, b.payments, 1)
	}
	var err error
	t.db.rowStatements.Add(1)
	if st, perr := t.db.prepared(&t.db.wStmts, t.db.W, q); perr == nil {
		_, err = st.ExecContext(ctx, args...)
	} else {
		_, err = t.db.W.ExecContext(ctx, q, args...)
	}
	b.cards, b.payments = b.cards[:0], b.payments[:0]
	if err == nil {
		t.db.batchesAlone.Add(1)
		return nil
	}
	if retryable(err) {
		return err // SQLite busy, a serialization failure: certainly not committed
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) || refusedBySQLite(err) {
		return errOpFailed // refused by the database: nothing was written
	}
	return fmt.Errorf("%w: %w", errCommitLost, err)
}

// flush writes the buffered rows: cards first (a payment names its card), then payments.
func (t *Tx) flush() error {
	b := t.rows
	if b == nil || b.empty() {
		return nil
	}
	pg := t.db.Dialect == Postgres
	cards, payments := b.cards, b.payments
	if pg && len(cards) <= maxRowsPerInsert && len(payments) <= maxRowsPerInsert && len(cards) > 0 && len(payments) > 0 {
		// one round trip for both tables: the cards' INSERT as a data-modifying WITH, which
		// PostgreSQL runs whether or not the payments' INSERT refers to it (it does not: a
		// payment names its card by the ID reserved above)
		q, args := b.cardsAndPayments(true)
		t.db.rowStatements.Add(1)
		if _, err := t.exec(q, args...); err != nil {
			if IsUnique(err) {
				return ErrConflict
			}
			return err
		}
		b.cards, b.payments = b.cards[:0], b.payments[:0]
		return nil
	}
	for len(cards) > 0 {
		n := min(len(cards), maxRowsPerInsert)
		_, q, args := b.cardRows(pg, cards[:n], 1)
		t.db.rowStatements.Add(1)
		if _, err := t.exec(q, args...); err != nil {
			return err
		}
		cards = cards[n:]
	}
	b.cards = b.cards[:0]
	for len(payments) > 0 {
		n := min(len(payments), maxRowsPerInsert)
		_, q, args := b.paymentRows(pg, payments[:n], 1)
		t.db.rowStatements.Add(1)
		_, err := t.exec(q, args...)
		if err != nil {
			if IsUnique(err) {
				return ErrConflict
			}
			return err
		}
		payments = payments[n:]
	}
	b.payments = b.payments[:0]
	return nil
}

// cardRows is the INSERT of cards and its arguments, its parameters numbered from first.
func (b *rowBuffer) cardRows(pg bool, cards []Card, first int) (rowShape, string, []any) {
	b.values = appendCardArgs(b.values[:0], cards)
	return b.shape(pg, cardsTable, len(cards), first)
}

// paymentRows is the INSERT of payments and its arguments, its parameters numbered from first.
func (b *rowBuffer) paymentRows(pg bool, payments []Payment, first int) (rowShape, string, []any) {
	b.values = b.values[:0]
	for i := range payments {
		b.values = appendPaymentArgs(b.values, &payments[i])
	}
	return b.shape(pg, paymentsTable, len(payments), first)
}

// cardsAndPayments is PostgreSQL's one statement for all the buffered cards and payments (at
// most maxRowsPerInsert of each) and its arguments.
func (b *rowBuffer) cardsAndPayments(pg bool) (string, []any) {
	ck, cq, cargs := b.cardRows(pg, b.cards, 1)
	b.both = append(b.both[:0], cargs...)
	pk, pq, pargs := b.paymentRows(pg, b.payments, len(b.both)+1)
	b.both = append(b.both, pargs...)
	k := [2]rowShape{ck, pk}
	if q, ok := bothShapes.Load(k); ok {
		return q.(string), b.both
	}
	q := "WITH c AS (" + cq + ") " + pq
	if rowShapeCount.Load() < maxRowShapes {
		bothShapes.Store(k, q)
	}
	return q, b.both
}

func appendCardArgs(args []any, cards []Card) []any {
	for i := range cards {
		c := &cards[i]
		args = append(args, c.ID, c.AID, c.KeyID, c.Blob, c.First6, c.Last4, c.Brand, c.Lookup, c.Exp, c.Holder, c.Em, c.Pn, NS(c.CreatedAt))
	}
	return args
}

func appendPaymentArgs(args []any, p *Payment) []any {
	var card any
	if p.CardID != 0 {
		card = p.CardID
	}
	return append(args, p.Gid, p.AID, p.Cod, p.Job, p.Status, p.Rst, p.Ec, p.Ap, p.God, p.Am, p.Tx, p.Sf, p.Ta, p.Captured, p.Refunded, card,
		p.First6, p.Last4, p.Brand, p.Md, p.Em, p.Pn, p.Inm, p.Free, p.Acid, p.Source, p.Fingerprint, p.NetRef, NS(p.AcceptedAt), NS(p.CreatedAt), NS(p.UpdatedAt), p.TDS)
}

const (
	cardsTable = iota
	paymentsTable
)

// Shared parameters (issue 18, seventh pass). Binding was a good part of the SQLite writer's
// time: the driver copies each text value into C memory, binds it, and after the step unbinds and
// frees it, each call under the connection's mutex — 32 columns a payment. Most columns of a batch
// hold one value in every row (the store, the job, the status, the many empty fields), so a column
// whose value is the same in all the rows of a statement is bound once, and every row names that
// one parameter (PostgreSQL: $N in every row; SQLite: a one-row subquery joined to the rows, see
// sqliteShared). The rows written are exactly those of one parameter per cell; only how many
// values cross into the database changes.

// rowShape is one multi-row INSERT: its table, its rows, which of its columns are shared, and the
// number of its first parameter (PostgreSQL's two-table statement goes on counting).
type rowShape struct {
	pg          bool
	table, rows int
	shared      uint64 // bit c set: column c is one parameter for all the rows
	first       int
}

var (
	rowShapes     sync.Map // rowShape -> query
	rowShapeCount atomic.Int64
	bothShapes    sync.Map // [2]rowShape -> PostgreSQL's statement for cards and payments
)

// maxRowShapes bounds the statements kept (each is also prepared): past it, a new shape shares no
// column — one shape per row count — so an unusual mix of batches cannot grow the caches without end.
const maxRowShapes = 512

var tableCols = [...]struct {
	name string
	n    int
}{
	cardsTable:    {`cards(id, aid, key_id, blob, first6, last4, brand, lookup, exp, holder, em, pn, created_at)`, 13},
	paymentsTable: {`payments(` + paymentInsertCols + `)`, paymentInsertN},
}

// shape turns b.values — rows rows of table's columns, row after row — into the INSERT that
// writes them and its arguments: first the shared columns' values, then each row's others.
func (b *rowBuffer) shape(pg bool, table, rows, first int) (rowShape, string, []any) {
	cols := tableCols[table].n
	vals := b.values
	var shared uint64
	if rows > 1 {
		for c := 0; c < cols; c++ {
			if sameInAllRows(vals, c, cols, rows) {
				shared |= 1 << c
			}
		}
	}
	if bits.OnesCount64(shared) == cols {
		shared &^= 1 // identical rows (not seen: IDs differ) still keep a column of their own
	}
	k := rowShape{pg, table, rows, shared, first}
	q, ok := rowShapes.Load(k)
	if !ok && shared != 0 && rowShapeCount.Load() >= maxRowShapes {
		k.shared, shared = 0, 0
		q, ok = rowShapes.Load(k)
	}
	if !ok {
		var loaded bool
		if q, loaded = rowShapes.LoadOrStore(k, k.sql()); !loaded {
			rowShapeCount.Add(1)
		}
	}
	args := b.args[:0]
	for c := 0; c < cols; c++ {
		if shared&(1<<c) != 0 {
			args = append(args, vals[c])
		}
	}
	for r := 0; r < rows; r++ {
		for c, v := range vals[r*cols : (r+1)*cols] {
			if shared&(1<<c) == 0 {
				args = append(args, v)
			}
		}
	}
	b.args = args
	return k, q.(string), args
}

// sameInAllRows reports whether column c holds one value in every row. Only strings, integers and
// NULLs are compared; byte slices (sealed cards, lookup digests) are never shared.
func sameInAllRows(vals []any, c, cols, rows int) bool {
	switch v := vals[c].(type) {
	case string:
		for r := 1; r < rows; r++ {
			if s, ok := vals[r*cols+c].(string); !ok || s != v {
				return false
			}
		}
	case int64:
		for r := 1; r < rows; r++ {
			if n, ok := vals[r*cols+c].(int64); !ok || n != v {
				return false
			}
		}
	case nil:
		for r := 1; r < rows; r++ {
			if vals[r*cols+c] != nil {
				return false
			}
		}
	default:
		return false
	}
	return true
}

// sql writes the statement: on SQLite INSERT OR ROLLBACK — a row that fails undoes the whole
// transaction (which the batch then runs again, one savepoint per operation), so SQLite keeps no
// statement journal, a copy of every page the statement changes to undo it alone, which cost more
// than the inserts themselves.
func (k rowShape) sql() string {
	var b strings.Builder
	if k.pg {
		b.WriteString("INSERT INTO ")
	} else {
		b.WriteString("INSERT OR ROLLBACK INTO ")
	}
	t := tableCols[k.table]
	b.WriteString(t.name)
	if !k.pg && k.shared != 0 {
		k.sqliteShared(&b)
		return b.String()
	}
	b.WriteString(" VALUES ")
	mark := byte('?')
	if k.pg {
		mark = '$'
	}
	nShared := bits.OnesCount64(k.shared)
	distinct := t.n - nShared
	for r := 0; r < k.rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		si, di := 0, 0
		for c := 0; c < t.n; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			var n int
			if k.shared&(1<<c) != 0 {
				n = k.first + si
				si++
			} else {
				n = k.first + nShared + r*distinct + di
				di++
			}
			b.WriteByte(mark)
			if k.pg {
				// on SQLite (nothing shared here) the parameters come in order: plain "?", as a
				// numbered one costs the driver a lookup of its name at every execution
				b.WriteString(strconv.Itoa(n))
			}
		}
		b.WriteByte(')')
	}
	return b.String()
}

// sqliteShared writes SQLite's form of a statement with shared columns. SQLite's numbered
// parameters (?N) cost the driver a lookup of each parameter's name at every execution, more than
// the binding they save, so the shared values are one row of plain parameters joined to the rows
// of the others: SELECT s.c0, v.column1, … FROM (SELECT ? AS c0, …) AS s, (VALUES (?, …), …) AS v.
func (k rowShape) sqliteShared(b *strings.Builder) {
	t := tableCols[k.table]
	b.WriteString(" SELECT ")
	v := 0
	for c := 0; c < t.n; c++ {
		if c > 0 {
			b.WriteByte(',')
		}
		if k.shared&(1<<c) != 0 {
			b.WriteString("s.c")
			b.WriteString(strconv.Itoa(c))
		} else {
			v++
			b.WriteString("v.column")
			b.WriteString(strconv.Itoa(v))
		}
	}
	b.WriteString(" FROM (SELECT ")
	first := true
	for c := 0; c < t.n; c++ {
		if k.shared&(1<<c) != 0 {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString("? AS c")
			b.WriteString(strconv.Itoa(c))
		}
	}
	b.WriteString(") AS s, (VALUES ")
	for r := 0; r < k.rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i := 0; i < v; i++ {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	b.WriteString(") AS v")
}

// refusedBySQLite reports whether err is SQLite refusing a statement by a constraint (a taken
// order number, a NOT NULL column): the statement then changed nothing.
func refusedBySQLite(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
