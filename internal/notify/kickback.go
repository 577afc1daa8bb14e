// Package notify delivers what Kessai owes merchants: kickbacks (result notifications) from the
// outbox, and e-mail.
package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/vault"
)

// RetryWindow is how long a kickback is retried before it is given up (wire.md §3.3: 72 hours).
const RetryWindow = 72 * time.Hour

// SignatureHeader carries "t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + query)>" for stores that
// set a kickback secret.
const SignatureHeader = "X-Kessai-Signature"

// Kickbacks delivers the outbox. Each instance runs one; leases keep two instances from sending
// the same kickback at once, and a bounded pool keeps a hanging receiver from holding up others.
type Kickbacks struct {
	DB      *store.DB
	Clock   clock.Clock
	Maint   *maintenance.Index
	Log     *slog.Logger
	Client  *http.Client
	Stores  func(ctx context.Context, aid string) (*store.Store, error)
	Wake    <-chan struct{}
	Workers int
	Poll    time.Duration
	// Rule says which receiver addresses may be reached (SSRF); the zero value refuses every
	// internal address. AllowPrivate, when set, overrides it with AnyAddress.
	Rule         TargetRule
	AllowPrivate bool
	// PerHost bounds concurrent deliveries to one receiver, so a receiver that hangs holds at
	// most this many workers and the others keep flowing.
	PerHost  int
	mu       sync.Mutex
	inflight map[string]int
	claimed  map[int64]bool // kickbacks being delivered now, whose leases are renewed
}

// Lease is how long a claimed kickback is held by the instance that claimed it. An instance that
// dies holding kickbacks delays them by at most this (plus a poll): well inside the 30 s of
// wire.md §3.3. A delivery that takes longer (a slow receiver) has its lease renewed every
// LeaseRenew while it runs, so a live instance never loses its kickbacks to another mid-delivery.
const (
	Lease      = 15 * time.Second
	LeaseRenew = 5 * time.Second
)

// Backoff is the wait after the n-th failed attempt: 5 s doubling, at most one hour.
func Backoff(n int) time.Duration {
	d := 5 * time.Second
	for i := 1; i < n && d < time.Hour; i++ {
		d *= 2
	}
	if d > time.Hour {
		d = time.Hour
	}
	return d
}

// Run delivers until ctx ends. It claims due kickbacks in batches and delivers each on its own
// goroutine, bounded overall (Workers) and per receiver (PerHost); when a batch came back full it
// claims again at once, so a backlog drains at the speed of the receivers, not of the poll.
func (k *Kickbacks) Run(ctx context.Context) {
	if k.Workers == 0 {
		k.Workers = 64
	}
	if k.Poll == 0 {
		k.Poll = 250 * time.Millisecond
	}
	if k.PerHost == 0 {
		k.PerHost = 16
	}
	if k.Client == nil {
		tr := &http.Transport{MaxIdleConnsPerHost: k.PerHost, IdleConnTimeout: 30 * time.Second, Proxy: nil}
		if k.AllowPrivate {
			k.Rule = AnyAddress
		}
		if k.Rule != AnyAddress {
			tr.DialContext = dialContext(k.Rule)
		}
		// Redirects are not followed: a 3xx is a failed attempt (retried later). Following one
		// would let a public receiver bounce Kessai to an internal address; the dialer would
		// refuse it, but not following is simpler to reason about and to log.
		k.Client = &http.Client{Timeout: 10 * time.Second, Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	k.mu.Lock()
	k.inflight = map[string]int{}
	k.claimed = map[int64]bool{}
	k.mu.Unlock()
	sem := make(chan struct{}, k.Workers)
	t := time.NewTicker(k.Poll)
	defer t.Stop()
	renew := time.NewTicker(LeaseRenew)
	defer renew.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	again := false
	for {
		if !again {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-k.Wake:
			case <-renew.C:
				k.renew(ctx)
				continue
			}
		}
		again = false
		if ctx.Err() != nil {
			return
		}
		now := k.Clock.Now()
		// A window scoped to one method (method:cvs, method:bank) does not pause the outbox: it
		// refuses only that method's work, and money arriving during it is queued for the
		// window's end by the non-card service itself (noncard.NoticeAt).
		if k.Maint != nil && k.Maint.Refused(now, maintenance.OpKickback, "card", maintenance.EveryBrand) != nil {
			continue // paused: the outbox keeps everything, delivery catches up after the window
		}
		free := k.Workers - len(sem)
		if free <= 0 {
			continue
		}
		kbs, err := k.DB.ClaimKickbacks(ctx, now, free, Lease, k.busyHosts())
		if err != nil {
			if ctx.Err() == nil {
				k.Log.Warn("kickback claim failed", "err", err)
			}
			continue
		}
		again = len(kbs) == free
		for _, kb := range kbs {
			host := hostOf(kb.URL)
			k.mu.Lock()
			full := k.inflight[host] >= k.PerHost
			if !full {
				k.inflight[host]++
				k.claimed[kb.ID] = true
			}
			k.mu.Unlock()
			if full {
				k.DB.ReleaseKickback(ctx, kb.ID) // this receiver is busy: leave it for a later pass
				again = false
				continue
			}
			sem <- struct{}{}
			wg.Add(1)
			go func(kb *store.Kickback) {
				defer func() {
					k.mu.Lock()
					k.inflight[host]--
					delete(k.claimed, kb.ID)
					k.mu.Unlock()
					<-sem
					wg.Done()
				}()
				k.deliver(ctx, kb)
			}(kb)
		}
	}
}

// renew extends the leases of the kickbacks being delivered now.
func (k *Kickbacks) renew(ctx context.Context) {
	k.mu.Lock()
	ids := make([]int64, 0, len(k.claimed))
	for id := range k.claimed {
		ids = append(ids, id)
	}
	k.mu.Unlock()
	if err := k.DB.RenewKickbacks(ctx, ids, k.Clock.Now().Add(Lease)); err != nil && ctx.Err() == nil {
		k.Log.Warn("kickback lease renewal failed", "err", err)
	}
}

func (k *Kickbacks) unclaim(id int64) {
	k.mu.Lock()
	delete(k.claimed, id)
	k.mu.Unlock()
}

// busyHosts lists receivers already at their concurrency bound.
func (k *Kickbacks) busyHosts() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for h, n := range k.inflight {
		if n >= k.PerHost {
			out = append(out, h)
		}
	}
	return out
}

func hostOf(u string) string {
	if x, err := url.Parse(u); err == nil {
		return x.Host
	}
	return u
}

func (k *Kickbacks) deliver(ctx context.Context, kb *store.Kickback) {
	start := time.Now()
	at := k.Clock.Now()
	u := kb.URL
	if strings.Contains(u, "?") {
		u += "&" + kb.Query
	} else {
		u += "?" + kb.Query
	}
	a := store.Attempt{At: at}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	delivered := false
	if err == nil {
		req.Header.Set("User-Agent", "Kessai-Kickback/1")
		if k.Stores != nil {
			if st, err := k.Stores(ctx, kb.AID); err == nil && st.KickbackSecret != "" {
				req.Header.Set(SignatureHeader, Sign(st.KickbackSecret, at, kb.Query))
			}
		}
		var resp *http.Response
		resp, err = k.Client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			a.StatusCode = resp.StatusCode
			a.Body = excerpt(body)
			delivered = resp.StatusCode >= 200 && resp.StatusCode < 300
			if !delivered {
				a.Error = "HTTP " + strconv.Itoa(resp.StatusCode)
			}
		}
	}
	a.LatencyMS = time.Since(start).Milliseconds()
	if errors.Is(err, ErrPrivateAddress) {
		// refused before any connection: one message and no timing, whatever the address and
		// port, so the delivery log says nothing about the provider's network
		a.Error, a.LatencyMS = RefusedByPolicy, 0
	} else if err != nil {
		a.Error = vault.Redact(err.Error())
	}
	attempts := kb.Attempts + 1
	next := at.Add(Backoff(attempts))
	giveUp := !delivered && next.Sub(kb.CreatedAt) > RetryWindow
	if ctx.Err() != nil && !delivered {
		// shutting down: leave it for the next start, with no attempt recorded against it
		return
	}
	k.unclaim(kb.ID) // no renewal from here on: the record ends the lease
	if err := k.DB.RecordAttempt(context.WithoutCancel(ctx), kb, a, delivered, next, giveUp); err != nil {
		k.Log.Error("kickback record failed", "id", kb.ID, "err", err)
		return
	}
	lvl := slog.LevelInfo
	if !delivered {
		lvl = slog.LevelWarn
	}
	k.Log.Log(ctx, lvl, "kickback", "id", kb.ID, "aid", kb.AID, "gid", kb.Gid, "attempt", attempts, "status", a.StatusCode,
		"ms", a.LatencyMS, "delivered", delivered, "error", a.Error)
}

// Sign computes the signature header value for a kickback query sent at t.
func Sign(secret string, t time.Time, query string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + query))
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// excerpt keeps what a merchant's receiver answered in a loggable form: valid UTF-8, no control
// characters (PostgreSQL refuses NUL in text, and a receiver answering garbage must not stop its
// kickback being recorded as delivered), card numbers masked.
func excerpt(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\n' && r != '\t' || r == 0x7f {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
	return vault.Redact(s)
}
