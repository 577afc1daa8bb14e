package server

import (
	"math"
	"os"
	"runtime/debug"
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
