package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kessai/internal/store"
)

// Event is one entry of the kickback stream: a kickback queued, or queued again by a resend.
type Event struct {
	Seq      int64    `json:"seq"`    // position in the store's stream; resume after it
	Reason   string   `json:"reason"` // created | resend
	At       string   `json:"at"`     // when the kickback was due to be sent (RFC 3339)
	Kickback Kickback `json:"kickback"`
	// Signature is a fresh X-Kessai-Signature value for the kickback's query, when the store signs
	// its kickbacks, so a forwarded copy verifies like the original.
	Signature string `json:"signature,omitempty"`
}

// ParseSince reads a back-fill start: an RFC 3339 instant, or a duration before now ("2h", "3d").
func ParseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	d, err := ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration like 2h or 3d", v)
	}
	return now.Add(-d), nil
}

// ParseDuration is time.ParseDuration that also takes whole days ("30d").
func ParseDuration(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil {
			return time.Duration(d) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(v)
}

// stream holds a Server-Sent Events stream of the store's kickback feed. The position is the SSE
// event id: a client reconnects with Last-Event-ID (or ?after=) and misses nothing. ?since= back-
// fills from a time; with neither, the stream starts at the present. ?kind= (comma-separated
// categories) filters.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	aid := keyOf(r.Context()).AID
	var bad []InvalidParam
	var after int64 = -1
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		q.Set("after", v)
	}
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			bad = append(bad, InvalidParam{"after", "not a stream position (an event id)"})
		}
		after = n
	}
	var since time.Time
	if v := q.Get("since"); v != "" {
		t, err := ParseSince(v, h.Clock.Now())
		if err != nil {
			bad = append(bad, InvalidParam{"since", err.Error()})
		}
		since = t
	}
	kinds := map[string]bool{}
	if v := q.Get("kind"); v != "" {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); !validKind(k) {
				bad = append(bad, InvalidParam{"kind", fmt.Sprintf("%q: want %s", k, strings.Join(store.Categories, ", "))})
			}
			kinds[k] = true
		}
	}
	if len(bad) > 0 {
		badRequest(w, r, "some query parameters are invalid", bad...)
		return
	}
	if after < 0 {
		if since.IsZero() {
			n, err := h.DB.LastFeedSeq(r.Context(), aid)
			if err != nil {
				unavailable(w, r)
				return
			}
			after = n
		} else {
			after = 0
		}
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout,
	rc.SetReadDeadline(time.Time{})  // and its read timeout (which would cancel the request)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 1000\n: position %d\n\n", after)
	rc.Flush()
	poll := h.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	lastWrite := time.Now()
	for {
		es, err := h.DB.Feed(r.Context(), aid, after, since, h.Clock.Now(), 100)
		if err != nil {
			if r.Context().Err() == nil {
				h.Log.Warn("kickback stream read failed", "aid", aid, "err", err)
				fmt.Fprintf(w, ": storage unavailable, retrying\n\n")
			}
		}
		for _, e := range es {
			after = e.Seq
			v := View(e.Kickback)
			if len(kinds) > 0 && !kinds[v.Kind] {
				continue
			}
			ev := Event{Seq: e.Seq, Reason: e.Reason, At: e.At.Format(time.RFC3339Nano), Kickback: v,
				Signature: h.signature(r.Context(), aid, e.Query)}
			b, _ := json.Marshal(ev)
			fmt.Fprintf(w, "id: %d\nevent: kickback\ndata: %s\n\n", e.Seq, b)
		}
		if len(es) > 0 || time.Since(lastWrite) > 15*time.Second {
			if len(es) == 0 {
				fmt.Fprintf(w, ": keep-alive\n\n")
			}
			if err := rc.Flush(); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		if len(es) == 100 {
			continue // a back-fill: read on at once
		}
		select {
		case <-r.Context().Done():
			return
		case <-h.stop:
			return
		case <-t.C:
		}
	}
}
