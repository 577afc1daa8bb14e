package store_test

import (
	"context"
	"strings"
	"testing"

	"kessai/internal/store"
)

// The partial indexes of migration 0240 hold only the rows looked up through them; the look-ups
// must still use them (SQLite uses a partial index only when the query names its condition).
func TestPartialIndexesAreUsed(t *testing.T) {
	db, _ := open(t)
	if db.Dialect != store.SQLite {
		t.Skip("SQLite's planner; PostgreSQL proves the conditions itself")
	}
	plan := func(q string, args ...any) string {
		rows, err := db.Query(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "; ")
		}
		return b.String()
	}
	if p := plan(store.CardByCustomerQuery, "123456", "a@example.com", "0311112222"); !strings.Contains(p, "cards_customer") {
		t.Fatalf("CardByCustomer does not use cards_customer: %s", p)
	}
	f := &store.PaymentFilter{AID: "123456", Method: store.MethodCVS}
	w, args, err := f.Where()
	if err != nil {
		t.Fatal(err)
	}
	if p := plan(`SELECT gid FROM payments`+w+` ORDER BY created_at DESC`, args...); !strings.Contains(p, "payments_method") {
		t.Fatalf("the method filter does not use payments_method: %s", p)
	}
}
