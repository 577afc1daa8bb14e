package wire

import (
	"bytes"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// request builds a request with a raw query and a raw body (no body for GET).
func request(tb testing.TB, method, query, contentType, body string) *http.Request {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, "/gateway/gateway.aspx", rd)
	r.URL.RawQuery = query
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

const form = "application/x-www-form-urlencoded"

func mustParse(tb testing.TB, r *http.Request) *Params {
	tb.Helper()
	p, err := Parse(r, 0)
	if err != nil {
		tb.Fatalf("Parse: %v", err)
	}
	return p
}

func wantCode(tb testing.TB, err error, code Code) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %s", code)
	}
	var e *Error
	if !errors.As(err, &e) {
		tb.Fatalf("err = %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code {
		tb.Fatalf("code = %s (%v), want %s", e.Code, err, code)
	}
}

func TestParseSources(t *testing.T) {
	const q = "aid=123456&jb=CAPTURE&rt=1&cod=A-1&am=1000"
	tests := []struct {
		name string
		r    *http.Request
	}{
		{"get", request(t, "GET", q, "", "")},
		{"form post", request(t, "POST", "", form, q)},
		{"form post with charset", request(t, "POST", "", form+"; charset=UTF-8", q)},
		{"post without content type", request(t, "POST", "", "", q)},
		{"query post with empty body", request(t, "POST", q, form, "")},
		{"query post with json content type and empty body", request(t, "POST", q, "application/json", "")},
		{"split between query and body", request(t, "POST", "aid=123456&jb=CAPTURE", form, "rt=1&cod=A-1&am=1000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, tt.r)
			want := []string{"aid", "jb", "rt", "cod", "am"}
			if got := p.Names(); !slices.Equal(got, want) {
				t.Fatalf("Names = %v, want %v", got, want)
			}
			if p.Get("aid") != "123456" || p.Get("am") != "1000" || p.Get("cod") != "A-1" {
				t.Fatalf("values wrong: aid=%q am=%q cod=%q", p.Get("aid"), p.Get("am"), p.Get("cod"))
			}
		})
	}
}

func TestParseFirstValueWins(t *testing.T) {
	p := mustParse(t, request(t, "POST", "am=100&x=1", form, "am=200&x=2&x=3&AM=300"))
	if p.Get("am") != "100" || p.Get("x") != "1" {
		t.Fatalf("am=%q x=%q, want query's values", p.Get("am"), p.Get("x"))
	}
	if got := p.Names(); !slices.Equal(got, []string{"am", "x"}) {
		t.Fatalf("Names = %v", got)
	}
}

func TestParseDecoding(t *testing.T) {
	tests := []struct {
		name, body, key, want string
	}{
		{"shift_jis", "inm=%82%D9%82%A4%82%B6%92%83", "inm", "ほうじ茶"},
		{"utf-8", "inm=%E3%81%BB%E3%81%86%E3%81%98%E8%8C%B6", "inm", "ほうじ茶"},
		{"raw utf-8 bytes", "inm=ほうじ茶", "inm", "ほうじ茶"},
		{"plus is space", "inm=green+tea%20leaf", "inm", "green tea leaf"},
		{"half-width katakana sjis", "inm=%B1%B2%B3", "inm", "ｱｲｳ"},
		{"cp932 nec special", "inm=%87%40", "inm", "①"},
		{"upper-case name", "INM=x", "inm", "x"},
		{"no equals sign", "flag&inm=x", "flag", ""},
		{"percent-encoded name", "%69nm=y", "inm", "y"},
		{"lower-case hex", "inm=%e3%81%bb", "inm", "ほ"},
		{"empty pairs", "&&inm=z&&", "inm", "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, request(t, "POST", "", form, tt.body))
			if got := p.Get(tt.key); got != tt.want {
				t.Fatalf("Get(%q) = %q, want %q", tt.key, got, tt.want)
			}
			if !p.Has(tt.key) {
				t.Fatalf("Has(%q) = false", tt.key)
			}
		})
	}
}

func TestParseQueryShiftJIS(t *testing.T) {
	p := mustParse(t, request(t, "GET", "inm=%82%D9%82%A4%82%B6%92%83&aid=123456", "", ""))
	if p.Get("inm") != "ほうじ茶" {
		t.Fatalf("inm = %q", p.Get("inm"))
	}
}

func TestRecode(t *testing.T) {
	// "ﾃｱ" in Shift_JIS is 0xC3 0xB1, which is also valid UTF-8 ("ñ"): auto picks UTF-8.
	p, err := ParseQuery("inm=%C3%B1&cod=A1&x=%E3%81%BB")
	if err != nil {
		t.Fatal(err)
	}
	if p.Get("inm") != "ñ" || p.Encoding() != EncAuto {
		t.Fatalf("auto: %q", p.Get("inm"))
	}
	if err := p.Recode("Shift_JIS"); err != nil {
		t.Fatal(err)
	}
	if p.Get("inm") != "ﾃｱ" || p.Get("cod") != "A1" || p.Encoding() != EncShiftJIS {
		t.Fatalf("shift_jis: inm=%q cod=%q", p.Get("inm"), p.Get("cod"))
	}
	if err := p.Recode("utf-8"); err != nil {
		t.Fatal(err)
	}
	if p.Get("x") != "ほ" || p.Get("inm") != "ñ" {
		t.Fatalf("utf-8: x=%q inm=%q", p.Get("x"), p.Get("inm"))
	}
	// Forced UTF-8 on Shift_JIS bytes: replacement characters, still valid UTF-8.
	p2, _ := ParseQuery("inm=%82%D9")
	if err := p2.Recode("utf8"); err != nil {
		t.Fatal(err)
	}
	if v := p2.Get("inm"); !utf8.ValidString(v) || !strings.Contains(v, "\uFFFD") {
		t.Fatalf("forced utf-8: %q", v)
	}
	wantCode(t, p2.Recode("latin1"), ERInternal)
	if err := p2.Recode(""); err != nil || p2.Get("inm") != "ほ" {
		t.Fatalf("back to auto: %q %v", p2.Get("inm"), err)
	}
}

func TestParseErrors(t *testing.T) {
	long := "a=" + strings.Repeat("x", DefaultMaxBytes)
	tests := []struct {
		name string
		r    *http.Request
		code Code
	}{
		{"put", request(t, "PUT", "aid=123456", "", ""), ERMethod},
		{"head", request(t, "HEAD", "aid=123456", "", ""), ERMethod},
		{"delete", request(t, "DELETE", "", "", ""), ERMethod},
		{"truncated escape", request(t, "GET", "inm=%8", "", ""), ERMalformed},
		{"escape at end", request(t, "GET", "inm=%", "", ""), ERMalformed},
		{"bad hex", request(t, "POST", "", form, "inm=%zz"), ERMalformed},
		{"bad escape in name", request(t, "POST", "", form, "%g1=1"), ERMalformed},
		{"null byte", request(t, "POST", "", form, "inm=a%00b"), ERMalformed},
		{"raw control", request(t, "POST", "", form, "inm=a\x01b"), ERMalformed},
		{"newline", request(t, "POST", "", form, "inm=a%0D%0Ab"), ERMalformed},
		{"tab", request(t, "POST", "", form, "inm=a%09b"), ERMalformed},
		{"del", request(t, "POST", "", form, "inm=a%7Fb"), ERMalformed},
		{"c1 control", request(t, "POST", "", form, "inm=a%C2%85b"), ERMalformed},
		{"control in name", request(t, "POST", "", form, "a%00=1"), ERMalformed},
		{"json body", request(t, "POST", "", "application/json", `{"aid":"123456"}`), ERMalformed},
		{"body too large", request(t, "POST", "", form, long), ERMalformed},
		{"query too large", request(t, "GET", long, "", ""), ERMalformed},
		{"too many parameters", request(t, "POST", "", form, strings.Repeat("a=1&", 3*MaxParams)), ERMalformed},
		{"too many distinct parameters", request(t, "POST", "", form, manyParams(MaxParams+1)), ERMalformed},
		{"free parameters too long", request(t, "POST", "", form, "aid=123456&note="+strings.Repeat("x", MaxFreeBytes)), ERMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.r, 0)
			wantCode(t, err, tt.code)
		})
	}
}

func manyParams(n int) string { return strings.TrimSuffix(strings.Repeat("aid=1&", n), "&") }

func TestParseTooLarge(t *testing.T) {
	body := "aid=123456&inm=" + strings.Repeat("x", 200)
	for _, name := range []string{"content-length", "chunked"} {
		t.Run(name, func(t *testing.T) {
			r := request(t, "POST", "", form, body)
			if name == "chunked" {
				r.ContentLength = -1
			}
			_, err := Parse(r, 100)
			wantCode(t, err, ERMalformed)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge cause", err)
			}
		})
	}
	r := request(t, "POST", "", form, body)
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 50)
	r.ContentLength = -1
	if _, err := Parse(r, 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("MaxBytesReader: err = %v, want ErrTooLarge", err)
	}
	if _, err := Parse(request(t, "POST", "", form, body), int64(len(body))); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	if _, err := Parse(request(t, "GET", "inm=%82%D9", "", ""), 0); errors.Is(err, ErrTooLarge) {
		t.Fatal("small request flagged too large")
	}
}

func TestParseMultipart(t *testing.T) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("aid", "123456")
	w.WriteField("inm", "\x82\xd9\x82\xa4\x82\xb6\x92\x83") // Shift_JIS bytes, raw
	w.WriteField("Cod", "A-1")
	fw, _ := w.CreateFormFile("upload", "x.txt")
	fw.Write([]byte("ignored"))
	w.Close()
	p := mustParse(t, request(t, "POST", "am=100", w.FormDataContentType(), b.String()))
	if got := p.Names(); !slices.Equal(got, []string{"am", "aid", "inm", "cod"}) {
		t.Fatalf("Names = %v", got)
	}
	if p.Get("inm") != "ほうじ茶" || p.Get("cod") != "A-1" {
		t.Fatalf("inm=%q cod=%q", p.Get("inm"), p.Get("cod"))
	}
	_, err := Parse(request(t, "POST", "", "multipart/form-data", "x"), 0)
	wantCode(t, err, ERMalformed)
}

func TestFree(t *testing.T) {
	p, err := ParseQuery("aid=123456&zz=1&note=a%2Cb+c&am=100&%E5%95%86=%E5%93%81&empty=")
	if err != nil {
		t.Fatal(err)
	}
	want := []KV{{"zz", "1"}, {"note", "a,b c"}, {"商", "品"}, {"empty", ""}}
	got := p.Free()
	if !slices.Equal(got, want) {
		t.Fatalf("Free = %v, want %v", got, want)
	}
	enc := EncodeFree(got)
	if strings.ContainsAny(enc, ",\r\n") {
		t.Fatalf("EncodeFree = %q holds a comma or newline", enc)
	}
	if enc != "zz=1&note=a%2Cb+c&%E5%95%86=%E5%93%81&empty=" {
		t.Fatalf("EncodeFree = %q", enc)
	}
	back, err := DecodeFree(enc)
	if err != nil || !slices.Equal(back, want) {
		t.Fatalf("DecodeFree = %v, %v", back, err)
	}
	if kv, err := DecodeFree(""); kv != nil || err != nil {
		t.Fatalf("DecodeFree(\"\") = %v, %v", kv, err)
	}
	_, err = DecodeFree("a=%zz")
	wantCode(t, err, ERMalformed)
	if p.freeLen() != len(enc) {
		t.Fatalf("freeLen = %d, len(EncodeFree) = %d", p.freeLen(), len(enc))
	}
}

func TestFreeLimitIsOnEncodedSize(t *testing.T) {
	// 1,024 bytes encoded is allowed; one more is not.
	v := strings.Repeat("x", MaxFreeBytes-2)
	if _, err := ParseQuery("k=" + v); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := ParseQuery("k=" + v + "x")
	wantCode(t, err, ERMalformed)
	// A Japanese value counts by its encoded size: 9 bytes a character.
	_, err = ParseQuery("k=" + strings.Repeat("%E5%95%86", 114))
	wantCode(t, err, ERMalformed)
}

func TestKnown(t *testing.T) {
	for _, n := range strings.Fields("aid jb rt cod am tx sf iid inm em pn cn ed fn ln cvv md tkn tid cmd acid ut hak actp acam actx acsf ac1 ac2 ac3 ac4 ac5 trtp tr1 tr2 tr3 tram trtx trsf pt lang") {
		if !Known(n) {
			t.Errorf("Known(%q) = false", n)
		}
	}
	for _, n := range []string{"", "AID", "gid", "order_id", "submit"} {
		if Known(n) {
			t.Errorf("Known(%q) = true", n)
		}
	}
}

// reusableBody lets a benchmark send the same body again without allocating.
type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

const captureBody = "aid=123456&jb=CAPTURE&rt=1&cod=ORDER-20260101-0001&am=1000&tx=100&sf=0" +
	"&cn=4111111111111111&ed=2812&fn=TARO&ln=YAMADA&cvv=123&md=10&em=taro%40example.jp&pn=09012345678" +
	"&inm=%E3%81%BB%E3%81%86%E3%81%98%E8%8C%B6&order_ref=77"

func captureRequest(tb testing.TB) (*http.Request, func()) {
	r := request(tb, "POST", "", form, captureBody)
	body := &reusableBody{}
	r.Body = body
	raw := []byte(captureBody)
	reset := func() { body.Reset(raw) }
	reset()
	return r, reset
}

func TestParseAllocations(t *testing.T) {
	r, reset := captureRequest(t)
	n := testing.AllocsPerRun(100, func() {
		reset()
		if _, err := Parse(r, 0); err != nil {
			t.Fatal(err)
		}
	})
	if n > 3 {
		t.Errorf("Parse of a CAPTURE request makes %v allocations, want at most 3", n)
	}
}

func BenchmarkParse(b *testing.B) {
	r, reset := captureRequest(b)
	b.ReportAllocs()
	b.SetBytes(int64(len(captureBody)))
	for b.Loop() {
		reset()
		if _, err := Parse(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseShiftJIS(b *testing.B) {
	const q = "aid=123456&jb=CAPTURE&rt=1&am=1000&inm=%82%D9%82%A4%82%B6%92%83"
	r := request(b, "GET", q, "", "")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("aid=123456&jb=CAPTURE", []byte(captureBody), form)
	f.Add("", []byte("inm=%82%D9%82%A4%82%B6%92%83"), "")
	f.Add("inm=%E3%81%BB", []byte(""), "text/plain")
	f.Add("a=%", []byte("b=%zz"), form)
	f.Add("", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n\x82\xd9\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	f.Fuzz(func(t *testing.T, query string, body []byte, ct string) {
		r := httptest.NewRequest("POST", "/gateway/gateway.aspx", bytes.NewReader(body))
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", ct)
		p, err := Parse(r, 4096)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || !e.Code.Known() {
				t.Fatalf("error %v is not a wire error", err)
			}
			return
		}
		check := func(enc string) {
			for _, n := range p.Names() {
				v := p.Get(n)
				if !utf8.ValidString(n) || !utf8.ValidString(v) {
					t.Fatalf("%s: invalid UTF-8 %q=%q", enc, n, v)
				}
				if n == "" || strings.ContainsFunc(n+v, func(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }) {
					t.Fatalf("%s: control character in %q=%q", enc, n, v)
				}
			}
			if enc := EncodeFree(p.Free()); strings.ContainsAny(enc, ",\r\n") {
				t.Fatalf("EncodeFree = %q", enc)
			}
		}
		check("auto")
		for _, enc := range []string{EncUTF8, EncShiftJIS} {
			if err := p.Recode(enc); err != nil {
				wantCode(t, err, ERMalformed)
				return
			}
			check(enc)
		}
	})
}
