package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"time"

	"kessai/internal/bench"
)

func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("kessai bench gateway|auth-sales|hosted|mixed --addr HOST:PORT[,HOST:PORT] …")
	}
	scenario := args[0]
	switch scenario {
	case "gateway", "capture":
		scenario = "capture"
	case "auth-sales", "hosted", "mixed":
	default:
		return usageErr("unknown bench scenario %q (gateway, auth-sales, hosted, mixed)", scenario)
	}
	fs := newFlagSet("bench "+args[0], stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "server address(es), comma-separated; loopback only")
	aid := fs.String("aid", "100001", "store ID to charge")
	clients := fs.Int("clients", 32, "concurrent clients")
	dur := fs.Duration("duration", 10*time.Second, "how long to run (at most 10m)")
	reqs := fs.Int64("requests", 200000, "stop after this many requests")
	card := fs.String("card", "4111111111111111", "test card number")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if _, err := parseInterleaved(fs, args[1:]); err != nil {
		return err
	}
	cfg := bench.Config{Addrs: strings.Split(*addr, ","), AID: *aid, Clients: *clients, Duration: *dur, Requests: *reqs,
		Scenario: scenario, Card: *card, Expiry: time.Now().AddDate(3, 0, 0).Format("0601")}
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
