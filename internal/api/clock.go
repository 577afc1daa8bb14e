package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"kessai/internal/clock"
)

// ClockState is the sandbox clock as GET/POST /api/v1/sandbox/clock answer it.
type ClockState struct {
	Now    string  `json:"now"`    // RFC 3339, with nanoseconds
	Rate   float64 `json:"rate"`   // sandbox seconds per real second while running
	Frozen bool    `json:"frozen"` // the clock stands still
}

// ClockChange is the body of POST /api/v1/sandbox/clock; the fields present apply in this order:
// set, advance, rate, freeze.
type ClockChange struct {
	Set     *string  `json:"set,omitempty"`     // RFC 3339 instant
	Advance *string  `json:"advance,omitempty"` // Go duration, or whole days: "720h", "30d", "-1h"
	Rate    *float64 `json:"rate,omitempty"`    // sandbox seconds per real second, > 0
	Freeze  *bool    `json:"freeze,omitempty"`  // true stops the clock, false lets it run
}

// sandboxOnly answers 404 outside the sandbox: with a real acquirer there is no test clock.
func (h *Handler) sandboxOnly(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !h.Sandbox {
			notFound(w, r, "the sandbox API exists only on a sandbox server")
			return
		}
		fn(w, r)
	}
}

func (h *Handler) controllable(w http.ResponseWriter, r *http.Request) (clock.Controllable, bool) {
	c, ok := h.Clock.(clock.Controllable)
	if !ok {
		writeProblem(w, r, http.StatusConflict, "clock-fixed", "Clock cannot be moved", "this server's clock cannot be moved at run time")
	}
	return c, ok
}

func stateOf(c clock.Controllable) ClockState {
	s := c.State()
	return ClockState{Now: s.Now.Format(time.RFC3339Nano), Rate: s.Rate, Frozen: s.Frozen}
}

func (h *Handler) getClock(w http.ResponseWriter, r *http.Request) {
	c, ok := h.controllable(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, stateOf(c))
}

func (h *Handler) setClock(w http.ResponseWriter, r *http.Request) {
	c, ok := h.controllable(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4096))
	if err != nil {
		badRequest(w, r, "the body is too large")
		return
	}
	var ch ClockChange
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ch); err != nil {
		badRequest(w, r, `the body must be a JSON object with set, advance, rate or freeze, e.g. {"advance": "720h"}: `+err.Error())
		return
	}
	if ch.Set == nil && ch.Advance == nil && ch.Rate == nil && ch.Freeze == nil {
		badRequest(w, r, `nothing to change: give set, advance, rate or freeze, e.g. {"advance": "720h"}`)
		return
	}
	var bad []InvalidParam
	var set time.Time
	var adv time.Duration
	if ch.Set != nil {
		if set, err = time.Parse(time.RFC3339, *ch.Set); err != nil {
			bad = append(bad, InvalidParam{"set", "not an RFC 3339 time (e.g. 2026-07-22T02:54:50+09:00)"})
		}
	}
	if ch.Advance != nil {
		if adv, err = ParseDuration(*ch.Advance); err != nil {
			bad = append(bad, InvalidParam{"advance", `not a duration (e.g. "720h", "30d", "90m")`})
		}
	}
	if ch.Rate != nil && !(*ch.Rate > 0 && *ch.Rate <= 1e6) {
		bad = append(bad, InvalidParam{"rate", "want a number greater than 0 and at most 1000000"})
	}
	if len(bad) > 0 {
		badRequest(w, r, "some fields are invalid", bad...)
		return
	}
	before := c.Now()
	if ch.Set != nil {
		c.Set(set)
	}
	if ch.Advance != nil {
		c.Advance(adv)
	}
	if ch.Rate != nil {
		c.SetRate(*ch.Rate)
	}
	if ch.Freeze != nil {
		c.Freeze(*ch.Freeze)
	}
	st := stateOf(c)
	h.Log.Info("sandbox clock moved", "from", before.Format(time.RFC3339), "to", st.Now, "rate", st.Rate, "frozen", st.Frozen,
		"by", keyOf(r.Context()).AID)
	h.audit(r, "sandbox.clock", string(body))
	if h.Moved != nil {
		h.Moved(r.Context())
	}
	h.nudge()
	writeJSON(w, http.StatusOK, st)
}
