package delivery

// S3 are the settings of a s3 destination.
type S3 struct{}

func (s *S3) validate() []error { return nil }
