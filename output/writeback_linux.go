package output

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing the file's dirty pages in
// [off, off+n) to disk without waiting for them (sync_file_range with
// SYNC_FILE_RANGE_WRITE, as PostgreSQL's backend_flush_after does), so
// the fsync before the rename finds little left to write. It is advice:
// errors are ignored, and finish's fsync still decides.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = unix.SyncFileRange(int(fd), off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}
