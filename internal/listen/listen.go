// Package listen is the client side of kessai listen: it holds the kickback stream of a Kessai
// server (Server-Sent Events over the JSON API, reconnecting from its last position) and forwards
// each kickback, as the same GET with the same parameters, to a server on the developer's machine.
// Kickbacks are forwarded one at a time, in order, each once; while the local server is down the
// current one is retried with back-off (and reported), never dropped.
package listen

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"kessai/internal/api"
	"kessai/internal/notify"
)

// Listener forwards a store's kickbacks to a local URL.
type Listener struct {
	URL       string   // Kessai server base URL
	Key       string   // store API key
	ForwardTo string   // local receiver, e.g. http://localhost:3000/notify
	Since     string   // back-fill start: a duration ("2h") or RFC 3339; empty: live only
	Events    []string // categories to forward; empty: all
	Out       io.Writer
	Client    *http.Client // for the stream (no timeout)
	Local     *http.Client // for the forwards
	// MaxBackoff caps the wait between retries (default 5 s).
	MaxBackoff time.Duration

	after int64 // last stream position handled; -1 before the first event
}

// ErrAuth means the server refused the key: retrying would not help.
var ErrAuth = errors.New("the server refused the API key")

// Run forwards until ctx ends (nil then) or the key is refused.
func (l *Listener) Run(ctx context.Context) error {
	if l.Client == nil {
		l.Client = &http.Client{}
	}
	if l.Local == nil {
		l.Local = &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if l.MaxBackoff <= 0 {
		l.MaxBackoff = 5 * time.Second
	}
	l.after = -1
	fmt.Fprintf(l.Out, "kessai listen: forwarding kickbacks of %s to %s (Ctrl-C stops)\n", l.URL, l.ForwardTo)
	fails := 0
	for {
		connected, err := l.hold(ctx)
		if ctx.Err() != nil {
			fmt.Fprintln(l.Out, "kessai listen: stopped")
			return nil
		}
		if errors.Is(err, ErrAuth) {
			return err
		}
		if connected {
			fails = 0
		}
		fails++
		wait := backoff(fails, l.MaxBackoff)
		fmt.Fprintf(l.Out, "%s  stream lost (%v); reconnecting in %s from position %d\n", stamp(), err, wait, max(l.after, 0))
		if !sleep(ctx, wait) {
			fmt.Fprintln(l.Out, "kessai listen: stopped")
			return nil
		}
	}
}

func backoff(n int, cap time.Duration) time.Duration {
	d := 250 * time.Millisecond
	for i := 1; i < n && d < cap; i++ {
		d *= 2
	}
	return min(d, cap)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func stamp() string { return time.Now().Format("15:04:05") }

// hold opens the stream and forwards what it brings until it breaks; connected says whether it
// got as far as an answer.
func (l *Listener) hold(ctx context.Context) (connected bool, err error) {
	q := url.Values{}
	if l.after >= 0 {
		q.Set("after", strconv.FormatInt(l.after, 10))
	} else if l.Since != "" {
		q.Set("since", l.Since)
	}
	if len(l.Events) > 0 {
		q.Set("kind", strings.Join(l.Events, ","))
	}
	u := strings.TrimRight(l.URL, "/") + "/api/v1/kickbacks/stream"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+l.Key)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := l.Client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return true, fmt.Errorf("%w (HTTP %d): %s", ErrAuth, resp.StatusCode, problemDetail(resp.Body))
	}
	if resp.StatusCode != http.StatusOK {
		return true, fmt.Errorf("HTTP %d: %s", resp.StatusCode, problemDetail(resp.Body))
	}
	if l.after < 0 {
		l.after = 0
		if l.Since != "" {
			fmt.Fprintf(l.Out, "%s  connected; back-filling kickbacks since %s, then live\n", stamp(), l.Since)
		} else {
			fmt.Fprintf(l.Out, "%s  connected; waiting for kickbacks\n", stamp())
		}
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var id, data string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data != "" {
				if err := l.handle(ctx, id, data); err != nil {
					return true, err
				}
			}
			id, data = "", ""
		case strings.HasPrefix(line, ":"):
			if p, ok := strings.CutPrefix(line, ": position "); ok && l.after == 0 {
				// a live start: the server says where the present is
				if n, err := strconv.ParseInt(p, 10, 64); err == nil {
					l.after = n
				}
			}
		case strings.HasPrefix(line, "id:"):
			id = strings.TrimSpace(line[3:])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(line[5:], " ")
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, io.ErrUnexpectedEOF
}

func problemDetail(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 4096))
	var p api.Problem
	if json.Unmarshal(b, &p) == nil && p.Detail != "" {
		return p.Detail
	}
	return strings.TrimSpace(string(b))
}

// handle forwards one event, retrying while the local server cannot be reached.
func (l *Listener) handle(ctx context.Context, id, data string) error {
	var ev api.Event
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return fmt.Errorf("unreadable event %s: %w", id, err)
	}
	if ev.Seq <= l.after {
		return nil // already forwarded (a replay after a reconnect)
	}
	k := ev.Kickback
	for n := 1; ; n++ {
		t0 := time.Now()
		status, err := l.forward(ctx, ev)
		ms := time.Since(t0).Milliseconds()
		if err == nil {
			note := ""
			if ev.Reason == "resend" {
				note = "  (resend)"
			}
			fmt.Fprintf(l.Out, "%s  %-15s gid=%s cod=%s  → %d  %dms%s\n", stamp(), k.Kind, k.Gid, k.Cod, status, ms, note)
			l.after = ev.Seq
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := backoff(n, l.MaxBackoff)
		fmt.Fprintf(l.Out, "%s  %-15s gid=%s cod=%s  → local server unreachable (%v); retry %d in %s\n",
			stamp(), k.Kind, k.Gid, k.Cod, shortErr(err), n, wait)
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

func shortErr(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// forward sends the kickback's GET to the local receiver; any HTTP answer counts as forwarded
// (its status is printed), only an unreachable receiver is retried.
func (l *Listener) forward(ctx context.Context, ev api.Event) (int, error) {
	u := l.ForwardTo
	if strings.Contains(u, "?") {
		u += "&" + ev.Kickback.Query
	} else {
		u += "?" + ev.Kickback.Query
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("User-Agent", "Kessai-Kickback/1 (kessai listen)")
	if ev.Signature != "" {
		req.Header.Set(notify.SignatureHeader, ev.Signature)
	}
	resp, err := l.Local.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}
