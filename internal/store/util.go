package store

import "time"

func nowNS() int64 { return time.Now().UnixNano() }

// NS converts an instant to the stored form; the zero time is 0.
func NS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// FromNS converts a stored instant back; 0 is the zero time.
func FromNS(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// Bool converts a stored 0/1 flag.
func Bool(i int64) bool { return i != 0 }

// Int converts a flag to its stored form.
func Int(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
