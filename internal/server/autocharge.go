package server

import (
	"context"

	"kessai/internal/autocharge"
	"kessai/internal/web/acpages"
)

// AutoCharges returns the auto-charge service, creating it on first use: the gateway, the hosted
// pages, the control panel and the runner all share this one instance, whatever order they are
// wired in.
func (s *Server) AutoCharges() *autocharge.Service {
	if svc, ok := s.gateway.AutoCharge.(*autocharge.Service); ok && svc != nil {
		return svc
	}
	svc := autocharge.New(s.Pay, s.Cfg.Clock, s.Log)
	s.gateway.AutoCharge = svc
	return svc
}

// registerAutoCharge hands the gateway its auto-charge service (sign-up parameters, accgate,
// accgate_token, acsgate) and mounts the customer's stop and card-update pages.
func (s *Server) registerAutoCharge() {
	svc := s.AutoCharges()
	pages := &acpages.Handler{AC: svc, Clock: s.Cfg.Clock, Gate: s.Gate, Log: s.Log, Sandbox: s.Sandbox}
	pages.Register(s.mux)
}

// startAutoCharge runs the auto-charge runner until ctx ends. Every instance runs one; leases
// share the due plans between them.
func (s *Server) startAutoCharge(ctx context.Context) {
	r := &autocharge.Runner{Svc: s.AutoCharges(), Maint: s.Maint}
	s.workers.Add(1)
	go func() { defer s.workers.Done(); r.Run(ctx) }()
}
