package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs one kessai maintenance command in-process and returns its standard output.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := cmdMaintenance(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("kessai maintenance %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// TestImportAppliesNewerRevisions: a calendar exported from one schedule and imported into
// another adds its windows once; importing a later export, in which a window moved (higher
// SEQUENCE), moves it; one in which it was cancelled cancels it; repeating an import changes
// nothing.
func TestImportAppliesNewerRevisions(t *testing.T) {
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	dir := t.TempDir()
	export := func(name string) string {
		t.Helper()
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(cli(t, "export", "--data", a, "--format", "ics")), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cli(t, "add", "--data", a, "--date", "2020-07-22", "--from", "02:55", "--to", "04:30")
	cli(t, "add", "--data", a, "--date", "2020-08-19", "--from", "02:55", "--to", "04:30")
	first := export("first.ics")
	if got := cli(t, "import", "--data", b, first); !strings.Contains(got, "imported 2 windows, updated 0 (0 already present)") {
		t.Fatalf("first import: %q", got)
	}
	if got := cli(t, "import", "--data", b, first); !strings.Contains(got, "imported 0 windows, updated 0 (2 already present)") {
		t.Fatalf("repeated import: %q", got)
	}
	cli(t, "move", "--data", a, "1", "--date", "2020-07-23", "--reason", "工事日程の変更")
	cli(t, "cancel", "--data", a, "2")
	if got := cli(t, "import", "--data", b, export("second.ics")); !strings.Contains(got, "imported 0 windows, updated 2 (0 already present)") {
		t.Fatalf("import of the changed calendar: %q", got)
	}
	list := cli(t, "list", "--data", b, "--json")
	if !strings.Contains(list, "2020-07-23") || strings.Contains(list, "2020-07-22T") {
		t.Fatalf("the moved window did not move:\n%s", list)
	}
	if !strings.Contains(list, `"cancelled"`) {
		t.Fatalf("the cancelled window is not cancelled:\n%s", list)
	}
	if got := cli(t, "import", "--data", b, filepath.Join(dir, "second.ics")); !strings.Contains(got, "updated 0") {
		t.Fatalf("repeating the second import: %q", got)
	}
}

// TestEmergencyRehearsalAtASandboxInstant: start, extend and end take --at as now, so an
// operator can rehearse them against a server whose sandbox clock stands at 2027-01-20 03:00.
func TestEmergencyRehearsalAtASandboxInstant(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	if got := cli(t, "start", "--data", data, "--for", "30m", "--at", "2027-01-20T03:00:00+09:00", "--reason", "rehearsal"); !strings.Contains(got, "2027") {
		t.Fatalf("start: %q", got)
	}
	// no window ID: the one active at --at is extended, then ended
	if got := cli(t, "extend", "--data", data, "--by", "15m", "--at", "2027-01-20T03:10:00+09:00"); !strings.Contains(got, "extended") {
		t.Fatalf("extend: %q", got)
	}
	if st := cli(t, "status", "--data", data, "--at", "2027-01-20T03:40:00+09:00"); !strings.HasPrefix(st, "MAINTENANCE") {
		t.Fatalf("status inside the extension (03:30-03:45): %q", st)
	}
	if got := cli(t, "end", "--data", data, "--at", "2027-01-20T03:10:00+09:00"); !strings.Contains(got, "ended") || !strings.Contains(got, "03:00–2027-01-20 03:10") {
		t.Fatalf("end: %q", got)
	}
	if st := cli(t, "status", "--data", data, "--at", "2027-01-20T03:15:00+09:00"); !strings.HasPrefix(st, "no maintenance") {
		t.Fatalf("status after the early end at 03:10: %q", st)
	}
	var errOut bytes.Buffer
	if err := cmdMaintenance(context.Background(), []string{"end", "--data", data, "--at", "2027-01-20T04:00:00+09:00"}, &bytes.Buffer{}, &errOut); err == nil {
		t.Fatal("ending with no window active at --at succeeded")
	}
	if err := cmdMaintenance(context.Background(), []string{"start", "--data", data, "--for", "10m", "--at", "yesterday"}, &bytes.Buffer{}, &errOut); err == nil {
		t.Fatal("a malformed --at was accepted")
	}
}
