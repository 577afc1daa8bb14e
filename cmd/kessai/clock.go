package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kessai/internal/api"
)

var timeNow = time.Now

// cmdClock moves the sandbox clock of a running server (POST /api/v1/sandbox/clock).
func cmdClock(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const use = "kessai clock show | set RFC3339 | advance DURATION | rate R | freeze | unfreeze  --url URL --key KEY"
	if len(args) == 0 {
		return usageErr(use)
	}
	fs := newFlagSet("clock "+args[0], stderr)
	var af apiFlags
	af.register(fs)
	pos, err := parseInterleaved(fs, args[1:])
	if err != nil {
		return err
	}
	if err := af.check(); err != nil {
		return err
	}
	var ch api.ClockChange
	arg := func() (string, error) {
		if len(pos) != 1 {
			return "", usageErr(use)
		}
		return pos[0], nil
	}
	switch args[0] {
	case "show", "get":
	case "set":
		v, err := arg()
		if err != nil {
			return err
		}
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return usageErr("clock set %q: want RFC 3339, e.g. 2026-07-22T02:54:50+09:00", v)
		}
		ch.Set = &v
	case "advance":
		v, err := arg()
		if err != nil {
			return err
		}
		if _, err := api.ParseDuration(v); err != nil {
			return usageErr("clock advance %q: want a duration, e.g. 720h, 30d, 90m", v)
		}
		ch.Advance = &v
	case "rate":
		v, err := arg()
		if err != nil {
			return err
		}
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r <= 0 {
			return usageErr("clock rate %q: want a positive number of sandbox seconds per real second", v)
		}
		ch.Rate = &r
	case "freeze", "unfreeze":
		on := args[0] == "freeze"
		ch.Freeze = &on
	default:
		return usageErr(use)
	}
	method, body := http.MethodGet, []byte(nil)
	if args[0] != "show" && args[0] != "get" {
		method = http.MethodPost
		body, _ = json.Marshal(ch)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(af.url, "/")+"/api/v1/sandbox/clock", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+af.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		var p api.Problem
		if json.Unmarshal(b, &p) == nil && p.Title != "" {
			msg := p.Title + ": " + p.Detail
			for _, ip := range p.InvalidParams {
				msg += "; " + ip.Name + ": " + ip.Reason
			}
			return fmt.Errorf("server answered %d: %s", resp.StatusCode, msg)
		}
		return fmt.Errorf("server answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	var st api.ClockState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("unreadable answer: %w", err)
	}
	state := fmt.Sprintf("running at %gx", st.Rate)
	if st.Frozen {
		state = "frozen"
	}
	fmt.Fprintf(stdout, "sandbox clock: %s (%s)\n", st.Now, state)
	return nil
}
