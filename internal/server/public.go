package server

import "kessai/internal/web/public"

// registerPublic mounts the public maintenance notices, feeds and status API.
func (s *Server) registerPublic() {
	(&public.Handler{DB: s.DB, Maint: s.Maint, Clock: s.Cfg.Clock, Log: s.Log, Sandbox: s.Sandbox}).Register(s.mux)
}
