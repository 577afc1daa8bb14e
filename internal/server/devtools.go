package server

import (
	"context"
	"net/http"

	"kessai/internal/acquirer"
	"kessai/internal/api"
)

// registerAPI mounts the JSON API for merchants' developers (/api/v1/: kickbacks, their stream,
// the sandbox clock), authenticated by store API keys.
func (s *Server) registerAPI() {
	s.api = &api.Handler{DB: s.DB, Clock: s.Cfg.Clock, Sandbox: s.Sandbox, Nudge: s.Pay.Nudge, Log: s.Log, RemoteIP: s.RemoteIP,
		Moved: func(ctx context.Context) { s.reloadSchedule(ctx) }}
	s.api.Register(s.mux)
}

// scenario carries a Kessai-Scenario header to the sandbox acquirer through the request context,
// forcing an outcome with any card. Outside the sandbox the header is ignored; an unknown value
// is refused with 400 and the list of known ones, rather than silently charging for real.
func (s *Server) scenario(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.Header.Get(acquirer.ScenarioHeader)
		if v == "" || !s.Sandbox {
			next.ServeHTTP(w, r)
			return
		}
		name, err := acquirer.ParseScenario(v)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		next.ServeHTTP(w, r.WithContext(acquirer.WithScenario(r.Context(), name)))
	})
}
