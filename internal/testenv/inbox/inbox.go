// Package inbox is a real SMTP server in the test process that records every message it accepts,
// for tests of Kessai's e-mail (maintenance notices, payment links, shopper slips, password
// resets). It imports nothing of Kessai's, so any package's tests can use it.
package inbox

import (
	"encoding/base64"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Mail is one accepted message: its envelope recipient, decoded subject and decoded body.
type Mail struct{ To, Subject, Body string }

// Inbox is a running SMTP server; Addr is where to send.
type Inbox struct {
	Addr string
	mu   sync.Mutex
	msgs []Mail
	fail int
}

// New starts an inbox on a loopback port until the test ends.
func New(t testing.TB) *Inbox {
	t.Helper()
	in := &Inbox{}
	srv := smtp.NewServer(backend{in})
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return in
}

// FailNext makes the server refuse the next n messages with a temporary error (451), to test
// retries.
func (in *Inbox) FailNext(n int) {
	in.mu.Lock()
	in.fail = n
	in.mu.Unlock()
}

// All returns a copy of the messages accepted so far, in order.
func (in *Inbox) All() []Mail {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]Mail(nil), in.msgs...)
}

// Count returns how many accepted messages satisfy pred.
func (in *Inbox) Count(pred func(Mail) bool) int {
	n := 0
	for _, m := range in.All() {
		if pred(m) {
			n++
		}
	}
	return n
}

type backend struct{ in *Inbox }

type session struct {
	in *Inbox
	to string
}

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{in: b.in}, nil }
func (s *session) Reset()                                     {}
func (s *session) Logout() error                              { return nil }
func (s *session) Mail(string, *smtp.MailOptions) error       { return nil }
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error  { s.to = to; return nil }

// Data decodes the message as a mail reader would: the subject's encoded words and the body's
// transfer encoding (quoted-printable or base64).
func (s *session) Data(r io.Reader) error {
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
	defer s.in.mu.Unlock()
	if s.in.fail > 0 {
		s.in.fail--
		return &smtp.SMTPError{Code: 451, Message: "try later"}
	}
	s.in.msgs = append(s.in.msgs, Mail{To: s.to, Subject: subj, Body: string(b)})
	return nil
}
