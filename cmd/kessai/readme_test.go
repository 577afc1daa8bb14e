package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
)

// readmeBlock is one indented code block of README.md with the heading it stands under.
type readmeBlock struct {
	section string
	lines   []string
}

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeBlock
	section, in := "", false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "#") {
			section = strings.TrimSpace(strings.TrimLeft(l, "#"))
		}
		if strings.HasPrefix(l, "    ") && strings.TrimSpace(l) != "" {
			if !in {
				out = append(out, readmeBlock{section: section})
				in = true
			}
			out[len(out)-1].lines = append(out[len(out)-1].lines, strings.TrimSpace(l))
			continue
		}
		in = false
	}
	return out
}

// shellWords splits a command line as a POSIX shell would for the forms the README uses: words,
// single and double quotes, a trailing "# comment", a trailing backslash.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '#' && !inWord:
			return words
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case r == '\\':
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// kessaiArgs returns the arguments of a README line that runs kessai ("go run ./cmd/kessai …" or
// "kessai …"), or nil.
func kessaiArgs(line string) []string {
	w := shellWords(line)
	switch {
	case len(w) > 3 && w[0] == "go" && w[1] == "run" && w[2] == "./cmd/kessai":
		return w[3:]
	case len(w) > 1 && w[0] == "kessai":
		return w[1:]
	}
	return nil
}

// serveInProcess runs "kessai serve" with args (the README's own) in this process, on a free
// loopback port instead of the README's fixed one (tests run side by side), and returns its base URL.
func serveInProcess(t *testing.T, args []string) string {
	t.Helper()
	args = append(append([]string{}, args...), "--addr", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx, args, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() { cancel(); <-done })
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`gateway \(server-to-server\)\s+(http://\S+)/gateway/gateway\.aspx`)
		var once sync.Once
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				once.Do(func() { base <- m[1] })
			}
		}
	}()
	select {
	case b := <-base:
		return b
	case <-time.After(60 * time.Second):
		t.Fatalf("kessai %s printed no banner", strings.Join(args, " "))
		return ""
	}
}

func inTempDir(t *testing.T) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	t.Setenv("KESSAI_DATA", "")
	t.Setenv("KESSAI_DATABASE_URL", "")
	t.Setenv("KESSAI_VAULT_KEY", "")
}

// TestREADMECommands runs the README's commands as written (issue 15 item 18): every kessai command
// line of every code block names a command that exists (its --help succeeds); the "Try it" block
// serves and charges with its curl; the "Rehearse maintenance" blocks run in order against one data
// directory, the emergency steps included, and record what they say. Only the listen address of
// serve differs (a free port), and curl is made with Go's HTTP client.
func TestREADMECommands(t *testing.T) {
	blocks := readmeBlocks(t)
	ran := 0
	for _, b := range blocks {
		for _, l := range b.lines {
			args := kessaiArgs(l)
			if args == nil {
				continue
			}
			var sub []string
			for _, a := range args {
				if strings.HasPrefix(a, "-") || strings.ContainsAny(a, "…$/:") || len(sub) == 2 {
					break
				}
				sub = append(sub, a)
			}
			var out strings.Builder
			err := run(context.Background(), append(sub, "--help"), &out, &out)
			if err != nil && exitCode(err) != 0 {
				t.Errorf("README (%s): %q names no command: kessai %s --help: %v", b.section, l, strings.Join(sub, " "), err)
			}
			ran++
		}
	}
	if ran < 15 {
		t.Fatalf("only %d kessai command lines found in README code blocks", ran)
	}

	t.Run("Try it", func(t *testing.T) {
		inTempDir(t)
		block := findBlock(t, blocks, "Try it", "serve")
		base := serveInProcess(t, kessaiArgs(block.lines[0]))
		curl := strings.Join(block.lines[1:], " ")
		w := shellWords(strings.SplitN(curl, "# →", 2)[0])
		var body, target string
		for i, x := range w {
			if x == "-d" && i+1 < len(w) {
				body = w[i+1]
			}
			if strings.HasPrefix(x, "http://127.0.0.1:8080") {
				target = strings.Replace(x, "http://127.0.0.1:8080", base, 1)
			}
		}
		if body == "" || target == "" {
			t.Fatalf("cannot read the curl of %q", curl)
		}
		resp, err := http.Post(target, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		cols := strings.Split(strings.TrimSpace(string(got)), ",")
		if len(cols) != 14 || cols[1] != "1" || cols[5] != "order-1" {
			t.Fatalf("the README's curl answered %q", got)
		}
	})

	t.Run("Rehearse maintenance", func(t *testing.T) {
		inTempDir(t)
		var lines []string
		for _, b := range blocks {
			if b.section == "Rehearse maintenance" {
				lines = append(lines, b.lines...)
			}
		}
		if len(lines) < 7 {
			t.Fatalf("rehearsal blocks: %q", lines)
		}
		var base string
		for _, l := range lines {
			args := kessaiArgs(l)
			if args == nil {
				t.Fatalf("not a kessai command: %q", l)
			}
			if args[0] == "serve" {
				base = serveInProcess(t, args)
				continue
			}
			var out, errOut strings.Builder
			if err := run(context.Background(), args, &out, &errOut); err != nil {
				t.Fatalf("README: %s\n→ %v\n%s%s", l, err, out.String(), errOut.String())
			}
		}
		if base == "" {
			t.Fatal("the rehearsal starts no server")
		}
		db, err := store.Open(context.Background(), store.Config{DataDir: "kessai-data"})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ws, _ := db.Windows(context.Background())
		var em *maintenance.Window
		for i := range ws {
			if ws[i].Kind == maintenance.KindEmergency {
				em = &ws[i]
			}
		}
		if em == nil || em.NotesEN != "Payments are paused" || em.Note == "" {
			t.Fatalf("the rehearsal's emergency: %+v", em)
		}
		chs, _ := db.Changes(context.Background())
		kinds := map[string]bool{}
		for _, c := range chs {
			kinds[c.Kind] = true
		}
		for _, k := range []string{maintenance.ChangeEnded, maintenance.ChangeExtended, maintenance.ChangeUpdate} {
			if !kinds[k] {
				t.Errorf("the rehearsal recorded no %s change", k)
			}
		}
	})
}

func findBlock(t *testing.T, blocks []readmeBlock, section, first string) readmeBlock {
	t.Helper()
	for _, b := range blocks {
		if b.section == section && len(b.lines) > 0 && strings.Contains(b.lines[0], first) {
			return b
		}
	}
	t.Fatalf("no code block under %q starting with %q", section, first)
	return readmeBlock{}
}
