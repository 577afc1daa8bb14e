package autocharge_test

import (
	"testing"

	"kessai/internal/autocharge"
)

// TestTrialParametersOfAnotherTypeIgnored: wire.md §2.2 — the Ruby client's own sample signs up with
// trtp=4 (N months) and also sends tr3 (an end date) and an empty tr1. The parameters that do not
// belong to trtp are ignored, not refused: the trial runs tr2 months. A trial parameter without any
// trtp is still refused (ER581): the merchant asked for a trial without saying which.
func TestTrialParametersOfAnotherTypeIgnored(t *testing.T) {
	e := newEnv(t, jst(t, "2020-07-10 12:00"))
	plan := map[string]string{"actp": "4", "acam": "1000", "actx": "10", "acsf": "90", "ac1": "99",
		"trtp": "4", "tr1": "", "tr2": "1", "tr3": "2031/12/31", "tram": "1000", "trtx": "0", "trsf": "0"}
	p := signUpParams("ruby-1", "4111111111111111", plan)
	p["am"], p["tx"], p["sf"] = "1000", "100", "100"
	r := result(t, e.call(t, "/gateway/gateway.aspx", p))
	if r["rst"] != "1" || r["acid"] == "" {
		t.Fatalf("sign-up with tr3 alongside trtp=4 refused: %v", r)
	}
	terms := autocharge.DecodeTerms(e.plan(t, r["acid"]).Terms)
	if terms.TrialType != 4 || terms.TrialN != 1 || terms.TrialEnd.String() == "" || terms.TrialEnd.String()[:4] == "2031" {
		t.Fatalf("trial terms %+v: want one month from tr2, tr3 ignored", terms)
	}
	// trtp=2 (days) with a tr2 of another type: ignored as well
	q := signUpParams("ruby-2", "4111111111111111", map[string]string{"actp": "4", "acam": "980", "trtp": "2", "tr1": "14", "tr2": "3"})
	if r := result(t, e.call(t, "/gateway/gateway.aspx", q)); r["rst"] != "1" {
		t.Fatalf("trtp=2 with tr2: %v", r)
	} else if terms := autocharge.DecodeTerms(e.plan(t, r["acid"]).Terms); terms.TrialType != 2 || terms.TrialN != 14 {
		t.Fatalf("trtp=2 terms %+v", terms)
	}
	// without trtp, a trial parameter is still a contradiction
	if got := e.call(t, "/gateway/gateway.aspx", signUpParams("ruby-3", "4111111111111111",
		map[string]string{"actp": "4", "acam": "980", "tr1": "14"})); got != "ER:ER581" {
		t.Fatalf("tr1 without trtp: %q, want ER:ER581", got)
	}
}
