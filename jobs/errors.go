package jobs

import "errors"

// errJobNotFound is returned by Config.Job for a name no job has.
var errJobNotFound = errors.New("no such job")
