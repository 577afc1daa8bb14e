package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"kessai/internal/store"
	"kessai/internal/web/ui"
)

// kbFilter is the delivery log's filter form as typed (the kickback API's filters).
type kbFilter struct {
	From, To, Gid, Cod, State, Kind string
}

func (f kbFilter) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"from": f.From, "to": f.To, "gid": f.Gid, "cod": f.Cod, "state": f.State, "kind": f.Kind} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v.Encode()
}

// parseKBFilter reads the filter form; dates are days in Japan time, to inclusive.
func parseKBFilter(get func(string) string) (kbFilter, store.KickbackFilter, map[string][2]string) {
	in := kbFilter{From: strings.TrimSpace(get("from")), To: strings.TrimSpace(get("to")), Gid: strings.TrimSpace(get("gid")),
		Cod: strings.TrimSpace(get("cod")), State: get("state"), Kind: get("kind")}
	f := store.KickbackFilter{Gid: in.Gid, Cod: in.Cod}
	bad := map[string][2]string{}
	jst := time.FixedZone("JST", 9*3600)
	if in.From != "" {
		t, err := time.ParseInLocation("2006-01-02", in.From, jst)
		if err != nil {
			bad["from"] = [2]string{"日付は YYYY-MM-DD で入力してください。", "Enter the date as YYYY-MM-DD."}
		}
		f.From = t
	}
	if in.To != "" {
		t, err := time.ParseInLocation("2006-01-02", in.To, jst)
		if err != nil {
			bad["to"] = [2]string{"日付は YYYY-MM-DD で入力してください。", "Enter the date as YYYY-MM-DD."}
		}
		f.To = t.AddDate(0, 0, 1)
	}
	if in.Gid != "" && !digitsRe.MatchString(in.Gid) {
		bad["gid"] = [2]string{"決済番号は数字です。", "A payment number is digits."}
	}
	if len(in.Cod) > 100 {
		bad["cod"] = [2]string{"オーダー番号が長すぎます。", "The order code is too long."}
	}
	switch in.State {
	case "", store.StateDelivered, store.StateFailing, store.StatePending:
		f.State = in.State
	default:
		bad["state"] = [2]string{"状態を選んでください。", "Choose a state."}
	}
	for _, c := range store.Categories {
		if in.Kind == c {
			f.Kind = c
		}
	}
	if in.Kind != "" && f.Kind == "" {
		bad["kind"] = [2]string{"種類を選んでください。", "Choose a kind."}
	}
	return in, f, bad
}

// kickbackLog is the delivery log: the kickback API's filters, every attempt, resend one or all
// that match.
func (h *Handler) kickbackLog(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	p := h.page(r, who, "kickbacks", "結果通知", "Kickbacks")
	in, f, bad := parseKBFilter(r.URL.Query().Get)
	status := http.StatusOK
	var kbs []kbView
	if len(bad) == 0 {
		ks, err := h.DB.ListKickbacks(r.Context(), who.Account.AID, f, 0, 100)
		if err != nil {
			h.unavailable(w, r, who, err)
			return
		}
		for _, k := range ks {
			as, err := h.DB.Attempts(r.Context(), k.ID)
			if err != nil {
				h.unavailable(w, r, who, err)
				return
			}
			kbs = append(kbs, kbView{Kickback: k, Tries: as})
		}
	} else {
		status = http.StatusUnprocessableEntity
		p.Error = p.T("絞り込み条件を確認してください。", "Check the filters.")
	}
	switch r.URL.Query().Get("done") {
	case "resend":
		p.Flash = p.T("結果通知を再送信します。", "The kickback will be sent again.")
	case "bulk":
		p.Flash = p.T("条件に合う結果通知を再送信します：", "Kickbacks matching the filters will be sent again: ") + r.URL.Query().Get("n")
	}
	errs := map[string]string{}
	for k, v := range bad {
		errs[k] = p.T(v[0], v[1])
	}
	p.Data = map[string]any{"Kickbacks": kbs, "Gid": in.Gid, "F": in, "Errs": errs, "Filtered": f != (store.KickbackFilter{}),
		"Query": in.query(), "Kinds": store.Categories, "States": []string{store.StateDelivered, store.StateFailing, store.StatePending}}
	h.pages.Render(w, status, "kickbacks", p)
}

// bulkResend sends again every kickback matching the delivery log's filters (at most 1000).
func (h *Handler) bulkResend(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	in, f, bad := parseKBFilter(r.PostFormValue)
	if len(bad) > 0 || f == (store.KickbackFilter{}) {
		h.fail(w, r, who, http.StatusUnprocessableEntity, "一括再送信には有効な絞り込み条件が必要です。", "A bulk resend needs valid filters.")
		return
	}
	ids, err := h.DB.ResendMatching(r.Context(), who.Account.AID, f, h.Clock.Now(), 1000)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	h.Pay.Nudge()
	h.audit(r, who, "kickback.resend_bulk", fmt.Sprintf("count=%d %s", len(ids), in.query()))
	q := in.query()
	if q != "" {
		q += "&"
	}
	http.Redirect(w, r, fmt.Sprintf("%s/kickbacks?%sdone=bulk&n=%d", Base, q, len(ids)), http.StatusSeeOther)
}
