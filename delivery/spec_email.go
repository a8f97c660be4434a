package delivery

// Email are the settings of a email destination.
type Email struct{}

func (s *Email) validate() []error { return nil }
