package acquirer

import (
	"strings"
	"time"
)

// Convenience-store chains (wire.md §8, the `cv` codes of the provider's EC-CUBE module) and the
// sandbox chain network and bank. A real connector would ask the chains' payment agency for a
// payment number and a bank for a virtual account; the sandbox derives both from the payment
// number (gid), so they are unique and the same on every retry of one payment.

// Chain is one convenience-store chain.
type Chain struct {
	Code   string
	NameJa string
	NameEn string
	Limit  int64 // the largest total one slip may carry (yen)
	// NeedsPhone: the shopper types the phone number given at checkout at the store's terminal
	// (Lawson's Loppi), so pn is required.
	NeedsPhone bool
	// NoSlip: the chain has no printable slip (FamilyMart): cu is empty.
	NoSlip bool
	// HowJa, HowEn are the steps the shopper follows at the store; "%s" is the payment number.
	HowJa, HowEn []string
}

// Chains lists the chains in the order the hosted page offers them.
var Chains = []Chain{
	{Code: "010", NameJa: "セブン-イレブン", NameEn: "Seven-Eleven", Limit: 300000,
		HowJa: []string{"払込票を印刷するか、払込票番号(13桁)を控えてください。", "レジで払込票または払込票番号「%s」を提示し、現金でお支払いください。"},
		HowEn: []string{"Print the payment slip, or note the 13-digit slip number.", "At the register, show the slip or the slip number %s and pay in cash."}},
	{Code: "020", NameJa: "ローソン", NameEn: "Lawson", Limit: 500000, NeedsPhone: true,
		HowJa: []string{"店内の Loppi で「各種番号をお持ちの方」を選びます。", "受付番号「%s」と、ご注文時の電話番号を入力します。", "発券された申込券を30分以内にレジへお持ちになり、お支払いください。"},
		HowEn: []string{"At the Loppi terminal in the store, choose \"各種番号をお持ちの方\" (I have a number).", "Enter the reception number %s and the phone number you gave with your order.", "Take the printed ticket to the register within 30 minutes and pay."}},
	{Code: "030", NameJa: "ファミリーマート", NameEn: "FamilyMart", Limit: 500000, NoSlip: true,
		HowJa: []string{"店内のマルチコピー機で「代金支払い」を選びます。", "受付番号「%s」を入力し、発券された申込券をレジでお支払いください。"},
		HowEn: []string{"At the multi-copy machine, choose \"代金支払い\" (pay).", "Enter the reception number %s and pay the printed ticket at the register."}},
	{Code: "050", NameJa: "デイリーヤマザキ", NameEn: "Daily Yamazaki", Limit: 500000,
		HowJa: []string{"レジで「オンライン決済」とお伝えください。", "受付番号「%s」をお伝えし、お支払いください。"},
		HowEn: []string{"Tell the staff at the register \"オンライン決済\" (online payment).", "Give the reception number %s and pay."}},
	{Code: "060", NameJa: "サークルK・サンクス", NameEn: "Circle K Sunkus", Limit: 500000,
		HowJa: []string{"店内の端末で「各種サービスメニュー」を選びます。", "受付番号「%s」と電話番号を入力し、申込券をレジでお支払いください。"},
		HowEn: []string{"At the in-store terminal, choose \"各種サービスメニュー\".", "Enter the reception number %s and your phone number, then pay the ticket at the register."}},
	{Code: "080", NameJa: "ミニストップ", NameEn: "Ministop", Limit: 500000,
		HowJa: []string{"店内の Loppi で「各種番号をお持ちの方」を選びます。", "受付番号「%s」を入力し、申込券をレジでお支払いください。"},
		HowEn: []string{"At the Loppi terminal, choose \"各種番号をお持ちの方\".", "Enter the reception number %s and pay the ticket at the register."}},
	{Code: "110", NameJa: "am/pm", NameEn: "am/pm", Limit: 500000,
		HowJa: []string{"レジで受付番号「%s」をお伝えし、お支払いください。"},
		HowEn: []string{"Give the reception number %s at the register and pay."}},
	{Code: "760", NameJa: "セイコーマート", NameEn: "Seicomart", Limit: 500000,
		HowJa: []string{"レジで「インターネット支払い」とお伝えし、受付番号「%s」をお伝えください。"},
		HowEn: []string{"Tell the staff \"インターネット支払い\" (internet payment) and give the reception number %s."}},
}

// ChainByCode finds a chain by its cv code.
func ChainByCode(cv string) (Chain, bool) {
	for _, c := range Chains {
		if c.Code == cv {
			return c, true
		}
	}
	return Chain{}, false
}

// SlipNumber is the sandbox chain network's payment number for a payment: 13 digits for
// Seven-Eleven's 払込票番号, 11 for the others' 受付番号, derived from the gid so one payment
// always gets the same number and two payments never share one.
func SlipNumber(cv, gid string) string {
	d := digitsOnly(gid)
	for len(d) < 16 {
		d = "0" + d
	}
	if cv == "010" {
		return "1" + d[len(d)-12:]
	}
	return d[len(d)-11:]
}

// SandboxBank names the sandbox's bank. The account holder and names use only characters that
// exist in Shift_JIS, and never ".", the bank string's separator.
var SandboxBank = struct{ Code, Name, BranchName, Type, Holder string }{
	Code: "0999", Name: "ケッサイ銀行", BranchName: "サンドボックス支店", Type: "普通", Holder: "カ）ケッサイ",
}

// VirtualAccount is the bank transfer destination opened for one payment.
type VirtualAccount struct {
	BankCode, BankName, BranchCode, BranchName, Type, Number, Holder string
}

// Reference is the account's searchable reference: branch code and account number.
func (a VirtualAccount) Reference() string { return a.BranchCode + a.Number }

// String is the wire's bank string: seven fields joined by "." (wire.md §8).
func (a VirtualAccount) String() string {
	return strings.Join([]string{a.BankCode, a.BankName, a.BranchCode, a.BranchName, a.Type, a.Number, a.Holder}, ".")
}

// OpenAccount opens the sandbox's virtual account for a payment (gid): branch 7xx and a 7-digit
// number from the gid's digits, so one payment always gets the same account.
func OpenAccount(gid string) VirtualAccount {
	d := digitsOnly(gid)
	for len(d) < 16 {
		d = "0" + d
	}
	tail := d[len(d)-10:]
	b := SandboxBank
	return VirtualAccount{BankCode: b.Code, BankName: b.Name, BranchCode: "7" + tail[1:3], BranchName: b.BranchName + tail[1:3],
		Type: b.Type, Number: tail[3:], Holder: b.Holder}
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Test values: a merchant's CI exercises every later notification without a person by issuing a
// payment with one of these, which then settles by itself after SettleDelay.
//
//	convenience store, pn 09000000001  → paid (ap=CPL)
//	bank transfer,     pn 09000000001  → the exact amount arrives (BAN_SAL, mf=1)
//	bank transfer,     pn 09000000002  → 1 yen less arrives (mf=2)
//	bank transfer,     pn 09000000003  → 1 yen more arrives (mf=3)
var (
	TestPhonePaid = "09000000001"
	TestPhoneLess = "09000000002"
	TestPhoneMore = "09000000003"
	SettleDelay   = 5 * time.Second
)

// AutoSettle tells whether a new payment with phone number pn settles by itself, and with what
// amount arriving (total is what was billed).
func AutoSettle(method, pn string, total int64) (amount int64, ok bool) {
	switch {
	case pn == TestPhonePaid:
		return total, true
	case method == "bank" && pn == TestPhoneLess:
		return total - 1, true
	case method == "bank" && pn == TestPhoneMore:
		return total + 1, true
	}
	return 0, false
}
