package delivery

// Webhook are the settings of a webhook destination.
type Webhook struct{}

func (s *Webhook) validate() []error { return nil }
