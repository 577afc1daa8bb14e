// Package store opens Kessai's database (SQLite embedded by default, PostgreSQL for several
// instances), runs the embedded migrations, and provides the group-commit writer that lets many
// payments share one durable disk flush. Domain repositories live in this package too and speak
// plain SQL written once for both dialects ("?" placeholders are rebound for PostgreSQL).
package store

import (
	"sync/atomic"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"kessai/internal/clock"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite", pure Go
)

// Dialects.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is an open Kessai database.
type DB struct {
	R         *sql.DB // readers
	W         *sql.DB // the single writer connection pool (one connection on SQLite)
	Dialect   string
	Where     string // data directory or masked URL, for messages
	gc        *groupCommitter
	rebind    map[string]string
	wStmts    sync.Map // query -> *sql.Stmt prepared on W: parsing SQL per call cost a third of a payment's CPU
	pendingMu sync.Mutex
	pending   map[string]bool
	rStmts    sync.Map                    // query -> *sql.Stmt prepared on R
	clk       atomic.Pointer[clock.Clock] // clock.go
	cardIDs   idCache                     // PostgreSQL: card IDs taken from the sequence in blocks (batchrows.go)
	// batchesAlone counts group-commit batches written as one statement without a transaction
	// (PostgreSQL, batchrows.go), for tests and the metrics
	batchesAlone atomic.Int64
	// rowStatements counts the multi-row INSERTs that wrote buffered rows (batchrows.go), for tests
	rowStatements atomic.Int64
	ids           *IDs // ids.go
}

func (db *DB) prepared(m *sync.Map, pool *sql.DB, q string) (*sql.Stmt, error) {
	if v, ok := m.Load(q); ok {
		return v.(*sql.Stmt), nil
	}
	st, err := pool.Prepare(q)
	if err != nil {
		return nil, err
	}
	if v, loaded := m.LoadOrStore(q, st); loaded {
		st.Close()
		return v.(*sql.Stmt), nil
	}
	return st, nil
}

// Config says which database to open.
type Config struct {
	DataDir     string // SQLite lives in DataDir/kessai.db
	DatabaseURL string // postgres://… wins over DataDir
}

// Open opens (creating if needed) the database and brings its schema up to date.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	var db *DB
	var err error
	if cfg.DatabaseURL != "" {
		db, err = openPostgres(ctx, cfg.DatabaseURL)
	} else {
		db, err = openSQLite(ctx, cfg.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if db.ids, err = db.loadIDs(ctx); err != nil {
		db.Close()
		return nil, err
	}
	db.gc = newGroupCommitter(db)
	return db, nil
}

func openSQLite(ctx context.Context, dir string) (*DB, error) {
	if dir == "" {
		dir = "kessai-data"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", dir, err)
	}
	path := filepath.Join(dir, "kessai.db")
	// synchronous(FULL): a payment is on disk before its answer. busy_timeout: the CLI may write
	// (maintenance start) while the server runs.
	// busy_timeout bounds how long a request waits for a lock held by another process (a CLI
	// write, a backup): long enough to ride out a short one, short enough that the merchant gets a
	// clear ER000 instead of a hang.
	pragmas := "_pragma=busy_timeout(2500)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)"
	// On the writer: temp_store(MEMORY), a statement journal (kept to undo one statement of a
	// transaction) stays in memory instead of spilling to a temporary file; an 8 MiB page cache
	// (default 2 MiB) keeps the indexes' pages between batches once the tables outgrow it.
	w, err := sql.Open("sqlite", "file:"+path+"?"+pragmas+"&_pragma=temp_store(MEMORY)&_pragma=cache_size(-8192)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", "file:"+path+"?"+pragmas)
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &DB{R: r, W: w, Dialect: SQLite, Where: dir}, nil
}

func openPostgres(ctx context.Context, url string) (*DB, error) {
	p, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	p.SetMaxOpenConns(24)
	p.SetMaxIdleConns(24)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := p.PingContext(pctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("cannot reach PostgreSQL at %s: %w", MaskURL(url), err)
	}
	w, _ := sql.Open("pgx", url)
	w.SetMaxOpenConns(4)
	return &DB{R: p, W: w, Dialect: Postgres, Where: MaskURL(url), rebind: map[string]string{}}, nil
}

// MaskURL hides the password of a database URL for logs.
func MaskURL(u string) string {
	at := strings.LastIndex(u, "@")
	sch := strings.Index(u, "://")
	if at < 0 || sch < 0 {
		return u
	}
	cred := u[sch+3 : at]
	if i := strings.Index(cred, ":"); i >= 0 {
		return u[:sch+3] + cred[:i] + ":***" + u[at:]
	}
	return u
}

// Close stops the writer and closes the pools.
func (db *DB) Close() error {
	if db.gc != nil {
		db.gc.close()
	}
	db.W.Close()
	return db.R.Close()
}

// Q rebinds a query written with "?" placeholders for the current dialect.
func (db *DB) Q(q string) string {
	if db.Dialect != Postgres {
		return q
	}
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	r := rebindDollar(q)
	rebound.Store(q, r)
	return r
}

// rebound caches rebindDollar: queries are constants (or multi-row shapes), so the map stays
// small, and rebinding every statement was a formatted write per placeholder.
var rebound sync.Map

func rebindDollar(q string) string {
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '?' && !inStr {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Tx runs fn in a transaction on the writer, outside group commit: for rare, larger changes.
func (db *DB) Tx(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := db.W.BeginTx(ctx, nil)
		if err != nil {
			return classify(err)
		}
		t := &Tx{Tx: tx, db: db, ctx: ctx}
		if err := fn(t); err != nil {
			tx.Rollback()
			if retryable(err) && attempt < 5 {
				time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
				continue
			}
			return err
		}
		if err := tx.Commit(); err != nil {
			if retryable(err) && attempt < 5 {
				continue
			}
			return classify(err)
		}
		db.preparePending()
		return nil
	}
}

// Tx is a transaction that rebinds its queries for the dialect.
type Tx struct {
	*sql.Tx
	db *DB
	// rows, when set (the optimistic pass of a group commit), buffers InsertCard and
	// InsertPayment for multi-row statements (batchrows.go)
	rows *rowBuffer
	// begin, when set, opens the transaction (Tx) at the first statement that needs it
	// (PostgreSQL's optimistic pass of a group commit; see groupCommitter.try)
	begin    func() (*sql.Tx, error)
	beginErr error
	// ctx bounds every statement of the transaction (the group commit's batch deadline): a
	// statement whose answer never comes — a connection left half-open by a database that died
	// under it — fails when it ends instead of holding the writer, and every payment behind it,
	// for ever
	ctx context.Context
}

// context is the transaction's deadline (none when it has none).
func (t *Tx) context() context.Context {
	if t.ctx != nil {
		return t.ctx
	}
	return context.Background()
}

// open begins the transaction if it is still deferred.
func (t *Tx) open() error {
	if t.Tx != nil {
		return nil
	}
	if t.beginErr == nil {
		if t.begin == nil {
			t.beginErr = errString("store: no transaction")
		} else {
			t.Tx, t.beginErr = t.begin()
		}
	}
	return t.beginErr
}

// canceled is a context that is done: a query run with it fails at once (a *sql.Row cannot be
// made to carry an error otherwise).
var canceled = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// stmt returns q prepared for this transaction's connection from the writer's statement cache,
// or nil on a cache miss. A miss cannot prepare on the pool here (on SQLite the transaction holds
// the writer's only connection), so the query is remembered and prepared after the transaction.
func (t *Tx) stmt(q string) *sql.Stmt {
	if v, ok := t.db.wStmts.Load(q); ok {
		return t.Tx.Stmt(v.(*sql.Stmt))
	}
	t.db.pendingMu.Lock()
	if t.db.pending == nil {
		t.db.pending = map[string]bool{}
	}
	t.db.pending[q] = true
	t.db.pendingMu.Unlock()
	return nil
}

// preparePending prepares, on the writer pool, the queries transactions missed in the cache.
// Called with no transaction open.
func (db *DB) preparePending() {
	db.pendingMu.Lock()
	qs := db.pending
	db.pending = nil
	db.pendingMu.Unlock()
	for q := range qs {
		if _, ok := db.wStmts.Load(q); ok {
			continue
		}
		if st, err := db.W.Prepare(q); err == nil {
			db.wStmts.Store(q, st)
		}
	}
}

// Exec runs a statement written with "?" placeholders (after the rows buffered so far).
func (t *Tx) Exec(q string, args ...any) (sql.Result, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	return t.exec(q, args...)
}

// execBeside runs a statement without first writing the rows this batch has buffered; they are
// written after it, in the same transaction, as if their operations had come after this one — an
// order in which the batch's operations, concurrent requests, could as well have arrived. Only
// for a statement that can neither read nor change a buffered row, nor fail because of one: an
// UPDATE of a row an earlier batch committed, an INSERT into a table no buffered row refers to.
// A batch whose buffered rows then fail runs again one savepoint per operation, in order.
// (Issue 18, sixth pass: under AUTH + SALES load every SALES wrote the AUTHs buffered before it,
// so a batch's new payments went in one-row INSERTs instead of one statement.)
func (t *Tx) execBeside(q string, args ...any) (sql.Result, error) {
	return t.exec(q, args...)
}

// queryRowBeside is execBeside for a statement that returns a row.
func (t *Tx) queryRowBeside(q string, args ...any) *sql.Row {
	return t.queryRow(q, args...)
}

func (t *Tx) exec(q string, args ...any) (sql.Result, error) {
	if err := t.open(); err != nil {
		return nil, err
	}
	q = t.db.Q(q)
	if st := t.stmt(q); st != nil {
		return st.ExecContext(t.context(), args...)
	}
	return t.Tx.ExecContext(t.context(), q, args...)
}

// QueryRow runs a one-row query written with "?" placeholders (after the rows buffered so far;
// if writing them fails, the query runs on the rolled-back transaction and its Scan fails).
func (t *Tx) QueryRow(q string, args ...any) *sql.Row {
	if err := t.flush(); err != nil && t.Tx != nil {
		t.Tx.Rollback()
	}
	return t.queryRow(q, args...)
}

func (t *Tx) queryRow(q string, args ...any) *sql.Row {
	if err := t.open(); err != nil {
		return t.db.W.QueryRowContext(canceled, "SELECT 1") // its Scan fails
	}
	q = t.db.Q(q)
	if st := t.stmt(q); st != nil {
		return st.QueryRowContext(t.context(), args...)
	}
	return t.Tx.QueryRowContext(t.context(), q, args...)
}

// Query runs a query written with "?" placeholders (after the rows buffered so far).
func (t *Tx) Query(q string, args ...any) (*sql.Rows, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	return t.query(q, args...)
}

func (t *Tx) query(q string, args ...any) (*sql.Rows, error) {
	if err := t.open(); err != nil {
		return nil, err
	}
	q = t.db.Q(q)
	if st := t.stmt(q); st != nil {
		return st.QueryContext(t.context(), args...)
	}
	return t.Tx.QueryContext(t.context(), q, args...)
}

// InsertID inserts and returns the new row's id column on both dialects.
func (t *Tx) InsertID(q string, args ...any) (int64, error) {
	var id int64
	err := t.QueryRow(q+" RETURNING id", args...).Scan(&id)
	return id, err
}

// QueryRow reads one row outside any transaction.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	st, err := db.prepared(&db.rStmts, db.R, db.Q(q))
	if err != nil {
		return db.R.QueryRowContext(ctx, db.Q(q), args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Query reads rows outside any transaction.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := db.prepared(&db.rStmts, db.R, db.Q(q))
	if err != nil {
		return nil, classify(err)
	}
	return st.QueryContext(ctx, args...)
}

// ErrUnavailable means the database could not be reached or stayed locked: callers answer with a
// clear "try again" error, never a false success.
var ErrUnavailable = errors.New("database unavailable")

// ErrNotFound is returned by look-ups that find nothing.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when a unique key is already taken.
var ErrConflict = errors.New("conflict")

func retryable(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "SQLITE_BUSY") || strings.Contains(s, "database is locked") ||
		strings.Contains(s, "40001") || strings.Contains(s, "40P01") // serialization failure, deadlock
}

// IsUnique reports whether err is a unique-constraint violation.
func IsUnique(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || strings.Contains(s, "23505") ||
		strings.Contains(s, "duplicate key")
}

func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	s := err.Error()
	if retryable(err) || strings.Contains(s, "connection refused") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "bad connection") || strings.Contains(s, "57P01") || strings.Contains(s, "closed") {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}
