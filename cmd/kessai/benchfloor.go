package main

import (
	"context"
	"io"
	"os"
	"strings"
	"time"

	"kessai/internal/bench"
)

// cmdBenchFloor runs Kessai side by side with the floor of its stack (issue 18): limitsrv on
// SQLite (`bench floor`) or pgbench on PostgreSQL (`bench pgfloor`), and prints the ratios.
func cmdBenchFloor(ctx context.Context, which string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench "+which, stderr)
	self, _ := os.Executable()
	bins := fs.String("kessai", self, "kessai binaries to compare, comma-separated (e.g. before,after); each runs on fresh data")
	rounds := fs.Int("rounds", 3, "rounds; each runs the floor, then every binary")
	dur := fs.Duration("duration", 8*time.Second, "duration of each run")
	clients := fs.Int("clients", 32, "concurrent clients")
	card := fs.String("card", "4111111111111111", "test card number")
	dir := fs.String("dir", "", "working directory for data and logs (default: a temporary one, removed afterwards)")
	floorBin := fs.String("floor", "/tmp/limitsrv", "floor binary (cd ../shared/bench/limitsrv && go build -o /tmp/limitsrv .)")
	scenarios := fs.String("scenarios", "capture,auth-sales,hosted", "Kessai scenarios to run each round")
	dbURL := fs.String("database-url", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "pgfloor: PostgreSQL to create the fresh database on")
	pgbench := fs.String("pgbench", "pgbench", "pgfloor: pgbench binary")
	instances := fs.Int("instances", 2, "pgfloor: Kessai instances on the database")
	keep := fs.Bool("keep", false, "pgfloor: keep the database afterwards")
	procs := fs.Int("instance-procs", 0, "pgfloor: GOMAXPROCS of each Kessai instance (0 = Go's default, all the cores; e.g. 1 for two instances sharing two cores, as a container with a CPU limit of one core would run)")
	rate := fs.Float64("rate", 0, "floor: also run, every round, the floor's and each binary's CAPTURE at this fixed offered load (payments/s, open loop, latency from each request's due time) and compare their p50/p99 at that load; 0 = off")
	rateFrac := fs.Float64("rate-fraction", 0, "floor: like --rate, at this fraction (0–1] of the floor's closed-loop payments/s in the same round, e.g. 0.5; 0 = off")
	serverCPUs := fs.String("server-cpus", "", "floor: run the floor and each Kessai binary on these CPUs (e.g. 0) and the load generator on all the others, so they do not compete for cores (Linux); the ratio then moves far less from round to round")
	workers := fs.Int("workers", 64, "floor: workers sending the open-loop requests (--rate, --rate-fraction)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	exp := time.Now().AddDate(3, 0, 0).Format("0601")
	if which == "pgfloor" {
		return bench.PGFloor(ctx, bench.PGFloorConfig{AdminURL: *dbURL, PgBench: *pgbench, KessaiBins: strings.Split(*bins, ","), Instances: *instances, InstanceProcs: *procs,
			Rounds: *rounds, Duration: *dur, Clients: *clients, Card: *card, Expiry: exp, Dir: *dir, Keep: *keep, Out: stdout})
	}
	if *rate < 0 || *rateFrac < 0 || *rateFrac > 1 || *rate > 0 && *rateFrac > 0 {
		return usageErr("--rate (payments/s) or --rate-fraction (0–1] of the floor's, not both")
	}
	return bench.Floor(ctx, bench.FloorConfig{FloorBin: *floorBin, KessaiBins: strings.Split(*bins, ","), Scenarios: strings.Split(*scenarios, ","),
		Rounds: *rounds, Duration: *dur, Clients: *clients, Card: *card, Expiry: exp, Dir: *dir, Out: stdout,
		Rate: *rate, RateFraction: *rateFrac, Workers: *workers, ServerCPUs: *serverCPUs})
}
