package ui

import (
	"strconv"
	"strings"
	"time"

	"kessai/internal/store"
	"kessai/internal/vault"
)

// Languages of the consoles: Japanese first, English second.
const (
	JA = "ja"
	EN = "en"
)

// NormLang maps anything that is not English to Japanese.
func NormLang(l string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(l)), "en") {
		return EN
	}
	return JA
}

// L picks the Japanese or English text for lang. Strings sit in pairs where they are used, so a
// page reads in both languages side by side and nothing is ever left untranslated.
func L(lang, ja, en string) string {
	if lang == EN {
		return en
	}
	return ja
}

// catalog holds the words several pages share: statuses, jobs, roles.
var catalog = map[string][2]string{
	"status." + store.StatusAuthorized:        {"仮売上", "Authorized"},
	"status." + store.StatusCaptured:          {"売上確定", "Captured"},
	"status." + store.StatusChecked:           {"有効性チェック", "Card checked"},
	"status." + store.StatusVoided:            {"取消", "Voided"},
	"status." + store.StatusRefunded:          {"返金済", "Refunded"},
	"status." + store.StatusPartiallyRefunded: {"一部返金", "Partially refunded"},
	"status." + store.StatusDeclined:          {"失敗", "Declined"},
	"status." + store.StatusRegistered:        {"登録のみ", "Registered"},
	"job.CAPTURE":                             {"即時売上", "Capture"},
	"job.AUTH":                                {"仮売上", "Authorize"},
	"job.CHECK":                               {"有効性チェック", "Card check"},
	"job.SALES":                               {"実売上", "Sales (capture)"},
	"job.CANCEL":                              {"取消・返金", "Cancel / refund"},
	"job.REFUND":                              {"一部返金", "Partial refund"},
	"role." + store.RoleAdmin:                 {"管理者", "Administrator"},
	"role." + store.RoleViewer:                {"閲覧のみ", "Viewer"},
	"acstatus." + store.ACActive:              {"有効", "Active"},
	"acstatus." + store.ACStopped:             {"停止済み", "Stopped"},
	"acstatus." + store.ACFailed:              {"停止（課金失敗）", "Stopped (declined)"},
	"acstatus." + store.ACCompleted:           {"終了", "Completed"},
	"kickback." + store.KickbackPending:       {"送信待ち", "Pending"},
	"kickback." + store.KickbackDelivered:     {"送信済", "Delivered"},
	"kickback." + store.KickbackFailed:        {"送信失敗", "Failed"},
	"kbstate." + store.StateDelivered:         {"送信済", "Delivered"},
	"kbstate." + store.StateFailing:           {"失敗中", "Failing"},
	"kbstate." + store.StatePending:           {"未送信", "Pending"},
	"kbkind." + store.CategoryPayment:         {"決済", "Payment"},
	"kbkind." + store.CategoryAutoChargeRun:   {"自動課金（課金）", "Auto-charge run"},
	"kbkind." + store.CategoryAutoChargeStop:  {"自動課金（停止）", "Auto-charge stop"},
	"kbkind." + store.CategoryNotice:          {"カード以外の通知", "Non-card notice"},
	"wstatus.planned":                         {"予定（未告知）", "Planned"},
	"wstatus.announced":                       {"告知済", "Announced"},
	"wstatus.in_progress":                     {"実施中", "In progress"},
	"wstatus.completed":                       {"完了", "Completed"},
	"wstatus.cancelled":                       {"中止", "Cancelled"},
	"stage.investigating":                     {"調査中", "Investigating"},
	"stage.identified":                        {"対応中", "Identified"},
	"stage.resolved":                          {"復旧", "Resolved"},
	"wkind.scheduled":                         {"定期", "Scheduled"},
	"wkind.emergency":                         {"緊急", "Emergency"},
}

// Word looks up a catalog entry ("status.captured"); an unknown key is shown as its last part.
func Word(lang, key string) string {
	if p, ok := catalog[key]; ok {
		return L(lang, p[0], p[1])
	}
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}

// Statuses lists the payment statuses in the order the search form offers them.
var Statuses = []string{store.StatusAuthorized, store.StatusCaptured, store.StatusPartiallyRefunded, store.StatusRefunded,
	store.StatusVoided, store.StatusChecked, store.StatusDeclined, store.StatusRegistered}

// Tokyo is where the consoles show times: Kessai's merchants and operators are in Japan.
var Tokyo = func() *time.Location {
	l, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		return time.FixedZone("JST", 9*3600)
	}
	return l
}()

// Yen formats an amount with thousands separators: 12,345.
func Yen(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// FormatDay writes a date given as YYYY/MM/DD or YYYYMMDD in the panel's one date form,
// YYYY-MM-DD (the date part of FormatTime).
func FormatDay(s string) string {
	s = strings.ReplaceAll(s, "/", "-")
	if len(s) == 8 && !strings.Contains(s, "-") {
		return s[:4] + "-" + s[4:6] + "-" + s[6:]
	}
	return s
}

// FormatTime shows an instant in Japan time, "2006-01-02 15:04:05"; the zero time is "-".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(Tokyo).Format("2006-01-02 15:04:05")
}

// MaskCard renders a stored card as first6******last4 (vault.MaskStored); the full number never
// reaches a console.
func MaskCard(first6, last4 string) string { return vault.MaskStored(first6, last4) }
