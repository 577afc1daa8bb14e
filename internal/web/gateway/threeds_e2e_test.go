package gateway_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"

	"kessai/internal/store"
	"kessai/internal/testenv"
)

const aidOld = "222222" // a store that predates the 3-D Secure setting

// tdsAuthenticate runs EMV3DSAdapter.authenticate's server call for tkn and 1000+100+0 yen; it
// returns the flow and, for a challenge, the sandbox's one-time code.
func tdsAuthenticate(t testing.TB, base, aid, tkn string) (flow, code, resultCode string) {
	t.Helper()
	var m map[string]any
	body := postTo(t, base, "/gateway/3ds/authenticate.json", url.Values{"aid": {aid}, "tkn": {tkn}, "am": {"1000"}, "tx": {"100"},
		"sf": {"0"}, "em": {"taro@example.com"}})
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("authenticate: %s", body)
	}
	flow, _ = m["flow"].(string)
	resultCode, _ = m["resultCode"].(string)
	if c, ok := m["code"].(string); ok && resultCode == "" {
		resultCode = c
	}
	if ch, ok := m["challenge"].(map[string]any); ok {
		code, _ = ch["sandboxCode"].(string)
	}
	return flow, code, resultCode
}

func tdsResult(t testing.TB, s *testenv.Srv, aid, gid string) string {
	t.Helper()
	r, err := s.DB.PaymentTDS(context.Background(), aid, gid)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestThreeDSRequired: at a store that requires 3-D Secure, a token charge of a card that needs it
// (the sandbox's challenge card) is refused with ER900 until the token passed 3-D Secure; the
// refusal leaves the token usable, so the shopper can still authenticate and pay. The result of
// the authentication (frictionless, challenged, attempted, none) is recorded on each payment. A
// store that predates the setting keeps charging such a token as before.
func TestThreeDSRequired(t *testing.T) {
	s := testenv.Start(t, testenv.Options{})
	s.CreateStore(t, aid, "3DS必須", func(st *store.Store) { st.Require3DS = true })
	s.CreateStore(t, aidOld, "既存店", nil)
	ctx := context.Background()

	// the challenge card, charged server-side without 3-D Secure: refused, nothing recorded
	tkn := apiToken(t, s.URL, "4000000000003220")
	if got := postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tkn, "tds-1")); got != "ER:ER900" {
		t.Fatalf("challenge card without 3-D Secure: %q, want ER:ER900", got)
	}
	var n int
	s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM payments WHERE aid = ?`, aid).Scan(&n)
	if n != 0 {
		t.Fatalf("%d payments after the refusal", n)
	}
	// the same token, authenticated through the challenge, is charged and says so
	flow, code, _ := tdsAuthenticate(t, s.URL, aid, tkn)
	if flow != "challenge" || len(code) != 6 {
		t.Fatalf("authenticate: flow %q code %q", flow, code)
	}
	if got := postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tkn, "tds-1")); got != "ER:ER900" {
		t.Fatalf("challenge open, not answered: %q", got)
	}
	var m map[string]any
	json.Unmarshal([]byte(postTo(t, s.URL, "/gateway/3ds/complete.json", url.Values{"aid": {aid}, "tkn": {tkn}, "otp": {code},
		"action": {"authenticate"}})), &m)
	if m["resultCode"] != "Success" {
		t.Fatalf("complete: %v", m)
	}
	r := line(t, postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tkn, "tds-1")))
	if r.Rst != "1" || tdsResult(t, s, aid, r.Gid) != store.TDSChallenged {
		t.Fatalf("after the challenge: %+v, 3DS %q", r, tdsResult(t, s, aid, r.Gid))
	}

	// the card the issuer refuses: ER900 without 3-D Secure, ER901 once it failed
	bad := apiToken(t, s.URL, "4000000000003238")
	if got := postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(bad, "tds-2")); got != "ER:ER900" {
		t.Fatalf("failing card without 3-D Secure: %q", got)
	}
	tdsAuthenticate(t, s.URL, aid, bad)
	if got := postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(bad, "tds-2")); got != "ER:ER901" {
		t.Fatalf("failing card after a failed authentication: %q", got)
	}

	// cards the sandbox does not enrol: frictionless (or attempted) when authenticated, none when not
	for _, c := range []struct{ pan, cod, want string }{
		{"4111111111111111", "tds-3", store.TDSFrictionless},
		{"4000000000003246", "tds-4", store.TDSAttempted},
	} {
		tk := apiToken(t, s.URL, c.pan)
		if flow, _, rc := tdsAuthenticate(t, s.URL, aid, tk); flow != "frictionless" || rc != "Success" {
			t.Fatalf("%s: authenticate %q %q", c.pan, flow, rc)
		}
		r := line(t, postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(tk, c.cod)))
		if got := tdsResult(t, s, aid, r.Gid); r.Rst != "1" || got != c.want {
			t.Fatalf("%s: %+v, 3DS %q want %q", c.pan, r, got, c.want)
		}
	}
	plain := line(t, postTo(t, s.URL, "/gateway/gateway_token.aspx", tokenCharge(apiToken(t, s.URL, "5555555555554444"), "tds-5")))
	if got := tdsResult(t, s, aid, plain.Gid); plain.Rst != "1" || got != store.TDSNone {
		t.Fatalf("frictionless card without the script: %+v, 3DS %q", plain, got)
	}
	// a raw-card charge records no authentication
	if raw := line(t, post(t, s.URL, charge("tds-6"))); tdsResult(t, s, aid, raw.Gid) != store.TDSNone {
		t.Fatal("a raw-card charge recorded a 3-D Secure result")
	}

	// a store that predates the setting: the challenge card's token is charged as before
	old := postTo(t, s.URL, "/gateway/token.json", url.Values{"aid": {aidOld}, "cn": {"4000000000003220"}, "ed": {exp()},
		"fn": {"TARO"}, "ln": {"YAMADA"}, "cvv": {"123"}})
	var om map[string]any
	json.Unmarshal([]byte(old), &om)
	otk, _ := om["token"].(string)
	v := tokenCharge(otk, "tds-7")
	v.Set("aid", aidOld)
	if r := line(t, postTo(t, s.URL, "/gateway/gateway_token.aspx", v)); r.Rst != "1" || tdsResult(t, s, aidOld, r.Gid) != store.TDSNone {
		t.Fatalf("store without the setting: %+v", r)
	}
}
