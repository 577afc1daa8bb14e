package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"kessai/internal/bench"
	"kessai/internal/maintenance"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai bench gateway|auth-sales|hosted|mixed|cvs|bank --addr HOST:PORT[,HOST:PORT] … | kessai bench floor|pgfloor …")
	}
	scenario := args[0]
	switch scenario {
	case "floor", "pgfloor": // side by side with the floor of the stack (benchfloor.go)
		return cmdBenchFloor(ctx, scenario, args[1:], stdout, stderr)
	case "gateway", "capture":
		scenario = "capture"
	case "auth-sales", "hosted", "mixed", "cvs", "bank":
	default:
		return usageErr("unknown bench scenario %q (gateway, auth-sales, hosted, mixed, cvs, bank)", scenario)
	}
	fs := newFlagSet("bench "+args[0], stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "server address(es), comma-separated; loopback only")
	aid := fs.String("aid", "100001", "store ID to charge")
	clients := fs.Int("clients", 32, "concurrent clients (with --open-loop: workers sending the scheduled requests, e.g. 64)")
	dur := fs.Duration("duration", 10*time.Second, "how long to run (at most 1h)")
	rate := fs.Float64("rate", 0, "at most this many requests started per second across all clients; 0 = as fast as the server answers (with --open-loop: the fixed offered load)")
	openLoop := fs.Bool("open-loop", false, "open loop (needs --rate): requests are due at fixed intervals of 1/rate whatever the server does, and each latency runs from its due time, so queueing behind a slow server counts")
	reqs := fs.Int64("requests", 200000, "stop after this many requests")
	card := fs.String("card", "4111111111111111", "test card number")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var db dbFlags
	db.register(fs) // mixed: where to start and end the maintenance window
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	}
	cfg := bench.Config{Addrs: strings.Split(*addr, ","), AID: *aid, Clients: *clients, Duration: *dur, Requests: *reqs,
		Scenario: scenario, Card: *card, Expiry: time.Now().AddDate(3, 0, 0).Format("0601"), Rate: *rate, OpenLoop: *openLoop}
	if *rate < 0 {
		return usageErr("--rate must be 0 or more (requests per second)")
	}
	if *openLoop && *rate == 0 {
		return usageErr("--open-loop needs --rate (requests per second, > 0)")
	}
	if scenario == "mixed" {
		// a maintenance window starts a third of the way in and ends at two thirds: the run
		// shows refusals with ER999 in between and service resuming by itself
		d, err := db.open(ctx)
		if err != nil {
			return err
		}
		defer d.Close()
		third := *dur / 3
		var started, ended bool
		var id int64
		cfg.OnTick = func(el time.Duration) {
			switch {
			case !started && el >= third:
				started = true
				now := time.Now().UTC()
				ws, err := d.AddWindows(ctx, []maintenance.Window{{Start: now, End: now.Add(third), Zone: maintenance.DefaultZone,
					Kind: maintenance.KindEmergency, Status: maintenance.StatusAnnounced, Scope: maintenance.Scope{Ops: maintenance.DefaultScope},
					TitleJA: "負荷試験", TitleEN: "load test"}}, "bench")
				if err != nil {
					fmt.Fprintln(stderr, "bench: could not start the window:", err)
					return
				}
				id = ws[0].ID
				fmt.Fprintf(stderr, "bench: maintenance window #%d started at %s\n", id, el.Round(time.Millisecond))
			case started && !ended && el >= 2*third:
				ended = true
				fmt.Fprintf(stderr, "bench: maintenance window #%d ends by itself at %s\n", id, el.Round(time.Millisecond))
			}
		}
	}
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	r.Print(stdout)
	return nil
}
