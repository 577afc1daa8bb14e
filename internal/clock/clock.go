// Package clock provides the injectable notion of "now" that every part of Kessai uses, so that the
// sandbox clock (a merchant rehearsing 02:55) is just another clock and tests can pin time.
package clock

import (
	"sync"
	"time"
)

// Clock reports the current instant. Implementations must be safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Sandbox runs from a chosen start instant at Rate times real speed. It exists so merchants can run
// the whole service "at" 02:54:50 on a maintenance day and watch the window begin.
type Sandbox struct {
	origin time.Time // sandbox instant at realStart
	real0  time.Time
	rate   float64
	frozen bool
	mu     sync.RWMutex
}

// NewSandbox starts a sandbox clock at start, advancing rate sandbox seconds per real second.
func NewSandbox(start time.Time, rate float64) *Sandbox {
	if rate <= 0 {
		rate = 1
	}
	return &Sandbox{origin: start, real0: time.Now(), rate: rate}
}

// Now returns the sandbox instant.
func (s *Sandbox) Now() time.Time {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nowLocked()
}

func (s *Sandbox) nowLocked() time.Time {
	if s.frozen {
		return s.origin
	}
	el := time.Since(s.real0)
	return s.origin.Add(time.Duration(float64(el) * s.rate))
}

// Set jumps the sandbox clock to t, keeping its rate.
func (s *Sandbox) Set(t time.Time) {
	s.mu.Lock()
	s.origin, s.real0 = t, time.Now()
	s.mu.Unlock()
}

// Rate reports how many sandbox seconds pass per real second (0 while frozen).
func (s *Sandbox) Rate() float64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.frozen {
		return 0
	}
	return s.rate
}

// Fixed is a clock that stands still until moved; for tests.
type Fixed struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixed returns a clock pinned at t.
func NewFixed(t time.Time) *Fixed { return &Fixed{t: t} }

// Now returns the pinned instant.
func (f *Fixed) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.t }

// Advance moves the pinned instant by d.
func (f *Fixed) Advance(d time.Duration) { f.mu.Lock(); f.t = f.t.Add(d); f.mu.Unlock() }

// Set pins the clock at t.
func (f *Fixed) Set(t time.Time) { f.mu.Lock(); f.t = t; f.mu.Unlock() }
