package console_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"kessai/internal/store"
)

// The processor's own code of a payment (Stripe's decline reason, kept by the Stripe acquirer)
// is shown on the payment's page in the panel, next to the wire code.
func TestPaymentShowsProcessorCode(t *testing.T) {
	e := newEnv(t)
	body := e.wire(url.Values{"aid": {aidA}, "jb": {"CAPTURE"}, "rt": {"1"}, "cod": {"proc-1"}, "am": {"1000"}, "tx": {"0"}, "sf": {"0"},
		"cn": {"4000000000009995"}, "ed": {time.Now().AddDate(3, 0, 0).Format("0601")}, "cvv": {"123"}})
	gid := strings.Split(strings.TrimSpace(body), ",")[0]
	b := e.browser()
	b.mustLogin(aidA, "clerk")
	if p := b.get("/console/payments/" + gid); p.status != 200 || strings.Contains(p.body, `id="processor-code"`) {
		t.Fatalf("a payment without a processor code: status %d, shows one: %v", p.status, strings.Contains(p.body, `id="processor-code"`))
	}
	if err := e.srv.DB.Write(context.Background(), func(tx *store.Tx) error {
		return tx.SetProcessorCode(gid, "card_declined/insufficient_funds")
	}); err != nil {
		t.Fatal(err)
	}
	p := b.get("/console/payments/" + gid)
	if !strings.Contains(p.body, `id="processor-code"`) || !strings.Contains(p.body, "card_declined/insufficient_funds") || !strings.Contains(p.body, "ER016") {
		t.Fatalf("the panel does not show the processor code next to ER016")
	}
}
