package store

import (
	"time"

	"kessai/internal/clock"
)

// SetClock makes the database stamp the rows it dates itself (stores, users, operators, audit
// entries without a time) with c: the server passes its one clock, so under a moved sandbox clock
// every timestamp Kessai writes follows it. Without it they are stamped with real time.
func (db *DB) SetClock(c clock.Clock) { db.clk.Store(&c) }

// Now is the database's notion of the present (see SetClock).
func (db *DB) Now() time.Time {
	if c := db.clk.Load(); c != nil {
		return (*c).Now()
	}
	return time.Now()
}
