package server

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
)

// Garbage-collector settings of kessai serve (issue 18).
//
// A payment allocates about 17 KB, nearly all of it garbage once the answer is written, while the
// live heap stays small (SQLite's page cache lives outside Go's heap). With Go's default
// (GOGC=100) the collector ran every few hundred payments and took about a sixth of the server's
// CPU under load. GCPercent lets the heap grow to five times the live heap between collections,
// and MemoryLimit makes the collector work harder, before that, when the process's Go memory nears
// it — so the per-instance memory goal (≤ 150 MB resident) holds whatever the load.
const (
	GCPercent   = 400
	MemoryLimit = 80 << 20
)

// TuneGC applies GCPercent and MemoryLimit unless the operator set GOGC or GOMEMLIMIT, which
// always win. It returns what is in force, for the start-up log.
func TuneGC() (gcPercent int, memLimit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(MemoryLimit)
	}
	gcPercent = debug.SetGCPercent(-1)
	debug.SetGCPercent(gcPercent)
	memLimit = debug.SetMemoryLimit(-1)
	if memLimit == math.MaxInt64 {
		memLimit = 0
	}
	return gcPercent, memLimit
}

// TuneProcs runs Go code on one more OS thread than the machine has cores when the database is the
// embedded SQLite, unless the operator set GOMAXPROCS, which always wins. It returns what is in
// force, for the start-up log.
//
// Every payment waits for one goroutine, the group-commit writer (store/groupcommit.go). Its
// fsync and WAL writes are blocking system calls, during which the runtime hands its P to another
// goroutine; when the call returns, the writer needs a P back, and with one P per core both are
// usually busy with request handlers, so the writer — and with it every payment of the next
// batch — queued behind them. With one P more, a returning writer nearly always finds one free,
// and the kernel, not Go's run queue, shares the cores (it favours a thread that has just slept,
// as the writer has). Measured side by side on the 2-core machine (kessai bench floor, 5 rounds of
// CAPTURE rt=1): see BENCHMARKS.md, "Third pass". On PostgreSQL the writer's commit is a network
// round trip, which holds no P, and the extra P only added idle spinning (runtime.findRunnable
// rose to 9% of a PostgreSQL instance's CPU): it is left at the default there.
func TuneProcs(sqlite bool) int {
	procsOnce.Do(func() {
		if sqlite && os.Getenv("GOMAXPROCS") == "" {
			// the default counts the cores this process may use (a container's CPU limit included)
			runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
		}
	})
	return runtime.GOMAXPROCS(0)
}

var procsOnce sync.Once
