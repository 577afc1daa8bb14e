// Package velocity is Kessai's defence against card testing: a script that runs stolen card
// numbers through a merchant's public surfaces (the CPToken.js token API, which checks the
// security code with the network without charging, and the hosted payment page) to learn which
// cards are live. It counts the card attempts that failed — a number that is not a card, a
// declined card, a security code that does not match — per store and client address, and refuses
// further card attempts from that address at that store for the rest of a window once too many
// failed. Successful attempts do not count, so a busy shop behind one address (an office, a
// carrier's NAT) is not held up by its own customers paying.
//
// The counts live in memory, per instance: two instances behind one balancer each allow the
// limit. That is the trade against a database write per failure; the limit is a brake, not a
// wall, and the network's own fraud checks stand behind it.
package velocity

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults: ten failed card attempts per store and address in ten minutes.
const (
	DefaultWindow      = 10 * time.Minute
	DefaultMaxFailures = 10
	// maxKeys bounds the memory an attacker rotating addresses can make the table use.
	maxKeys = 100_000
)

// Limiter counts failed card attempts. The zero value is not usable; use New.
type Limiter struct {
	Window      time.Duration
	MaxFailures int

	mu sync.Mutex
	m  map[key]*count
}

type key struct {
	aid  string
	addr netip.Prefix // the address; IPv6 by its /64, which one subscriber usually holds whole
}

type count struct {
	start    time.Time
	failures int
}

// New returns a limiter with the default window and limit.
func New() *Limiter {
	return &Limiter{Window: DefaultWindow, MaxFailures: DefaultMaxFailures, m: map[key]*count{}}
}

func keyOf(aid string, ip netip.Addr) key {
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return key{aid: aid, addr: p}
}

// Wait reports how long card attempts from ip at store aid are refused, or 0 when they may go on.
// A nil limiter never refuses.
func (l *Limiter) Wait(aid string, ip netip.Addr, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[keyOf(aid, ip)]
	if c == nil || c.failures < l.MaxFailures {
		return 0
	}
	end := c.start.Add(l.Window)
	if !now.Before(end) {
		return 0
	}
	return end.Sub(now)
}

// Fail records a failed card attempt from ip at store aid.
func (l *Limiter) Fail(aid string, ip netip.Addr, now time.Time) {
	if l == nil {
		return
	}
	k := keyOf(aid, ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.m[k]
	if c == nil || !now.Before(c.start.Add(l.Window)) {
		if c == nil && len(l.m) >= maxKeys {
			l.sweep(now)
		}
		c = &count{start: now}
		l.m[k] = c
	}
	c.failures++
}

// sweep drops the counts whose window is over; if the table is still full (an attack from very
// many addresses), it starts afresh rather than grow: memory stays bounded, and every address
// that keeps failing is caught again within its next MaxFailures attempts.
func (l *Limiter) sweep(now time.Time) {
	for k, c := range l.m {
		if !now.Before(c.start.Add(l.Window)) {
			delete(l.m, k)
		}
	}
	if len(l.m) >= maxKeys {
		clear(l.m)
	}
}

// Len is the number of (store, address) pairs counted now.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
