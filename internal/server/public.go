package server

// registerPublic mounts the public maintenance notices, feeds and status API.
func (s *Server) registerPublic() {}
