package server

import (
	"kessai/internal/token"
	"kessai/internal/velocity"
	"kessai/internal/web/gateway"
	"kessai/internal/web/link"
)

// registerLink mounts the hosted payment pages and the token / 3-D Secure scripts, and gives the
// gateway the token service that gateway_token.aspx and accgate_token.aspx consume tokens with.
func (s *Server) registerLink() {
	ts := token.New(s.DB, s.Vault, s.Pay.Acq, s.Cfg.Clock, s.Log)
	if s.gateway != nil {
		s.gateway.Tokens = ts
	}
	h := &link.Handler{Pay: s.Pay, Tokens: ts, Clock: s.Cfg.Clock, Gate: s.Gate, Log: s.Log, Sandbox: s.Sandbox,
		Velocity: velocity.New(), RemoteIP: s.RemoteIP,
		// read at request time: the auto-charge service is handed to the gateway after this runs
		AutoCharge: func() gateway.AutoCharger {
			if s.gateway == nil {
				return nil
			}
			return s.gateway.AutoCharge
		}}
	h.Register(s.mux)
	s.registerNonCardPages(h) // convenience-store and bank-transfer pages (noncard.go)
	if s.gateway != nil {
		// the provider's older 3-D Secure entry: gateway.aspx plus url, authentication on h's pages
		s.mux.HandleFunc(gateway.IGatewayPath, s.gateway.IGateway(h.IGatewayThreeDS))
	}
}
