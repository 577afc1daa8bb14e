// Package wire is the ROBOT PAYMENT wire format, the contract merchants' existing integrations
// already speak (see spec/wire.md): request parameters as those clients send them (query, form or
// both, UTF-8 or Shift_JIS), the 14-column result line, "ER:ERnnn" bodies, kickback parameters and
// the ut/hak signature. It knows nothing about payments: handlers parse with it, call a service, and
// answer with it.
package wire

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Code is a ROBOT PAYMENT error code, "ER" and three digits, exactly as it goes on the wire.
type Code string

// The codes Kessai produces (spec/wire.md §4). Names say what went wrong; the values are the wire's.
const (
	ERInternal         Code = "ER000" // internal error
	ERMalformed        Code = "ER001" // malformed request (also: bad signature, oversize, bad encoding)
	ERReferer          Code = "ER002" // source URL (Referer) not allowed
	ERSourceIP         Code = "ER003" // source IP not allowed
	ERUnknownStore     Code = "ER004" // unknown store
	ERUnknownItem      Code = "ER005" // unknown product (iid)
	ERCardCheckDigit   Code = "ER014" // card number fails the check digit
	ERBrandNotAccepted Code = "ER015" // card brand not accepted
	ERCreditLimit      Code = "ER016" // credit limit reached
	ERAmountTooLow     Code = "ER017" // amount below minimum
	ERAmountTooHigh    Code = "ER018" // amount above maximum
	ERAlreadyStopped   Code = "ER024" // auto-charge already stopped
	ERDeclined         Code = "ER030" // payment declined
	ERCheckFailed      Code = "ER031" // validity check (CHECK) failed
	ERSalesFailed      Code = "ER032" // capture (SALES) failed
	ERCancelFailed     Code = "ER033" // cancel failed
	ERNetwork          Code = "ER042" // communication error with the card network

	ERParamAID          Code = "ER050" // aid
	ERParamJob          Code = "ER051" // jb
	ERParamReply        Code = "ER052" // rt
	ERParamTID          Code = "ER053" // tid / gid
	ERParamCod          Code = "ER054" // cod
	ERParamCardNumber   Code = "ER055" // cn
	ERParamExpiry       Code = "ER056" // ed
	ERParamFN           Code = "ER057" // fn, card holder name
	ERParamLN           Code = "ER058" // ln, card holder name
	ERParamEmail        Code = "ER059" // em
	ERParamPhone        Code = "ER060" // pn
	ERParamAmount       Code = "ER061" // am
	ERParamTax          Code = "ER062" // tx
	ERParamShipping     Code = "ER063" // sf
	ERParamMethod       Code = "ER064" // md
	ERParamInstallments Code = "ER065" // installment count of md=61-N
	ERParamItem         Code = "ER068" // iid
	ERParamCmd          Code = "ER069" // cmd
	ERParamACID         Code = "ER072" // acid, auto-charge number
	ERParamCVV          Code = "ER079" // cvv, security code

	ERMethod Code = "ER107" // request method other than GET or POST

	ERACNextDate  Code = "ER125" // auto-charge next charge date (ac4)
	ERACCycle     Code = "ER126" // auto-charge cycle (actp)
	ERACDay       Code = "ER127" // auto-charge charge day (ac1)
	ERACStopCount Code = "ER128" // auto-charge stop count (ac3)
	ERACEndDate   Code = "ER129" // auto-charge end date (ac5)

	// ER570–ER582 are the provider's auto-charge and trial parameter errors. Which parameter each one
	// names is not observable [D]; ParamCode fixes Kessai's assignment in one place.
	ERAutoCharge570 Code = "ER570" // acam
	ERAutoCharge571 Code = "ER571" // actx
	ERAutoCharge572 Code = "ER572" // acsf
	ERAutoCharge573 Code = "ER573" // ac2
	ERAutoCharge574 Code = "ER574" // trtp
	ERAutoCharge575 Code = "ER575" // tr1
	ERAutoCharge576 Code = "ER576" // tr2
	ERAutoCharge577 Code = "ER577" // tr3
	ERAutoCharge578 Code = "ER578" // tram
	ERAutoCharge579 Code = "ER579" // trtx
	ERAutoCharge580 Code = "ER580" // trsf
	ERAutoCharge581 Code = "ER581" // trial parameters inconsistent with each other
	ERAutoCharge582 Code = "ER582" // auto-charge parameters inconsistent (with each other, or with iid)

	ERTokenMissing  Code = "ER583" // token missing
	ERTokenInvalid  Code = "ER584" // token invalid or already used (or amounts differ from 3-D Secure)
	ERTokenExpired  Code = "ER585" // token expired
	ERTokenWithCard Code = "ER586" // card number sent together with a token

	ER3DSError  Code = "ER900" // 3-D Secure error
	ER3DSFailed Code = "ER901" // 3-D Secure authentication failed

	// EROutcomeUnknown (Kessai's own): the database went away while the payment was being
	// recorded and did not come back in time; the payment may be recorded. Not a failure: retry
	// with the same cod, which always answers the true outcome.
	EROutcomeUnknown Code = "ER990"
	ERStoreSuspended Code = "ER998" // store suspended
	ERMaintenance    Code = "ER999" // under maintenance
)

type desc struct{ ja, en string }

// descs holds every code's short description. ER066 and ER067 lie inside the parameter range but
// their meaning was never observed, so Kessai does not produce them.
var descs = map[Code]desc{
	ERInternal:         {"内部エラー", "internal error"},
	EROutcomeUnknown:   {"処理結果不明（同じ注文番号で再送してください）", "outcome unknown: retry with the same cod"},
	ERMalformed:        {"不正なリクエスト", "malformed request"},
	ERReferer:          {"送信元URLが許可されていません", "source URL not allowed"},
	ERSourceIP:         {"送信元IPアドレスが許可されていません", "source IP address not allowed"},
	ERUnknownStore:     {"店舗IDが存在しません", "unknown store"},
	ERUnknownItem:      {"商品コードが存在しません", "unknown product code"},
	ERCardCheckDigit:   {"カード番号が正しくありません", "card number check digit is wrong"},
	ERBrandNotAccepted: {"ご利用いただけないカードブランドです", "card brand not accepted"},
	ERCreditLimit:      {"ご利用限度額を超えています", "credit limit reached"},
	ERAmountTooLow:     {"金額が下限を下回っています", "amount below minimum"},
	ERAmountTooHigh:    {"金額が上限を超えています", "amount above maximum"},
	ERAlreadyStopped:   {"自動課金は停止済みです", "auto-charge already stopped"},
	ERDeclined:         {"カードがご利用いただけません", "payment declined"},
	ERCheckFailed:      {"カードの有効性確認に失敗しました", "card validity check failed"},
	ERSalesFailed:      {"実売上に失敗しました", "capture failed"},
	ERCancelFailed:     {"取消に失敗しました", "cancel failed"},
	ERNetwork:          {"カード会社との通信エラー", "communication error with the card network"},

	ERParamAID:          {"店舗IDが正しくありません", "invalid store ID (aid)"},
	ERParamJob:          {"ジョブタイプが正しくありません", "invalid job type (jb)"},
	ERParamReply:        {"応答形式が正しくありません", "invalid reply type (rt)"},
	ERParamTID:          {"決済番号が正しくありません", "invalid payment number (tid)"},
	ERParamCod:          {"店舗オーダー番号が正しくありません", "invalid order number (cod)"},
	ERParamCardNumber:   {"カード番号が正しくありません", "invalid card number (cn)"},
	ERParamExpiry:       {"有効期限が正しくありません", "invalid expiry date (ed)"},
	ERParamFN:           {"カード名義(fn)が正しくありません", "invalid card holder name (fn)"},
	ERParamLN:           {"カード名義(ln)が正しくありません", "invalid card holder name (ln)"},
	ERParamEmail:        {"メールアドレスが正しくありません", "invalid e-mail address (em)"},
	ERParamPhone:        {"電話番号が正しくありません", "invalid phone number (pn)"},
	ERParamAmount:       {"金額が正しくありません", "invalid amount (am)"},
	ERParamTax:          {"税額が正しくありません", "invalid tax (tx)"},
	ERParamShipping:     {"送料が正しくありません", "invalid shipping fee (sf)"},
	ERParamMethod:       {"支払方法が正しくありません", "invalid payment method (md)"},
	ERParamInstallments: {"分割回数が正しくありません", "invalid number of installments"},
	ERParamItem:         {"商品コードが正しくありません", "invalid product code (iid)"},
	ERParamCmd:          {"コマンドが正しくありません", "invalid command (cmd)"},
	ERParamACID:         {"自動課金番号が正しくありません", "invalid auto-charge number (acid)"},
	ERParamCVV:          {"セキュリティコードが正しくありません", "invalid security code (cvv)"},

	ERMethod: {"リクエストメソッドが正しくありません", "wrong request method"},

	ERACNextDate:  {"自動課金の次回課金日が正しくありません", "invalid auto-charge next charge date"},
	ERACCycle:     {"自動課金の課金周期が正しくありません", "invalid auto-charge cycle"},
	ERACDay:       {"自動課金の課金日が正しくありません", "invalid auto-charge charge day"},
	ERACStopCount: {"自動課金の停止回数が正しくありません", "invalid auto-charge stop count"},
	ERACEndDate:   {"自動課金の終了日が正しくありません", "invalid auto-charge end date"},

	ERAutoCharge570: {"自動課金金額が正しくありません", "invalid auto-charge amount (acam)"},
	ERAutoCharge571: {"自動課金税額が正しくありません", "invalid auto-charge tax (actx)"},
	ERAutoCharge572: {"自動課金送料が正しくありません", "invalid auto-charge shipping fee (acsf)"},
	ERAutoCharge573: {"自動課金パラメータ(ac2)が正しくありません", "invalid auto-charge parameter (ac2)"},
	ERAutoCharge574: {"お試し期間の種別が正しくありません", "invalid trial type (trtp)"},
	ERAutoCharge575: {"お試し期間の日数が正しくありません", "invalid trial days (tr1)"},
	ERAutoCharge576: {"お試し期間の月数が正しくありません", "invalid trial months (tr2)"},
	ERAutoCharge577: {"お試し期間の終了日が正しくありません", "invalid trial end date (tr3)"},
	ERAutoCharge578: {"お試し期間終了時の金額が正しくありません", "invalid trial-end amount (tram)"},
	ERAutoCharge579: {"お試し期間終了時の税額が正しくありません", "invalid trial-end tax (trtx)"},
	ERAutoCharge580: {"お試し期間終了時の送料が正しくありません", "invalid trial-end shipping fee (trsf)"},
	ERAutoCharge581: {"お試し期間の指定に矛盾があります", "inconsistent trial parameters"},
	ERAutoCharge582: {"自動課金の指定に矛盾があります", "inconsistent auto-charge parameters"},

	ERTokenMissing:  {"トークンが指定されていません", "token missing"},
	ERTokenInvalid:  {"トークンが無効または使用済みです", "token invalid or already used"},
	ERTokenExpired:  {"トークンの有効期限が切れています", "token expired"},
	ERTokenWithCard: {"トークンとカード番号が同時に指定されています", "card number sent with a token"},

	ER3DSError:  {"3Dセキュアでエラーが発生しました", "3-D Secure error"},
	ER3DSFailed: {"3Dセキュア認証に失敗しました", "3-D Secure authentication failed"},

	ERStoreSuspended: {"店舗は停止中です", "store suspended"},
	ERMaintenance:    {"ただいまメンテナンス中です", "under maintenance"},
}

// Known reports whether c is one of the codes Kessai produces.
func (c Code) Known() bool {
	_, ok := descs[c]
	return ok
}

// Describe returns the code's short description: Japanese when lang starts with "ja", English
// otherwise. It is for pages, logs and the control panel; the wire carries only the code.
func (c Code) Describe(lang string) string {
	d, ok := descs[c]
	ja := strings.HasPrefix(strings.ToLower(lang), "ja")
	switch {
	case !ok && ja:
		return "不明なエラー (" + string(c) + ")"
	case !ok:
		return "unknown error (" + string(c) + ")"
	case ja:
		return d.ja
	}
	return d.en
}

// Codes returns every code Kessai produces, in ascending order.
func Codes() []Code {
	cs := make([]Code, 0, len(descs))
	for c := range descs {
		cs = append(cs, c)
	}
	slices.Sort(cs) // every code is "ER" and three digits, so string order is numeric order
	return cs
}

// paramCodes maps a request parameter to the code that reports it is wrong.
var paramCodes = map[string]Code{
	"aid": ERParamAID, "jb": ERParamJob, "rt": ERParamReply, "tid": ERParamTID, "gid": ERParamTID,
	"cod": ERParamCod, "cn": ERParamCardNumber, "ed": ERParamExpiry, "fn": ERParamFN,
	"ln": ERParamLN, "em": ERParamEmail, "pn": ERParamPhone, "am": ERParamAmount,
	"tx": ERParamTax, "sf": ERParamShipping, "md": ERParamMethod, "iid": ERParamItem,
	"cmd": ERParamCmd, "acid": ERParamACID, "cvv": ERParamCVV, "tkn": ERTokenInvalid,
	"ac4": ERACNextDate, "actp": ERACCycle, "ac1": ERACDay, "ac3": ERACStopCount, "ac5": ERACEndDate,
	"acam": ERAutoCharge570, "actx": ERAutoCharge571, "acsf": ERAutoCharge572, "ac2": ERAutoCharge573,
	"trtp": ERAutoCharge574, "tr1": ERAutoCharge575, "tr2": ERAutoCharge576, "tr3": ERAutoCharge577,
	"tram": ERAutoCharge578, "trtx": ERAutoCharge579, "trsf": ERAutoCharge580,
}

// ParamCode returns the code for a wrong value of the named parameter, and ER001 for parameters
// without a code of their own. It is the single place where Kessai's [D] assignment of ER125–ER129
// and ER570–ER580 to auto-charge parameters lives.
func ParamCode(name string) Code {
	if c, ok := paramCodes[name]; ok {
		return c
	}
	return ERMalformed
}

// Error is a failure the wire can express: its Code is what the merchant sees ("ER:"+Code or the ec
// column); Field and Msg are for logs and the control panel, never for the wire. Err, when set, is
// the underlying cause (for errors.Is, e.g. ErrTooLarge).
type Error struct {
	Code  Code
	Field string
	Msg   string
	Err   error
}

// Error formats as "ER061 am: required".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	if e.Field != "" {
		b.WriteString(" ")
		b.WriteString(e.Field)
	}
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errf builds an *Error with a formatted message.
func Errf(code Code, field, format string, a ...any) *Error {
	return &Error{Code: code, Field: field, Msg: fmt.Sprintf(format, a...)}
}

// CodeOf returns the code of the first *Error in err's chain, "" for nil, and ER000 for any other
// error: an unexpected failure must never leak its text to a merchant.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ERInternal
}

// ErrorBody is the response body for an error found before processing: "ER:ER050".
func ErrorBody(c Code) string { return "ER:" + string(c) }
