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
	ChangeUpdate    = "update" // a progress update of a window in progress (Stage, message)
)

// Stages of an emergency's progress updates (Statuspage's Investigating → Identified → Resolved),
// published with the message of an update: 調査中, 対応中, 復旧.
const (
	StageInvestigating = "investigating"
	StageIdentified    = "identified"
	StageResolved      = "resolved"
)

// StageName is the stage's name in lang ("ja" or "en").
func StageName(stage, lang string) string {
	n, ok := map[string][2]string{StageInvestigating: {"調査中", "Investigating"}, StageIdentified: {"対応中", "Identified"},
		StageResolved: {"復旧", "Resolved"}}[stage]
	if !ok {
		return stage
	}
	if lang == LangEN {
		return n[1]
	}
	return n[0]
}

// ValidStage reports whether s is one of the stages.
func ValidStage(s string) bool {
	return s == StageInvestigating || s == StageIdentified || s == StageResolved
}

// ChangeText is what an operator writes with a change: the public message, in Japanese and English,
// published with the change's notice (notices page, Atom, status API, e-mail), and an internal
// note that never leaves the operator console and the audit log (maintenance.md §3.6). Stage is
// set on progress updates only.
type ChangeText struct {
	MessageJA string `json:"message_ja,omitempty"`
	MessageEN string `json:"message_en,omitempty"`
	Note      string `json:"-"`
	Stage     string `json:"stage,omitempty"`
	Mail      bool   `json:"-"` // an update: also e-mail it to every store
}

// Message is the public message in lang: English only when one was written (an English reader is
// never given the Japanese text as if it were English).
func (t ChangeText) Message(lang string) string {
	if lang == LangEN {
		return t.MessageEN
	}
	return t.MessageJA
}

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
	ChangeText
}

// Told reports the windows merchants have been told of (maintenance.md §3.6): announced windows,
// emergencies (announced when they start), and windows with a recorded publication, so that a
// cancelled window that had been announced stays public as cancelled while a cancelled draft never
// appears. A planned, unannounced window is not told; it becomes public only while it is in
// progress (Public), because it is then enforced.
func Told(ws []Window, chs []Change) map[int64]bool {
	told := map[int64]bool{}
	for _, w := range ws {
		if w.Status == StatusAnnounced || w.Kind == KindEmergency {
			told[w.ID] = true
		}
	}
	for _, c := range chs {
		if c.Kind == ChangePublished {
			told[c.WindowID] = true
		}
	}
	return told
}

// Public reports whether w may be shown on a public surface at now: told, or in progress.
func Public(w Window, told map[int64]bool, now time.Time) bool {
	return told[w.ID] || w.Active(now)
}
