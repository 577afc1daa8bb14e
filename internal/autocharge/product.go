package autocharge

import (
	"net/url"
	"strings"
	"time"

	"kessai/internal/store"
	"kessai/internal/wire"
)

// ProductPlanParams are the auto-charge parameters a product may define (wire.md §2.2): cycle,
// amounts, charge day, stop count, first date and trial.
var ProductPlanParams = []string{"actp", "acam", "actx", "acsf", "ac1", "ac3", "ac4",
	"trtp", "tr1", "tr2", "tr3", "tram", "trtx", "trsf"}

// allPlanParams are every parameter of a sign-up's plan, replaced as a whole by a product's plan.
var allPlanParams = []string{"actp", "acam", "actx", "acsf", "ac1", "ac2", "ac3", "ac4", "ac5",
	"trtp", "tr1", "tr2", "tr3", "tram", "trtx", "trsf"}

// EncodeProductPlan builds a product's stored plan from the parameters given (empty values are
// left out); "" when actp is absent, empty or 0 (a one-off product).
func EncodeProductPlan(given map[string]string) string {
	if v := strings.TrimSpace(given["actp"]); v == "" || v == "0" {
		return ""
	}
	q := url.Values{}
	for _, n := range ProductPlanParams {
		if v := strings.TrimSpace(given[n]); v != "" {
			q.Set(n, v)
		}
	}
	return q.Encode()
}

// ProductPlanValues decodes a stored plan into its parameters (for display and editing).
func ProductPlanValues(plan string) map[string]string {
	out := map[string]string{}
	q, _ := url.ParseQuery(plan)
	for _, n := range ProductPlanParams {
		if v := q.Get(n); v != "" {
			out[n] = v
		}
	}
	return out
}

// CheckProductPlan checks a product's plan as a sign-up made at now would be checked, so a product
// that would refuse every customer is refused when it is created: the wire's codes and field
// (ER126 actp, ER570–ER572 amounts and the store's limits, ER127 ac1, ER128 ac3, ER125 ac4, the
// trial's ER574–ER581). A one-off product ("") passes.
func CheckProductPlan(plan string, st *store.Store, now time.Time) error {
	if plan == "" {
		return nil
	}
	p, err := wire.ParseQuery(plan)
	if err != nil {
		return err
	}
	_, err = parseSignUp(p, st, DateOf(now))
	return err
}

// ExpandProduct applies a product's plan to a request that names it by iid (wire.md §2.1): the
// product's plan parameters replace the request's (as the product's am/tx/sf replace the
// request's amounts), so a sign-up or a hosted payment by iid alone creates the plan and returns
// its acid. A product without a plan leaves the request alone. Both the gateway (gateway.aspx,
// gateway_token.aspx) and the hosted page reach this through gateway.Amounts.
func ExpandProduct(p *wire.Params, prod *store.Product) {
	if prod == nil || prod.Plan == "" {
		return
	}
	q, err := url.ParseQuery(prod.Plan)
	if err != nil {
		return
	}
	for _, n := range allPlanParams {
		p.Del(n)
	}
	for _, n := range ProductPlanParams {
		if v := q.Get(n); v != "" {
			p.Set(n, v)
		}
	}
}

// ProductNameMax bounds a product's name.
const ProductNameMax = 100

var iidChars = func(s string) bool {
	if len(s) < 1 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// BuildProduct checks a product as typed (the CLI's flags, the panel's form: iid, name, am, tx,
// sf and the ProductPlanParams, all text) for store st at now, and returns it or its errors, at
// most one per field, each a *wire.Error naming its field with the wire's code: ER068 iid, ER061–
// ER063 amounts (a one-off product needs am ≥ 1; a plan product may have am 0: the sign-up then
// registers the card and charges nothing until the plan's first date), ER017/ER018 a total outside
// the store's limits, and the plan's codes (CheckProductPlan). An empty name becomes the iid.
func BuildProduct(st *store.Store, f map[string]string, now time.Time) (*store.Product, []*wire.Error) {
	var errs []*wire.Error
	add := func(code wire.Code, field, format string, a ...any) {
		errs = append(errs, wire.Errf(code, field, format, a...))
	}
	pr := &store.Product{AID: st.AID, IID: strings.TrimSpace(f["iid"]), Name: strings.TrimSpace(f["name"])}
	if !iidChars(pr.IID) {
		add(wire.ERParamItem, "iid", "up to 32 letters, digits, - or _")
	}
	if pr.Name == "" {
		pr.Name = pr.IID
	}
	if len([]rune(pr.Name)) > ProductNameMax {
		add(wire.ERMalformed, "name", "longer than %d characters", ProductNameMax)
	}
	amountsOK := true
	for _, x := range []struct {
		k    string
		code wire.Code
		dst  *int64
	}{{"am", wire.ERParamAmount, &pr.Am}, {"tx", wire.ERParamTax, &pr.Tx}, {"sf", wire.ERParamShipping, &pr.Sf}} {
		s := strings.ReplaceAll(strings.TrimSpace(f[x.k]), ",", "")
		if s == "" {
			if x.k == "am" {
				add(x.code, x.k, "required")
				amountsOK = false
			}
			continue
		}
		n, err := parseAmount(s)
		if err != nil {
			add(x.code, x.k, "a whole number of yen from 0 to %d", st.MaxAmount)
			amountsOK = false
			continue
		}
		*x.dst = n
	}
	pr.Plan = EncodeProductPlan(f)
	if amountsOK {
		total := pr.Am + pr.Tx + pr.Sf
		switch {
		case pr.Plan == "" && pr.Am < 1:
			add(wire.ERParamAmount, "am", "a product without an auto-charge plan needs an amount of at least 1")
		case total > 0 && total < st.MinAmount:
			add(wire.ERAmountTooLow, "am", "total %d below the store minimum %d", total, st.MinAmount)
		case total > st.MaxAmount:
			add(wire.ERAmountTooHigh, "am", "total %d above the store maximum %d", total, st.MaxAmount)
		}
	}
	if err := CheckProductPlan(pr.Plan, st, now); err != nil {
		we, ok := err.(*wire.Error)
		if !ok {
			we = wire.Errf(wire.ERMalformed, "actp", "%v", err)
		}
		errs = append(errs, we)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return pr, nil
}

func parseAmount(s string) (int64, error) {
	var n int64
	if len(s) > 10 {
		return 0, errBadAmount
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errBadAmount
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

var errBadAmount = wire.Errf(wire.ERMalformed, "", "not a whole number")
