package maintenance

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

// updateGolden rewrites testdata/*.golden from the current output: go test ./internal/maintenance -update
var updateGolden = flag.Bool("update", false, "rewrite testdata/*.golden files")

// checkGolden compares got with testdata/<name>.golden, as Go's go/printer tests do: the file is
// the reviewed expectation, and a diff in review shows exactly what a change does to the output.
func checkGolden(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update and review the diff)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// wall builds a window like the operator's "add" does, failing the test on bad input.
func wallIn(t testing.TB, date, from, to, zone string) Window {
	t.Helper()
	w, err := WallWindow(date, from, to, zone)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// notice2020Dates are the twelve windows of the source notice.
var notice2020Dates = []string{"2020-01-23", "2020-02-20", "2020-03-19", "2020-04-23", "2020-05-21", "2020-06-18",
	"2020-07-22", "2020-08-20", "2020-09-17", "2020-10-22", "2020-11-19", "2020-12-17"}

// windows2020 builds the source notice's schedule with ids 1–12.
func windows2020(t testing.TB) []Window {
	t.Helper()
	ws := make([]Window, len(notice2020Dates))
	for i, d := range notice2020Dates {
		ws[i] = wallIn(t, d, "02:55", "04:30", "")
		ws[i].ID = int64(i + 1)
	}
	return ws
}

// isInputError reports whether err is (or wraps) an *InputError.
func isInputError(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}
