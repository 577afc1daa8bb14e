package acquirer

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ScenarioHeader forces an outcome in the sandbox, with any card (issue 16): a merchant's developer
// tests a decline without remembering test card numbers. Outside the sandbox it is ignored.
const ScenarioHeader = "Kessai-Scenario"

// Scenario is one forced outcome.
type Scenario struct {
	Name    string
	Outcome string // what happens, for the documentation
	Code    string // wire code when declined
}

// Scenarios lists the outcomes Kessai-Scenario can force, in documentation order.
var Scenarios = []Scenario{
	{"decline", "declined (generic)", "ER030"},
	{"insufficient_funds", "declined: credit limit reached", "ER016"},
	{"expired", "declined: card expired", "ER056"},
	{"cvc", "declined: security code mismatch", "ER079"},
	{"network_error", "card network unreachable (the outcome is unknown)", "ER042"},
	{"slow", "approved after a 2-second network delay", ""},
	{"challenge", "3-D Secure asks for a challenge, then approves", ""},
	{"auth_failed", "3-D Secure authentication fails (a charge without 3-D Secure is declined with this code)", "ER901"},
}

// ParseScenario checks a Kessai-Scenario header value (case and surrounding space ignored).
func ParseScenario(v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	for _, s := range Scenarios {
		if s.Name == v {
			return v, nil
		}
	}
	names := make([]string, len(Scenarios))
	for i, s := range Scenarios {
		names[i] = s.Name
	}
	return "", fmt.Errorf("unknown %s %q: want one of %s", ScenarioHeader, v, strings.Join(names, ", "))
}

type scenarioKey struct{}

// WithScenario carries a forced outcome to the acquirer through the request's context.
func WithScenario(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, scenarioKey{}, name)
}

// ScenarioFrom is the forced outcome carried by ctx, or "".
func ScenarioFrom(ctx context.Context) string {
	s, _ := ctx.Value(scenarioKey{}).(string)
	return s
}

// ThreeDSFor decides the 3-D Secure flow of pan, honouring a forced challenge or failure.
func ThreeDSFor(ctx context.Context, a Acquirer, pan string) string {
	switch ScenarioFrom(ctx) {
	case "challenge":
		return "challenge"
	case "auth_failed":
		return "fail"
	}
	return a.ThreeDS(pan)
}

// forced answers a sandbox request whose outcome a scenario forces; ok is false when none does.
func forced(ctx context.Context, r Request) (resp Response, err error, ok bool) {
	switch ScenarioFrom(ctx) {
	case "":
		return Response{}, nil, false
	case "slow":
		t := time.NewTimer(SlowDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return Response{}, fmt.Errorf("%w: %v", ErrNetwork, ctx.Err()), true
		}
		return approve(r), nil, true
	case "network_error":
		return Response{}, fmt.Errorf("%w: forced by %s", ErrNetwork, ScenarioHeader), true
	case "challenge":
		return approve(r), nil, true
	}
	for _, s := range Scenarios {
		if s.Name == ScenarioFrom(ctx) && s.Code != "" {
			return Response{Code: s.Code}, nil, true
		}
	}
	return Response{}, nil, false
}

func approve(r Request) Response {
	d := digest(r.Key, r.PAN)
	return Response{Approved: true, ApprovalCode: strings.ToUpper(d[:6]), Ref: "SBX" + d[6:22]}
}
