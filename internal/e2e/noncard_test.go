package e2e

// Issue 13: convenience-store and bank-transfer payments over real HTTP, on SQLite (and on
// PostgreSQL with KESSAI_TEST_PG): every entry point, every later notification, the sandbox's
// actions, duplicates that change nothing, a deadline passing on the sandbox clock, a bank notice
// held over a public holiday and a maintenance window limited to one method.

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/japanese"

	"kessai/internal/acquirer"
	"kessai/internal/clock"
	"kessai/internal/maintenance"
	"kessai/internal/noncard"
	"kessai/internal/payment"
	"kessai/internal/store"
	"kessai/internal/testenv"
	"kessai/internal/web/link"
)

const ncAid = "130001"

type ncEnv struct {
	t    *testing.T
	srv  *testenv.Srv
	clk  *clock.Fixed
	hits func() []url.Values
	rcv  string
}

// newNCEnv starts a server on a pinned sandbox clock with a store contracted for every method.
func newNCEnv(t *testing.T, at time.Time, edit func(*store.StoreMethods)) *ncEnv {
	t.Helper()
	rcv, hits := kickbackReceiver(t)
	clk := clock.NewFixed(at)
	srv := testenv.Start(t, testenv.Options{Clock: clk})
	srv.CreateStore(t, ncAid, "コンビニ商店", func(s *store.Store) {
		s.ResultURL = rcv + "/kb"
		s.CompletionURL = "https://shop.example.jp/done"
	})
	set := store.DefaultStoreMethods(ncAid)
	set.Methods = []string{store.MethodCard, store.MethodCVS, store.MethodBank}
	if edit != nil {
		edit(set)
	}
	if err := srv.DB.PutStoreMethods(context.Background(), set); err != nil {
		t.Fatal(err)
	}
	return &ncEnv{t: t, srv: srv, clk: clk, hits: hits, rcv: rcv}
}

func (e *ncEnv) post(path string, form url.Values) (int, []byte) {
	e.t.Helper()
	resp, err := testenv.Client.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func cvsForm(cod, cv string, extra ...string) url.Values {
	f := url.Values{"aid": {ncAid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "em": {"hanako@example.jp"},
		"pn": {"0312345678"}, "am": {"2000"}, "tx": {"200"}, "sf": {"0"}, "na": {"ヤマダ ハナコ"}, "cv": {cv}, "memo": {"m1"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

func bankForm(cod string, extra ...string) url.Values {
	f := url.Values{"aid": {ncAid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {cod}, "em": {"taro@example.jp"},
		"pn": {"0312345678"}, "am": {"5000"}, "tx": {"500"}, "sf": {"0"}, "nmf": {"ヤマダ タロウ"}, "po": {"150-0001"}, "memo": {"b1"}}
	for i := 0; i+1 < len(extra); i += 2 {
		f.Set(extra[i], extra[i+1])
	}
	return f
}

// javaSplit is Java's String.split(","): trailing empty fields are dropped.
func javaSplit(s string) []string {
	f := strings.Split(s, ",")
	for len(f) > 0 && f[len(f)-1] == "" {
		f = f[:len(f)-1]
	}
	return f
}

// waitHit waits for a kickback matching want (the wire's 30 s), and fails without one.
func (e *ncEnv) waitHit(what string, want func(url.Values) bool) url.Values {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, h := range e.hits() {
			if want(h) {
				return h
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatalf("no kickback %s; got %v", what, e.hits())
	return nil
}

func (e *ncEnv) count(want func(url.Values) bool) int {
	n := 0
	for _, h := range e.hits() {
		if want(h) {
			n++
		}
	}
	return n
}

func apIs(ap, cod string) func(url.Values) bool {
	return func(h url.Values) bool { return h.Get("ap") == ap && h.Get("cod") == cod }
}

// sandbox is the CLI's view of the sandbox (kessai sandbox …): a service of its own on the same
// database, with the real clock's stand-in, writing the outbox the running server delivers.
func (e *ncEnv) sandbox() *noncard.Service {
	ws, _ := e.srv.DB.Windows(context.Background())
	return &noncard.Service{DB: e.srv.DB, Pay: payment.New(e.srv.DB, nil, acquirer.Sandbox{}, e.clk, e.srv.Log), Clock: e.clk,
		Maint: maintenance.NewIndex(ws), Sandbox: true}
}

// settle waits until the running server has delivered every kickback due now (the outbox is
// empty of due rows), so a later count is final.
func (e *ncEnv) settle() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		e.srv.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM kickbacks WHERE status = 'pending' AND next_at <= ?`, store.NS(e.clk.Now())).Scan(&n)
		if n == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("kickbacks still pending")
}

var tue = time.Date(2026, 3, 10, 10, 0, 0, 0, noncard.JST) // a Tuesday, not a holiday

// TestNonCardServerToServer: cvs2.aspx and bank.aspx answer the §8 lines the way the provider's
// EC-CUBE module and a Java client read them, refuse what the wire refuses with its codes, and
// replay a repeated order number.
func TestNonCardServerToServer(t *testing.T) {
	e := newNCEnv(t, tue, func(m *store.StoreMethods) { m.Chains = []string{"010", "020", "030"} })
	_, b := e.post("/gateway/cvs2.aspx", cvsForm("c-1", "010"))
	line := strings.TrimRight(string(b), "\r\n")
	cols := strings.Split(line, ",") // PHP explode
	if len(cols) < 14 || cols[1] != "1" || cols[2] != "CPL_PRE" || cols[9] != "2200" {
		t.Fatalf("cvs2.aspx line %q", line)
	}
	if len(javaSplit(line)) < 13 {
		t.Fatalf("Java split keeps %d fields of %q", len(javaSplit(line)), line)
	}
	parts := strings.Split(cols[12], "&")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "cv=010") || !strings.HasPrefix(parts[1], "no=1") || !strings.HasPrefix(parts[2], "cu=http") {
		t.Fatalf("column 12 %q", cols[12])
	}
	no := strings.TrimPrefix(parts[1], "no=")
	if len(no) != 13 {
		t.Fatalf("Seven-Eleven slip number %q, want 13 digits", no)
	}
	cu, _ := url.QueryUnescape(strings.TrimPrefix(parts[2], "cu="))
	resp, err := testenv.Client.Get(cu)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), no) || !strings.Contains(string(page), "セブン-イレブン") {
		t.Fatalf("slip URL %s: %d", cu, resp.StatusCode)
	}
	if strings.Contains(cols[13], "na=") || strings.Contains(cols[13], "cv=") || !strings.Contains(cols[13], "memo=m1") {
		t.Fatalf("free parameters column %q", cols[13])
	}
	// a repeat of the order answers the same slip
	_, b2 := e.post("/gateway/cvs2.aspx", cvsForm("c-1", "010"))
	if strings.Split(string(b2), ",")[0] != cols[0] {
		t.Fatalf("repeat of c-1 issued another slip: %q", b2)
	}
	// FamilyMart has no slip URL
	_, b = e.post("/gateway/cvs2.aspx", cvsForm("c-2", "030"))
	if c := strings.Split(string(b), ","); len(c) < 13 || !strings.HasSuffix(c[12], "&cu=") {
		t.Fatalf("FamilyMart column 12: %q", b)
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"Seven-Eleven above 300,000 yen", cvsForm("x1", "010", "am", "300001", "tx", "0"), "ER:ER161"},
		{"Lawson at 500,000 yen is fine but 500,001 is not", cvsForm("x2", "020", "am", "500001", "tx", "0"), "ER:ER161"},
		{"an unknown chain", cvsForm("x3", "999"), "ER:ER160"},
		{"a chain the store does not take", cvsForm("x4", "050"), "ER:ER160"},
		{"Lawson without pn", cvsForm("x5", "020", "pn", ""), "ER:ER060"},
		{"small kana in na", cvsForm("x6", "010", "na", "キャロル"), "ER:ER162"},
		{"half-width kana in na", cvsForm("x7", "010", "na", "ﾔﾏﾀﾞ"), "ER:ER162"},
		{"no na", cvsForm("x8", "010", "na", ""), "ER:ER162"},
		{"latin nmf", bankForm("x9", "nmf", "YAMADA"), "ER:ER163"},
		{"small tsu in nmf", bankForm("x10", "nmf", "ハットリ"), "ER:ER163"},
		{"bad postal code", bankForm("x11", "po", "12-345"), "ER:ER164"},
		{"a card job", cvsForm("x12", "010", "jb", "AUTH"), "ER:ER051"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/gateway/cvs2.aspx"
			if tc.form.Has("nmf") {
				path = "/gateway/bank.aspx"
			}
			if _, b := e.post(path, tc.form); strings.TrimSpace(string(b)) != tc.want {
				t.Fatalf("%s: %q, want %s", path, b, tc.want)
			}
		})
	}
	if _, b := e.post("/gateway/cvs2.aspx", cvsForm("ok-lawson", "020", "am", "500000", "tx", "0")); !strings.Contains(string(b), ",CPL_PRE,") {
		t.Fatalf("Lawson at its limit: %q", b)
	}
	// bank: column 12 is Shift_JIS bytes with seven fields, column 13 the deadline
	_, raw := e.post("/gateway/bank.aspx", bankForm("b-1"))
	bcols := strings.Split(string(raw), ",")
	if len(bcols) < 14 || bcols[2] != "BANK" {
		t.Fatalf("bank.aspx line %q", raw)
	}
	bank, err := japanese.ShiftJIS.NewDecoder().String(bcols[12])
	if err != nil || len(strings.Split(bank, ".")) != 7 || !strings.Contains(bank, "ケッサイ銀行") {
		t.Fatalf("bank column %q → %q (%v)", bcols[12], bank, err)
	}
	if want := noncard.Deadline(tue, 14).Format("20060102"); strings.TrimSpace(bcols[13]) != want {
		t.Fatalf("exp %q, want %s (14 days, the default)", bcols[13], want)
	}
	// a store not contracted for a method gets ER165
	e.srv.DB.PutStoreMethods(context.Background(), &store.StoreMethods{AID: ncAid, Methods: []string{"card", "cvs"}, CVSDays: 3, BankDays: 3, HolidayHold: true})
	if _, b := e.post("/gateway/bank.aspx", bankForm("b-2")); string(b) != "ER:ER165" {
		t.Fatalf("bank for a store without bank: %q", b)
	}
	// rt=0: OK, then the first kickback with cv/no/cu and the free parameter
	f := cvsForm("c-rt0", "010", "rt", "0")
	if _, b := e.post("/gateway/cvs2.aspx", f); string(b) != "OK" {
		t.Fatalf("rt=0: %q", b)
	}
	h := e.waitHit("CPL_PRE", apIs("CPL_PRE", "c-rt0"))
	if h.Get("cv") != "010" || h.Get("no") == "" || h.Get("cu") == "" || h.Get("memo") != "m1" || h.Get("rst") != "1" || h.Get("na") != "" {
		t.Fatalf("CPL_PRE kickback %v", h)
	}
}

// TestNonCardLaterNotices: every later notice, each from the sandbox (as the CLI makes them) and
// delivered by the running server, with the first result's gid and cod; duplicates, late and
// out-of-order notices change nothing and send nothing.
func TestNonCardLaterNotices(t *testing.T) {
	e := newNCEnv(t, tue, nil)
	ctx := context.Background()
	sb := e.sandbox()
	gidOf := func(b []byte) string { return strings.Split(string(b), ",")[0] }

	_, b := e.post("/gateway/cvs2.aspx", cvsForm("c-1", "020"))
	cg := gidOf(b)
	if _, err := sb.Apply(ctx, "", cg, noncard.ChainCancel, 0, "t"); !errors.Is(err, noncard.ErrNoChange) {
		t.Fatalf("CVS_CAN of an unpaid slip: %v", err)
	}
	if _, err := sb.Apply(ctx, "", cg, noncard.Paid, 0, "t"); err != nil {
		t.Fatal(err)
	}
	h := e.waitHit("CPL", apIs("CPL", "c-1"))
	if h.Get("gid") != cg || h.Get("memo") != "m1" || h.Get("rst") != "1" {
		t.Fatalf("CPL %v", h)
	}
	// the duplicate, and a late expiry, change nothing: the slip stays paid, one CPL only
	for _, k := range []noncard.Kind{noncard.Paid, noncard.Expire, noncard.Cancel} {
		if out, err := sb.Apply(ctx, "", cg, k, 0, "t"); !errors.Is(err, noncard.ErrNoChange) || out.To != store.SlipPaid {
			t.Fatalf("%s after CPL: %v", k, err)
		}
	}
	e.settle()
	if n := e.count(apIs("CPL", "c-1")); n != 1 {
		t.Fatalf("%d CPL kickbacks", n)
	}
	if p, _ := e.srv.DB.GetPayment(ctx, ncAid, cg); p.Status != store.SlipPaid || p.Captured != 2200 {
		t.Fatalf("paid slip's payment: %s %d", p.Status, p.Captured)
	}
	// the chain takes it back: CVS_CAN, then nothing more
	if _, err := sb.Apply(ctx, "", cg, noncard.ChainCancel, 0, "t"); err != nil {
		t.Fatal(err)
	}
	h = e.waitHit("CVS_CAN", apIs("CVS_CAN", "c-1"))
	if h.Get("gid") != cg {
		t.Fatalf("CVS_CAN %v", h)
	}
	if _, err := sb.Apply(ctx, "", cg, noncard.Paid, 0, "t"); !errors.Is(err, noncard.ErrNoChange) {
		t.Fatalf("CPL after CVS_CAN: %v", err)
	}

	// bank: exact, less and more
	for _, tc := range []struct {
		cod    string
		amount int64
		mf     string
	}{{"b-exact", 5500, "1"}, {"b-less", 5000, "2"}, {"b-more", 6000, "3"}} {
		_, b := e.post("/gateway/bank.aspx", bankForm(tc.cod))
		g := gidOf(b)
		if _, err := sb.Apply(ctx, "", g, noncard.Paid, 0, "t"); err == nil {
			t.Fatal("a convenience-store payment notice applied to a bank transfer")
		}
		if _, err := sb.Apply(ctx, "", g, noncard.Transfer, tc.amount, "t"); err != nil {
			t.Fatal(err)
		}
		h := e.waitHit("BAN_SAL "+tc.cod, apIs("BAN_SAL", tc.cod))
		if h.Get("gid") != g || h.Get("mf") != tc.mf || h.Get("nk") != itoa64(tc.amount) || h.Get("nkd") != "20260310" || h.Get("memo") != "b1" {
			t.Fatalf("BAN_SAL %s: %v", tc.cod, h)
		}
		// a second transfer to the paid account is not dropped: added to what arrived and kept on
		// the payment's timeline, with no second BAN_SAL (asserted below) and mf as notified
		if _, err := sb.Apply(ctx, "", g, noncard.Transfer, tc.amount, "t"); !errors.Is(err, noncard.ErrFurtherTransfer) {
			t.Fatalf("second transfer: %v", err)
		}
		sl, _ := e.srv.DB.GetSlip(ctx, g)
		if sl.Received != 2*tc.amount || sl.Billed != 5500 || sl.Mf != tc.mf || sl.State != store.SlipPaid {
			t.Fatalf("slip %+v", sl)
		}
		evs, _ := e.srv.DB.Events(ctx, g)
		if last := evs[len(evs)-1]; last.Kind != noncard.TransferAgain || last.Amount != tc.amount || last.From != store.SlipPaid || last.To != store.SlipPaid {
			t.Fatalf("second transfer not on the timeline: %+v", evs)
		}
	}
	e.settle()
	if n := e.count(apIs("BAN_SAL", "b-exact")); n != 1 {
		t.Fatalf("%d BAN_SAL for one transfer", n)
	}
	// the merchant cancels an unpaid slip: no notice (the merchant did it), then money is refused
	_, b = e.post("/gateway/cvs2.aspx", cvsForm("c-mc", "010"))
	g := gidOf(b)
	if _, err := sb.Apply(ctx, ncAid, g, noncard.Cancel, 0, "console"); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Apply(ctx, "", g, noncard.Paid, 0, "t"); !errors.Is(err, noncard.ErrNoChange) {
		t.Fatalf("pay after the merchant's cancel: %v", err)
	}
	// another store cannot touch it
	if _, err := sb.Apply(ctx, "999999", g, noncard.Cancel, 0, "x"); err == nil || errors.Is(err, noncard.ErrNoChange) {
		t.Fatalf("another store's cancel: %v", err)
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// TestNonCardDeadlineOnSandboxClock: a slip expires when the sandbox clock passes its deadline
// (23:59:59 JST, N days on); with the store's expiry notice on, the merchant hears of it
// (rst=2, ap=CVS_EXP / BAN_EXP, ec=ER166); money after the deadline is refused.
func TestNonCardDeadlineOnSandboxClock(t *testing.T) {
	e := newNCEnv(t, tue, func(m *store.StoreMethods) { m.CVSDays, m.ExpiryNotice = 3, true })
	ctx := context.Background()
	_, b := e.post("/gateway/cvs2.aspx", cvsForm("c-exp", "010"))
	g := strings.Split(string(b), ",")[0]
	_, bb := e.post("/gateway/bank.aspx", bankForm("b-exp"))
	bg := strings.Split(string(bb), ",")[0]
	sl, _ := e.srv.DB.GetSlip(ctx, g)
	if want := time.Date(2026, 3, 13, 23, 59, 59, 0, noncard.JST); !sl.Deadline.Equal(want) {
		t.Fatalf("deadline %v, want %v", sl.Deadline, want)
	}
	e.clk.Set(time.Date(2026, 3, 13, 23, 59, 58, 0, noncard.JST))
	if n := e.srv.NonCard.DuePass(ctx); n != 0 {
		t.Fatalf("%d slips moved before the deadline", n)
	}
	e.clk.Set(time.Date(2026, 3, 14, 0, 0, 0, 0, noncard.JST))
	h := e.waitHit("CVS_EXP", apIs("CVS_EXP", "c-exp"))
	if h.Get("rst") != "2" || h.Get("ec") != "ER166" || h.Get("gid") != g {
		t.Fatalf("expiry notice %v", h)
	}
	if sl, _ := e.srv.DB.GetSlip(ctx, g); sl.State != store.SlipExpired {
		t.Fatalf("slip %s after its deadline", sl.State)
	}
	if _, err := e.sandbox().Apply(ctx, "", g, noncard.Paid, 0, "t"); !errors.Is(err, noncard.ErrNoChange) {
		t.Fatalf("paying an expired slip: %v", err)
	}
	// the bank account's deadline is 14 days (the default): still open
	if sl, _ := e.srv.DB.GetSlip(ctx, bg); sl.State != store.SlipPending {
		t.Fatalf("bank slip %s", sl.State)
	}
	// money arriving after the deadline (before the worker saw it) is refused and expires it
	e.clk.Set(time.Date(2026, 3, 25, 0, 0, 0, 0, noncard.JST))
	if _, err := e.sandbox().Apply(ctx, "", bg, noncard.Transfer, 5500, "t"); !errors.Is(err, noncard.ErrDeadline) && !errors.Is(err, noncard.ErrNoChange) {
		t.Fatalf("late transfer: %v", err)
	}
	e.waitHit("BAN_EXP", apIs("BAN_EXP", "b-exp"))
	// the order number of an expired payment does not issue again
	if _, b := e.post("/gateway/bank.aspx", bankForm("b-exp")); string(b) != "ER:ER054" {
		t.Fatalf("reissue of an expired order number: %q", b)
	}
	e.settle()
	if n := e.count(apIs("BAN_SAL", "b-exp")); n != 0 {
		t.Fatalf("a late transfer was notified")
	}
}

// TestNonCardHolidayHold: money arriving on a Japanese public holiday is notified at 09:00 JST of
// the next business day (the maintenance engine's calendar); a store that turns the hold off hears
// at once.
func TestNonCardHolidayHold(t *testing.T) {
	hol := time.Date(2026, 1, 12, 10, 0, 0, 0, noncard.JST) // 成人の日, a Monday
	if _, ok := maintenance.JapaneseHoliday(hol); !ok {
		t.Fatal("2026-01-12 is not in the holiday calendar")
	}
	e := newNCEnv(t, hol, nil)
	ctx := context.Background()
	_, b := e.post("/gateway/bank.aspx", bankForm("b-hol"))
	g := strings.Split(string(b), ",")[0]
	out, err := e.sandbox().Apply(ctx, "", g, noncard.Transfer, 5500, "t")
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 1, 13, 9, 0, 0, 0, noncard.JST); !out.NotifyAt.Equal(want) {
		t.Fatalf("notice at %v, want %v", out.NotifyAt, want)
	}
	e.clk.Set(time.Date(2026, 1, 13, 8, 59, 0, 0, noncard.JST))
	e.settle()
	if n := e.count(apIs("BAN_SAL", "b-hol")); n != 0 {
		t.Fatal("the holiday's notice went out before the next business day")
	}
	e.clk.Set(time.Date(2026, 1, 13, 9, 0, 1, 0, noncard.JST))
	h := e.waitHit("BAN_SAL after the holiday", apIs("BAN_SAL", "b-hol"))
	if h.Get("nkd") != "20260112" {
		t.Fatalf("nkd %q: the date money arrived, not the notice's", h.Get("nkd"))
	}
	// the store option off: at once
	set, _ := e.srv.DB.GetStoreMethods(ctx, ncAid)
	set.HolidayHold = false
	e.srv.DB.PutStoreMethods(ctx, set)
	e.clk.Set(time.Date(2026, 2, 11, 10, 0, 0, 0, noncard.JST)) // 建国記念の日
	_, b = e.post("/gateway/bank.aspx", bankForm("b-hol2"))
	g = strings.Split(string(b), ",")[0]
	out, err = e.sandbox().Apply(ctx, "", g, noncard.Transfer, 5500, "t")
	if err != nil || !out.NotifyAt.Equal(e.clk.Now()) {
		t.Fatalf("hold off: notice at %v (%v)", out.NotifyAt, err)
	}
	e.waitHit("BAN_SAL with the hold off", apIs("BAN_SAL", "b-hol2"))
}

// TestNonCardMethodWindow: a window scoped method:cvs refuses convenience-store slips (ER999 on the
// wire, greyed out with its times on the hosted page) while bank transfers and cards go on; a slip
// issued before the window stays payable, and its notice goes out after the window, once.
func TestNonCardMethodWindow(t *testing.T) {
	e := newNCEnv(t, tue, nil)
	ctx := context.Background()
	_, b := e.post("/gateway/cvs2.aspx", cvsForm("c-before", "010"))
	before := strings.Split(string(b), ",")[0]
	w, err := maintenance.WallWindow("2026-03-10", "09:30", "11:00", "")
	if err != nil {
		t.Fatal(err)
	}
	w.Scope, _ = maintenance.ParseScope("method:cvs")
	if _, err := e.srv.DB.AddWindows(ctx, []maintenance.Window{w}, "ops"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, b = e.post("/gateway/cvs2.aspx", cvsForm("c-during", "010"))
		if string(b) == "ER:ER999" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cvs2.aspx in a method:cvs window: %q", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, b := e.post("/gateway/bank.aspx", bankForm("b-during")); !strings.Contains(string(b), ",BANK,") {
		t.Fatalf("bank.aspx in a method:cvs window: %q", b)
	}
	card := url.Values{"aid": {ncAid}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"k-1"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4111111111111111"}, "ed": {"3012"}, "cvv": {"123"}, "fn": {"TARO"}, "ln": {"YAMADA"}}
	if _, b := e.post("/gateway/gateway.aspx", card); strings.Split(string(b), ",")[1] != "1" {
		t.Fatalf("a card in a method:cvs window: %q", b)
	}
	// the card's kickback is not held by a window for convenience stores
	card.Set("rt", "0")
	card.Set("cod", "k-2")
	if _, b := e.post("/gateway/gateway.aspx", card); string(b) != "OK" {
		t.Fatalf("card rt=0 in a method:cvs window: %q", b)
	}
	e.waitHit("the card's kickback during a method:cvs window", func(h url.Values) bool { return h.Get("cod") == "k-2" && h.Get("rst") == "1" })
	// the hosted page: convenience store greyed out with the window's times, bank open
	_, page := e.post("/gateway/payform.aspx", url.Values{"aid": {ncAid}, "cod": {"h-1"}, "jb": {"CAPTURE"}, "am": {"1000"}, "tx": {"0"},
		"sf": {"0"}, "pt": {"2"}})
	p := string(page)
	if !regexp.MustCompile(`value="cvs"[^>]*disabled`).MatchString(p) || !strings.Contains(p, "メンテナンス中 3月10日 09:30〜3月10日 11:00") ||
		!regexp.MustCompile(`value="bank" checked`).MatchString(p) {
		t.Fatalf("hosted page in a method:cvs window:\n%s", p)
	}
	// the slip from before the window is paid during it: accepted, notified after the window
	out, err := e.sandbox().Apply(ctx, "", before, noncard.Paid, 0, "t")
	if err != nil || !out.NotifyAt.Equal(w.End) {
		t.Fatalf("payment during the window: notice at %v (%v), want %v", out.NotifyAt, err, w.End)
	}
	e.clk.Set(w.End.Add(time.Second))
	e.waitHit("CPL after the window", apIs("CPL", "c-before"))
	e.settle()
	if n := e.count(apIs("CPL", "c-before")); n != 1 {
		t.Fatalf("%d CPL notices", n)
	}
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([a-z]+)" value="([^"]*)">`)

func hiddenFields(page string) url.Values {
	if i := strings.Index(page, `id="ncform"`); i >= 0 {
		page = page[i:] // the payment form's fields, not the language switch's
	}
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(page, -1) {
		if !v.Has(m[1]) {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

// TestNonCardHostedPages: payform.aspx pt=2 / pt=7 (POST and the older cmd=0 GET, also under
// /igateway/), /link/convenience and /link/bankcheck (a mail link too) open the page; the shopper
// chooses, a bad name is refused next to its field, and the slip page shows the number, the
// chain's steps, the account and the deadline; the shopper's e-mail is queued; the first kickback
// and the browser return carry §8's fields.
func TestNonCardHostedPages(t *testing.T) {
	e := newNCEnv(t, tue, nil)
	ctx := context.Background()
	jar := &cookieJar{m: map[string]*http.Cookie{}}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string, http.Header) {
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	post := func(u string, f url.Values) (int, string, http.Header) {
		resp, err := c.PostForm(u, f)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	order := url.Values{"aid": {ncAid}, "cod": {"h-cvs"}, "jb": {"CAPTURE"}, "am": {"1000"}, "tx": {"100"}, "sf": {"0"}, "pt": {"2"},
		"pn": {"0312345678"}, "em": {"a@example.jp"}, "inm": {"抹茶"}, "memo": {"x"}}
	for _, u := range []string{"/gateway/payform.aspx", "/igateway/payform.aspx"} {
		for _, pt := range []string{"2", "7"} {
			o := cloneValues(order)
			o.Set("pt", pt)
			if st, p, _ := post(e.srv.URL+u, o); st != 200 || !strings.Contains(p, `action="/link/noncard/issue"`) {
				t.Fatalf("POST %s pt=%s: %d", u, pt, st)
			}
			o.Set("cmd", "0")
			if st, p, _ := get(e.srv.URL + u + "?" + o.Encode()); st != 200 || !strings.Contains(p, `action="/link/noncard/issue"`) {
				t.Fatalf("GET %s pt=%s cmd=0: %d", u, pt, st)
			}
		}
	}
	for _, u := range []string{"/link/convenience", "/link/bankcheck"} {
		if st, _, _ := post(e.srv.URL+u, order); st != 200 {
			t.Fatalf("%s: %d", u, st)
		}
	}
	// a mail link opens without a Referer; a changed one is refused
	q := url.Values{"aid": {ncAid}, "cod": {"mail-1"}, "am": {"3000"}, "tx": {"0"}, "sf": {"0"}}
	ml := e.srv.URL + "/link/bankcheck?" + q.Encode() + "&" + link.MailKeyParam + "=" + url.QueryEscape(link.MailKey(e.srv.Vault, q, tue.Add(24*time.Hour)))
	if st, p, _ := get(ml); st != 200 || !strings.Contains(p, `value="bank" checked`) {
		t.Fatalf("mail link %s: %d\n%s", ml, st, p)
	}
	if st, _, _ := get(strings.Replace(ml, "am=3000", "am=1", 1)); st != 403 {
		t.Fatalf("changed mail link: %d", st)
	}

	// the convenience-store flow
	_, page, _ := post(e.srv.URL+"/gateway/payform.aspx", order)
	f := hiddenFields(page)
	f.Set("method", "cvs")
	f.Set("cv", "020")
	f.Set("kana", "キャロル")
	st, page, _ := post(e.srv.URL+"/link/noncard/issue", f)
	if st != 400 || !strings.Contains(page, `id="err-kana"`) || !strings.Contains(page, `value="キャロル"`) {
		t.Fatalf("small kana: %d\n%s", st, page)
	}
	f.Set("kana", "ヤマダ　ハナコ")
	st, _, hd := post(e.srv.URL+"/link/noncard/issue", f)
	if st != 303 || !strings.HasPrefix(hd.Get("Location"), "/link/slip/") {
		t.Fatalf("issue: %d %s", st, hd.Get("Location"))
	}
	// a second submission of the same form finds the same slip
	_, _, hd2 := post(e.srv.URL+"/link/noncard/issue", f)
	if hd2.Get("Location") != hd.Get("Location") {
		t.Fatalf("resubmission: %s vs %s", hd2.Get("Location"), hd.Get("Location"))
	}
	_, slip, _ := get(e.srv.URL + hd.Get("Location"))
	for _, want := range []string{"ローソン", "Loppi", "受付番号", "お支払期限", "2026年3月24日 23:59", "1,100円", `id="return"`} {
		if !strings.Contains(slip, want) {
			t.Fatalf("slip page lacks %q:\n%s", want, slip)
		}
	}
	_, slipEn, _ := get(e.srv.URL + hd.Get("Location") + "&lang=en")
	if !strings.Contains(slipEn, "reception number") || !strings.Contains(slipEn, "¥1,100") {
		t.Fatalf("English slip page:\n%s", slipEn)
	}
	if st, _, _ := get(e.srv.URL + strings.Replace(hd.Get("Location"), "k=", "k=x", 1)); st != 404 {
		t.Fatalf("slip page with a wrong key: %d", st)
	}
	h := e.waitHit("hosted CPL_PRE", apIs("CPL_PRE", "h-cvs"))
	if h.Get("cv") != "020" || h.Get("memo") != "x" || h.Get("no") == "" {
		t.Fatalf("hosted first kickback %v", h)
	}
	ret := regexp.MustCompile(`id="return" class="button primary" href="([^"]+)"`).FindStringSubmatch(slip)
	ru, _ := url.Parse(html.UnescapeString(ret[1]))
	if ru.Host != "shop.example.jp" || ru.Query().Get("ap") != "CPL_PRE" || ru.Query().Get("no") != h.Get("no") || ru.Query().Get("memo") != "x" {
		t.Fatalf("browser return %s", ru)
	}
	es, _ := e.srv.DB.Emails(ctx, 10)
	found := false
	for _, m := range es {
		if m.Rcpt == "a@example.jp" && m.Kind == "slip" && strings.Contains(m.Body, h.Get("no")) && strings.Contains(m.Body, "Loppi") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no shopper e-mail with the slip queued: %+v", es)
	}

	// the bank flow
	o := cloneValues(order)
	o.Set("pt", "7")
	o.Set("cod", "h-bank")
	_, page, _ = post(e.srv.URL+"/gateway/payform.aspx", o)
	f = hiddenFields(page)
	f.Set("method", "bank")
	f.Set("kana", "ヤマダ タロウ")
	st, _, hd = post(e.srv.URL+"/link/noncard/issue", f)
	if st != 303 {
		t.Fatalf("bank issue: %d", st)
	}
	_, slip, _ = get(e.srv.URL + hd.Get("Location"))
	for _, want := range []string{"ケッサイ銀行", "口座番号", "普通", "カ）ケッサイ", "1,100円", "振込名義", "ヤマダタロウ"} {
		if !strings.Contains(slip, want) {
			t.Fatalf("bank slip page lacks %q:\n%s", want, slip)
		}
	}
	h = e.waitHit("hosted BANK", apIs("BANK", "h-bank"))
	if len(strings.Split(h.Get("bank"), ".")) != 7 || h.Get("exp") != "20260324" {
		t.Fatalf("BANK kickback %v", h)
	}
}

// cookieJar is the smallest jar the hosted pages need (one host).
type cookieJar struct{ m map[string]*http.Cookie }

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		j.m[c.Name] = c
	}
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j.m {
		out = append(out, c)
	}
	return out
}
