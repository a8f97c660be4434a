//go:build unix

package output

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f, a file just created, without
// waiting. The lock ends with the process, however it ends, so a file that
// can be locked again has no live writer. It fails with errLocked when a
// cleanup took the lock first, to remove the file as an orphan.
func lockFile(f *os.File) error {
	ok, err := tryLock(f)
	switch {
	case errors.Is(err, errNoLocks):
		return nil // nothing to be had: removeOrphans goes by age there
	case err == nil && !ok:
		return errLocked
	}
	return err
}

// tryLock takes an exclusive flock on f without waiting; it reports false
// when another open file description holds one, and errNoLocks when the
// file system has no flock (some network file systems).
func tryLock(f *os.File) (bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return false, err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX|syscall.LOCK_NB)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return false, err
	}
	switch {
	case ferr == nil:
		return true, nil
	case errors.Is(ferr, syscall.EWOULDBLOCK):
		return false, nil
	case errors.Is(ferr, syscall.ENOLCK), errors.Is(ferr, syscall.ENOTSUP), errors.Is(ferr, syscall.EINVAL):
		return false, errNoLocks
	}
	return false, ferr
}

// lockSupported says whether tryLock tells live files from orphans.
const lockSupported = true

// lockWait takes an exclusive flock on f, waiting for its holder.
func lockWait(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), syscall.LOCK_EX)
			if ferr != syscall.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if errors.Is(ferr, syscall.ENOLCK) || errors.Is(ferr, syscall.ENOTSUP) || errors.Is(ferr, syscall.EINVAL) {
		return nil
	}
	return ferr
}
