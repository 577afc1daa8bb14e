package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestHelpEverywhere: "kessai COMMAND --help" and "kessai COMMAND SUBCOMMAND --help" print usage and
// succeed (exit status 0) for every command, alias and subcommand, "-h" and "help" alike, and touch no
// storage (issue 15 item 18). Run in an empty directory, so a command that opened its default data
// directory before reading --help would leave one behind.
func TestHelpEverywhere(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	t.Setenv("KESSAI_DATA", "")
	t.Setenv("KESSAI_DATABASE_URL", "")
	check := func(args ...string) {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, &out, &errOut)
		text := out.String() + errOut.String()
		if code := 0; err != nil {
			code = exitCode(err)
			if code != 0 {
				t.Errorf("kessai %s: exit %d (%v)\n%s", strings.Join(args, " "), code, err, text)
				return
			}
		}
		if len(strings.TrimSpace(text)) < 40 || !strings.Contains(text, "kessai") {
			t.Errorf("kessai %s printed no usage: %q", strings.Join(args, " "), text)
		}
	}
	check("--help")
	check("help")
	for cmd, subs := range commands {
		check(cmd, "--help")
		check(cmd, "-h")
		check("help", cmd)
		for _, sub := range subs {
			check(cmd, sub, "--help")
			check(cmd, sub, "-h")
		}
	}
	for alias := range aliases {
		check(alias, "--help")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("--help left files behind: %v", ents)
	}
	// the group help lists its subcommands, user passwd among them
	var out bytes.Buffer
	if err := run(context.Background(), []string{"user", "--help"}, &out, &out); err != nil || !strings.Contains(out.String(), "kessai user passwd") {
		t.Errorf("user --help: %v %q", err, out.String())
	}
}
