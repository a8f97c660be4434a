package demodb

import "time"

// For the tests of package demodb_test.
const (
	DatabaseName = databaseName
	NumUsers     = numUsers
	NumPosts     = numPosts
)

func ReferenceDate() time.Time { return referenceDate() }
