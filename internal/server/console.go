package server

import (
	"context"

	"kessai/internal/auth"
	"kessai/internal/notify"
	"kessai/internal/web/console"
	"kessai/internal/web/operator"
)

// registerConsole mounts the merchant control panel (/console/) and the operator console (/operator/).
func (s *Server) registerConsole() {
	// second factors: mandatory for operators and panel admins with a real acquirer, or with
	// --require-mfa; TOTP secrets are sealed by the card-data key ring
	mfa := auth.Policy{RealAcquirer: !s.Sandbox, RequireMFA: s.Cfg.RequireMFA}
	c, err := console.New(console.Deps{DB: s.DB, Pay: s.Pay, AC: s.AutoCharges(), Maint: s.Maint, Gate: s.Gate, RemoteIP: s.RemoteIP,
		Clock: s.Cfg.Clock, Sandbox: s.Sandbox, Log: s.Log, KickbackSources: s.Cfg.KickbackSources, Vault: s.Vault, Mail: s.mailSender(), MFA: mfa, CheckTarget: s.CheckResultURL,
		NonCard: s.NonCard, PublicURL: s.Cfg.PublicURL})
	if err != nil {
		panic("control panel templates: " + err.Error()) // embedded at build time: a bug, not a runtime condition
	}
	c.Register(s.mux)
	o, err := operator.New(operator.Deps{DB: s.DB, Pay: s.Pay, Maint: s.Maint, RemoteIP: s.RemoteIP, Clock: s.Cfg.Clock,
		Sandbox: s.Sandbox, Log: s.Log, Reload: s.reloadSchedule, Vault: s.Vault, MFA: mfa})
	if err != nil {
		panic("operator console templates: " + err.Error())
	}
	o.Register(s.mux)
}

// mailSender is the configured SMTP relay for the panel's payment-link e-mails, or nil.
func (s *Server) mailSender() console.MailSender {
	if s.Cfg.SMTP.Addr == "" {
		return nil
	}
	cfg := s.Cfg.SMTP
	if cfg.From == "" {
		cfg.From = "noreply@kessai.example"
	}
	return notify.SMTP{Cfg: cfg}
}

// reloadSchedule refreshes the maintenance index from the database at once (after an operator's
// change), rather than waiting for the schedule watcher's next poll.
func (s *Server) reloadSchedule(ctx context.Context) {
	ws, err := s.DB.Windows(ctx)
	if err != nil {
		if s.Log != nil {
			s.Log.Warn("maintenance schedule reload failed", "err", err)
		}
		return
	}
	s.Maint.Replace(ws)
}
