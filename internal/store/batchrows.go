package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
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

// oneStatement reports whether flush writes the buffered rows with one statement (PostgreSQL:
// at most maxRowsPerInsert cards and payments, written together).
func (b *rowBuffer) oneStatement() bool {
	return !b.empty() && len(b.cards) <= maxRowsPerInsert && len(b.payments) <= maxRowsPerInsert
}

// flushAlone writes the buffered rows — the whole of a batch that opened no transaction — with
// one statement on its own, which PostgreSQL makes atomic. A refused row (a taken order number)
// wrote nothing: errOpFailed, so the batch runs again one savepoint per operation. An error that
// is not the server's answer (the connection died after the statement was sent) may hide a
// commit: errCommitLost.
func (t *Tx) flushAlone(ctx context.Context) error {
	b := t.rows
	cards, payments := b.cards, b.payments
	var q string
	var args []any
	switch {
	case len(cards) > 0 && len(payments) > 0:
		q = t.db.Q(pgCardsAndPayments(len(cards), len(payments)))
		args = make([]any, 0, len(cards)*13+len(payments)*paymentInsertN)
		args = appendCardArgs(args, cards)
		for i := range payments {
			args = appendPaymentArgs(args, &payments[i])
		}
	case len(cards) > 0:
		q = t.db.Q(t.multiRow(cardsTable, len(cards)))
		args = appendCardArgs(make([]any, 0, len(cards)*13), cards)
	default:
		q = t.db.Q(t.multiRow(paymentsTable, len(payments)))
		args = make([]any, 0, len(payments)*paymentInsertN)
		for i := range payments {
			args = appendPaymentArgs(args, &payments[i])
		}
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
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if retryable(err) {
			return err
		}
		return errOpFailed // refused by the server: nothing was written
	}
	return fmt.Errorf("%w: %w", errCommitLost, err)
}

// flush writes the buffered rows: cards first (a payment names its card), then payments.
func (t *Tx) flush() error {
	b := t.rows
	if b == nil || b.empty() {
		return nil
	}
	cards, payments := b.cards, b.payments
	if t.db.Dialect == Postgres && len(cards) <= maxRowsPerInsert && len(payments) <= maxRowsPerInsert && len(cards) > 0 && len(payments) > 0 {
		// one round trip for both tables: the cards' INSERT as a data-modifying WITH, which
		// PostgreSQL runs whether or not the payments' INSERT refers to it (it does not: a
		// payment names its card by the ID reserved above)
		args := make([]any, 0, len(cards)*13+len(payments)*paymentInsertN)
		args = appendCardArgs(args, cards)
		for i := range payments {
			args = appendPaymentArgs(args, &payments[i])
		}
		t.db.rowStatements.Add(1)
		if _, err := t.exec(pgCardsAndPayments(len(cards), len(payments)), args...); err != nil {
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
		args := appendCardArgs(make([]any, 0, n*13), cards[:n])
		t.db.rowStatements.Add(1)
		if _, err := t.exec(t.multiRow(cardsTable, n), args...); err != nil {
			return err
		}
		cards = cards[n:]
	}
	b.cards = b.cards[:0]
	for len(payments) > 0 {
		n := min(len(payments), maxRowsPerInsert)
		args := make([]any, 0, n*paymentInsertN)
		for i := range payments[:n] {
			args = appendPaymentArgs(args, &payments[i])
		}
		t.db.rowStatements.Add(1)
		_, err := t.exec(t.multiRow(paymentsTable, n), args...)
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

func appendCardArgs(args []any, cards []Card) []any {
	for i := range cards {
		c := &cards[i]
		args = append(args, c.ID, c.AID, c.KeyID, c.Blob, c.First6, c.Last4, c.Brand, c.Lookup, c.Exp, c.Holder, c.Em, c.Pn, NS(c.CreatedAt))
	}
	return args
}

var pgBoth sync.Map // [2]int{cards, payments} -> query

// pgCardsAndPayments is the PostgreSQL statement that inserts cards cards and payments payments.
func pgCardsAndPayments(cards, payments int) string {
	k := [2]int{cards, payments}
	if v, ok := pgBoth.Load(k); ok {
		return v.(string)
	}
	var tx Tx
	tx.db = &DB{Dialect: Postgres}
	q := "WITH c AS (" + tx.multiRow(cardsTable, cards) + ") " + tx.multiRow(paymentsTable, payments)
	pgBoth.Store(k, q)
	return q
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

var multiRowSQL sync.Map // multiRowKey -> query

type multiRowKey struct {
	postgres    bool
	table, rows int
}

// multiRow returns the INSERT of rows rows into table. On SQLite it is INSERT OR ROLLBACK: a row
// that fails undoes the whole transaction (which the batch then runs again, one savepoint per
// operation), so SQLite keeps no statement journal — a copy of every page the statement changes,
// to undo it alone, which cost more than the inserts themselves.
func (t *Tx) multiRow(table, rows int) string {
	k := multiRowKey{t.db.Dialect == Postgres, table, rows}
	if v, ok := multiRowSQL.Load(k); ok {
		return v.(string)
	}
	var b strings.Builder
	if k.postgres {
		b.WriteString("INSERT INTO ")
	} else {
		b.WriteString("INSERT OR ROLLBACK INTO ")
	}
	cols := 13
	if table == cardsTable {
		b.WriteString(`cards(id, aid, key_id, blob, first6, last4, brand, lookup, exp, holder, em, pn, created_at) VALUES `)
	} else {
		b.WriteString(`payments(` + paymentInsertCols + `) VALUES `)
		cols = paymentInsertN
	}
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
		}
		b.WriteByte(')')
	}
	q := b.String()
	multiRowSQL.Store(k, q)
	return q
}
