package store

import (
	"testing"
	"time"
)

// The trial on synthetic times: writes committed at a steady rate that differs between epochs
// with and without the linger; the trial keeps whichever measured more, and a tie keeps it off.
func TestLingerTrialKeepsWhatMeasuredMore(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	// run drives l for d from now: a batch every millisecond, of perMsOn writes while it lingers
	// and perMsOff while it does not; it returns the time it reached
	run := func(l *lingerTrial, now time.Time, d time.Duration, perMsOn, perMsOff int) time.Time {
		for end := now.Add(d); now.Before(end); now = now.Add(time.Millisecond) {
			n := perMsOff
			if l.lingering(now) {
				n = perMsOn
			}
			l.committed(n, now)
		}
		return now
	}
	trial := time.Duration(len(trialOrder)) * trialEpoch

	var l lingerTrial
	now := run(&l, t0, trial+10*time.Millisecond, 12, 10) // lingering commits 20% more
	if !l.on || l.trials != 1 || l.chose != 1 {
		t.Fatalf("lingering measured 20%% more and the trial chose on=%v (%d trials, %d chose)", l.on, l.trials, l.chose)
	}
	// between trials the choice holds, whatever the load does
	for d := time.Duration(0); d < trialEvery-trial; d += 100 * time.Millisecond {
		if !l.lingering(now.Add(d)) {
			t.Fatalf("the choice changed %v after the trial, before the next", d)
		}
	}
	// the next trial finds the machine changed: lingering now costs throughput
	now = run(&l, now, trialEvery+trial+10*time.Millisecond, 9, 10)
	if l.on || l.trials != 2 {
		t.Fatalf("lingering measured 10%% less and the second trial chose on=%v (%d trials)", l.on, l.trials)
	}

	var tie lingerTrial
	run(&tie, t0, trial+10*time.Millisecond, 10, 10)
	if tie.on || tie.trials != 1 {
		t.Fatalf("a tie chose on=%v (%d trials): a load served either way keeps the linger off", tie.on, tie.trials)
	}
	var small lingerTrial
	run(&small, t0, trial+10*time.Millisecond, 102, 100) // 2%: within the margin
	if small.on {
		t.Fatal("a difference within the margin chose to linger")
	}
}

// The trial's epochs linger in the order on, off, off, on: a load that falls steadily through the
// trial (it would favour whichever mode came first) favours neither side, so it does not choose to
// linger where the modes make no difference.
func TestLingerTrialIsNotFooledByAFallingLoad(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var l lingerTrial
	now := t0
	epochMs := int(trialEpoch / time.Millisecond)
	var order []bool
	for i := 0; i < len(trialOrder)*epochMs+10; i++ {
		on := l.lingering(now)
		if i%epochMs == epochMs/2 {
			order = append(order, on)
		}
		l.committed(40-i/40, now) // the same with or without the linger, falling from 40 to 15 a batch
		now = now.Add(time.Millisecond)
	}
	if l.trials != 1 || l.on {
		t.Fatalf("a falling load with no difference between the modes chose on=%v (%d trials)", l.on, l.trials)
	}
	for i := range trialOrder {
		if order[i] != trialOrder[i] {
			t.Fatalf("epochs lingered %v, want %v", order, trialOrder)
		}
	}
}

// A quiet spell in the middle of a trial abandons it (the load it measured is gone); the next
// writes start a fresh one.
func TestLingerTrialStartsAgainAfterAQuietSpell(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	var l lingerTrial
	now := t0
	for i := 0; i < 100; i++ { // 100 ms of the first, lingering epoch
		l.lingering(now)
		l.committed(10, now)
		now = now.Add(time.Millisecond)
	}
	now = now.Add(time.Second) // nothing for a second
	l.committed(1, now)
	if l.stage != 0 || l.trials != 0 {
		t.Fatalf("after a quiet spell: stage %d, %d trials; want the trial abandoned", l.stage, l.trials)
	}
	if !l.lingering(now.Add(time.Millisecond)) || l.stage != 1 {
		t.Fatal("the next write did not start a fresh trial with a lingering epoch")
	}
}
