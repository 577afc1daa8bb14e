package e2e

// Issue 12, items 3–5, the way real merchant code sees Kessai: numeric IDs (a Java service that
// keeps acid as a long, React forms that hold IDs as JavaScript Numbers), old zero-padded IDs that
// keep working in both forms, auto-charge run kickbacks matched by a Laravel handler on the
// sign-up's cod, and plan products signed up by iid alone.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kessai/internal/autocharge"
	"kessai/internal/clock"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/vault"
)

var newIDRe = regexp.MustCompile(`^[1-9][0-9]{15}$`)

// checkNewID fails unless id is a new-format ID: digits without a leading zero, exact as a Java
// long and a JavaScript Number, and not a Luhn-valid number (which log redaction would mask).
func checkNewID(t testing.TB, what, id string) {
	t.Helper()
	if !newIDRe.MatchString(id) {
		t.Fatalf("%s %q is not a 16-digit decimal number without a leading zero", what, id)
	}
	n, err := strconv.ParseInt(id, 10, 64) // Java Long.parseLong, PHP (int)
	if err != nil || strconv.FormatInt(n, 10) != id {
		t.Fatalf("%s %q does not round-trip through int64: %d %v", what, id, n, err)
	}
	if n > 1<<53-1 || int64(float64(n)) != n { // JavaScript Number (JSON.parse, React state)
		t.Fatalf("%s %q is not exact as a JavaScript Number", what, id)
	}
	if vault.Luhn(id) {
		t.Fatalf("%s %q passes the Luhn check: log redaction would mask it", what, id)
	}
	if red := vault.Redact("gid=" + id + " acid " + id); red != "gid="+id+" acid "+id {
		t.Fatalf("redaction masks %s %q: %q", what, id, red)
	}
}

// TestIDsAreNumbersThatRoundTrip: the result line's gid and acid (and the kickback's) are decimal
// numbers without a leading zero; the Java service's round trip — parse acid as a long, format it
// back, call accgate — answers OK; and the server's log and the panel's delivery log show the IDs
// unmasked.
func TestIDsAreNumbersThatRoundTrip(t *testing.T) {
	rcv, hits := kickbackReceiver(t)
	e := newSecEnv(t, secSetup{EditA: func(s *store.Store) { s.ResultURL = rcv + "/kb" }})
	gids := map[string]bool{}
	for i := 0; i < 30; i++ {
		gid := e.mustCharge(secAidA, fmt.Sprintf("num-%d", i), "CAPTURE", 1000, url.Values{"rt": {"0"}})
		checkNewID(t, "gid", gid)
		gids[gid] = true
	}
	if len(gids) != 30 {
		t.Fatalf("%d distinct gids for 30 payments", len(gids))
	}
	line := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"num-ac"},
		"am": {"0"}, "tx": {"0"}, "sf": {"0"}, "cn": {"4111111111111111"}, "ed": {secExpiry()}, "cvv": {"123"},
		"actp": {"4"}, "acam": {"1500"}, "actx": {"150"}, "ac1": {"99"}})
	cols := strings.Split(line, ",") // PHP explode
	if len(cols) < 14 || cols[1] != "1" {
		t.Fatalf("sign-up: %q", line)
	}
	checkNewID(t, "gid", cols[0])
	checkNewID(t, "acid", cols[12])

	// the Java billing service: long acid = Long.parseLong(cols[12]); later "acid=" + acid
	acid, _ := strconv.ParseInt(cols[12], 10, 64)
	if got := e.wire("POST", "/gateway/accgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"},
		"acid": {strconv.FormatInt(acid, 10)}, "acam": {"1600"}}); got != "OK" {
		t.Fatalf("accgate with the acid read back as a number: %q", got)
	}
	// a React form: JSON.parse gives a Number, String(n) goes back
	js := float64(acid)
	if got := e.wire("POST", "/gateway/acsgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"},
		"acid": {strconv.FormatFloat(js, 'f', -1, 64)}}); got != "OK" {
		t.Fatalf("acsgate with the acid as a JavaScript Number: %q", got)
	}
	if a := e.plan(secAidA, cols[12]); a.Status != store.ACStopped || a.Am != 1600 {
		t.Fatalf("plan after accgate/acsgate: %s acam %d", a.Status, a.Am)
	}

	// kickbacks carry the same numbers, unmasked
	waitFor(t, "30 kickbacks", func() bool { return len(hits()) >= 30 })
	for _, q := range hits() {
		if g := q.Get("gid"); !gids[g] {
			t.Fatalf("kickback with gid %q, not one of the payments'", g)
		}
	}
	logText := string(e.log.Bytes())
	for gid := range gids {
		if !strings.Contains(logText, gid) {
			t.Fatalf("the server log never shows gid %s unmasked", gid)
		}
	}
	b := e.browser()
	b.consoleLogin(secAidA, "owner", "")
	page := b.get("/console/kickbacks").Body
	shown := 0
	for gid := range gids {
		if strings.Contains(page, gid) {
			shown++
		}
	}
	if shown != len(gids) || strings.Contains(page, "******") {
		t.Fatalf("the panel's delivery log shows %d of %d gids unmasked", shown, len(gids))
	}
}

// TestOldFormatIDsKeepWorking: payments and plans whose IDs were issued in the old zero-padded
// format are found by every surface that takes a gid / tid / acid, sent back as issued or as a
// number without the leading zero.
func TestOldFormatIDsKeepWorking(t *testing.T) {
	acr, hits := kickbackReceiver(t)
	e := newSecEnv(t, secSetup{EditA: func(s *store.Store) { s.ACResultURL = acr + "/ac" }})
	ctx := context.Background()
	// rename rows to old IDs, as a database from before the change holds them
	old := func(n int) string { return fmt.Sprintf("%019d", int64(913533387558420480)+int64(n)) }
	rename := func(gid, newGid, acid, newAcid string) {
		t.Helper()
		err := e.s.DB.Tx(ctx, func(tx *store.Tx) error {
			for _, q := range []struct {
				sql  string
				args []any
			}{
				{`UPDATE payments SET gid = ? WHERE gid = ?`, []any{newGid, gid}},
				{`UPDATE payments SET acid = ? WHERE acid = ? AND acid <> ''`, []any{newAcid, acid}},
				{`UPDATE autocharges SET acid = ?, gid = ? WHERE acid = ?`, []any{newAcid, newGid, acid}},
			} {
				if _, err := tx.Exec(q.sql, q.args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	strip := func(s string) string { return strings.TrimLeft(s, "0") }

	// SALES / CANCEL by tid, as issued and as a number
	for i, form := range []func(string) string{func(s string) string { return s }, strip} {
		gid := e.mustCharge(secAidA, fmt.Sprintf("old-auth-%d", i), "AUTH", 1200, nil)
		rename(gid, old(i), "", "")
		tid := form(old(i))
		if got := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {secAidA}, "jb": {"SALES"}, "rt": {"0"}, "tid": {tid}}); got != "OK" {
			t.Fatalf("SALES tid=%s: %q", tid, got)
		}
		if got := e.wire("GET", "/gateway/gateway.aspx?"+url.Values{"aid": {secAidA}, "jb": {"CANCEL"}, "rt": {"0"}, "tid": {tid}}.Encode(), nil); got != "OK" {
			t.Fatalf("CANCEL tid=%s: %q", tid, got)
		}
		if p := e.payment(secAidA, old(i)); p.Status != store.StatusRefunded {
			t.Fatalf("payment %s after SALES and CANCEL by %s: %s", old(i), tid, p.Status)
		}
	}

	// a plan: accgate, the customer pages by tid, the panel's search and detail, acsgate
	gid, acid := e.signUp(secAidA, "old-plan", "4111111111111111", "123")
	oldGid, oldAcid := old(10), old(11)
	rename(gid, oldGid, acid, oldAcid)
	for _, a := range []string{oldAcid, strip(oldAcid)} {
		if got := e.wire("POST", "/gateway/accgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"}, "acid": {a}, "acam": {"1980"}}); got != "OK" {
			t.Fatalf("accgate acid=%s: %q", a, got)
		}
	}
	if got := e.wire("POST", "/gateway/accgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"}, "acid": {"9" + strip(oldAcid)}, "acam": {"1980"}}); got != "ER:ER072" {
		t.Fatalf("accgate with an unknown acid: %q", got)
	}
	for _, tid := range []string{oldGid, strip(oldGid)} {
		for _, path := range []string{"/link/creditcard/auto-charge/stop", "/link/creditcard/auto-charge/update"} {
			r := e.browser().get(path + "?" + url.Values{"aid": {secAidA}, "tid": {tid}}.Encode())
			if r.Status != http.StatusOK || !strings.Contains(r.Body, "1,980") && !strings.Contains(r.Body, "1980") {
				t.Fatalf("%s tid=%s: HTTP %d, plan amount not shown", path, tid, r.Status)
			}
		}
	}
	b := e.browser()
	b.consoleLogin(secAidA, "owner", "")
	for _, g := range []string{oldGid, strip(oldGid)} {
		r := b.get("/console/payments?" + url.Values{"gid": {g}}.Encode())
		if r.Status != http.StatusOK || !strings.Contains(r.Body, oldGid) {
			t.Fatalf("panel search gid=%s: HTTP %d, payment %s not listed", g, r.Status, oldGid)
		}
		if r := b.get("/console/payments/" + g); r.Status != http.StatusOK || !strings.Contains(r.Body, oldGid) {
			t.Fatalf("panel payment page /console/payments/%s: HTTP %d", g, r.Status)
		}
	}
	if got := e.wire("POST", "/gateway/acsgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"}, "acid": {strip(oldAcid)}}); got != "OK" {
		t.Fatalf("acsgate acid=%s: %q", strip(oldAcid), got)
	}
	if got := e.wire("POST", "/gateway/acsgate.aspx", url.Values{"aid": {secAidA}, "cmd": {"1"}, "acid": {oldAcid}}); got != "ER:ER024" {
		t.Fatalf("acsgate again with the issued form: %q, want ER:ER024 (the same plan, already stopped)", got)
	}
	a := e.plan(secAidA, oldAcid)
	if a.Status != store.ACStopped || a.Am != 1980 {
		t.Fatalf("old plan: %s acam %d", a.Status, a.Am)
	}
	// the stop notice names the plan as it was issued, with the sign-up's cod
	waitFor(t, "the stop kickback", func() bool { return len(hits()) >= 1 })
	if q := hits()[0]; q.Get("acid") != oldAcid || q.Get("rst") != "4" || q.Get("cod") != "old-plan" {
		t.Fatalf("stop kickback %v, want acid %s rst 4 cod old-plan", q, oldAcid)
	}
}

// TestRunKickbacksMatchTheSignUpByCod is the Laravel recurring-notify handler: it finds the
// subscription by the kickback's cod (the sign-up's order number), drops silently what it cannot
// match, and records each run once by gid+acid. Runs of two periods, a sign-up without cod and a
// stop all reach it; the payments keep Kessai's own per-period order numbers.
func TestRunKickbacksMatchTheSignUpByCod(t *testing.T) {
	type charge struct{ acid, gid, rst string }
	var mu sync.Mutex
	subs := map[string]string{} // cod → acid, from the sign-up's result line (the shop's DB)
	recorded := map[string]charge{}
	dropped := 0
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	laravel := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		mu.Lock()
		defer mu.Unlock()
		// Subscription::where('order_code', $request->cod)->first() ?? return 'OK'
		acid, ok := subs[q.Get("cod")]
		if !ok || acid != q.Get("acid") {
			dropped++
			w.Write([]byte("OK"))
			return
		}
		recorded[q.Get("gid")+"/"+q.Get("acid")] = charge{acid, q.Get("gid"), q.Get("rst")}
		w.Write([]byte("OK"))
	})}
	go laravel.Serve(ln)
	t.Cleanup(func() { laravel.Close() })

	clk := clock.NewFixed(time.Date(2026, 3, 10, 12, 0, 0, 0, autocharge.JST))
	s := testenv.Start(t, testenv.Options{Clock: clk})
	s.CreateStore(t, "124001", "定期便", func(st *store.Store) { st.ACResultURL = "http://" + ln.Addr().String() + "/recurring" })
	signUp := func(cod string) string {
		v := url.Values{"aid": {"124001"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "am": {"0"}, "tx": {"0"}, "sf": {"0"},
			"cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}, "actp": {"4"}, "acam": {"2980"}, "actx": {"298"}, "ac1": {"15"}}
		resp, err := testenv.Client.PostForm(s.URL+"/gateway/gateway.aspx", v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		cols := strings.Split(strings.TrimSpace(b.String()), ",")
		if len(cols) < 14 || cols[1] != "1" || cols[12] == "" {
			t.Fatalf("sign-up %q: %q", cod, b.String())
		}
		if cod != "" {
			mu.Lock()
			subs[cod] = cols[12]
			mu.Unlock()
		}
		return cols[12]
	}
	acid := signUp("sub-1001")
	bare := signUp("") // no cod: its runs carry cod="" and this handler cannot match them

	// two periods fall due (15 April and 15 May): the runner catches both up
	clk.Set(time.Date(2026, 5, 16, 12, 0, 0, 0, autocharge.JST))
	r := &autocharge.Runner{Svc: s.AutoCharges(), Maint: s.Maint}
	if o, err := r.RunOnce(context.Background()); err != nil || o.Charged != 4 {
		t.Fatalf("runner: %+v %v, want 4 charges", o, err)
	}
	waitFor(t, "four run kickbacks", func() bool { mu.Lock(); defer mu.Unlock(); return len(recorded) == 2 && dropped == 2 })
	mu.Lock()
	for k, c := range recorded {
		if c.acid != acid || c.rst != "1" {
			t.Fatalf("recorded run %s: %+v, want acid %s rst 1", k, c, acid)
		}
	}
	mu.Unlock()

	// Kessai's own order numbers stay per period: the panel, the CSV and the unique key see them
	for _, a := range []string{acid, bare} {
		ps, _, err := s.DB.SearchPayments(context.Background(), store.PaymentFilter{AID: "124001", Cod: a + "-", Limit: 10})
		if err != nil || len(ps) != 2 {
			t.Fatalf("payments of %s by its period order numbers: %d %v", a, len(ps), err)
		}
		cods := map[string]bool{ps[0].Cod: true, ps[1].Cod: true}
		if !cods[a+"-20260415"] || !cods[a+"-20260515"] {
			t.Fatalf("period order numbers of %s: %v", a, cods)
		}
	}
	// exactly once: running again charges nothing more
	if o, err := r.RunOnce(context.Background()); err != nil || o.Total() != 0 {
		t.Fatalf("second pass: %+v %v", o, err)
	}
	// the stop notice is matched by cod too (rst=4, a gid of its own)
	resp, err := testenv.Client.PostForm(s.URL+"/gateway/acsgate.aspx", url.Values{"aid": {"124001"}, "cmd": {"1"}, "acid": {acid}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the stop kickback", func() bool { mu.Lock(); defer mu.Unlock(); return len(recorded) == 3 })
	mu.Lock()
	defer mu.Unlock()
	stops := 0
	for _, c := range recorded {
		if c.rst == "4" && c.acid == acid {
			stops++
		}
	}
	if stops != 1 || dropped != 2 {
		t.Fatalf("stop notices matched %d, dropped %d", stops, dropped)
	}
}

// TestPlanProductSignUpByIID: "kessai product create" defines a product with a plan; a sign-up by
// its iid alone (gateway.aspx and the hosted page) creates the plan and returns its acid; a plan
// the wire would refuse is refused when the product is created, with the wire's code.
func TestPlanProductSignUpByIID(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, "124001", "定期便", nil)
	s.Stop() // the CLI writes to the same storage; a second server picks it up
	product := func(args ...string) (string, error) {
		args = append(append([]string{"product"}, args...), "--data", s.Config.DataDir)
		if s.Config.DatabaseURL != "" {
			args = append(args, "--database-url", s.Config.DatabaseURL)
		}
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(cmd.Environ(), "KESSAI_VAULT_KEY="+s.Key)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := product("create", "--aid", "124001", "--iid", "PLAN-M", "--am", "0", "--actp", "4", "--acam", "2980",
		"--actx", "298", "--ac1", "1"); err != nil {
		t.Fatalf("product create: %v %s", err, out)
	}
	if out, err := product("create", "--aid", "124001", "--iid", "BAD", "--am", "0", "--actp", "9", "--acam", "2980"); err == nil ||
		!strings.Contains(out, "ER126") || !strings.Contains(out, "--actp") {
		t.Fatalf("a product with actp=9: %v %s, want a refusal naming ER126 and --actp", err, out)
	}
	if out, err := product("create", "--aid", "124001", "--iid", "BAD", "--am", "0", "--actp", "4", "--acam", "2980", "--ac1", "31"); err == nil ||
		!strings.Contains(out, "ER127") {
		t.Fatalf("a product with ac1=31: %v %s, want ER127", err, out)
	}
	if out, _ := product("list", "--aid", "124001"); !strings.Contains(out, "PLAN-M") || strings.Contains(out, "BAD") ||
		!strings.Contains(out, "actp=4") {
		t.Fatalf("product list:\n%s", out)
	}
	s2 := testenv.Start(t, testenv.Options{Store: &s.Config, VaultKey: s.Key})
	v := url.Values{"aid": {"124001"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"plan-1"}, "iid": {"PLAN-M"},
		"cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}}
	resp, err := testenv.Client.PostForm(s2.URL+"/gateway/gateway.aspx", v)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, _ := resp.Body.Read(buf)
	resp.Body.Close()
	cols := strings.Split(strings.TrimSpace(string(buf[:n])), ",")
	if len(cols) < 14 || cols[1] != "1" || cols[12] == "" {
		t.Fatalf("sign-up by iid: %q", buf[:n])
	}
	checkNewID(t, "acid", cols[12])
	a, err := s2.DB.GetAutoCharge(context.Background(), "124001", cols[12])
	if err != nil {
		t.Fatal(err)
	}
	if a.Cycle != 4 || a.Am != 2980 || a.Tx != 298 || a.Day != 1 || a.Cod != "plan-1" || a.Status != store.ACActive {
		t.Fatalf("plan from the product: %+v", a)
	}
	if cols[6] != "0" || cols[9] != "0" {
		t.Fatalf("am=0 product charged %s now", cols[9])
	}
}

// kickbackReceiver collects kickback queries.
func kickbackReceiver(t *testing.T) (string, func() []url.Values) {
	var mu sync.Mutex
	var got []url.Values
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL.Query())
		mu.Unlock()
		w.Write([]byte("OK"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), func() []url.Values {
		mu.Lock()
		defer mu.Unlock()
		return append([]url.Values(nil), got...)
	}
}

// TestPanelEditsPlanProducts: the panel's product page adds a plan product; a refused plan shows
// the wire's code next to its field (ja and en) and keeps what was typed; the product then signs
// up by iid alone, and editing it keeps the plan.
func TestPanelEditsPlanProducts(t *testing.T) {
	e := newSecEnv(t, secSetup{})
	b := e.browser()
	b.consoleLogin(secAidA, "owner", "")
	form := url.Values{"iid": {"GOLD-M"}, "name": {"ゴールド会員"}, "am": {"0"}, "tx": {"0"}, "sf": {"0"},
		"actp": {"9"}, "acam": {"2980"}, "actx": {"298"}, "ac1": {"1"}}
	post := func(f url.Values) secResp {
		f = url.Values(cloneValues(f))
		f.Set("csrf", b.token("/console/products"))
		return b.post("/console/products", f)
	}
	fieldErr := regexp.MustCompile(`id="e-(\w+)">([^<]*)<`)
	r := post(form)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("a product with actp=9: HTTP %d", r.Status)
	}
	errs := map[string]string{}
	for _, m := range fieldErr.FindAllStringSubmatch(r.Body, -1) {
		errs[m[1]] = m[2]
	}
	if !strings.Contains(errs["actp"], "ER126") || len(errs) != 1 || !strings.Contains(errs["actp"], "課金") {
		t.Fatalf("errors next to fields: %v, want ER126 in Japanese next to actp only", errs)
	}
	for _, kept := range []string{`name="acam" id="f-acam" value="2980"`, `name="iid" id="f-iid" value="GOLD-M"`, `value="ゴールド会員"`} {
		if !strings.Contains(r.Body, kept) {
			t.Fatalf("the form lost what was typed: no %s", kept)
		}
	}
	// in English
	b.post("/console/lang", url.Values{"csrf": {b.token("/console/products")}, "lang": {"en"}, "next": {"/console/products"}})
	bad := cloneValues(form)
	bad["actp"], bad["ac1"] = []string{"4"}, []string{"45"}
	r = post(bad)
	m := fieldErr.FindStringSubmatch(r.Body)
	if r.Status != http.StatusUnprocessableEntity || m == nil || m[1] != "ac1" || !strings.Contains(m[2], "ER127") || !strings.Contains(m[2], "charge day") {
		t.Fatalf("ac1=45 in English: HTTP %d %v", r.Status, m)
	}
	good := cloneValues(form)
	good["actp"] = []string{"4"}
	if r := post(good); r.Status != http.StatusSeeOther {
		t.Fatalf("a valid plan product: HTTP %d", r.Status)
	}
	if r := b.get("/console/products"); !strings.Contains(r.Body, "GOLD-M") || !strings.Contains(r.Body, "3,278") {
		t.Fatalf("the list does not show the plan product with its recurring total")
	}
	// the short form of the settings page edits amounts only: the plan stays
	b.post("/console/settings/products", url.Values{"csrf": {b.token("/console/settings")}, "iid": {"GOLD-M"}, "name": {"ゴールド"}, "am": {"100"}})
	pr, err := e.s.DB.GetProduct(context.Background(), secAidA, "GOLD-M")
	if err != nil || pr.Plan == "" || pr.Am != 100 {
		t.Fatalf("product after the settings form: %+v %v", pr, err)
	}
	line := e.wire("POST", "/gateway/gateway.aspx", url.Values{"aid": {secAidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"gold-1"},
		"iid": {"GOLD-M"}, "cn": {"4111111111111111"}, "ed": {secExpiry()}, "cvv": {"123"}})
	cols := strings.Split(line, ",")
	if len(cols) < 14 || cols[1] != "1" || cols[12] == "" || cols[9] != "100" {
		t.Fatalf("sign-up by the panel's plan product: %q", line)
	}
	if a := e.plan(secAidA, cols[12]); a.Cycle != 4 || a.Am+a.Tx != 3278 || a.Day != 1 {
		t.Fatalf("plan: %+v", a)
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, x := range v {
		out[k] = append([]string(nil), x...)
	}
	return out
}

// TestTwoInstancesIssueUniqueUnorderedIDs: two Kessai servers on one database (PostgreSQL with
// KESSAI_TEST_PG, else one SQLite file), charged at once through the wire, never answer the same
// gid; every gid is a new-format ID; and the gids one client gets one after another go up and
// down, so a merchant cannot count the payments between two of its own.
func TestTwoInstancesIssueUniqueUnorderedIDs(t *testing.T) {
	cfg := testenv.StoreConfig(t)
	s1 := testenv.Start(t, testenv.Options{Store: &cfg})
	s2 := testenv.Start(t, testenv.Options{Store: &cfg, VaultKey: s1.Key}) // instances share the vault key
	s1.CreateStore(t, "140060", "二台", nil)
	s2.Pay.Stores.Invalidate()
	const perClient = 60
	var mu sync.Mutex
	seen := map[string]string{}
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		srv := []*testenv.Srv{s1, s2}[c%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev int64
			ups := 0
			for i := 0; i < perClient; i++ {
				cod := fmt.Sprintf("two-%d-%d", c, i)
				line := gatewayPost(t, srv.URL, url.Values{"aid": {"140060"}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod},
					"cn": {"4111111111111111"}, "ed": {secExpiry()}, "cvv": {"123"}, "am": {"500"}, "tx": {"0"}, "sf": {"0"}})
				cols := strings.Split(line, ",")
				if len(cols) < 14 || cols[1] != "1" {
					t.Errorf("%s: %q", cod, line)
					return
				}
				checkNewID(t, "gid", cols[0])
				n, _ := strconv.ParseInt(cols[0], 10, 64)
				if i > 0 && n > prev {
					ups++
				}
				prev = n
				mu.Lock()
				if other, dup := seen[cols[0]]; dup {
					t.Errorf("gid %s answered for %s and %s", cols[0], other, cod)
				}
				seen[cols[0]] = cod
				mu.Unlock()
			}
			// a random order goes up about half the time (59 steps: 29.5 ± 3.8)
			if ups < 12 || ups > 47 {
				t.Errorf("client %d: %d of %d consecutive gids go up: they follow the order of payments", c, ups, perClient-1)
			}
		}()
	}
	wg.Wait()
	if len(seen) != 4*perClient {
		t.Fatalf("%d distinct gids for %d payments", len(seen), 4*perClient)
	}
}
