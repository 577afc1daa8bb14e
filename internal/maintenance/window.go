// Package maintenance is Kessai's scheduled-maintenance engine: the window model, schedules and their
// changes, the fast "is this refused now?" lookup that every surface consults, holiday-aware drafting,
// and everything rendered from the schedule (notices, customer message, iCalendar, JSON).
package maintenance

import (
	"errors"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // zone data travels inside the binary: operators' machines may lack it
)

// DefaultZone is where windows are defined unless the operator says otherwise.
const DefaultZone = "Asia/Tokyo"

// Op is one kind of work a window can refuse. Ops are bits so a scope is a mask and the lookup
// stays allocation-free.
type Op uint32

// The operations a maintenance window can cover.
const (
	OpCapture    Op = 1 << iota // CAPTURE: authorise and capture
	OpAuth                      // AUTH: authorise only
	OpCheck                     // CHECK: card validity check
	OpSales                     // SALES: capture an earlier AUTH
	OpCancel                    // CANCEL: void or refund
	OpToken                     // token creation and 3-D Secure
	OpAutoCharge                // auto-charge sign-up changes and runner
	OpKickback                  // kickback delivery
	OpPanel                     // merchant control panel
	opEnd
)

// AllPayments is every payment job, the default scope of a window (with the panel).
const AllPayments = OpCapture | OpAuth | OpCheck | OpSales | OpCancel | OpToken | OpAutoCharge | OpKickback

// DefaultScope is what the source notice describes: every payment job and the control panel.
const DefaultScope = AllPayments | OpPanel

var opNames = []struct {
	op   Op
	name string
}{
	{OpCapture, "CAPTURE"}, {OpAuth, "AUTH"}, {OpCheck, "CHECK"}, {OpSales, "SALES"}, {OpCancel, "CANCEL"},
	{OpToken, "TOKEN"}, {OpAutoCharge, "AUTOCHARGE"}, {OpKickback, "KICKBACK"}, {OpPanel, "PANEL"},
}

// OpForJob maps a wire job name (jb) to its Op; unknown jobs map to OpCapture so they are never let
// through by accident.
func OpForJob(jb string) Op {
	for _, n := range opNames {
		if n.name == strings.ToUpper(jb) {
			return n.op
		}
	}
	return OpCapture
}

// Names lists the ops in m by their scope names.
func (m Op) Names() []string {
	var out []string
	for _, n := range opNames {
		if m&n.op != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// Scope says what a window refuses: a set of jobs, and optionally only some payment methods or card
// brands (empty = all).
type Scope struct {
	Ops     Op       `json:"-"`
	Methods []string `json:"methods,omitempty"` // card, cvs, bank
	Brands  []string `json:"brands,omitempty"`  // VISA, MASTER, JCB, AMEX, DINERS
}

// ParseScope reads "all", "" or a comma list of job names (CAPTURE,CANCEL,PANEL…), "payments",
// "method:card", "brand:JCB".
func ParseScope(s string) (Scope, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "all") {
		return Scope{Ops: DefaultScope}, nil
	}
	var sc Scope
	for _, part := range strings.Split(s, ",") {
		p := strings.ToUpper(strings.TrimSpace(part))
		switch {
		case p == "":
		case p == "ALL":
			sc.Ops |= DefaultScope
		case p == "PAYMENTS":
			sc.Ops |= AllPayments
		case strings.HasPrefix(p, "METHOD:"):
			m := strings.ToLower(p[7:])
			if m != "card" && m != "cvs" && m != "bank" {
				return Scope{}, fmt.Errorf("unknown payment method %q in scope (card, cvs, bank)", m)
			}
			sc.Methods = append(sc.Methods, m)
		case strings.HasPrefix(p, "BRAND:"):
			b := p[6:]
			if !validBrand(b) {
				return Scope{}, fmt.Errorf("unknown card brand %q in scope (VISA, MASTER, JCB, AMEX, DINERS)", b)
			}
			sc.Brands = append(sc.Brands, b)
		default:
			found := false
			for _, n := range opNames {
				if n.name == p {
					sc.Ops |= n.op
					found = true
				}
			}
			if !found {
				return Scope{}, fmt.Errorf("unknown scope item %q (jobs: %s; or all, payments, method:X, brand:X)",
					part, strings.Join(DefaultScope.Names(), ", "))
			}
		}
	}
	if sc.Ops == 0 {
		sc.Ops = AllPayments
	}
	return sc, nil
}

func validBrand(b string) bool {
	switch b {
	case "VISA", "MASTER", "JCB", "AMEX", "DINERS":
		return true
	}
	return false
}

// String renders the scope in the form ParseScope reads.
func (s Scope) String() string {
	if s.Ops == DefaultScope && len(s.Methods) == 0 && len(s.Brands) == 0 {
		return "all"
	}
	parts := s.Ops.Names()
	for _, m := range s.Methods {
		parts = append(parts, "method:"+m)
	}
	for _, b := range s.Brands {
		parts = append(parts, "brand:"+b)
	}
	return strings.Join(parts, ",")
}

// Overlaps reports whether two scopes can refuse the same request.
func (s Scope) Overlaps(o Scope) bool {
	if s.Ops&o.Ops == 0 {
		return false
	}
	return listsMeet(s.Methods, o.Methods) && listsMeet(s.Brands, o.Brands)
}

func listsMeet(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// Kinds and stored statuses of a window.
const (
	KindScheduled = "scheduled"
	KindEmergency = "emergency"

	StatusPlanned    = "planned"
	StatusAnnounced  = "announced"
	StatusInProgress = "in_progress"
	StatusCompleted  = "completed"
	StatusCancelled  = "cancelled"
)

// Window is one maintenance window. Instants are UTC; Zone is where the operator defined them, and
// where notices print them.
type Window struct {
	ID         int64     `json:"id"`
	UID        string    `json:"uid"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	ReserveEnd time.Time `json:"reserve_end,omitzero"`
	Zone       string    `json:"zone"`
	Kind       string    `json:"kind"`
	Status     string    `json:"status"`
	Revision   int       `json:"revision"`
	Scope      Scope     `json:"-"`
	TitleJA    string    `json:"title_ja,omitempty"`
	TitleEN    string    `json:"title_en,omitempty"`
	// NotesJA and NotesEN are the window's public message (shown in its notices, the status API
	// and the feeds); Note is the operator's internal note, which never leaves the operator console.
	NotesJA   string    `json:"notes_ja,omitempty"`
	NotesEN   string    `json:"notes_en,omitempty"`
	Note      string    `json:"-"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Location returns the window's zone, falling back to Japan time.
func (w *Window) Location() *time.Location {
	if loc, err := time.LoadLocation(w.Zone); err == nil && w.Zone != "" {
		return loc
	}
	loc, _ := time.LoadLocation(DefaultZone)
	return loc
}

// Active reports whether the window refuses work at t: start inclusive, end exclusive.
func (w *Window) Active(t time.Time) bool {
	return w.Status != StatusCancelled && !t.Before(w.Start) && t.Before(w.End)
}

// StatusAt is the window's status as seen at t: stored planned/announced/cancelled, or in progress /
// completed by the clock.
func (w *Window) StatusAt(t time.Time) string {
	switch {
	case w.Status == StatusCancelled:
		return StatusCancelled
	case !t.Before(w.End):
		return StatusCompleted
	case !t.Before(w.Start):
		return StatusInProgress
	}
	return w.Status
}

// Covers reports whether the window's scope refuses op for the given method and brand ("" = any).
func (w *Window) Covers(op Op, method, brand string) bool {
	if w.Scope.Ops&op == 0 {
		return false
	}
	if method != "" && len(w.Scope.Methods) > 0 && !contains(w.Scope.Methods, method) {
		return false
	}
	if brand != "" && len(w.Scope.Brands) > 0 && !contains(w.Scope.Brands, brand) {
		return false
	}
	return true
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// ErrInvalid marks bad operator input; the message says what is wrong.
var ErrInvalid = errors.New("invalid")

// InputError is a refusal of operator input, with a message meant for the operator.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

// Is lets errors.Is(err, ErrInvalid) recognise input errors.
func (e *InputError) Is(target error) bool { return target == ErrInvalid }

func inputErr(format string, a ...any) error { return &InputError{Msg: fmt.Sprintf(format, a...)} }

// LoadZone loads a zone by name with an operator-friendly error.
func LoadZone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, inputErr("unknown time zone %q (use an IANA name such as Asia/Tokyo)", name)
	}
	return loc, nil
}

// WallWindow builds a window from a local date and wall-clock times in zone. A to earlier than (or
// equal to) from means the window ends the next day, as operators write 22:30–05:00.
func WallWindow(date, from, to, zone string) (Window, error) {
	loc, err := LoadZone(zone)
	if err != nil {
		return Window{}, err
	}
	d, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		return Window{}, inputErr("impossible or malformed date %q (want YYYY-MM-DD)", date)
	}
	fh, fm, err := parseHM(from)
	if err != nil {
		return Window{}, inputErr("bad --from %q: %v", from, err)
	}
	th, tm, err := parseHM(to)
	if err != nil {
		return Window{}, inputErr("bad --to %q: %v", to, err)
	}
	start := time.Date(d.Year(), d.Month(), d.Day(), fh, fm, 0, 0, loc)
	end := time.Date(d.Year(), d.Month(), d.Day(), th, tm, 0, 0, loc)
	if !end.After(start) {
		end = time.Date(d.Year(), d.Month(), d.Day()+1, th, tm, 0, 0, loc)
	}
	if zone == "" {
		zone = DefaultZone
	}
	return Window{Start: start.UTC(), End: end.UTC(), Zone: zone, Kind: KindScheduled, Status: StatusPlanned,
		Revision: 0, Scope: Scope{Ops: DefaultScope}}, nil
}

func parseHM(s string) (int, int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, errors.New("want HH:MM, 00:00–23:59")
	}
	return t.Hour(), t.Minute(), nil
}

// Validate checks a window on its own.
func (w *Window) Validate() error {
	if w.Start.IsZero() || w.End.IsZero() {
		return inputErr("window needs a start and an end")
	}
	if !w.End.After(w.Start) {
		return inputErr("window ends (%s) before it starts (%s)", w.End.Format(time.RFC3339), w.Start.Format(time.RFC3339))
	}
	if w.End.Sub(w.Start) > 7*24*time.Hour {
		return inputErr("window longer than 7 days (%s)", w.End.Sub(w.Start))
	}
	if !w.ReserveEnd.IsZero() && w.ReserveEnd.Before(w.End) {
		return inputErr("reserve end is before the planned end")
	}
	if _, err := LoadZone(w.Zone); err != nil {
		return err
	}
	if w.Scope.Ops == 0 {
		return inputErr("window scope covers nothing")
	}
	return nil
}

// Conflict finds a live window in ws that overlaps w in time and scope (other than w itself).
func Conflict(w Window, ws []Window) *Window {
	for i := range ws {
		o := &ws[i]
		if o.ID == w.ID && w.ID != 0 || o.Status == StatusCancelled {
			continue
		}
		if w.Start.Before(o.End) && o.Start.Before(w.End) && w.Scope.Overlaps(o.Scope) {
			return o
		}
	}
	return nil
}

// Describe names a window for messages: its local span and id.
func (w *Window) Describe() string {
	loc := w.Location()
	return fmt.Sprintf("#%d %s–%s %s", w.ID, w.Start.In(loc).Format("2006-01-02 15:04"),
		w.End.In(loc).Format("2006-01-02 15:04"), w.Zone)
}
