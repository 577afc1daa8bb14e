package e2e

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"

	smtp "github.com/emersion/go-smtp"

	"kessai/internal/clock"
	"kessai/internal/notify"
	"kessai/internal/store"
	"kessai/internal/testenv"
)

type ncInbox struct {
	mu   sync.Mutex
	msgs []ncMsg
}

type ncMsg struct{ to, subject, body string }

type ncBackend struct{ in *ncInbox }
type ncSession struct {
	in *ncInbox
	to string
}

func (b ncBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &ncSession{in: b.in}, nil }
func (s *ncSession) Reset()                                     {}
func (s *ncSession) Logout() error                              { return nil }
func (s *ncSession) Mail(string, *smtp.MailOptions) error       { return nil }
func (s *ncSession) Rcpt(to string, _ *smtp.RcptOptions) error  { s.to = to; return nil }
func (s *ncSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	var body io.Reader = m.Body
	switch strings.ToLower(m.Header.Get("Content-Transfer-Encoding")) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, _ := io.ReadAll(body)
	subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	s.in.mu.Lock()
	s.in.msgs = append(s.in.msgs, ncMsg{to: s.to, subject: subj, body: string(b)})
	s.in.mu.Unlock()
	return nil
}

// TestNonCardShopperMail: a hosted convenience-store payment with em sends the shopper, through
// the configured SMTP server, an e-mail with the payment number, the slip link, the deadline and
// the chain's steps, in Japanese and English, once.
func TestNonCardShopperMail(t *testing.T) {
	in := &ncInbox{}
	srv := smtp.NewServer(ncBackend{in})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	clk := clock.NewFixed(tue)
	s := testenv.Start(t, testenv.Options{Clock: clk, SMTP: notify.SMTPConfig{Addr: ln.Addr().String(), From: "kessai@example.jp"}})
	s.CreateStore(t, ncAid, "コンビニ商店", nil)
	set := store.DefaultStoreMethods(ncAid)
	set.Methods = []string{"card", "cvs", "bank"}
	s.DB.PutStoreMethods(context.Background(), set)
	jar := &cookieJar{m: map[string]*http.Cookie{}}
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(s.URL+"/gateway/payform.aspx", url.Values{"aid": {ncAid}, "cod": {"m-1"}, "am": {"1000"}, "tx": {"0"},
		"sf": {"0"}, "pt": {"2"}, "pn": {"0312345678"}, "em": {"hanako@example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	f := hiddenFields(string(page))
	f.Set("method", "cvs")
	f.Set("cv", "020")
	f.Set("kana", "ヤマダ ハナコ")
	for i := 0; i < 2; i++ { // a resubmission sends no second e-mail
		resp, err = c.PostForm(s.URL+"/link/noncard/issue", f)
		if err != nil || resp.StatusCode != 303 {
			t.Fatalf("issue: %v %v", err, resp.StatusCode)
		}
		resp.Body.Close()
	}
	waitFor(t, "the shopper's e-mail", func() bool {
		in.mu.Lock()
		defer in.mu.Unlock()
		return len(in.msgs) > 0
	})
	in.mu.Lock()
	m := in.msgs[0]
	n := len(in.msgs)
	in.mu.Unlock()
	if m.to != "hanako@example.jp" || !strings.Contains(m.subject, "コンビニ決済のご案内") {
		t.Fatalf("mail to %q subject %q", m.to, m.subject)
	}
	for _, want := range []string{"ローソン", "受付番号", "Loppi", "お支払期限", "Reception number", "/link/slip/", "2026年3月24日"} {
		if !strings.Contains(m.body, want) {
			t.Fatalf("mail lacks %q:\n%s", want, m.body)
		}
	}
	if n != 1 {
		t.Fatalf("%d e-mails", n)
	}
}
