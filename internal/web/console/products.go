package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"kessai/internal/autocharge"
	"kessai/internal/store"
	"kessai/internal/web/ui"
	"kessai/internal/wire"
)

// Products (商品): one-off products and products with an auto-charge plan, which a sign-up by iid
// alone turns into a plan (wire.md §2.1). The checks are the domain's (autocharge.BuildProduct),
// with the wire's codes; each error is shown next to its field and the form keeps what was typed.

// productFields are the form's fields, in the order of the form.
var productFields = append([]string{"iid", "name", "am", "tx", "sf"}, autocharge.ProductPlanParams...)

type productRow struct {
	store.Product
	Plan string // the plan in words, "" for a one-off product
}

type productsView struct {
	List    []productRow
	Form    map[string]string // what the form shows: typed values, or the product being edited
	Errors  map[string]string // field → message
	Editing bool              // the form edits an existing product (its code is fixed)
	// built for the template from Form and Errors
	Basic, Plan, Trial []formField
	Cycle, TrialType   formField
}

// formField is one input of the form (or a select, with Options).
type formField struct {
	Name, Label, Value, Err string
	Num, Fixed              bool
	Options                 []formOption
}

type formOption struct {
	Value, Label string
	Selected     bool
}

func (v *productsView) build(p *ui.Page) {
	f := func(name, ja, en string, num bool) formField {
		return formField{Name: name, Label: p.T(ja, en), Value: v.Form[name], Err: v.Errors[name], Num: num,
			Fixed: name == "iid" && v.Editing}
	}
	v.Basic = []formField{f("iid", "商品コード", "Code", false), f("name", "商品名", "Name", false),
		f("am", "金額（円）", "Amount (yen)", true), f("tx", "税（円）", "Tax (yen)", true), f("sf", "送料（円）", "Shipping (yen)", true)}
	v.Cycle = f("actp", "課金周期", "Cycle", false)
	v.Cycle.Options = []formOption{{Value: "", Label: p.T("なし（都度決済）", "none (one-off)")}}
	for c := autocharge.Weekly; c <= autocharge.Yearly; c++ {
		val := strconv.Itoa(int(c))
		v.Cycle.Options = append(v.Cycle.Options, formOption{Value: val, Label: c.Name(p.Lang), Selected: v.Form["actp"] == val})
	}
	v.Plan = []formField{f("acam", "毎回の金額（円）", "Each charge: amount (yen)", true), f("actx", "毎回の税（円）", "Each charge: tax (yen)", true),
		f("acsf", "毎回の送料（円）", "Each charge: shipping (yen)", true),
		f("ac1", "課金日（1〜30、99は月末、0は指定なし）", "Charge day (1–30, 99 last day, 0 unspecified)", true),
		f("ac3", "課金回数（0は無期限）", "Number of charges (0 = no end)", true), f("ac4", "初回課金日（YYYY/MM/DD）", "First charge date (YYYY/MM/DD)", false)}
	v.TrialType = f("trtp", "お試し期間", "Trial", false)
	for _, o := range []struct{ v, ja, en string }{{"", "なし", "none"}, {"2", "日数で指定（tr1）", "N days (tr1)"},
		{"4", "月数で指定（tr2）", "N months (tr2)"}, {"3", "終了日で指定（tr3）", "until a date (tr3)"}, {"5", "終了日で指定・型5（tr3）", "until a date, type 5 (tr3)"}} {
		v.TrialType.Options = append(v.TrialType.Options, formOption{Value: o.v, Label: p.T(o.ja, o.en), Selected: v.Form["trtp"] == o.v})
	}
	v.Trial = []formField{f("tr1", "お試し日数", "Trial days", true), f("tr2", "お試し月数", "Trial months", true),
		f("tr3", "お試し終了日（YYYY/MM/DD）", "Trial end date (YYYY/MM/DD)", false), f("tram", "お試し終了時の金額（円）", "Amount at trial end (yen)", true),
		f("trtx", "お試し終了時の税（円）", "Tax at trial end (yen)", true), f("trsf", "お試し終了時の送料（円）", "Shipping at trial end (yen)", true)}
}

func (h *Handler) products(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	v := &productsView{Form: map[string]string{"tx": "0", "sf": "0"}}
	if iid := r.URL.Query().Get("edit"); iid != "" {
		pr, err := h.DB.GetProduct(r.Context(), who.Account.AID, iid)
		if err == nil {
			v.Editing = true
			v.Form = autocharge.ProductPlanValues(pr.Plan)
			v.Form["iid"], v.Form["name"] = pr.IID, pr.Name
			v.Form["am"], v.Form["tx"], v.Form["sf"] = strconv.FormatInt(pr.Am, 10), strconv.FormatInt(pr.Tx, 10), strconv.FormatInt(pr.Sf, 10)
		}
	}
	h.renderProducts(w, r, who, http.StatusOK, v)
}

func (h *Handler) renderProducts(w http.ResponseWriter, r *http.Request, who *ui.Who, status int, v *productsView) {
	p := h.page(r, who, "products", "商品", "Products")
	prods, err := h.DB.Products(r.Context(), who.Account.AID)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	for _, pr := range prods {
		v.List = append(v.List, productRow{Product: pr, Plan: planWords(p, pr.Plan)})
	}
	if r.URL.Query().Get("done") == "saved" {
		p.Flash = p.T("商品を保存しました。", "The product was saved.")
	}
	if len(v.Errors) > 0 {
		p.Error = p.T("入力内容を確認してください。", "Please check the highlighted fields.")
	}
	v.build(p)
	p.Data = v
	h.pages.Render(w, status, "products", p)
}

// planWords describes a stored plan for the list: "毎月 2,980円（税298円）・1日 …".
func planWords(p *ui.Page, plan string) string {
	if plan == "" {
		return ""
	}
	f := autocharge.ProductPlanValues(plan)
	cyc, _ := strconv.Atoi(f["actp"])
	am, _ := strconv.ParseInt(f["acam"], 10, 64)
	tx, _ := strconv.ParseInt(f["actx"], 10, 64)
	sf, _ := strconv.ParseInt(f["acsf"], 10, 64)
	parts := []string{autocharge.Cycle(cyc).Name(p.Lang) + " " + ui.Yen(am+tx+sf)}
	if d := f["ac1"]; d != "" && d != "0" {
		if d == "99" {
			parts = append(parts, p.T("月末", "last day"))
		} else {
			parts = append(parts, p.T(d+"日", "day "+d))
		}
	}
	if n := f["ac3"]; n != "" && n != "0" {
		parts = append(parts, p.T(n+"回で終了", "stops after "+n))
	}
	if d := f["ac4"]; d != "" {
		parts = append(parts, p.T("初回 "+d, "first "+d))
	}
	if f["trtp"] != "" {
		parts = append(parts, p.T("お試し期間あり", "with a trial"))
	}
	return strings.Join(parts, " · ")
}

func (h *Handler) saveProduct(w http.ResponseWriter, r *http.Request, who *ui.Who) {
	lang := ui.Lang(r, who.Session)
	st, err := h.store(r, who)
	if err != nil {
		h.unavailable(w, r, who, err)
		return
	}
	v := &productsView{Form: map[string]string{}, Errors: map[string]string{}, Editing: r.PostFormValue("editing") == "1"}
	for _, n := range productFields {
		v.Form[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	in := map[string]string{}
	for k, x := range v.Form {
		in[k] = x
	}
	pr, errs := autocharge.BuildProduct(st, in, h.Clock.Now())
	for _, e := range errs {
		if _, taken := v.Errors[e.Field]; !taken {
			v.Errors[e.Field] = fieldMessage(lang, e)
		}
	}
	if len(errs) == 0 && !v.Editing {
		err = h.DB.InsertProduct(r.Context(), pr)
		if errors.Is(err, store.ErrConflict) {
			v.Errors["iid"] = ui.L(lang, "この商品コードは登録済みです。一覧の「編集」から変更してください。",
				"This code is taken; use Edit in the list to change that product.")
		} else if err != nil {
			h.unavailable(w, r, who, err)
			return
		}
	} else if len(errs) == 0 {
		if err := h.DB.PutProduct(r.Context(), pr); err != nil {
			h.unavailable(w, r, who, err)
			return
		}
	}
	if len(v.Errors) > 0 {
		h.renderProducts(w, r, who, http.StatusUnprocessableEntity, v)
		return
	}
	h.audit(r, who, "product.put", fmt.Sprintf("iid=%s am=%d tx=%d sf=%d plan=%s", pr.IID, pr.Am, pr.Tx, pr.Sf, pr.Plan))
	http.Redirect(w, r, Base+"/products?done=saved", http.StatusSeeOther)
}

// fieldMessage is a refusal in the merchant's words, with the wire's code for their developers.
func fieldMessage(lang string, e *wire.Error) string {
	if e.Code == wire.ERParamItem {
		return ui.L(lang, "商品コードは英数字・-・_ の32文字以内です (ER068)", "Up to 32 letters, digits, - or _ (ER068)")
	}
	msg := e.Code.Describe(lang)
	if lang != "ja" && e.Msg != "" {
		msg += ": " + e.Msg
	}
	return msg + " (" + string(e.Code) + ")"
}
