package wire

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

var goldenResults = []struct {
	name string
	r    Result
}{
	{"success", Result{Gid: "1000001", Rst: RstSuccess, Ap: "123456", God: "G0001", Cod: "ORDER-1",
		Am: 1000, Tx: 100, Sf: 500, Ta: 1600}},
	{"declined", Result{Gid: "1000002", Rst: RstFailure, Ec: string(ERDeclined), Cod: "ORDER-2", Am: 1000, Ta: 1000}},
	{"auto-charge with free parameters", Result{Gid: "1000003", Rst: RstSuccess, Ap: "654321", God: "G0003",
		Cod: "SUB-1", Acid: "AC100", Other: EncodeFree([]KV{{"user_id", "42"}, {"note", "a,b"}, {"商品", "茶"}})}},
	{"empty", Result{}},
	{"defensive escaping", Result{Gid: "1,2", Cod: "x\r\ny", God: "ほ", Other: "a=1%2C2"}},
}

func TestResultLineGolden(t *testing.T) {
	var b []byte
	for _, g := range goldenResults {
		b = append(b, "# "+g.name+"\n"...)
		b = g.r.AppendLine(b)
		b = append(b, '\n')
	}
	path := filepath.Join("testdata", "resultline.golden")
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("result lines differ from %s (run with -update if intended):\n got:\n%s\nwant:\n%s", path, b, want)
	}
}

func TestResultLineShape(t *testing.T) {
	for _, g := range goldenResults {
		t.Run(g.name, func(t *testing.T) {
			line := g.r.Line()
			if n := strings.Count(line, ",") + 1; n != Columns {
				t.Fatalf("%q has %d columns", line, n)
			}
			for i := 0; i < len(line); i++ {
				if line[i] < 0x20 || line[i] > 0x7e {
					t.Fatalf("%q has non-ASCII or control byte %#x", line, line[i])
				}
			}
			back, err := ParseResultLine(line + "\r\n")
			if err != nil {
				t.Fatal(err)
			}
			if back.Line() != line {
				t.Fatalf("round trip: %q became %q", line, back.Line())
			}
		})
	}
}

func TestResultRoundTrip(t *testing.T) {
	r := goldenResults[2].r
	back, err := ParseResultLine(r.Line())
	if err != nil {
		t.Fatal(err)
	}
	if back != r {
		t.Fatalf("got %+v, want %+v", back, r)
	}
	if !back.OK() {
		t.Error("OK() = false for a success")
	}
	free, err := DecodeFree(back.Other)
	if err != nil || len(free) != 3 || free[1].V != "a,b" || free[2].K != "商品" {
		t.Fatalf("free parameters: %v %v", free, err)
	}
	if (&Result{Rst: RstSuccess, Ec: "ER030"}).OK() || (&Result{Rst: RstFailure}).OK() {
		t.Error("OK() true for a failure")
	}
}

func TestParseResultLineErrors(t *testing.T) {
	_, err := ParseResultLine("ER:ER999")
	wantCode(t, err, ERMaintenance)
	_, err = ParseResultLine("ER:ER050\n")
	wantCode(t, err, ERParamAID)
	for _, s := range []string{"OK", "", "ER:", "ER:XX999", "ER:ER9999", "1,2,3", strings.Repeat(",", 14),
		"g,1,,,,,x,0,0,0,,,,"} {
		if _, err := ParseResultLine(s); !errors.Is(err, ErrBadResultLine) {
			t.Errorf("ParseResultLine(%q) err = %v, want ErrBadResultLine", s, err)
		}
	}
	r, err := ParseResultLine(strings.Repeat(",", 13))
	if err != nil || r != (Result{}) {
		t.Errorf("empty columns: %+v %v", r, err)
	}
}

func TestResultQuery(t *testing.T) {
	r := goldenResults[0].r
	q := r.Query()
	if q.Encode() != "am=1000&ap=123456&cod=ORDER-1&ec=&gid=1000001&god=G0001&rst=1&sf=500&ta=1600&tx=100" {
		t.Errorf("Query = %s", q.Encode())
	}
	if _, ok := q["acid"]; ok {
		t.Error("acid present without an auto-charge")
	}
	r.Acid = "AC1"
	if r.Query().Get("acid") != "AC1" {
		t.Error("acid missing")
	}
}

func BenchmarkAppendLine(b *testing.B) {
	r := goldenResults[2].r
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = r.AppendLine(buf[:0])
	}
}

func FuzzResultLine(f *testing.F) {
	f.Add("1000001", "1", "123456", "", "G1", "ORDER-1", int64(1000), int64(100), int64(0), int64(1100), "", "", "AC1", "k=v")
	f.Add("a,b", "2", "\r\n", "ER030", "ほ", "x%2Cy", int64(-1), int64(0), int64(1<<62), int64(-1<<63), ",", "\x00", "\xff", "a=1&b=2")
	f.Fuzz(func(t *testing.T, gid, rst, ap, ec, god, cod string, am, tx, sf, ta int64, id, ps, acid, other string) {
		r := Result{gid, rst, ap, ec, god, cod, am, tx, sf, ta, id, ps, acid, other}
		line := string(r.AppendLine(nil))
		if n := strings.Count(line, ",") + 1; n != Columns {
			t.Fatalf("%q has %d columns", line, n)
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("%q holds CR or LF", line)
		}
		back, err := ParseResultLine(line)
		if strings.HasPrefix(line, "ER:") {
			// A gid of "ER:…" makes the line look like an error body; gids never start that way.
			return
		}
		if err != nil {
			t.Fatalf("ParseResultLine(%q): %v", line, err)
		}
		if again := back.Line(); again != line {
			t.Fatalf("round trip: %q became %q", line, again)
		}
		if back.Am != am || back.Tx != tx || back.Sf != sf || back.Ta != ta {
			t.Fatalf("amounts changed: %+v", back)
		}
		clean := func(s string) bool {
			return !strings.ContainsFunc(s, func(r rune) bool { return r == ',' || r < 0x20 || r >= 0x7f })
		}
		if other == NoFree {
			r.Other = "" // "&" is how the line says "no free parameters"
		}
		if clean(gid+rst+ap+ec+god+cod+id+ps+acid+other) && back != r {
			t.Fatalf("clean result changed: %+v became %+v", r, back)
		}
	})
}
