package ui

import "kessai/internal/store"

// Words of convenience-store and bank-transfer payments (issue 13), kept apart from the card
// catalog so each list stays readable.
func init() {
	for k, v := range map[string][2]string{
		"status." + store.SlipPending:   {"入金待ち", "Awaiting payment"},
		"status." + store.SlipPaid:      {"入金済", "Paid"},
		"status." + store.SlipExpired:   {"期限切れ", "Expired"},
		"status." + store.SlipCancelled: {"取消済", "Cancelled"},
		"method." + store.MethodCard:    {"クレジットカード", "Card"},
		"method." + store.MethodCVS:     {"コンビニ", "Convenience store"},
		"method." + store.MethodBank:    {"銀行振込", "Bank transfer"},
		"job.CPL":                       {"コンビニ入金", "Paid at the store (CPL)"},
		"job.CVS_CAN":                   {"コンビニ入金取消", "Cancelled by the chain (CVS_CAN)"},
		"job.BAN_SAL":                   {"銀行入金", "Money arrived (BAN_SAL)"},
		"job.EXPIRE":                    {"支払期限切れ", "Deadline passed"},
		"job.BAN_SAL_AGAIN":             {"追加入金（入金済の口座へ）", "Further money arrived (already paid)"},
		"mf.1":                          {"一致", "exact"},
		"mf.2":                          {"過少", "short (過少)"},
		"mf.3":                          {"過剰", "over (過剰)"},
	} {
		catalog[k] = v
	}
	Statuses = append(Statuses, store.SlipPending, store.SlipPaid, store.SlipExpired, store.SlipCancelled)
}

// Methods lists the payment methods in the order the search form offers them.
var Methods = []string{store.MethodCard, store.MethodCVS, store.MethodBank}
