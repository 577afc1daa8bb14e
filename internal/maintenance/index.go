package maintenance

import (
	"sort"
	"sync/atomic"
	"time"
)

// Index answers "is this operation refused at t, and by which window?" and "what is the next
// window after t?" for every request, so it must be cheap: an immutable snapshot sorted by start,
// swapped atomically when the schedule changes. Readers never lock and never allocate.
type Index struct {
	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	starts []int64 // unix nanos, ascending
	ends   []int64
	maxEnd []int64 // maxEnd[i] = max(ends[0..i]): lets a lookup stop scanning backwards early
	ops    []Op
	ws     []Window
}

// NewIndex returns an index over ws (cancelled windows are left out).
func NewIndex(ws []Window) *Index {
	ix := &Index{}
	ix.Replace(ws)
	return ix
}

// Replace swaps in a new schedule; concurrent lookups see either the old or the new one, whole.
func (ix *Index) Replace(ws []Window) {
	live := make([]Window, 0, len(ws))
	for _, w := range ws {
		if w.Status != StatusCancelled {
			live = append(live, w)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Start.Before(live[j].Start) })
	s := &snapshot{ws: live, starts: make([]int64, len(live)), ends: make([]int64, len(live)),
		maxEnd: make([]int64, len(live)), ops: make([]Op, len(live))}
	var m int64
	for i := range live {
		s.starts[i] = live[i].Start.UnixNano()
		s.ends[i] = live[i].End.UnixNano()
		s.ops[i] = live[i].Scope.Ops
		if s.ends[i] > m {
			m = s.ends[i]
		}
		s.maxEnd[i] = m
	}
	ix.snap.Store(s)
}

// Windows returns the live windows of the current snapshot, sorted by start. Callers must not
// modify them.
func (ix *Index) Windows() []Window {
	if s := ix.snap.Load(); s != nil {
		return s.ws
	}
	return nil
}

// search returns the number of windows whose start is <= t.
func (s *snapshot) upTo(t int64) int {
	lo, hi := 0, len(s.starts)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if s.starts[h] <= t {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// EveryBrand, given as the brand, asks only for windows that refuse op for every card brand: the
// request's card is not known yet, and is checked again with its brand once it is. A window
// limited to JCB must not close the hosted page, the panel or a Visa charge.
const EveryBrand = "*"

// Refused reports the window that refuses op at t, or nil. Method and brand narrow partial-scope
// windows ("" matches any). It does not allocate.
func (ix *Index) Refused(t time.Time, op Op, method, brand string) *Window {
	if brand == EveryBrand {
		return ix.RefusedEveryBrand(t, op, method)
	}
	s := ix.snap.Load()
	if s == nil || len(s.starts) == 0 {
		return nil
	}
	tn := t.UnixNano()
	for i := s.upTo(tn) - 1; i >= 0 && s.maxEnd[i] > tn; i-- {
		if s.ends[i] > tn && s.ops[i]&op != 0 {
			w := &s.ws[i]
			if (method == "" && brand == "") || w.Covers(op, method, brand) {
				return w
			}
		}
	}
	return nil
}

// RefusedEveryBrand reports a window that refuses op for method at t whatever the card brand, or
// nil: a window limited to some brands does not count. Work that has no single brand until it
// looks at each item (the auto-charge runner) pauses only for these.
func (ix *Index) RefusedEveryBrand(t time.Time, op Op, method string) *Window {
	s := ix.snap.Load()
	if s == nil {
		return nil
	}
	tn := t.UnixNano()
	for i := s.upTo(tn) - 1; i >= 0 && s.maxEnd[i] > tn; i-- {
		if w := &s.ws[i]; s.ends[i] > tn && len(w.Scope.Brands) == 0 && w.Covers(op, method, "") {
			return w
		}
	}
	return nil
}

// Active returns the first window active at t whatever its scope, or nil.
func (ix *Index) Active(t time.Time) *Window {
	return ix.Refused(t, ^Op(0), "", "")
}

// Next returns the first window starting after t (strictly), or nil.
func (ix *Index) Next(t time.Time) *Window {
	s := ix.snap.Load()
	if s == nil {
		return nil
	}
	i := s.upTo(t.UnixNano())
	if i < len(s.ws) {
		return &s.ws[i]
	}
	return nil
}

// Upcoming returns up to n windows that are active at t or start after it.
func (ix *Index) Upcoming(t time.Time, n int) []Window {
	s := ix.snap.Load()
	if s == nil {
		return nil
	}
	tn := t.UnixNano()
	var out []Window
	for i := range s.ws {
		if s.ends[i] > tn {
			out = append(out, s.ws[i])
			if len(out) == n {
				break
			}
		}
	}
	return out
}
