package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver for the pgbench side
)

// Side-by-side runs against the floor of Kessai's stack (issue 18).
//
// SQLite: the floor is ../shared/bench/limitsrv — a server that parses the CAPTURE form, inserts
// one row through a group commit (WAL, synchronous=FULL) and writes a result line. No gateway can
// be faster on this stack. Floor runs every round starts the floor and each Kessai binary on fresh
// data, then alternates: the floor's capture load, then each binary's scenarios, with the same
// load generator (Run), clients and duration; the ratio of a round is Kessai's payments/s over the
// floor's of the same round, so a machine that is busier in one round than another moves both.
//
// PostgreSQL: the floor is pgbench running a one-INSERT transaction into a payments-like table with
// the same number of clients; Kessai is two instances on the same database taking CAPTURE rt=1.

// FloorConfig is a side-by-side run on SQLite.
type FloorConfig struct {
	FloorBin   string   // limitsrv binary
	KessaiBins []string // kessai binaries to compare (e.g. before and after a change)
	Scenarios  []string // capture, auth-sales, hosted
	Rounds     int
	Duration   time.Duration
	Clients    int
	Card       string
	Expiry     string
	Dir        string // working directory for data and logs ("" = a new temporary one)
	Out        io.Writer
	// Rate, when positive, also runs every round the floor's and each binary's CAPTURE at this
	// fixed offered load (payments/s, open loop, same Duration), to compare latencies at equal
	// load; RateFraction instead sets that load to this fraction of the floor's closed-loop
	// payments/s in the same round. At most one of the two.
	Rate         float64
	RateFraction float64
	Workers      int // open-loop workers (default 64)
	// ServerCPUs, when set ("0", "0-1"), runs the floor and every Kessai binary on those CPUs and
	// the load generator on all the others (Linux), so that they do not share cores.
	ServerCPUs string
}

// Proc is a server started for a side-by-side run.
type Proc struct {
	cmd  *exec.Cmd
	Addr string
	Log  string
}

// Stop kills the server and waits for it.
func (p *Proc) Stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// start runs bin with args (where "{addr}" is replaced by a free loopback address) and waits until
// it accepts connections.
func start(pin *pinning, bin string, args []string, env []string, logPath string) (*Proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	a := make([]string, len(args))
	for i, s := range args {
		a[i] = strings.ReplaceAll(s, "{addr}", addr)
	}
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, a...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), env...)
	if err := pin.startCmd(cmd); err != nil {
		lf.Close()
		return nil, err
	}
	lf.Close()
	p := &Proc{cmd: cmd, Addr: addr, Log: logPath}
	exited := make(chan struct{})
	go func() { cmd.Process.Wait(); close(exited) }()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		select {
		case <-exited:
			return nil, fmt.Errorf("%s exited before it listened (see %s)", bin, logPath)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return p, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Stop()
	return nil, fmt.Errorf("%s did not listen on %s within 30 s (see %s)", bin, addr, logPath)
}

// LoadAvg reads the 1-, 5- and 15-minute load averages ("" when unavailable).
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

type series struct {
	label, scenario string
	reports         []*Report
	ratios          []float64 // per round, against that round's floor
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (s *series) summary(w io.Writer) {
	var tp, p99 []float64
	for _, r := range s.reports {
		tp = append(tp, r.PerSecond)
		p99 = append(p99, float64(r.P99)/1e6)
	}
	ratio := ""
	if len(s.ratios) > 0 {
		var rs []string
		for _, x := range s.ratios {
			rs = append(rs, fmt.Sprintf("%.2f", x))
		}
		ratio = fmt.Sprintf(" ratio(median)=%.2f ratios=%s", median(s.ratios), strings.Join(rs, ","))
	}
	fmt.Fprintf(w, "%-40s %-10s payments/s(median)=%.0f p99(median)=%.2fms%s\n", s.label, s.scenario, median(tp), median(p99), ratio)
}

// openSeries is one server's open-loop CAPTURE runs, one per round.
type openSeries struct {
	label   string
	reports []*Report
	p99s    []float64 // per round, Kessai's p99 over the floor's at the same offered load
}

func pick(rs []*Report, f func(*Report) float64) float64 {
	var xs []float64
	for _, r := range rs {
		xs = append(xs, f(r))
	}
	return median(xs)
}

// summary prints the series' medians on one line; floor, when given, is printed beside them.
func (s *openSeries) summary(w io.Writer, floor *openSeries) {
	p50 := func(r *Report) float64 { return float64(r.P50) / 1e6 }
	p99 := func(r *Report) float64 { return float64(r.P99) / 1e6 }
	var late, behind, failed int64
	for _, r := range s.reports {
		late += r.Late
		behind += r.Behind
		for _, n := range r.Errors {
			failed += n
		}
	}
	line := fmt.Sprintf("open-loop %-40s capture target(median)=%.0f/s offered(median)=%.0f/s p50(median)=%.2fms p99(median)=%.2fms",
		s.label, pick(s.reports, func(r *Report) float64 { return r.Target }), pick(s.reports, func(r *Report) float64 { return r.Offered }),
		pick(s.reports, p50), pick(s.reports, p99))
	if floor != nil {
		var rs []string
		for _, x := range s.p99s {
			rs = append(rs, fmt.Sprintf("%.2f", x))
		}
		line += fmt.Sprintf(" floor p50/p99(median)=%.2f/%.2fms p99/floor(median)=%.2f p99/floor=%s",
			pick(floor.reports, p50), pick(floor.reports, p99), median(s.p99s), strings.Join(rs, ","))
	}
	fmt.Fprintf(w, "%s late=%d behind=%d failed=%d\n", line, late, behind, failed)
}

// Floor runs the SQLite side-by-side comparison and prints every run, then a summary.
func Floor(ctx context.Context, cfg FloorConfig) error {
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	if cfg.Rate < 0 || cfg.RateFraction < 0 || cfg.Rate > 0 && cfg.RateFraction > 0 {
		return fmt.Errorf("open loop: give a rate or a fraction of the floor's, not both (rate %v, fraction %v)", cfg.Rate, cfg.RateFraction)
	}
	open := cfg.Rate > 0 || cfg.RateFraction > 0
	if cfg.Workers <= 0 {
		cfg.Workers = 64
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 32
	}
	if _, err := os.Stat(cfg.FloorBin); err != nil {
		return fmt.Errorf("floor binary %s: %w (build it: cd ../shared/bench/limitsrv && go build -o /tmp/limitsrv .)", cfg.FloorBin, err)
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "kessai-floor-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	w := cfg.Out
	fmt.Fprintf(w, "floor run: %d rounds of %s, %d clients; load average at start %s; %s\n", cfg.Rounds, cfg.Duration, cfg.Clients, LoadAvg(), time.Now().UTC().Format(time.RFC3339))
	if open {
		at := fmt.Sprintf("%.0f payments/s", cfg.Rate)
		if cfg.RateFraction > 0 {
			at = fmt.Sprintf("%.2f of the floor's closed-loop payments/s in the same round", cfg.RateFraction)
		}
		fmt.Fprintf(w, "open loop: every round also runs the floor's and each binary's CAPTURE at %s for %s, %d workers, latency from each request's due time\n",
			at, cfg.Duration, cfg.Workers)
	}
	var pin *pinning
	if cfg.ServerCPUs != "" {
		p, err := newPinning(cfg.ServerCPUs)
		if err != nil {
			return err
		}
		pin = p
		fmt.Fprintf(w, "pinned: the servers run on CPU %s, the load generator on CPU %s\n", formatCPUs(p.servers), formatCPUs(p.load))
	}
	floor, err := start(pin, cfg.FloorBin, []string{"-addr", "{addr}", "-db", filepath.Join(dir, "floor.db")}, nil, filepath.Join(dir, "floor.log"))
	if err != nil {
		return err
	}
	defer floor.Stop()
	type kp struct {
		label string
		p     *Proc
	}
	var ks []kp
	for i, bin := range cfg.KessaiBins {
		data := filepath.Join(dir, fmt.Sprintf("kessai%d", i))
		p, err := start(pin, bin, []string{"serve", "--data", data, "--addr", "{addr}"}, nil, filepath.Join(dir, fmt.Sprintf("kessai%d.log", i)))
		if err != nil {
			return err
		}
		defer p.Stop()
		ks = append(ks, kp{label: "kessai " + bin, p: p})
	}
	run := func(addrs []string, scenario, tag string) (*Report, error) {
		r, err := Run(ctx, Config{Addrs: addrs, AID: "100001", Clients: cfg.Clients, Duration: cfg.Duration, Scenario: scenario,
			Card: cfg.Card, Expiry: cfg.Expiry, RunID: fmt.Sprintf("%s%x", tag, time.Now().UnixNano()&0xffffffffff)})
		if err != nil {
			return nil, err
		}
		return r, nil
	}
	openRun := func(addr string, rate float64, tag string) (*Report, error) {
		return Run(ctx, Config{Addrs: []string{addr}, AID: "100001", Clients: cfg.Workers, Duration: cfg.Duration, Scenario: "capture",
			Card: cfg.Card, Expiry: cfg.Expiry, Rate: rate, OpenLoop: true, RunID: fmt.Sprintf("%s%x", tag, time.Now().UnixNano()&0xffffffffff)})
	}
	openFloor := &openSeries{label: "floor " + cfg.FloorBin}
	openK := make([]*openSeries, len(ks))
	for i, k := range ks {
		openK[i] = &openSeries{label: k.label}
	}
	floorS := &series{label: "floor " + cfg.FloorBin, scenario: "capture"}
	all := map[string]*series{}
	var order []*series
	for round := 1; round <= cfg.Rounds; round++ {
		fr, err := run([]string{floor.Addr}, "capture", "f")
		if err != nil {
			return err
		}
		floorS.reports = append(floorS.reports, fr)
		fmt.Fprintf(w, "round %d  %-40s load %s  ", round, floorS.label, LoadAvg())
		fr.Print(w)
		// the binaries take turns at running first, so that no binary always follows the floor
		for j := range ks {
			k := ks[(j+round-1)%len(ks)]
			for _, sc := range cfg.Scenarios {
				r, err := run([]string{k.p.Addr}, sc, "k")
				if err != nil {
					return err
				}
				key := k.label + "\x00" + sc
				s := all[key]
				if s == nil {
					s = &series{label: k.label, scenario: sc}
					all[key] = s
					order = append(order, s)
				}
				s.reports = append(s.reports, r)
				if fr.PerSecond > 0 {
					s.ratios = append(s.ratios, r.PerSecond/fr.PerSecond)
				}
				fmt.Fprintf(w, "round %d  %-40s load %s  ", round, k.label, LoadAvg())
				r.Print(w)
			}
		}
		if !open {
			continue
		}
		rate := cfg.Rate
		if cfg.RateFraction > 0 {
			rate = cfg.RateFraction * fr.PerSecond
		}
		if rate < 1 {
			return fmt.Errorf("round %d: open-loop rate %.2f/s is too low (the floor's closed-loop run made %.0f payments/s)", round, rate, fr.PerSecond)
		}
		ofr, err := openRun(floor.Addr, rate, "fo")
		if err != nil {
			return err
		}
		openFloor.reports = append(openFloor.reports, ofr)
		fmt.Fprintf(w, "open round %d  %-40s load %s  %s\n", round, openFloor.label, LoadAvg(), ofr.OpenLine())
		for i, k := range ks {
			r, err := openRun(k.p.Addr, rate, "ko")
			if err != nil {
				return err
			}
			openK[i].reports = append(openK[i].reports, r)
			if ofr.P99 > 0 {
				openK[i].p99s = append(openK[i].p99s, float64(r.P99)/float64(ofr.P99))
			}
			fmt.Fprintf(w, "open round %d  %-40s load %s  %s\n", round, k.label, LoadAvg(), r.OpenLine())
		}
	}
	fmt.Fprintf(w, "summary (ratio = Kessai payments/s over the floor's in the same round); load average at end %s\n", LoadAvg())
	floorS.summary(w)
	for _, s := range order {
		s.summary(w)
	}
	if open {
		fmt.Fprintln(w, "open-loop summary (CAPTURE at the same offered load for the floor and each binary; latency from each request's due time; p99/floor = Kessai's p99 over the floor's in the same round)")
		openFloor.summary(w, nil)
		for _, s := range openK {
			s.summary(w, openFloor)
		}
		var behind, due int64
		for _, s := range append([]*openSeries{openFloor}, openK...) {
			for _, r := range s.reports {
				behind += r.Behind
				due += r.Due
			}
		}
		if behind > 0 {
			fmt.Fprintf(w, "open-loop warning: %d of %d due requests (%.2f%%) were never sent (behind>0): the offered load fell short of the target by that much, and their latency is not in the figures (every worker was waiting on a server that did not keep up at this rate, or --workers is too few)\n",
				behind, due, 100*float64(behind)/float64(due))
		}
	}
	return nil
}

// PGFloorConfig is a side-by-side run on PostgreSQL.
type PGFloorConfig struct {
	AdminURL   string // a database on the server to connect to for CREATE DATABASE
	PgBench    string // pgbench binary
	KessaiBins []string
	Instances  int
	// InstanceProcs, when positive, is the GOMAXPROCS of each Kessai instance (the instances and
	// the database share the machine's cores; Go's default gives each instance all of them)
	InstanceProcs int
	Rounds        int
	Duration      time.Duration
	Clients       int
	Card          string
	Expiry        string
	Dir           string
	Keep          bool // keep the database afterwards
	Out           io.Writer
}

var tpsRe = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
var latRe = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// pgFloorTable is the pgbench side's table: a payment's identity, order number (unique per store),
// masked card and amounts, like Kessai's payments row, without the card vault and the rest.
const pgFloorTable = `CREATE TABLE floor_payments (
  id BIGSERIAL PRIMARY KEY,
  aid TEXT NOT NULL,
  cod TEXT NOT NULL,
  last4 TEXT NOT NULL,
  am BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (aid, cod)
)`

// pgFloorScript is one transaction: one INSERT (autocommit), as a gateway that stores one row per
// payment and commits each on its own would do.
const pgFloorScript = `INSERT INTO floor_payments(aid, cod, last4, am, created_at) VALUES ('100001', :client_id || '-' || txid_current(), '1111', 1100, (extract(epoch from clock_timestamp()) * 1e9)::bigint);
`

// PGFloor runs pgbench and Kessai instances side by side on a fresh database and prints the ratio.
func PGFloor(ctx context.Context, cfg PGFloorConfig) error {
	if cfg.Rounds <= 0 {
		cfg.Rounds = 3
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 32
	}
	if cfg.Instances <= 0 {
		cfg.Instances = 2
	}
	u, err := url.Parse(cfg.AdminURL)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("database URL %q: want postgres://user@host:port/db", cfg.AdminURL)
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return fmt.Errorf("bench targets loopback only, not %q", h)
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "kessai-pgfloor-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	w := cfg.Out
	admin, err := sql.Open("pgx", cfg.AdminURL)
	if err != nil {
		return err
	}
	defer admin.Close()
	name := fmt.Sprintf("kfloor_%d", time.Now().UnixNano())
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	if !cfg.Keep {
		defer func() {
			admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		}()
	}
	du := *u
	du.Path = "/" + name
	dbURL := du.String()
	db, err := sql.Open("pgx", dbURL)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, pgFloorTable); err != nil {
		db.Close()
		return err
	}
	db.Close()
	script := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(script, []byte(pgFloorScript), 0o600); err != nil {
		return err
	}
	var settings string
	if err := admin.QueryRowContext(ctx, `SELECT current_setting('synchronous_commit') || ' fsync=' || current_setting('fsync') || ' server ' || current_setting('server_version')`).Scan(&settings); err == nil {
		fmt.Fprintf(w, "PostgreSQL: synchronous_commit=%s; databases %s (pgbench), %s_kN (Kessai binary N)\n", settings, name, name)
	}
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"KESSAI_VAULT_KEY=" + base64.StdEncoding.EncodeToString(key)}
	procs := "Go's default"
	if cfg.InstanceProcs > 0 {
		env = append(env, fmt.Sprintf("GOMAXPROCS=%d", cfg.InstanceProcs))
		procs = strconv.Itoa(cfg.InstanceProcs)
	}
	fmt.Fprintf(w, "pgfloor run: %d rounds of %s, %d clients, %d Kessai instances (GOMAXPROCS %s each); load average at start %s; %s\n",
		cfg.Rounds, cfg.Duration, cfg.Clients, cfg.Instances, procs, LoadAvg(), time.Now().UTC().Format(time.RFC3339))

	type group struct {
		label string
		start func() ([]*Proc, error)
	}
	var groups []group
	for i, bin := range cfg.KessaiBins {
		// each binary gets a database of its own on the same server (its own schema version and
		// tables, so a before/after comparison does not share indexes), and its own store
		aid := fmt.Sprintf("2%05d", i+1)
		kname := fmt.Sprintf("%s_k%d", name, i)
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+kname); err != nil {
			return fmt.Errorf("create database %s: %w", kname, err)
		}
		if !cfg.Keep {
			defer func() { admin.Exec("DROP DATABASE IF EXISTS " + kname + " WITH (FORCE)") }()
		}
		ku := *u
		ku.Path = "/" + kname
		dbURL := ku.String()
		out, err := exec.Command(bin, "store", "create", "--database-url", dbURL, "--aid", aid, "--name", "bench").CombinedOutput()
		if err != nil {
			return fmt.Errorf("store create: %v: %s", err, out)
		}
		i, bin, dbURL := i, bin, dbURL
		g := group{label: "kessai " + bin + " aid " + aid}
		// a group's instances run only for its own runs: idle, their connection pools would hold
		// connections pgbench's 32 clients need (max_connections)
		g.start = func() ([]*Proc, error) {
			var ps []*Proc
			for j := 0; j < cfg.Instances; j++ {
				p, err := start(nil, bin, []string{"serve", "--data", filepath.Join(dir, fmt.Sprintf("k%d-%d", i, j)), "--database-url", dbURL, "--addr", "{addr}"},
					env, filepath.Join(dir, fmt.Sprintf("k%d-%d.log", i, j)))
				if err != nil {
					for _, q := range ps {
						q.Stop()
					}
					return nil, err
				}
				ps = append(ps, p)
			}
			return ps, nil
		}
		groups = append(groups, g)
	}
	pgb := func() (float64, string, error) {
		args := []string{"-n", "-M", "prepared", "-c", strconv.Itoa(cfg.Clients), "-j", "2", "-T", strconv.Itoa(int(cfg.Duration.Seconds())),
			"-f", script, "-h", u.Hostname(), "-p", portOf(u), "-U", userOf(u), name}
		out, err := exec.CommandContext(ctx, cfg.PgBench, args...).CombinedOutput()
		if err != nil {
			return 0, "", fmt.Errorf("pgbench: %v: %s", err, out)
		}
		m := tpsRe.FindSubmatch(out)
		if m == nil {
			return 0, "", fmt.Errorf("pgbench: no tps in its output: %s", out)
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		lat := ""
		if l := latRe.FindSubmatch(out); l != nil {
			lat = string(l[1]) + " ms"
		}
		return tps, lat, nil
	}
	var floorTPS []float64
	ratios := make([][]float64, len(groups))
	tps := make([][]float64, len(groups))
	p99 := make([][]float64, len(groups))
	for round := 1; round <= cfg.Rounds; round++ {
		ft, lat, err := pgb()
		if err != nil {
			return err
		}
		floorTPS = append(floorTPS, ft)
		fmt.Fprintf(w, "round %d  pgbench one-INSERT transaction  load %s  tps=%.0f latency average=%s\n", round, LoadAvg(), ft, lat)
		// the binaries take turns at running first after pgbench: the first run of a round meets
		// the server just after pgbench's inserts (its checkpoint, autovacuum), and a fixed order
		// handed that to the same binary every round
		for k := range groups {
			i := (k + round - 1) % len(groups)
			g := groups[i]
			ps, err := g.start()
			if err != nil {
				return err
			}
			var addrs []string
			for _, p := range ps {
				addrs = append(addrs, p.Addr)
			}
			aid := fmt.Sprintf("2%05d", i+1)
			r, err := Run(ctx, Config{Addrs: addrs, AID: aid, Clients: cfg.Clients, Duration: cfg.Duration, Scenario: "capture",
				Card: cfg.Card, Expiry: cfg.Expiry, RunID: fmt.Sprintf("p%x", time.Now().UnixNano()&0xffffffffff)})
			for _, p := range ps {
				p.Stop()
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "round %d  %s  load %s  ", round, g.label, LoadAvg())
			r.Print(w)
			tps[i] = append(tps[i], r.PerSecond)
			p99[i] = append(p99[i], float64(r.P99)/1e6)
			if ft > 0 {
				ratios[i] = append(ratios[i], r.PerSecond/ft)
			}
		}
	}
	fmt.Fprintf(w, "summary (ratio = Kessai payments/s over pgbench tps in the same round); load average at end %s\n", LoadAvg())
	fmt.Fprintf(w, "%-50s tps(median)=%.0f\n", "pgbench one-INSERT transaction", median(floorTPS))
	for i, g := range groups {
		var rs []string
		for _, x := range ratios[i] {
			rs = append(rs, fmt.Sprintf("%.2f", x))
		}
		fmt.Fprintf(w, "%-50s payments/s(median)=%.0f p99(median)=%.2fms ratio(median)=%.2f ratios=%s\n", g.label, median(tps[i]), median(p99[i]),
			median(ratios[i]), strings.Join(rs, ","))
	}
	return nil
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	return "5432"
}

func userOf(u *url.URL) string {
	if u.User != nil && u.User.Username() != "" {
		return u.User.Username()
	}
	return "postgres"
}
