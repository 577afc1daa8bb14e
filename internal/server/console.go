package server

// registerConsole mounts the merchant control panel (/console/) and the operator console (/operator/).
func (s *Server) registerConsole() {}
