package maintenance

import "time"

// Change kinds: every edit of a published schedule is kept as one of these, with its own revision,
// so that notices ("moved", 中止, 追加) and the ICS SEQUENCE come from data.
const (
	ChangeAdded     = "added"
	ChangeMoved     = "moved"
	ChangeCancelled = "cancelled"
	ChangeExtended  = "extended"
	ChangeEnded     = "ended" // ended early by an operator
	ChangeStarted   = "started"
	ChangePublished = "published"
)

// Change is one recorded edit of one window.
type Change struct {
	ID       int64     `json:"id"`
	WindowID int64     `json:"window_id"`
	Revision int       `json:"revision"`
	Kind     string    `json:"kind"`
	OldStart time.Time `json:"old_start,omitzero"`
	OldEnd   time.Time `json:"old_end,omitzero"`
	NewStart time.Time `json:"new_start,omitzero"`
	NewEnd   time.Time `json:"new_end,omitzero"`
	At       time.Time `json:"at"`
	Actor    string    `json:"actor,omitempty"`
	Reason   string    `json:"reason,omitempty"`
}
