package store

import (
	"context"
	"embed"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// SchemaVersion is the schema this binary expects; a database newer than this is refused, so an
// old binary never writes into a schema it does not understand.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	entries, err := migrationFS.ReadDir("migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad name", e.Name())
		}
		b, _ := migrationFS.ReadFile("migrations/" + e.Name())
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// dialectSQL turns the shared schema text into one dialect's DDL. The schema is written once with a
// few macros so both engines stay in step.
func (db *DB) dialectSQL(s string) string {
	if db.Dialect == Postgres {
		return strings.NewReplacer("{{ID}}", "BIGSERIAL PRIMARY KEY", "{{BLOB}}", "BYTEA").Replace(s)
	}
	return strings.NewReplacer("{{ID}}", "INTEGER PRIMARY KEY AUTOINCREMENT", "{{BLOB}}", "BLOB").Replace(s)
}

func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	return db.Tx(ctx, func(tx *Tx) error {
		if db.Dialect == Postgres {
			// one migrator at a time when several instances start together
			if _, err := tx.Exec("SELECT pg_advisory_xact_lock(7411)"); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			return err
		}
		applied := map[int]bool{}
		rows, err := tx.Query(`SELECT version FROM schema_version`)
		if err != nil {
			return err
		}
		maxApplied := 0
		for rows.Next() {
			var v int
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return err
			}
			applied[v] = true
			maxApplied = max(maxApplied, v)
		}
		rows.Close()
		if known := SchemaVersion(); maxApplied > known {
			return fmt.Errorf("database schema is version %d but this kessai knows only %d: upgrade kessai", maxApplied, known)
		}
		// every migration not yet applied runs, in order (the set, not a high-water mark, so a
		// migration merged out of order is never skipped)
		for _, m := range ms {
			if applied[m.version] {
				continue
			}
			for _, stmt := range splitSQL(db.dialectSQL(m.sql)) {
				if _, err := tx.Tx.Exec(stmt); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
			if _, err := tx.Exec(`INSERT INTO schema_version(version, name, applied_at) VALUES (?, ?, ?)`, m.version, m.name, nowNS()); err != nil {
				return err
			}
		}
		return nil
	})
}

func splitSQL(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		lines := []string{}
		for _, l := range strings.Split(part, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "--") {
				lines = append(lines, l)
			}
		}
		if st := strings.TrimSpace(strings.Join(lines, "\n")); st != "" {
			out = append(out, strings.TrimSuffix(st, ";"))
		}
	}
	return out
}
