//go:build !unix

package output

import "os"

// lockFile does nothing where there is no flock.
func lockFile(*os.File) error { return nil }

// tryLock cannot tell a live file from an orphan here: removeOrphans goes
// by age instead.
func tryLock(*os.File) (bool, error) { return false, errNoLocks }

// lockSupported says whether tryLock tells live files from orphans.
const lockSupported = false

// lockWait does nothing where there is no flock.
func lockWait(*os.File) error { return nil }
