package delivery

// SFTP are the settings of a sftp destination.
type SFTP struct{}

func (s *SFTP) validate() []error { return nil }
