package store

import "time"

// lingerTrial decides by measurement whether lingering pays (issue 18). Lingering trades the
// writer's time for larger batches: it pays where a batch's fixed costs (an fsync, the WAL's tail
// pages) and the CPU they take are what limits the server, and costs throughput where the writer
// itself is the bottleneck — there every moment it waits is a moment it does not commit. Which of
// the two holds depends on the machine (its disk's flush, how many cores the handlers get) and on
// the load, and both were seen: on one machine lingering raised CAPTURE from 0.79× to 0.85× the
// floor, on another it lowered it from 0.71× to 0.66× (BENCHMARKS.md, "Fourth pass"). So the
// writer does not guess: every trialEvery it runs a short trial — epochs with and without the
// linger, in the order on, off, off, on so that a load that rises or falls across the trial favours
// neither — compares the writes committed per second in each, and keeps lingering only if that
// measured more by trialMargin. A tie (a load the server keeps up with either way, where the only
// difference is latency) keeps the linger off.
//
// Only the writer's loop goroutine uses it. Times come from the caller, so tests drive it on
// synthetic ones.
type lingerTrial struct {
	on    bool      // the choice in force between trials
	stage int       // 0 between trials, 1…len(trialOrder) during one
	from  time.Time // start of the current trial epoch
	next  time.Time // when the next trial starts
	n     int64     // writes committed in the current epoch
	ops   [2]int64  // writes committed in the trial's epochs without (0) and with (1) the linger
	dur   [2]time.Duration
	// trials counts finished trials, lingering those that chose to linger (WriterStats)
	trials, chose int64
}

const (
	trialEpoch  = 250 * time.Millisecond
	trialEvery  = 5 * time.Second
	trialMargin = 1.03
)

// trialOrder is whether each epoch of a trial lingers.
var trialOrder = [...]bool{true, false, false, true}

// lingering reports whether the writer may linger at now.
func (l *lingerTrial) lingering(now time.Time) bool {
	l.advance(now)
	if l.stage == 0 {
		return l.on
	}
	return trialOrder[l.stage-1]
}

// committed counts n writes committed at now.
func (l *lingerTrial) committed(n int, now time.Time) {
	l.advance(now)
	if l.stage > 0 {
		l.n += int64(n)
	}
}

func (l *lingerTrial) advance(now time.Time) {
	if l.next.IsZero() {
		l.next = now // the first trial starts with the first write
	}
	if l.stage == 0 {
		if now.Before(l.next) {
			return
		}
		l.stage, l.from, l.n, l.ops, l.dur = 1, now, 0, [2]int64{}, [2]time.Duration{}
		return
	}
	d := now.Sub(l.from)
	if d < trialEpoch {
		return
	}
	if d > 2*trialEpoch {
		// a quiet spell (no write for a whole epoch): the load the trial measured is gone, and
		// with it the answer; begin again when writes come back
		l.stage, l.next = 0, now
		return
	}
	i := 0
	if trialOrder[l.stage-1] {
		i = 1
	}
	l.ops[i] += l.n
	l.dur[i] += d
	l.n, l.from = 0, now
	if l.stage++; l.stage <= len(trialOrder) {
		return
	}
	without := float64(l.ops[0]) / l.dur[0].Seconds()
	with := float64(l.ops[1]) / l.dur[1].Seconds()
	l.on = with > without*trialMargin
	l.stage, l.next = 0, now.Add(trialEvery)
	l.trials++
	if l.on {
		l.chose++
	}
}
