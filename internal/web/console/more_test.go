package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"kessai/internal/maintenance"
	"kessai/internal/store"
	"kessai/internal/web/ui"
)

func TestKickbackResend(t *testing.T) {
	e := newEnv(t)
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("OK"))
	}))
	defer rcv.Close()
	st, _ := e.srv.DB.GetStore(context.Background(), aidA)
	st.ResultURL = rcv.URL + "/kb"
	e.srv.DB.UpdateStore(context.Background(), st)
	e.srv.Pay.Stores.Invalidate()
	gid := e.charge(aidA, "kb-1", "CAPTURE", 100)
	// gateway charges answer in-line; queue the kickback a hosted-page payment would have
	now := e.clock.Now()
	if err := e.srv.DB.Write(context.Background(), func(tx *store.Tx) error {
		return tx.InsertKickback(&store.Kickback{AID: aidA, Gid: gid, Kind: "result", URL: st.ResultURL, Query: "gid=" + gid, NextAt: now, CreatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	e.srv.Pay.Nudge()
	waitFor(t, func() bool { return hits.Load() >= 1 })
	waitFor(t, func() bool {
		ks, _ := e.srv.DB.KickbacksOf(context.Background(), aidA, gid, 5)
		return len(ks) == 1 && ks[0].Status == store.KickbackDelivered
	})
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/kickbacks")
	if p.status != 200 || !strings.Contains(p.body, gid) || !strings.Contains(p.body, "HTTP 200") {
		t.Fatalf("kickbacks page: %d", p.status)
	}
	ks, _ := e.srv.DB.KickbacksOf(context.Background(), aidA, gid, 5)
	if len(ks) != 1 {
		t.Fatalf("%d kickbacks", len(ks))
	}
	id := strconv.FormatInt(ks[0].ID, 10)
	if p := b.submit("/console/kickbacks", "/console/kickbacks/"+id+"/resend", nil); p.status != http.StatusSeeOther {
		t.Fatalf("resend: %d", p.status)
	}
	waitFor(t, func() bool { return hits.Load() >= 2 })
	other := e.browser()
	other.mustLogin(aidB, "owner")
	if p := other.submit("/console/kickbacks", "/console/kickbacks/"+id+"/resend", nil); p.status != http.StatusNotFound {
		t.Fatalf("another store's resend: %d", p.status)
	}
	if e.auditCount("kickback.resend") != 1 {
		t.Fatal("resend not audited")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5s")
}

func TestSettingsAuthCodeProductsUsers(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	t.Run("auth code", func(t *testing.T) {
		if p := b.submit("/console/settings", "/console/settings/authcode", url.Values{"action": {"regenerate"}}); p.status != http.StatusSeeOther {
			t.Fatalf("regenerate: %d", p.status)
		}
		st, _ := e.srv.DB.GetStore(context.Background(), aidA)
		if len(st.AuthCode) != 24 {
			t.Fatalf("auth code %q", st.AuthCode)
		}
		v := url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"sig-1"}, "am": {"100"}, "tx": {"0"}, "sf": {"0"},
			"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}}
		if got := e.wire(v); !strings.HasPrefix(got, "ER:") {
			t.Fatalf("unsigned request accepted: %q", got)
		}
		ut := strconv.FormatInt(time.Now().Unix(), 10)
		h := sha256.Sum256([]byte(ut + st.AuthCode))
		v.Set("ut", ut)
		v.Set("hak", hex.EncodeToString(h[:]))
		if got := e.wire(v); strings.HasPrefix(got, "ER:") {
			t.Fatalf("signed request refused: %q", got)
		}
		b.submit("/console/settings", "/console/settings/authcode", url.Values{"action": {"disable"}})
		if st, _ := e.srv.DB.GetStore(context.Background(), aidA); st.AuthCode != "" {
			t.Fatal("auth code not cleared")
		}
	})
	t.Run("products", func(t *testing.T) {
		if p := b.submit("/console/settings", "/console/settings/products", url.Values{"iid": {"plan-a"}, "name": {"月額プラン"}, "am": {"980"}, "tx": {"98"}}); p.status != http.StatusSeeOther {
			t.Fatalf("product: %d", p.status)
		}
		pr, err := e.srv.DB.GetProduct(context.Background(), aidA, "plan-a")
		if err != nil || pr.Am != 980 || pr.Tx != 98 || pr.Name != "月額プラン" {
			t.Fatalf("product %+v %v", pr, err)
		}
		if p := b.submit("/console/settings", "/console/settings/products", url.Values{"iid": {"bad code!"}, "name": {"x"}, "am": {"1"}}); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("bad product code: %d", p.status)
		}
	})
	t.Run("users", func(t *testing.T) {
		if p := b.submit("/console/users", "/console/users", url.Values{"login": {"newbie"}, "password": {"another-Pass-1"}, "role": {"viewer"}}); p.status != http.StatusSeeOther {
			t.Fatalf("create user: %d %s", p.status, p.body)
		}
		if p := b.submit("/console/users", "/console/users", url.Values{"login": {"short"}, "password": {"x"}, "role": {"viewer"}}); p.status != http.StatusUnprocessableEntity {
			t.Fatalf("weak password: %d", p.status)
		}
		n := e.browser()
		if p := n.login(aidA, "newbie", "another-Pass-1"); p.status != http.StatusSeeOther {
			t.Fatalf("new user login: %d", p.status)
		}
		u, _ := e.srv.DB.UserByLogin(context.Background(), aidA, "newbie")
		if p := b.submit("/console/users", "/console/users/"+strconv.FormatInt(u.ID, 10)+"/delete", nil); p.status != http.StatusSeeOther {
			t.Fatalf("delete: %d", p.status)
		}
		if p := n.get("/console/"); p.status != http.StatusSeeOther {
			t.Fatalf("deleted user still signed in: %d", p.status)
		}
		other, _ := e.srv.DB.UserByLogin(context.Background(), aidB, "owner")
		if p := b.submit("/console/users", "/console/users/"+strconv.FormatInt(other.ID, 10)+"/delete", nil); p.status != http.StatusNotFound {
			t.Fatalf("deleting another store's user: %d", p.status)
		}
	})
	t.Run("password change", func(t *testing.T) {
		p := b.submit("/console/password", "/console/password", url.Values{"current": {passwd}, "new": {"Brand-new-pass-9"}, "confirm": {"Brand-new-pass-9"}})
		if p.status != http.StatusSeeOther {
			t.Fatalf("change: %d", p.status)
		}
		if p := b.get("/console/"); p.status != 200 {
			t.Fatalf("this browser signed out after its own change: %d", p.status)
		}
		if p := e.browser().login(aidA, "owner", "Brand-new-pass-9"); p.status != http.StatusSeeOther {
			t.Fatalf("new password: %d", p.status)
		}
	})
}

func TestOperatorSchedule(t *testing.T) {
	e := newEnv(t)
	op := e.browser()
	op.operatorLogin()
	year := e.clock.Now().In(ui.Tokyo).Year() + 1
	y := strconv.Itoa(year)
	p := op.submit("/operator/maintenance", "/operator/maintenance/draft/add", url.Values{"year": {y},
		"date": {y + "-01-15", y + "-02-19", y + "-03-18"}, "from": {"02:55"}, "to": {"04:30"}, "zone": {"Asia/Tokyo"}, "scope": {"all"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("add draft: %d %s", p.status, p.body)
	}
	ws, _ := e.srv.DB.Windows(context.Background())
	if len(ws) != 3 {
		t.Fatalf("%d windows", len(ws))
	}
	id := strconv.FormatInt(ws[1].ID, 10)
	if p := op.submit("/operator/maintenance?year="+y, "/operator/maintenance/windows/"+id+"/move", url.Values{"date": {y + "-02-18"}, "reason": {"holiday"}}); p.status != http.StatusSeeOther {
		t.Fatalf("move: %d %s", p.status, p.body)
	}
	if p := op.submit("/operator/maintenance?year="+y, "/operator/maintenance/windows/"+strconv.FormatInt(ws[2].ID, 10)+"/cancel", nil); p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d", p.status)
	}
	if p := op.submit("/operator/maintenance?year="+y, "/operator/maintenance/windows/"+id+"/move", url.Values{"date": {y + "-01-15"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("move onto another window: %d", p.status)
	}
	w, _ := e.srv.DB.Window(context.Background(), ws[1].ID)
	if got := w.Start.In(ui.Tokyo).Format("2006-01-02 15:04"); got != y+"-02-18 02:55" || w.Revision != 1 {
		t.Fatalf("moved window: %s rev %d", got, w.Revision)
	}
	cal := op.get("/operator/maintenance?year=" + y)
	if strings.Count(cal.body, `class="win `) < 3 || !strings.Contains(cal.body, "cancelled") {
		t.Fatal("calendar does not mark the windows")
	}
	n := op.get("/operator/maintenance/notice?year=" + y)
	if !strings.Contains(n.body, y+"年01月15日") || !strings.Contains(n.body, y+"年02月18日") || strings.Contains(n.body, y+"年03月18日") {
		t.Fatalf("notice preview does not follow the schedule")
	}
	chs, _ := e.srv.DB.Changes(context.Background())
	var kinds []string
	for _, c := range chs {
		kinds = append(kinds, c.Kind)
	}
	if got := strings.Join(kinds, ","); got != "added,added,added,moved,cancelled" {
		t.Fatalf("changes %s", got)
	}
	t.Run("stores and users", func(t *testing.T) {
		if p := op.submit("/operator/stores", "/operator/stores", url.Values{"aid": {"777777"}, "name": {"新店舗"}}); p.status != http.StatusSeeOther {
			t.Fatalf("create store: %d", p.status)
		}
		if p := op.submit("/operator/stores/777777", "/operator/stores/777777/users", url.Values{"login": {"boss"}, "password": {"Initial-pass-77"}, "role": {store.RoleAdmin}}); p.status != http.StatusSeeOther {
			t.Fatalf("create user: %d", p.status)
		}
		if p := e.browser().login("777777", "boss", "Initial-pass-77"); p.status != http.StatusSeeOther {
			t.Fatalf("login of the new store's user: %d", p.status)
		}
	})
	t.Run("a payments-only window leaves the panel open", func(t *testing.T) {
		now := e.clock.Now()
		w := maintenance.Window{Start: now.Add(-time.Hour), End: now.Add(time.Hour), Zone: "Asia/Tokyo", Kind: maintenance.KindScheduled,
			Status: maintenance.StatusAnnounced}
		w.Scope, _ = maintenance.ParseScope("payments")
		if _, err := e.srv.DB.AddWindows(context.Background(), []maintenance.Window{w}, "test"); err != nil {
			t.Fatal(err)
		}
		ws, _ := e.srv.DB.Windows(context.Background())
		e.srv.Maint.Replace(ws)
		m := e.browser()
		m.mustLogin(aidA, "owner")
		d := m.get("/console/")
		if d.status != 200 || !strings.Contains(d.body, "メンテナンス実施中") {
			t.Fatalf("panel during a payments-only window: %d", d.status)
		}
		v := url.Values{"aid": {aidA}, "jb": {"AUTH"}, "rt": {"1"}, "cod": {"late"}, "am": {"100"}, "tx": {"0"}, "sf": {"0"},
			"cn": {"4111111111111111"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}}
		if got := strings.TrimSpace(e.wire(v)); got != "ER:ER999" {
			t.Fatalf("payment during a payments-only window: %q", got)
		}
	})
}
