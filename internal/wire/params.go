package wire

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"unicode/utf8"
	"unsafe"

	"golang.org/x/text/encoding/japanese"
)

// Request limits.
const (
	// DefaultMaxBytes is the body limit Parse applies when given maxBytes <= 0. A real request is
	// well under 4 KiB; the margin is for long item names in Shift_JIS and free parameters.
	DefaultMaxBytes = 64 << 10
	// MaxParams bounds the number of parameters, so duplicate detection and lookups stay cheap on
	// hostile input. Real requests carry about 20.
	MaxParams = 256
	// MaxFreeBytes is the most free parameters may take, measured URL-encoded as in the result
	// line's last column (spec §2.4: "at most 1,024 bytes in all").
	MaxFreeBytes = 1024
)

// Encodings accepted by Recode.
const (
	EncAuto     = "auto"      // UTF-8 when valid, else Shift_JIS (CP932)
	EncUTF8     = "utf-8"     // always UTF-8; invalid bytes become U+FFFD
	EncShiftJIS = "shift_jis" // always Shift_JIS (CP932)
)

// ErrTooLarge is the cause (errors.Is) of the ER001 that Parse returns for a body or query over the
// limit, so a non-gateway surface can answer 413 instead.
var ErrTooLarge = errors.New("wire: request too large")

// Params are a request's parameters: query string and body merged, names lower-cased, values
// decoded to UTF-8. Each name appears once. When a name repeats, the first occurrence wins, and the
// query string comes before the body: that is the order ASP.NET's Request[name] (which the original
// service runs on) looks things up in, and it keeps a client that puts aid in both places with the
// same value working [D].
type Params struct {
	raw    string // percent-decoded bytes of every name and value, back to back; never modified
	fields []field
	enc    string
	// guarded: a merchant's request (Parse, ParseQuery), whose values are checked for card numbers
	// outside cn, again after Recode
	guarded bool
}

type field struct {
	name, val              string
	nOff, nEnd, vOff, vEnd int32 // name and value in raw, before character decoding
}

// Parse reads r's parameters from the query string and, for POST, the body: form-encoded (any
// Content-Type naming application/x-www-form-urlencoded or text/plain, or none) or multipart/form-data
// (what PHP's cURL sends when given an array). It decodes percent-escapes itself rather than using
// r.ParseForm, which assumes UTF-8: a value that is not valid UTF-8 is decoded as Shift_JIS (CP932),
// and the raw bytes are kept for Recode.
//
// Errors are *Error: ER107 for a method other than GET or POST; ER001 for a body or query over
// maxBytes (cause ErrTooLarge; maxBytes <= 0 means DefaultMaxBytes), malformed percent-encoding,
// control characters (C0, DEL or C1, including tab and newlines) in names or values, more than
// MaxParams parameters, free parameters over MaxFreeBytes, or an unsupported body type; and the
// field's own code (ER054 cod, ER059 em, …, ER001 for inm and free parameters) for a value outside
// cn that looks like a card number (LooksLikeCardNumber), refused before anything is stored.
func Parse(r *http.Request, maxBytes int64) (*Params, error) {
	p, err := parseHTTP(r, maxBytes)
	if err != nil {
		return nil, err
	}
	return p.checkFree()
}

// ParseOwnForm parses a form that Kessai's own pages post (the hosted card form): the same rules
// as Parse, but its fields are Kessai's, not a merchant's free parameters, so the 1,024-byte
// free-parameter limit does not apply to them.
func ParseOwnForm(r *http.Request, maxBytes int64) (*Params, error) {
	return parseHTTP(r, maxBytes)
}

func parseHTTP(r *http.Request, maxBytes int64) (*Params, error) {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return nil, Errf(ERMethod, "", "method %s", r.Method)
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	maxBytes = min(maxBytes, 1<<30) // offsets are int32
	q := r.URL.RawQuery
	if int64(len(q)) > maxBytes {
		return nil, tooLarge("query")
	}
	if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
		return parse(q, nil, 0)
	}
	media := r.Header.Get("Content-Type")
	if i := strings.IndexByte(media, ';'); i >= 0 {
		media = media[:i]
	}
	media = strings.TrimSpace(media)
	if r.ContentLength > maxBytes {
		return nil, tooLarge("body")
	}
	// The body is read into the same buffer the decoded parameters will live in, after room for the
	// query: percent-decoding only shrinks, so the body can then be decoded in place.
	size := int64(len(q)) + 1
	if r.ContentLength > 0 {
		size += r.ContentLength
	} else {
		size += 512
	}
	buf := make([]byte, len(q), size)
	buf, err := readBody(buf, r.Body, maxBytes)
	if err != nil {
		return nil, err
	}
	body := buf[len(q):]
	switch {
	case media == "", strings.EqualFold(media, "application/x-www-form-urlencoded"), strings.EqualFold(media, "text/plain"):
		return parse(q, buf, len(q))
	case strings.EqualFold(media, "multipart/form-data"):
		return parseMultipart(q, body, r.Header.Get("Content-Type"))
	case len(bytes.TrimSpace(body)) == 0:
		return parse(q, nil, 0)
	}
	return nil, Errf(ERMalformed, "", "unsupported body type %q", media)
}

func tooLarge(what string) *Error {
	return &Error{Code: ERMalformed, Msg: what + " too large", Err: ErrTooLarge}
}

// readBody appends the body to buf, refusing more than max bytes.
func readBody(buf []byte, body io.Reader, max int64) ([]byte, error) {
	start := len(buf)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)-start) > max {
			return nil, tooLarge("body")
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge("body")
			}
			return nil, &Error{Code: ERMalformed, Msg: "reading body", Err: err}
		}
	}
}

// ParseQuery parses a raw query string (no leading '?') the way Parse does: for the bench client,
// tests, and pages that receive parameters some other way.
func ParseQuery(q string) (*Params, error) {
	p, err := parse(q, nil, 0)
	if err != nil {
		return nil, err
	}
	return p.checkFree()
}

// checkFree refuses free parameters over MaxFreeBytes, and card numbers outside cn.
func (p *Params) checkFree() (*Params, error) {
	if n := p.freeLen(); n > MaxFreeBytes {
		return nil, Errf(ERMalformed, "", "free parameters take %d bytes, more than %d", n, MaxFreeBytes)
	}
	p.guarded = true
	if err := p.refuseCardNumbers(); err != nil {
		return nil, err
	}
	return p, nil
}

// parse decodes q, then buf[bodyOff:] (the form body, possibly nil), into buf, and builds the Params.
func parse(q string, buf []byte, bodyOff int) (*Params, error) {
	n := strings.Count(q, "&") + 1
	var body []byte
	if buf != nil {
		body = buf[bodyOff:]
		n += bytes.Count(body, []byte{'&'}) + 1
	} else {
		buf = make([]byte, 0, len(q))
	}
	if n > 2*MaxParams+2 { // a cheap early refusal; empty pairs are not counted below
		return nil, Errf(ERMalformed, "", "too many parameters")
	}
	p := &Params{fields: make([]field, 0, n), enc: EncAuto}
	var err error
	dst := buf[:0]
	if dst, err = appendPairs(p, dst, q); err != nil {
		return nil, err
	}
	if body != nil {
		// dst and body share an array; dst never catches up with the byte being read.
		if dst, err = appendPairs(p, dst, body); err != nil {
			return nil, err
		}
	}
	return p.finish(dst)
}

// appendPairs percent-decodes the &-separated name=value pairs of src onto dst, recording each in
// p.fields. src may share dst's array from dst's end onwards (the body, decoded in place).
func appendPairs[T string | []byte](p *Params, dst []byte, src T) ([]byte, error) {
	for i := 0; i < len(src); {
		j, eq := i, -1
		for j < len(src) && src[j] != '&' {
			if src[j] == '=' && eq < 0 {
				eq = j
			}
			j++
		}
		nameEnd, valStart := j, j
		if eq >= 0 {
			nameEnd, valStart = eq, eq+1
		}
		var f field
		f.nOff = int32(len(dst))
		d, err := unescape(dst, src[i:nameEnd])
		if err != nil {
			return nil, err
		}
		f.nEnd = int32(len(d))
		f.vOff = f.nEnd
		dst, err = unescape(d, src[valStart:j])
		if err != nil {
			err.Field = strings.ToValidUTF8(string(d[f.nOff:f.nEnd]), "?")
			return nil, err
		}
		f.vEnd = int32(len(dst))
		if f.nEnd > f.nOff { // "&&" and "=x" carry nothing
			if len(p.fields) == MaxParams {
				return nil, Errf(ERMalformed, "", "more than %d parameters", MaxParams)
			}
			p.fields = append(p.fields, f)
		}
		i = j + 1
	}
	return dst, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unescape appends the form-decoded src to dst ('+' is a space), refusing bad escapes and control
// characters.
func unescape[T string | []byte](dst []byte, src T) ([]byte, *Error) {
	for k := 0; k < len(src); k++ {
		c := src[k]
		switch c {
		case '+':
			c = ' '
		case '%':
			if k+2 >= len(src) {
				return nil, Errf(ERMalformed, "", "malformed percent-encoding")
			}
			h, ok1 := unhex(src[k+1])
			l, ok2 := unhex(src[k+2])
			if !ok1 || !ok2 {
				return nil, Errf(ERMalformed, "", "malformed percent-encoding")
			}
			c = h<<4 | l
			k += 2
		}
		if c < 0x20 || c == 0x7f {
			return nil, Errf(ERMalformed, "", "control character")
		}
		dst = append(dst, c)
	}
	return dst, nil
}

// parseMultipart reads a multipart/form-data body. Parts are raw bytes (no percent-encoding); file
// parts are ignored.
func parseMultipart(q string, body []byte, contentType string) (*Params, error) {
	_, mp, err := mime.ParseMediaType(contentType)
	if err != nil || mp["boundary"] == "" {
		return nil, Errf(ERMalformed, "", "multipart body without boundary")
	}
	buf := make([]byte, 0, len(q)+len(body))
	p := &Params{fields: make([]field, 0, 16), enc: EncAuto}
	if buf, err = appendPairs(p, buf, q); err != nil {
		return nil, err
	}
	mr := multipart.NewReader(bytes.NewReader(body), mp["boundary"])
	for {
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, &Error{Code: ERMalformed, Msg: "malformed multipart body", Err: err}
		}
		name := part.FormName()
		if name == "" || part.FileName() != "" {
			continue
		}
		var f field
		f.nOff = int32(len(buf))
		var cerr *Error
		if buf, cerr = appendChecked(buf, name); cerr != nil {
			return nil, cerr
		}
		f.nEnd = int32(len(buf))
		f.vOff = f.nEnd
		v, err := io.ReadAll(part)
		if err != nil {
			return nil, &Error{Code: ERMalformed, Msg: "malformed multipart body", Err: err}
		}
		if buf, cerr = appendChecked(buf, v); cerr != nil {
			cerr.Field = name
			return nil, cerr
		}
		f.vEnd = int32(len(buf))
		if len(p.fields) == MaxParams {
			return nil, Errf(ERMalformed, "", "more than %d parameters", MaxParams)
		}
		p.fields = append(p.fields, f)
	}
	return p.finish(buf)
}

func appendChecked[T string | []byte](dst []byte, s T) ([]byte, *Error) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return nil, Errf(ERMalformed, "", "control character")
		}
	}
	return append(dst, s...), nil
}

// finish fixes raw, decodes names and values, drops repeated names, and checks free parameters.
func (p *Params) finish(buf []byte) (*Params, error) {
	if len(buf) > 0 {
		// buf is never written again, so it can back a string without a copy.
		p.raw = unsafe.String(unsafe.SliceData(buf), len(buf))
	}
	if err := p.decode(); err != nil {
		return nil, err
	}
	// First occurrence wins.
	out := p.fields[:0]
	for i, f := range p.fields {
		dup := false
		for _, g := range p.fields[:i] {
			if g.name == f.name {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	p.fields = out
	return p, nil
}

// decode turns every raw name and value into UTF-8 under p.enc.
func (p *Params) decode() error {
	for i := range p.fields {
		f := &p.fields[i]
		if f.nOff < 0 {
			continue // set by Kessai (Set), already text
		}
		name, err := decodeText(p.raw[f.nOff:f.nEnd], p.enc)
		if err != nil {
			return err
		}
		f.name = lowerName(name)
		if f.val, err = decodeText(p.raw[f.vOff:f.vEnd], p.enc); err != nil {
			err.Field = f.name
			return err
		}
	}
	return nil
}

func lowerName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return strings.ToLower(s)
		}
	}
	return s
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// decodeText decodes raw bytes to UTF-8 under enc and refuses C1 control characters (which only
// exist once decoded).
func decodeText(s, enc string) (string, *Error) {
	if isASCII(s) {
		return s, nil
	}
	switch enc {
	case EncUTF8:
		s = strings.ToValidUTF8(s, "\uFFFD")
	case EncShiftJIS:
		s = fromShiftJIS(s)
	default:
		if !utf8.ValidString(s) {
			s = fromShiftJIS(s)
		}
	}
	for i := 0; i+1 < len(s); i++ {
		if s[i] == 0xC2 && s[i+1] >= 0x80 && s[i+1] <= 0x9F {
			return "", Errf(ERMalformed, "", "control character")
		}
	}
	return s, nil
}

func fromShiftJIS(s string) string {
	out, err := japanese.ShiftJIS.NewDecoder().String(s)
	if err != nil { // the decoder replaces bad bytes rather than failing; stay safe regardless
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return out
}

// Recode decodes every name and value again from the raw bytes under enc (EncAuto, EncUTF8 or
// EncShiftJIS; "" and the usual aliases such as "sjis", "cp932", "windows-31j", "utf8" are accepted)
// for stores that force an encoding. It returns ER001 when the re-decoded text has control
// characters, and ER000 for an unknown encoding name (a configuration error, not the merchant's).
func (p *Params) Recode(enc string) error {
	e, ok := normEncoding(enc)
	if !ok {
		return Errf(ERInternal, "", "unknown encoding %q", enc)
	}
	if e == p.enc {
		return nil
	}
	p.enc = e
	if err := p.decode(); err != nil {
		return err
	}
	if p.guarded {
		return p.refuseCardNumbers()
	}
	return nil
}

func normEncoding(enc string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(enc)) {
	case "", "auto":
		return EncAuto, true
	case "utf-8", "utf8":
		return EncUTF8, true
	case "shift_jis", "shift-jis", "sjis", "cp932", "windows-31j", "ms932":
		return EncShiftJIS, true
	}
	return "", false
}

// Encoding returns the encoding the values were decoded under (EncAuto until Recode).
func (p *Params) Encoding() string { return p.enc }

// Get returns the value of the named parameter (lower case), or "" when absent.
func (p *Params) Get(name string) string {
	for i := range p.fields {
		if p.fields[i].name == name {
			return p.fields[i].val
		}
	}
	return ""
}

// Has reports whether the named parameter was sent, even with an empty value.
func (p *Params) Has(name string) bool {
	for i := range p.fields {
		if p.fields[i].name == name {
			return true
		}
	}
	return false
}

// Len returns the number of distinct parameters.
func (p *Params) Len() int { return len(p.fields) }

// Names returns the parameter names in arrival order (query string first).
func (p *Params) Names() []string {
	ns := make([]string, len(p.fields))
	for i, f := range p.fields {
		ns[i] = f.name
	}
	return ns
}

// Known reports whether name is one of the ROBOT PAYMENT parameters (spec §2) that Kessai
// interprets; every other parameter is a free parameter, carried through to the kickback.
func Known(name string) bool {
	switch name {
	case "aid", "jb", "rt", "cod", "am", "tx", "sf", "iid", "inm", "em", "pn",
		"cn", "ed", "fn", "ln", "cvv", "md", "tkn", "tid", "cmd", "acid", "ut", "hak",
		"actp", "acam", "actx", "acsf", "ac1", "ac2", "ac3", "ac4", "ac5",
		"trtp", "tr1", "tr2", "tr3", "tram", "trtx", "trsf", "pt", "lang",
		"mailauthckey": // a mail link's key (wire.md §9): checked by the hosted page, never echoed
		return true
	}
	return false
}

// KV is one free parameter.
type KV struct{ K, V string }

// Free returns the free parameters (those not Known) in arrival order. Names of result fields
// (ResultField) are dropped: they are never free parameters (wire.md §2.4).
func (p *Params) Free() []KV {
	var kv []KV
	for _, f := range p.fields {
		if !Known(f.name) && !reservedName(f.name) {
			kv = append(kv, KV{f.name, f.val})
		}
	}
	return kv
}

func (p *Params) freeLen() int {
	n := 0
	for _, f := range p.fields {
		if !Known(f.name) && !reservedName(f.name) {
			if n > 0 {
				n++ // '&'
			}
			n += escapedLen(f.name) + 1 + escapedLen(f.val)
		}
	}
	return n
}

// Set gives name (lower case) the value val, replacing what the request sent: Kessai's own
// expansion of a request (a product's auto-charge plan, wire.md §2.1 iid). Recode leaves such a
// value as it is.
func (p *Params) Set(name, val string) {
	for i := range p.fields {
		if p.fields[i].name == name {
			p.fields[i] = field{name: name, val: val, nOff: -1}
			return
		}
	}
	p.fields = append(p.fields, field{name: name, val: val, nOff: -1})
}

// Del removes the named parameter, as if it had not been sent.
func (p *Params) Del(name string) {
	for i := range p.fields {
		if p.fields[i].name == name {
			p.fields = append(p.fields[:i], p.fields[i+1:]...)
			return
		}
	}
}
