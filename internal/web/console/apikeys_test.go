package console_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"kessai/internal/api"
	"kessai/internal/store"
)

var keyRe = regexp.MustCompile(`<code id="new-key-text">(ksk_[A-Za-z0-9_\-]+)</code>`)

// TestAPIKeysPage: an admin creates a named key, sees it once, sees when it was last used, and
// revokes it; every step is audited; viewers and other stores cannot; the key never signs in.
func TestAPIKeysPage(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.mustLogin(aidA, "owner")
	if p := b.get("/console/apikeys"); p.status != 200 || !strings.Contains(p.body, "API") {
		t.Fatalf("API keys page: %d", p.status)
	}
	if p := b.submit("/console/apikeys", "/console/apikeys", url.Values{"name": {""}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `aria-invalid="true"`) {
		t.Fatalf("nameless key: %d", p.status)
	}
	p := b.submit("/console/apikeys", "/console/apikeys", url.Values{"name": {"laptop"}})
	m := keyRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("create: %d, no key shown", p.status)
	}
	key := m[1]
	if again := b.get("/console/apikeys"); strings.Contains(again.body, key) {
		t.Fatal("the key is shown a second time")
	}
	ks, _ := e.srv.DB.APIKeys(context.Background(), aidA)
	if len(ks) != 1 || ks[0].Name != "laptop" || ks[0].Hash != api.HashKey(key) || strings.Contains(ks[0].Hash, key) {
		t.Fatalf("stored key: %+v", ks)
	}
	if e.auditCount("apikey.create") != 1 {
		t.Fatal("creation not audited")
	}
	// used by the API: the page shows a last-used time instead of "never"
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/kickbacks", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("API with the new key: %v %v", err, resp)
	}
	resp.Body.Close()
	if p := b.get("/console/apikeys"); strings.Contains(p.body, "未使用") || strings.Contains(p.body, ">never<") {
		t.Fatal("last-used time not shown")
	}
	// the key is not a panel password
	if p := e.browser().login(aidA, "owner", key); p.status == http.StatusSeeOther {
		t.Fatal("an API key signed in to the panel")
	}
	// a viewer may not see or create keys; another store may not revoke this one
	v := e.browser()
	v.mustLogin(aidA, "clerk")
	if p := v.get("/console/apikeys"); p.status != http.StatusForbidden {
		t.Fatalf("viewer on the API keys page: %d", p.status)
	}
	o := e.browser()
	o.mustLogin(aidB, "owner")
	id := ks[0].ID
	if p := o.submit("/console/apikeys", "/console/apikeys/"+strconv.FormatInt(id, 10)+"/revoke", nil); p.status != http.StatusNotFound {
		t.Fatalf("another store's revoke: %d", p.status)
	}
	if p := b.submit("/console/apikeys", "/console/apikeys/"+strconv.FormatInt(id, 10)+"/revoke", nil); p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", p.status)
	}
	if e.auditCount("apikey.revoke") != 1 {
		t.Fatal("revocation not audited")
	}
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", resp.StatusCode)
	}
}

// TestDeliveryLogFiltersAndBulkResend: the panel's delivery log filters like the API and resends
// exactly what matches.
func TestDeliveryLogFiltersAndBulkResend(t *testing.T) {
	e := newEnv(t)
	var hits atomic.Int32
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("cod") == "fl-b" {
			hits.Add(1)
		}
		w.Write([]byte("OK"))
	}))
	defer rcv.Close()
	ctx := context.Background()
	now := e.clock.Now()
	var gids []string
	for _, cod := range []string{"fl-a", "fl-b"} {
		gid := e.charge(aidA, cod, "CAPTURE", 100)
		gids = append(gids, gid)
		if err := e.srv.DB.Write(ctx, func(tx *store.Tx) error {
			return tx.InsertKickback(&store.Kickback{AID: aidA, Gid: gid, Kind: "result", URL: rcv.URL + "/kb", Query: "gid=" + gid + "&rst=1&cod=" + cod + "&am=100",
				NextAt: now, CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	e.srv.Pay.Nudge()
	waitFor(t, func() bool { return hits.Load() == 1 })
	b := e.browser()
	b.mustLogin(aidA, "owner")
	p := b.get("/console/kickbacks?cod=fl-b&state=delivered&kind=payment")
	if p.status != 200 || !strings.Contains(p.body, gids[1]) || strings.Contains(p.body, gids[0]) {
		t.Fatalf("filtered delivery log: %d", p.status)
	}
	if p := b.get("/console/kickbacks?state=pending"); strings.Contains(p.body, gids[1]) {
		t.Fatal("state=pending shows a delivered kickback")
	}
	if p := b.get("/console/kickbacks?from=yesterday"); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "YYYY-MM-DD") {
		t.Fatalf("bad date: %d", p.status)
	}
	p = b.submit("/console/kickbacks?cod=fl-b", "/console/kickbacks/resend", url.Values{"cod": {"fl-b"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("bulk resend: %d", p.status)
	}
	waitFor(t, func() bool { return hits.Load() == 2 })
	if e.auditCount("kickback.resend_bulk") != 1 {
		t.Fatal("bulk resend not audited")
	}
	if p := b.submit("/console/kickbacks", "/console/kickbacks/resend", nil); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("unfiltered bulk resend: %d", p.status)
	}
	v := e.browser()
	v.mustLogin(aidA, "clerk")
	if p := v.submit("/console/kickbacks", "/console/kickbacks/resend", url.Values{"cod": {"fl-b"}}); p.status != http.StatusForbidden {
		t.Fatalf("viewer bulk resend: %d", p.status)
	}
}
