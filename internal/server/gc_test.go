package server

import (
	"os"
	"runtime"
	"testing"
)

// kessai serve on SQLite runs one P more than the cores it may use, unless GOMAXPROCS says otherwise.
func TestTuneProcsAddsOneUnlessSet(t *testing.T) {
	def := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(def)
	got := TuneProcs(true)
	if os.Getenv("GOMAXPROCS") != "" {
		if got != def {
			t.Fatalf("GOMAXPROCS is set, yet TuneProcs changed %d to %d", def, got)
		}
		return
	}
	if got != def+1 {
		t.Fatalf("GOMAXPROCS %d, want %d (the default %d plus one)", got, def+1, def)
	}
	if again := TuneProcs(true); again != got {
		t.Fatalf("a second call moved GOMAXPROCS to %d", again)
	}
}
