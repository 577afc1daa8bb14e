package maintenance

import "strings"

var brandWords = map[string][2]string{
	"VISA": {"Visa", "Visa"}, "MASTER": {"Mastercard", "Mastercard"}, "JCB": {"JCB", "JCB"},
	"AMEX": {"American Express", "American Express"}, "DINERS": {"Diners Club", "Diners Club"},
}

// ScopeWords says in words, for merchants, what a window stops (issue 15 items 12, 16): "すべての決済と
// 管理画面", "JCBカードの決済のみ", "コンビニ決済のみ", "取消・返金、自動課金のみ" — never the scope's
// codes. lang is "ja" or "en".
func ScopeWords(s Scope, lang string) string {
	en := lang == LangEN
	pick := func(l [2]string) string {
		if en {
			return l[1]
		}
		return l[0]
	}
	panel := s.Ops&OpPanel != 0
	allPay := s.Ops&AllPayments == AllPayments
	if allPay && len(s.Methods) == 0 && len(s.Brands) == 0 {
		if panel {
			return pick([2]string{"すべての決済と管理画面", "all payments and the control panel"})
		}
		return pick([2]string{"すべての決済", "all payments"})
	}
	var what string
	if allPay {
		what = pick([2]string{"決済", "payments"})
	} else {
		var ops []string
		for _, n := range opNames {
			if n.op != OpPanel && s.Ops&n.op != 0 {
				ops = append(ops, pick(opLabels[n.op]))
			}
		}
		what = strings.Join(ops, pick([2]string{"、", ", "}))
	}
	var narrow []string
	for _, b := range s.Brands {
		l, ok := brandWords[b]
		if !ok {
			l = [2]string{b, b}
		}
		narrow = append(narrow, pick(l)+pick([2]string{"カード", " cards"}))
	}
	for _, m := range s.Methods {
		narrow = append(narrow, label(methodLabels, m, lang))
	}
	var out string
	switch {
	case allPay && len(s.Brands) == 0 && en: // methods only: "convenience store payments only"
		out = strings.Join(narrow, " or ") + " payments only"
	case allPay && len(s.Brands) == 0:
		out = strings.Join(narrow, "・") + "のみ"
	case what == "" && panel:
		return pick([2]string{"管理画面のみ", "the control panel only"})
	case len(narrow) > 0 && en:
		out = what + " by " + strings.Join(narrow, " or ") + " only"
	case len(narrow) > 0:
		out = strings.Join(narrow, "・") + "の" + what + "のみ"
	case en:
		out = what + " only"
	default:
		out = what + "のみ"
	}
	if panel {
		out += pick([2]string{"（管理画面を含む）", " (and the control panel)"})
	}
	return out
}
