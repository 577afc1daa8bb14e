package wire

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Columns is the number of columns of a result line, always all of them: a Java client crashes on
// fewer.
const Columns = 14

// NoFree is what the last column (other) holds when a payment has no free parameters [D]. A Java
// client splits the line with String.split(","), which drops trailing empty fields, and reads index
// 13 whenever ec is empty: with id, ps, acid and other all empty (a plain approved charge) it would
// get 10 fields and crash. So the last column is never empty. "&" was chosen because every query
// parser merchants use reads it as "no parameters" (PHP parse_str, Java's split("&"), Ruby's
// URI.decode_www_form, Python's parse_qsl, URLSearchParams), and because the line keeps exactly 14
// columns: PHP's explode(',') and list() assignments, positional readers and strict 14-name
// unpacking all keep working, which a 15th column would not guarantee.
const NoFree = "&"

// OKBody is the body of a successful rt=0, SALES, CANCEL or auto-charge change request.
const OKBody = "OK"

// Result status values (rst).
const (
	RstSuccess = "1"
	RstFailure = "2"
	RstRetry   = "3" // auto-charge run failed, will be retried (kickback only)
	RstStopped = "4" // auto-charge stopped by the customer (kickback only)
)

// ErrBadResultLine is the cause of ParseResultLine's errors for bodies that are neither a result
// line nor "ER:ERnnn".
var ErrBadResultLine = errors.New("wire: not a result line")

// Result is one payment result in wire terms (spec §3.1). Other holds the free parameters already
// encoded (EncodeFree).
type Result struct {
	Gid, Rst, Ap, Ec, God, Cod string
	Am, Tx, Sf, Ta             int64
	ID, Ps, Acid, Other        string
}

// OK reports success the way clients test it: rst is 1 and ec is empty.
func (r *Result) OK() bool { return r.Rst == RstSuccess && r.Ec == "" }

// AppendLine appends the result line "gid,rst,ap,ec,god,cod,am,tx,sf,ta,id,ps,acid,other" to b,
// without a newline. Values are validated upstream, but a result line that broke would break every
// client that reads it, so any comma, control character or non-ASCII byte that slipped through is
// percent-encoded: the line always has exactly 14 columns and is ASCII. An empty other is written
// as NoFree, so the line never ends in an empty field (Java's split keeps all 14).
func (r *Result) AppendLine(b []byte) []byte {
	b = appendCol(b, r.Gid)
	b = append(b, ',')
	b = appendCol(b, r.Rst)
	b = append(b, ',')
	b = appendCol(b, r.Ap)
	b = append(b, ',')
	b = appendCol(b, r.Ec)
	b = append(b, ',')
	b = appendCol(b, r.God)
	b = append(b, ',')
	b = appendCol(b, r.Cod)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Am, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Tx, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Sf, 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, r.Ta, 10)
	b = append(b, ',')
	b = appendCol(b, r.ID)
	b = append(b, ',')
	b = appendCol(b, r.Ps)
	b = append(b, ',')
	b = appendCol(b, r.Acid)
	b = append(b, ',')
	if r.Other == "" {
		return append(b, NoFree...)
	}
	return appendCol(b, r.Other)
}

// Line returns the result line as a string.
func (r *Result) Line() string { return string(r.AppendLine(make([]byte, 0, 96+len(r.Other)))) }

func needsEscape(c byte) bool { return c == ',' || c < 0x20 || c >= 0x7f }

func appendCol(b []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		} else {
			b = append(b, c)
		}
	}
	return b
}

// ParseResultLine reads a charge endpoint's response body: a result line (a trailing newline is
// tolerated), or "ER:ERnnn", which comes back as an *Error with that code. Columns are returned as
// written (escapes made by AppendLine are not undone: the provider's lines never had any), except
// that a last column of NoFree comes back as "" (no free parameters). It is the inverse of
// AppendLine, for tests and the bench client.
func ParseResultLine(s string) (Result, error) {
	s = strings.TrimRight(s, "\r\n")
	if c, ok := strings.CutPrefix(s, "ER:"); ok {
		if len(c) != 5 || !strings.HasPrefix(c, "ER") || !isDigits(c[2:]) {
			return Result{}, fmt.Errorf("%w: bad error body %q", ErrBadResultLine, s)
		}
		return Result{}, &Error{Code: Code(c), Msg: "error response"}
	}
	var col [Columns]string
	for i := 0; i < Columns-1; i++ {
		j := strings.IndexByte(s, ',')
		if j < 0 {
			return Result{}, fmt.Errorf("%w: %d columns, want %d", ErrBadResultLine, i+1, Columns)
		}
		col[i], s = s[:j], s[j+1:]
	}
	if strings.IndexByte(s, ',') >= 0 {
		return Result{}, fmt.Errorf("%w: more than %d columns", ErrBadResultLine, Columns)
	}
	if s == NoFree {
		s = ""
	}
	col[Columns-1] = s
	r := Result{Gid: col[0], Rst: col[1], Ap: col[2], Ec: col[3], God: col[4], Cod: col[5],
		ID: col[10], Ps: col[11], Acid: col[12], Other: col[13]}
	for i, dst := range []*int64{&r.Am, &r.Tx, &r.Sf, &r.Ta} {
		v := col[6+i]
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Result{}, fmt.Errorf("%w: column %d: %q is not a number", ErrBadResultLine, 6+i, v)
		}
		*dst = n
	}
	return r, nil
}

// Query returns the kickback and browser-return parameters (spec §3.3): gid, rst, ap, ec, god, cod,
// am, tx, sf, ta, and acid when set. The caller adds the free parameters (except on auto-charge
// runs), decoding Other with DecodeFree.
func (r *Result) Query() url.Values {
	v := url.Values{
		"gid": {r.Gid}, "rst": {r.Rst}, "ap": {r.Ap}, "ec": {r.Ec}, "god": {r.God}, "cod": {r.Cod},
		"am": {strconv.FormatInt(r.Am, 10)}, "tx": {strconv.FormatInt(r.Tx, 10)},
		"sf": {strconv.FormatInt(r.Sf, 10)}, "ta": {strconv.FormatInt(r.Ta, 10)},
	}
	if r.Acid != "" {
		v.Set("acid", r.Acid)
	}
	return v
}
