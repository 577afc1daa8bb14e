// Package api is Kessai's JSON API for merchants' developers (issue 16): the kickback API (list,
// detail with every attempt, resend, bulk resend, and the stream kessai listen holds), and the
// sandbox's clock. Requests are authenticated by a store API key (Authorization: Bearer); errors
// are problem+json (RFC 9457). The OpenAPI document describing it is served at /api/openapi.json.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/store"
)

// Handler serves /api/v1/.
type Handler struct {
	DB      *store.DB
	Clock   clock.Clock
	Sandbox bool // the sandbox clock API exists only in the sandbox (404 otherwise)
	// Nudge wakes the kickback sender after a resend or a move of the clock.
	Nudge func()
	// Moved is called after the sandbox clock moved, so components that cache time-derived state
	// can refresh at once.
	Moved func(ctx context.Context)
	Log   *slog.Logger
	// RemoteIP is the client's address for the audit log (the server's, which trusts its proxies).
	RemoteIP func(*http.Request) netip.Addr
	// Poll is how often a stream looks for new kickbacks (default 200 ms).
	Poll time.Duration

	stopOnce sync.Once
	stop     chan struct{}
}

// Register mounts the API on mux.
func (h *Handler) Register(mux *http.ServeMux) {
	if h.Log == nil {
		h.Log = slog.Default()
	}
	if h.Clock == nil {
		h.Clock = clock.Real{}
	}
	h.stopOnce.Do(func() { h.stop = make(chan struct{}) })
	mux.HandleFunc("GET /api/v1/kickbacks", h.authed(h.list))
	mux.HandleFunc("GET /api/v1/kickbacks/stream", h.authed(h.stream))
	mux.HandleFunc("GET /api/v1/kickbacks/{id}", h.authed(h.get))
	mux.HandleFunc("POST /api/v1/kickbacks/{id}/resend", h.authed(h.resend))
	mux.HandleFunc("POST /api/v1/kickbacks/resend", h.authed(h.bulkResend))
	mux.HandleFunc("GET /api/v1/sandbox/clock", h.sandboxOnly(h.authed(h.getClock)))
	mux.HandleFunc("POST /api/v1/sandbox/clock", h.sandboxOnly(h.authed(h.setClock)))
	mux.HandleFunc("/api/v1/sandbox/", h.sandboxOnly(func(w http.ResponseWriter, r *http.Request) {
		notFound(w, r, "no such endpoint")
	}))
	mux.HandleFunc("/api/v1/", func(w http.ResponseWriter, r *http.Request) {
		notFound(w, r, "no such endpoint (see /api/openapi.json)")
	})
}

// Stop ends every open stream (the server is shutting down).
func (h *Handler) Stop() {
	h.stopOnce.Do(func() { h.stop = make(chan struct{}) })
	select {
	case <-h.stop:
	default:
		close(h.stop)
	}
}

func (h *Handler) nudge() {
	if h.Nudge != nil {
		h.Nudge()
	}
}

// Kickback is a kickback as the API shows it.
type Kickback struct {
	ID            int64      `json:"id"`
	Gid           string     `json:"gid"`
	Cod           string     `json:"cod"`
	Acid          string     `json:"acid,omitempty"`
	Rst           string     `json:"rst"`
	Kind          string     `json:"kind"`
	State         string     `json:"state"`
	AttemptCount  int        `json:"attempt_count"`
	CreatedAt     time.Time  `json:"created_at"`
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	LastError     string     `json:"last_error,omitempty"`
	URL           string     `json:"url"`
	Query         string     `json:"query"`
	Attempts      []Attempt  `json:"attempts,omitempty"`
}

// Attempt is one delivery try.
type Attempt struct {
	At        time.Time `json:"at"`
	Status    int       `json:"status"` // HTTP status the receiver answered; 0 when none
	LatencyMS int64     `json:"latency_ms"`
	Answer    string    `json:"answer"` // excerpt of the receiver's answer (up to 512 bytes, card numbers masked)
	Error     string    `json:"error,omitempty"`
}

// View renders a stored kickback for the API.
func View(k *store.Kickback) Kickback {
	v := Kickback{ID: k.ID, Gid: k.Gid, Cod: k.Param("cod"), Acid: k.Acid, Rst: k.Param("rst"), Kind: k.Category(), State: k.State(),
		AttemptCount: k.Attempts, CreatedAt: k.CreatedAt, LastError: k.LastError, URL: k.URL, Query: k.Query}
	if k.Status == store.KickbackPending {
		t := k.NextAt
		v.NextAttemptAt = &t
	}
	if !k.DeliveredAt.IsZero() {
		t := k.DeliveredAt
		v.DeliveredAt = &t
	}
	return v
}

// filterOf reads the list filters from the query string.
func filterOf(r *http.Request) (store.KickbackFilter, []InvalidParam) {
	q := r.URL.Query()
	var f store.KickbackFilter
	var bad []InvalidParam
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &f.From}, {"to", &f.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				bad = append(bad, InvalidParam{p.name, "not an RFC 3339 time (e.g. 2026-07-22T02:55:00+09:00)"})
			}
			*p.dst = t
		}
	}
	f.Gid = strings.TrimSpace(q.Get("gid"))
	if len(f.Gid) > 32 {
		bad = append(bad, InvalidParam{"gid", "too long"})
	}
	f.Cod = q.Get("cod")
	if len(f.Cod) > 100 {
		bad = append(bad, InvalidParam{"cod", "too long"})
	}
	switch f.State = q.Get("state"); f.State {
	case "", store.StateDelivered, store.StateFailing, store.StatePending:
	default:
		bad = append(bad, InvalidParam{"state", "want delivered, failing or pending"})
	}
	f.Kind = q.Get("kind")
	if f.Kind != "" && !validKind(f.Kind) {
		bad = append(bad, InvalidParam{"kind", "want " + strings.Join(store.Categories, ", ")})
	}
	return f, bad
}

func validKind(k string) bool {
	for _, c := range store.Categories {
		if c == k {
			return true
		}
	}
	return false
}

// List is the answer of GET /api/v1/kickbacks.
type List struct {
	Data       []Kickback `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	f, bad := filterOf(r)
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			bad = append(bad, InvalidParam{"limit", "want a whole number 1–200"})
		}
		limit = n
	}
	var before int64
	if v := r.URL.Query().Get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			bad = append(bad, InvalidParam{"cursor", "not a cursor this API gave out"})
		}
		before = n
	}
	if len(bad) > 0 {
		badRequest(w, r, "some query parameters are invalid", bad...)
		return
	}
	ks, err := h.DB.ListKickbacks(r.Context(), keyOf(r.Context()).AID, f, before, limit+1)
	if err != nil {
		unavailable(w, r)
		return
	}
	out := List{Data: []Kickback{}}
	for i, k := range ks {
		if i == limit {
			c := strconv.FormatInt(ks[i-1].ID, 10)
			out.NextCursor = &c
			break
		}
		out.Data = append(out.Data, View(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) kickback(w http.ResponseWriter, r *http.Request) (*store.Kickback, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		notFound(w, r, "no such kickback")
		return nil, false
	}
	k, err := h.DB.GetKickback(r.Context(), keyOf(r.Context()).AID, id)
	if errors.Is(err, store.ErrNotFound) {
		notFound(w, r, "no such kickback")
		return nil, false
	}
	if err != nil {
		unavailable(w, r)
		return nil, false
	}
	return k, true
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	k, ok := h.kickback(w, r)
	if !ok {
		return
	}
	as, err := h.DB.Attempts(r.Context(), k.ID)
	if err != nil {
		unavailable(w, r)
		return
	}
	v := View(k)
	v.Attempts = []Attempt{}
	for _, a := range as {
		v.Attempts = append(v.Attempts, Attempt{At: a.At, Status: a.StatusCode, LatencyMS: a.LatencyMS, Answer: a.Body, Error: a.Error})
	}
	writeJSON(w, http.StatusOK, v)
}

// Resent is the answer of a resend: the kickbacks queued again.
type Resent struct {
	Resent int     `json:"resent"`
	IDs    []int64 `json:"ids"`
}

func (h *Handler) resend(w http.ResponseWriter, r *http.Request) {
	k, ok := h.kickback(w, r)
	if !ok {
		return
	}
	aid := keyOf(r.Context()).AID
	if err := h.DB.Resend(r.Context(), aid, k.ID, h.Clock.Now()); err != nil {
		unavailable(w, r)
		return
	}
	h.nudge()
	h.audit(r, "kickback.resend", "id="+strconv.FormatInt(k.ID, 10)+" gid="+k.Gid)
	writeJSON(w, http.StatusAccepted, Resent{Resent: 1, IDs: []int64{k.ID}})
}

// BulkMax is the most kickbacks one bulk resend queues again.
const BulkMax = 1000

func (h *Handler) bulkResend(w http.ResponseWriter, r *http.Request) {
	f, bad := filterOf(r)
	if len(bad) > 0 {
		badRequest(w, r, "some query parameters are invalid", bad...)
		return
	}
	if f.Empty() {
		badRequest(w, r, "a bulk resend needs at least one filter (from, to, gid, cod, state or kind)")
		return
	}
	aid := keyOf(r.Context()).AID
	ids, err := h.DB.ResendMatching(r.Context(), aid, f, h.Clock.Now(), BulkMax)
	if err != nil {
		unavailable(w, r)
		return
	}
	h.nudge()
	h.audit(r, "kickback.resend_bulk", "count="+strconv.Itoa(len(ids))+" filter="+r.URL.RawQuery)
	writeJSON(w, http.StatusAccepted, Resent{Resent: len(ids), IDs: ids})
}

func (h *Handler) audit(r *http.Request, action, detail string) {
	k := keyOf(r.Context())
	e := store.AuditEntry{At: h.Clock.Now(), Actor: "apikey:" + strconv.FormatInt(k.ID, 10) + ":" + k.Name, AID: k.AID, Action: action,
		Detail: detail, Remote: r.RemoteAddr}
	if h.RemoteIP != nil {
		e.Remote = h.RemoteIP(r).String()
	}
	if err := h.DB.Audit(context.WithoutCancel(r.Context()), e); err != nil {
		h.Log.Error("audit write failed", "action", action, "err", err)
	}
}

// signature is a fresh signature header value for a kickback, when its store signs them.
func (h *Handler) signature(ctx context.Context, aid, query string) string {
	st, err := h.DB.GetStore(ctx, aid)
	if err != nil || st.KickbackSecret == "" {
		return ""
	}
	return notify.Sign(st.KickbackSecret, h.Clock.Now(), query)
}
