package server

import (
	"context"
	"log/slog"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
)

// watchSchedule keeps the in-memory maintenance index in step with the database: it polls the
// schedule's revision counter (a cheap one-row read) every 200 ms and reloads on change, so a
// window started from the CLI or another instance is obeyed within a second, with no restart.
func watchSchedule(ctx context.Context, db *store.DB, ix *maintenance.Index, log *slog.Logger, every time.Duration) {
	var last int64 = -1
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rev, err := db.MaintenanceRev(ctx)
		if err != nil {
			log.Warn("maintenance schedule poll failed", "err", err)
		} else if rev != last {
			ws, err := db.Windows(ctx)
			if err != nil {
				log.Warn("maintenance schedule reload failed", "err", err)
			} else {
				ix.Replace(ws)
				if last != -1 {
					log.Info("maintenance schedule reloaded", "revision", rev, "windows", len(ws))
				}
				last = rev
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
