package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"kessai/internal/store"
	"kessai/internal/web/link"
	"kessai/internal/web/ui"
)

// MailSender delivers one plain-text message (notify.SMTP).
type MailSender interface {
	Send(ctx context.Context, to, subject, body string) error
}

// linkTTLs are the lifetimes the mail-link page offers, in days.
var linkTTLs = []int{1, 3, 7, 14, 30, 60, 90}

// linksView is the mail-link page (メール決済リンク): the form as typed, errors next to their
// fields, and the link once built.
type linksView struct {
	Kind       string // amount | product | check
	Am, Tx, Sf string
	IID        string
	Days       int
	To         string
	TTLs       []int
	Products   []store.Product
	Errors     map[string]string
	Link       string
	Expires    time.Time
	Sent       string // the address the link was sent to
	CanMail    bool
}

func (h *Handler) linksPage(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	h.renderLinks(w, r, who, http.StatusOK, &linksView{Kind: "amount", Tx: "0", Sf: "0", Days: 30})
}

func (h *Handler) renderLinks(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, v *linksView) {
	p := h.page(r, who, "links", "メール決済リンク", "Payment links by e-mail")
	prods, err := h.DB.Products(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	v.Products, v.TTLs, v.CanMail = prods, linkTTLs, h.Mail != nil
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	p.Data = v
	h.pages.Render(w, status, "links", p)
}

// createLink builds a mail-payment link (wire.md §9) for the signed-in user's store, and sends it
// by e-mail when asked to (action=send).
func (h *Handler) createLink(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	v := &linksView{Kind: f("kind"), Am: f("am"), Tx: f("tx"), Sf: f("sf"), IID: f("iid"), To: f("to"), Errors: map[string]string{}}
	v.Days, _ = strconv.Atoi(f("days"))
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	o := link.MailOrder{AID: st.AID}
	switch v.Kind {
	case "amount":
		num := func(field, s string, min int64) int64 {
			s = strings.ReplaceAll(s, ",", "")
			if s == "" && min == 0 {
				return 0
			}
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < min || n > 99999999 {
				if min > 0 {
					v.Errors[field] = ui.L(lang, "1円以上の整数で入力してください", "Enter whole yen, 1 or more")
				} else {
					v.Errors[field] = ui.L(lang, "0円以上の整数で入力してください", "Enter whole yen, 0 or more")
				}
			}
			return n
		}
		o.Am, o.Tx, o.Sf = num("am", v.Am, 1), num("tx", v.Tx, 0), num("sf", v.Sf, 0)
		if len(v.Errors) == 0 && (o.Am+o.Tx+o.Sf < st.MinAmount || o.Am+o.Tx+o.Sf > st.MaxAmount) {
			v.Errors["am"] = ui.L(lang, "合計がこのストアの上下限（"+ui.Yen(st.MinAmount)+"〜"+ui.Yen(st.MaxAmount)+"）の範囲外です",
				"The total is outside this store's limits ("+ui.Yen(st.MinAmount)+" to "+ui.Yen(st.MaxAmount)+")")
		}
	case "product":
		o.IID = v.IID
		if _, err := h.DB.GetProduct(r.Context(), st.AID, v.IID); err != nil {
			v.Errors["iid"] = ui.L(lang, "登録済みの商品を選んでください", "Choose a registered product")
		}
	case "check":
		o.Check = true
	default:
		v.Kind = "amount"
		v.Errors["kind"] = ui.L(lang, "リンクの種類を選んでください", "Choose what the link is for")
	}
	okTTL := false
	for _, d := range linkTTLs {
		okTTL = okTTL || d == v.Days
	}
	if !okTTL {
		v.Errors["days"] = ui.L(lang, "有効期限を選んでください", "Choose how long the link works")
	}
	send := r.PostFormValue("action") == "send"
	if send {
		switch {
		case h.Mail == nil:
			v.Errors["to"] = ui.L(lang, "メール送信が設定されていません（運営者にお問い合わせください）", "E-mail is not configured on this server (ask your operator)")
		case v.To == "" || !strings.Contains(v.To, "@") || len(v.To) > 254 || strings.ContainsAny(v.To, " \r\n,;<>"):
			v.Errors["to"] = ui.L(lang, "送信先のメールアドレスを入力してください", "Enter the customer's e-mail address")
		}
	}
	if len(v.Errors) > 0 {
		h.renderLinks(w, r, who, http.StatusUnprocessableEntity, v)
		return
	}
	v.Expires = h.Clock.Now().Add(time.Duration(v.Days) * 24 * time.Hour)
	v.Link = link.MailLink(h.Vault, publicBase(r), o.Params(), v.Expires)
	h.Log.Info("mail link created", "aid", st.AID, "user", who.Account.Login, "kind", v.Kind, "send", send)
	if send {
		subject := "【" + st.Name + "】お支払いのご案内 / Payment request"
		if err := h.Mail.Send(r.Context(), v.To, subject, linkMailBody(st, v)); err != nil {
			h.Log.Warn("mail link not sent", "aid", st.AID, "err", err)
			v.Errors["to"] = ui.L(lang, "メールを送信できませんでした。時間をおいてもう一度お試しください。", "The e-mail could not be sent. Please try again later.")
			h.renderLinks(w, r, who, http.StatusBadGateway, v)
			return
		}
		v.Sent = v.To
	}
	h.renderLinks(w, r, who, http.StatusOK, v)
}

// publicBase is this server's address as the signed-in user reached it.
func publicBase(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

var jstZone = time.FixedZone("JST", 9*3600)

func linkMailBody(st *store.Store, v *linksView) string {
	exp := v.Expires.In(jstZone).Format("2006/01/02 15:04")
	what, whatEN := "", ""
	switch v.Kind {
	case "amount":
		what, whatEN = "お支払い金額のお支払い", "your payment"
	case "product":
		what, whatEN = "ご注文商品（"+v.IID+"）のお支払い", "your order ("+v.IID+")"
	case "check":
		what, whatEN = "カードのご登録（ご請求はありません）", "registering your card (nothing is charged)"
	}
	var b strings.Builder
	b.WriteString(st.Name + "より、" + what + "のご案内です。\n下記のリンクからお手続きください。\n\n")
	b.WriteString(v.Link + "\n\n")
	b.WriteString("このリンクの有効期限: " + exp + "（日本時間）\n")
	b.WriteString("お心当たりのない場合は、このメールを破棄してください。\n")
	b.WriteString("\n---------------- English ----------------\n\n")
	b.WriteString(st.Name + " sends you a link for " + whatEN + ".\nPlease open it to continue:\n\n")
	b.WriteString(v.Link + "\n\n")
	b.WriteString("The link works until " + exp + " (Japan time).\n")
	b.WriteString("If you did not expect this message, please ignore it.\n")
	return b.String()
}
