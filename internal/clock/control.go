package clock

import (
	"errors"
	"time"
)

// Controllable is a clock that can be moved while the service runs: the sandbox's test clock. Every
// component holds the one clock the server was built with, so moving it moves all of them at once.
type Controllable interface {
	Clock
	Set(t time.Time)
	Advance(d time.Duration)
	SetRate(rate float64) error
	Freeze(on bool)
	State() State
}

// State describes a controllable clock.
type State struct {
	Now    time.Time
	Rate   float64 // sandbox seconds per real second while running
	Frozen bool
}

// ErrRate is returned for a rate that is not positive or absurdly large.
var ErrRate = errors.New("rate must be greater than 0 and at most 1000000")

// Advance moves the sandbox clock forward (or back, for a negative d) by d, keeping its rate.
func (s *Sandbox) Advance(d time.Duration) {
	s.mu.Lock()
	s.origin, s.real0 = s.nowLocked().Add(d), time.Now()
	s.mu.Unlock()
}

// SetRate changes the clock's speed from now on; the current instant is kept.
func (s *Sandbox) SetRate(rate float64) error {
	if !(rate > 0 && rate <= 1e6) {
		return ErrRate
	}
	s.mu.Lock()
	s.origin, s.real0 = s.nowLocked(), time.Now()
	s.rate = rate
	s.mu.Unlock()
	return nil
}

// Freeze stops the clock at its current instant (on) or lets it run again from there (off).
func (s *Sandbox) Freeze(on bool) {
	s.mu.Lock()
	s.origin, s.real0 = s.nowLocked(), time.Now()
	s.frozen = on
	s.mu.Unlock()
}

// State reports the clock's instant, rate and whether it is frozen.
func (s *Sandbox) State() State {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return State{Now: s.nowLocked(), Rate: s.rate, Frozen: s.frozen}
}

var _ Controllable = (*Sandbox)(nil)
