package acquirer

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The sandbox ledger stays bounded under load: settled authorisations beyond SettledMax are
// forgotten oldest first, open ones never, and a ref settled again keeps its newer record.
func TestLedgerStaysBounded(t *testing.T) {
	l := NewLedger()
	for i := 0; i < 10; i++ {
		if err := l.set(fmt.Sprintf("open-%d", i), "open"); err != nil {
			t.Fatal(err)
		}
	}
	n := SettledMax + 50_000
	for i := 0; i < n; i++ {
		if err := l.set(fmt.Sprintf("sold-%d", i), "sold", "open", "sold", ""); err != nil {
			t.Fatal(err)
		}
	}
	st := l.Stats()
	if st.Open != 10 || st.Sold != SettledMax {
		t.Fatalf("after %d sales: %+v, want 10 open and %d sold remembered", n, st, SettledMax)
	}
	if l.State("sold-0") != "" || l.State(fmt.Sprintf("sold-%d", n-1)) != "sold" || l.State("open-3") != "open" {
		t.Fatal("the oldest sale should be forgotten, the newest kept, open ones kept")
	}
	if len(l.settled)-l.head != SettledMax {
		t.Fatalf("%d settlements queued", len(l.settled)-l.head)
	}
	// settled twice: the older record must not forget the newer settlement
	l2 := NewLedger()
	l2.set("r", "open")
	l2.set("r", "sold", "open")
	time.Sleep(time.Millisecond)
	l2.set("r", "voided") // e.g. a refund of the sale
	l2.forget(time.Now().Add(SettledTTL - time.Second))
	if l2.State("r") != "voided" {
		t.Fatalf("state %q after a second settlement", l2.State("r"))
	}
	l2.forget(time.Now().Add(SettledTTL + time.Second))
	if l2.State("r") != "" || len(l2.refs) != 0 {
		t.Fatalf("a settlement older than the TTL is kept: %q", l2.State("r"))
	}
}

// The ledger's tables hold no pointers, so the garbage collector does not scan them: under load
// they are the larger part of a sandbox server's live heap (issue 18).
func TestLedgerHoldsNoPointers(t *testing.T) {
	l := NewLedger()
	for _, typ := range []reflect.Type{reflect.TypeOf(l.refs).Key(), reflect.TypeOf(l.refs).Elem(),
		reflect.TypeOf(l.gen).Key(), reflect.TypeOf(l.settled).Elem()} {
		if p := pointerIn(typ); p != "" {
			t.Errorf("%v holds a pointer (%s): the collector scans every entry", typ, p)
		}
	}
	// and a reference longer than a key is still told apart from its prefix
	long := strings.Repeat("r", 40)
	if err := l.set(long, "open"); err != nil {
		t.Fatal(err)
	}
	if l.State(long) != "open" || l.State(long[:31]) != "" || l.State(long[:39]) != "" {
		t.Fatal("a long reference and its prefixes are confused")
	}
}

// pointerIn names a pointer-holding part of t ("" when there is none).
func pointerIn(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.Interface, reflect.UnsafePointer:
		return t.String()
	case reflect.Array:
		return pointerIn(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if p := pointerIn(t.Field(i).Type); p != "" {
				return t.Field(i).Name + " " + p
			}
		}
	}
	return ""
}
