package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// groupCommitter batches many small write transactions into one database transaction, so that
// many payments share one disk flush (an fsync costs ~0.2 ms here; one per payment would cap a
// server at a few thousand payments per second). Each operation runs inside its own SAVEPOINT, so
// one failing operation is rolled back alone and reported only to its caller.
type groupCommitter struct {
	// downUntil: after a batch failed because the database was unavailable, batches fail fast
	// until then instead of queueing behind another long wait (only the loop goroutines touch it)
	downUntil atomicTime
	db        *DB
	ch        chan *gcOp
	quit      chan struct{}
	wg        sync.WaitGroup
	closed    sync.Once
	// committed batches and the operations in them (WriterStats)
	batches, ops, lingered atomic.Int64
	arr                    arrivals      // the loop goroutine's estimate of the write rate (linger)
	lingerMax              time.Duration // lingerFor(the dialect)
	// trial: whether lingering pays, measured (lingertrial.go); always skips it and lingers
	// whenever a write is expected (KESSAI_GROUP_COMMIT_LINGER set, or a test)
	trial  lingerTrial
	always atomic.Bool
	// the trial's outcome, for WriterStats: finished trials, those that chose to linger, and
	// whether the writer lingers now (1) or not (0)
	trials, trialsLinger, lingering atomic.Int64
}

type gcOp struct {
	fn   func(*Tx) error
	done chan error
}

const maxBatch = 256

func newGroupCommitter(db *DB) *groupCommitter {
	g := &groupCommitter{db: db, ch: make(chan *gcOp, 4096), quit: make(chan struct{}), lingerMax: lingerFor(db.Dialect)}
	_, set := lingerEnv()
	g.always.Store(set)
	// One writer goroutine on both databases. SQLite has one writer anyway. On PostgreSQL two
	// overlapped their flushes while a batch was four round trips; since a batch of inserts is one
	// statement (batchrows.go), one writer makes larger batches and its INSERTs no longer contend
	// for the same index pages: two instances took 12,130-12,885 payments/s with one writer
	// against 10,294-11,546/s with two, in the same rounds (kessai bench pgfloor, 3 rounds), and
	// 4 or 8 writers fell to 5,087 and 3,323/s.
	g.wg.Add(1)
	go g.loop()
	return g
}

func (g *groupCommitter) close() {
	g.closed.Do(func() { close(g.quit) })
	g.wg.Wait()
}

// Write runs fn in a group-committed transaction and returns once that transaction is durable
// (or failed). fn may be called more than once if the batch is retried, so it must only touch the
// database through tx.
func (db *DB) Write(ctx context.Context, fn func(*Tx) error) error {
	op := &gcOp{fn: fn, done: make(chan error, 1)}
	select {
	case db.gc.ch <- op:
	case <-ctx.Done():
		return ctx.Err()
	case <-db.gc.quit:
		return ErrUnavailable
	}
	// Once queued, wait for the outcome even if the caller gives up: the answer must match what
	// was committed.
	return <-op.done
}

func (g *groupCommitter) loop() {
	defer g.wg.Done()
	batch := make([]*gcOp, 0, maxBatch)
	for {
		var first *gcOp
		select {
		case first = <-g.ch:
		case <-g.quit:
			// drain what is queued so no caller waits forever
			for {
				select {
				case op := <-g.ch:
					g.run([]*gcOp{op})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	fill:
		for len(batch) < maxBatch {
			select {
			case op := <-g.ch:
				batch = append(batch, op)
			default:
				break fill
			}
		}
		g.linger(&batch)
		g.run(batch)
		if g.lingerMax > 0 && !g.always.Load() {
			g.trial.committed(len(batch), time.Now())
			g.trials.Store(g.trial.trials)
			g.trialsLinger.Store(g.trial.chose)
			g.lingering.Store(b2i(g.trial.on))
		}
	}
}

func (g *groupCommitter) run(batch []*gcOp) {
	results := make([]error, len(batch))
	var err error
	if time.Now().Before(g.downUntil.Load()) {
		for _, op := range batch {
			op.done <- ErrUnavailable
		}
		return
	}
	// Optimistic first: the whole batch without savepoints (two statements — two round trips to
	// PostgreSQL — fewer per operation). If one operation fails, the batch is rolled back and run
	// again with a savepoint around each operation, so only the failing one is undone.
	// A batch of one is optimistic too: on PostgreSQL its rows then go in one round trip.
	savepoints := false
	ambiguous := false // a COMMIT was sent and its answer lost: it may have taken effect
	for attempt := 0; attempt < 2; attempt++ {
		err = g.try(batch, results, savepoints)
		if errors.Is(err, errCommitLost) {
			ambiguous = true
		}
		if errors.Is(err, errOpFailed) {
			savepoints = true
			attempt--
			continue
		}
		g.db.preparePending()
		if err == nil {
			// counted before anyone is answered: a caller that reads WriterStats after its
			// answer finds its own write counted
			g.batches.Add(1)
			g.ops.Add(int64(len(batch)))
			for i, op := range batch {
				op.done <- results[i]
			}
			return
		}
		if !retryable(err) && !errors.Is(classify(err), ErrUnavailable) {
			break
		}
		time.Sleep(time.Duration(attempt+1) * 20 * time.Millisecond)
	}
	err = classify(err)
	if errors.Is(err, ErrUnavailable) || ambiguous {
		g.downUntil.Store(time.Now().Add(time.Second))
	}
	if ambiguous {
		err = fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
	}
	for _, op := range batch {
		op.done <- err
	}
}

type atomicTime struct{ v atomic.Int64 }

func (a *atomicTime) Load() time.Time   { return time.Unix(0, a.v.Load()) }
func (a *atomicTime) Store(t time.Time) { a.v.Store(t.UnixNano()) }

// errOpFailed reports that an operation of a batch tried without savepoints failed.
var errOpFailed = errors.New("an operation of the batch failed")

func (g *groupCommitter) try(batch []*gcOp, results []error, savepoints bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	tx := &Tx{db: g.db, ctx: ctx}
	if !savepoints {
		// Optimistic pass: the transaction opens at the batch's first statement that is not a
		// buffered row. A batch of payments that only buffered their rows (CAPTURE, AUTH) then
		// needs no transaction: its one multi-row INSERT runs on its own and is atomic and, on
		// SQLite with synchronous=FULL, durable by itself when it returns. On PostgreSQL that is
		// one round trip instead of four (BEGIN, the card IDs, the INSERT, COMMIT); on SQLite it
		// spares the writer BEGIN IMMEDIATE and COMMIT, each a statement the driver prepares
		// afresh. (On SQLite a card's ID is read in the transaction, so a batch with a new card
		// opens one.)
		tx.begin = func() (*sql.Tx, error) { return g.db.W.BeginTx(ctx, nil) }
	} else {
		sqlTx, err := g.db.W.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		tx.Tx = sqlTx
	}
	rollback := func() {
		if tx.Tx != nil {
			tx.Tx.Rollback()
		}
	}
	if !savepoints {
		tx.rows = getRowBuffer(len(batch))
		defer putRowBuffer(tx.rows)
	}
	single := len(batch) == 1
	for i, op := range batch {
		if !savepoints {
			e := op.fn(tx)
			if e != nil {
				rollback()
				if retryable(e) {
					return e
				}
				return errOpFailed
			}
			results[i] = nil
			continue
		}
		if !single {
			if _, err := tx.Exec("SAVEPOINT gc"); err != nil {
				rollback()
				return err
			}
		}
		e := op.fn(tx)
		if e != nil && retryable(e) {
			rollback()
			return e
		}
		if !single {
			if e != nil {
				if _, err := tx.Exec("ROLLBACK TO SAVEPOINT gc"); err != nil {
					rollback()
					return err
				}
			}
			if _, err := tx.Exec("RELEASE SAVEPOINT gc"); err != nil {
				rollback()
				return err
			}
		} else if e != nil {
			rollback()
			results[i] = e
			return nil
		}
		results[i] = e
	}
	if tx.Tx == nil && tx.rows != nil && tx.rows.oneStatement(g.db.Dialect == Postgres) {
		// no transaction was opened: the buffered rows are the whole batch, one statement
		return tx.flushAlone(ctx)
	}
	if err := tx.flush(); err != nil {
		// a buffered row failed (a taken order number…): find whose, one savepoint each
		rollback()
		if retryable(err) {
			return err
		}
		return errOpFailed
	}
	if tx.Tx == nil {
		return nil // nothing was written at all
	}
	if err := tx.Tx.Commit(); err != nil {
		if retryable(err) {
			return err // SQLite busy, a serialization failure: certainly not committed
		}
		return fmt.Errorf("%w: %w", errCommitLost, err)
	}
	return nil
}

// errCommitLost: the COMMIT was sent but its answer did not come back (the connection or the
// server died meanwhile), so the transaction may or may not have been committed.
var errCommitLost = errors.New("commit outcome lost")

// ErrOutcomeUnknown means a write's transaction may or may not have been committed: the database
// went away between COMMIT and its answer. Callers find out (read back, or write again under the
// same unique key) before answering; they never answer it as a plain failure.
var ErrOutcomeUnknown = errors.New("write outcome unknown")

// WriterStats counts the group-commit writer's work since the database was opened.
type WriterStats struct {
	Batches, Writes int64 // committed batches, and the writes (payments…) they held
	Lingered        int64 // batches the writer held open for more writes (linger)
	// LingerTrials: the writer's measured trials of lingering (lingertrial.go), LingerChosen how
	// many of them found it paid, Lingering 1 while their last answer is to linger
	LingerTrials, LingerChosen, Lingering int64
}

// WriterStats returns the writer's counters (for the metrics).
func (db *DB) WriterStats() WriterStats {
	var s WriterStats
	if db.gc != nil {
		s.Batches, s.Writes, s.Lingered = db.gc.batches.Load(), db.gc.ops.Load(), db.gc.lingered.Load()
		s.LingerTrials, s.LingerChosen, s.Lingering = db.gc.trials.Load(), db.gc.trialsLinger.Load(), db.gc.lingering.Load()
	}
	return s
}

// Linger (issue 18). Taking only what is queued when the writer comes round made batches of ~10
// payments under a 32-client load, where limitsrv's batches held ~22: a payment spends longer in
// its handler before it reaches the queue, so the writer started each batch while most of the
// next payments were still being prepared, and every batch paid the fixed costs again — BEGIN and
// COMMIT, an fsync, and the tail pages of the tables and indexes (payments, cards, the time and
// ID indexes) written to the WAL once per batch whatever its size. So when writes arrive fast
// enough that another is expected within the window, the writer waits up to Linger for the batch
// to grow. At a low rate (less than one write expected in the window) it never waits, so a lone
// payment is not delayed. Measured side by side: BENCHMARKS.md, "Third pass". Whether lingering
// pays at all depends on the machine, so by default the writer measures it (lingertrial.go) and
// lingers only while its last trial found it raised the throughput. On PostgreSQL a
// batch is one round trip whatever its size and lingering measured no better, so there the writer
// lingers only if KESSAI_GROUP_COMMIT_LINGER asks it to.

// Linger is the longest the SQLite writer waits for a batch to grow (KESSAI_GROUP_COMMIT_LINGER
// overrides it, e.g. 0 to never wait, and applies on PostgreSQL too; set, it also skips the trial:
// the writer then lingers whenever another write is expected).
var Linger = func() time.Duration {
	if d, ok := lingerEnv(); ok {
		return d
	}
	return 500 * time.Microsecond
}()

func lingerEnv() (time.Duration, bool) {
	d, err := time.ParseDuration(os.Getenv("KESSAI_GROUP_COMMIT_LINGER"))
	return d, err == nil && d >= 0 && d <= 10*time.Millisecond
}

// lingerFor is the linger of a writer on dialect.
func lingerFor(dialect string) time.Duration {
	if _, set := lingerEnv(); dialect == SQLite || set {
		return Linger
	}
	return 0
}

// rateWindow is how often the writer re-estimates the rate at which writes arrive.
const rateWindow = 50 * time.Millisecond

// arrivals estimates the rate at which writes reach the writer (only the loop goroutine uses it).
type arrivals struct {
	since time.Time // start of the current window
	last  time.Time // when the last batch was taken
	n     int
	rate  float64 // writes per second over the last complete window
}

func (a *arrivals) add(n int, now time.Time) {
	a.roll(now)
	a.n += n
	a.last = now
}

// roll closes the current window once it is rateWindow long, and forgets the rate after a whole
// window without a write, so that the rate never outlives the load that made it: the first write
// after a quiet spell is not held back on the burst's rate.
func (a *arrivals) roll(now time.Time) {
	if a.since.IsZero() {
		a.since = now
	}
	if !a.last.IsZero() && now.Sub(a.last) >= rateWindow {
		a.rate, a.since, a.n = 0, now, 0
		return
	}
	if d := now.Sub(a.since); d >= rateWindow {
		a.rate = float64(a.n) / d.Seconds()
		a.since, a.n = now, 0
	}
}

// expects reports whether at least one more write is expected within window from now.
func (a *arrivals) expects(now time.Time, window time.Duration) bool {
	a.roll(now)
	return window > 0 && a.rate*window.Seconds() >= 1
}

// linger lets batch grow while at least one more write is expected before the window closes.
func (g *groupCommitter) linger(batch *[]*gcOp) {
	start := time.Now()
	if len(*batch) >= maxBatch || !g.arr.expects(start, g.lingerMax) || !g.always.Load() && !g.trial.lingering(start) {
		g.arr.add(len(*batch), start)
		return
	}
	g.lingered.Add(1)
	t := time.NewTimer(g.lingerMax)
	defer t.Stop()
wait:
	for len(*batch) < maxBatch {
		select {
		case op := <-g.ch:
			*batch = append(*batch, op)
		case <-t.C:
			break wait
		case <-g.quit:
			break wait
		}
	}
	g.arr.add(len(*batch), time.Now())
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
