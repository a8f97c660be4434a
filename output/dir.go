package output

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// Dir is output_dir as one run sees it. Every file joinery reads, writes,
// renames or deletes there goes through an os.Root, so that no path, and no
// symbolic link met on the way, leads out of output_dir: os.Root checks
// each component (openat2 with RESOLVE_BENEATH on Linux, a portable walk
// elsewhere) and fails instead of following a link that escapes. Links
// inside output_dir are followed, but only relative ones. A link under a
// name joinery writes (a "latest" link, or one planted where a report
// goes) is replaced by the rename, never written through.
//
// A Dir is safe for concurrent use.
type Dir struct {
	root *os.Root
	path string

	// Hook, when set, is called before each step that writes, renames or
	// deletes a file in the commit protocol (see commit.go), with the
	// step's name and the path it concerns, relative to the Dir. An error
	// fails the step as the file system would have. Tests use it to inject
	// a full disk, or a SIGKILL between two renames; it is nil otherwise.
	Hook func(step, path string) error
}

// OpenDir opens output_dir, creating it (and its parents) when missing.
func OpenDir(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o777); err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, fmt.Errorf("output folder: %w", err)
	}
	return &Dir{root: root, path: path}, nil
}

// Close releases the Dir's handle on the folder.
func (d *Dir) Close() error { return d.root.Close() }

// Path returns the folder's path as given to OpenDir.
func (d *Dir) Path() string { return d.path }

// Root returns the os.Root of the folder, for callers that keep state of
// their own there (the delivery ledger in .joinery/deliveries).
func (d *Dir) Root() *os.Root { return d.root }

// Abs returns the path of rel (relative to the Dir) as the user knows it,
// for messages and results.
func (d *Dir) Abs(rel string) string { return filepath.Join(d.path, rel) }

func (d *Dir) hook(step, path string) error {
	if d.Hook == nil {
		return nil
	}
	return d.Hook(step, path)
}

// StateDir is the folder inside output_dir where joinery keeps what it
// knows between runs: the last success of each job, commit journals and
// the locks of commits.
const StateDir = ".joinery"

// tempPattern matches the name of every temporary file joinery creates:
// ".<destination's name>.tmp-<random hex>". Earlier versions made the
// random part decimal, which [0-9a-f] covers too.
var tempPattern = regexp.MustCompile(`^\.(.+)\.tmp-[0-9a-f]+$`)

// tempName returns a fresh temporary name for dest, in dest's folder.
func tempName(dest string) string {
	return filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-"+randomSuffix())
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// mkdirAll creates dir (relative to d) and its parents. Folders get
// 0777 less the umask, as mkdir(1) gives them. The folder holding each
// one it creates is synced, so that a new folder, and the files a commit
// journal expects in it, survive a power loss.
func (d *Dir) mkdirAll(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if fi, err := d.root.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	var missing []string
	for p := dir; p != "." && p != ""; p = filepath.Dir(p) {
		if _, err := d.root.Lstat(p); err == nil {
			break
		}
		missing = append(missing, p)
	}
	if err := d.root.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("create folder %s: %w", d.Abs(dir), unwrapPath(err))
	}
	for _, p := range missing {
		if err := d.syncDir(filepath.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// tempFile is a file being written beside its destination, under a
// temporary name. Writes go through it so that it knows the content's
// size and SHA-256. Its descriptor stays open, holding an exclusive lock,
// until it is renamed into place or removed: a cleanup in another process
// (removeOrphans) leaves a locked file alone.
type tempFile struct {
	d       *Dir
	f       *os.File // nil once closed
	tmp     string   // relative to d
	dest    string   // relative to d
	renamed bool
	synced  bool
	size    int64
	flushed int64 // bytes handed to startWriteback
	hash    hash.Hash
}

// createTemp creates dest's folder if needed and a temporary file for it
// there, so that the final rename stays within one file system. The file
// is created 0666 less the umask, like any file a Unix tool writes, or
// with mode when it is not zero (an output's file_mode).
func (d *Dir) createTemp(dest string, mode fs.FileMode) (*tempFile, error) {
	if err := d.mkdirAll(filepath.Dir(dest)); err != nil {
		return nil, err
	}
	// With a mode of its own the file starts private, and gets its mode
	// once it is ours: nobody else can open it in between.
	perm := fs.FileMode(0o666)
	if mode != 0 {
		perm = 0o600
	}
	var (
		f   *os.File
		tmp string
		err error
	)
	for range 10 {
		tmp = tempName(dest)
		if err = d.hook("create", tmp); err != nil {
			break
		}
		f, err = d.root.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if errors.Is(err, fs.ErrNotExist) {
			// Another job's retention removed the folder, empty, between
			// our mkdir and this create.
			if err = d.mkdirAll(filepath.Dir(dest)); err != nil {
				break
			}
			continue
		}
		if err != nil {
			break
		}
		// Between the create and the lock, a cleanup in another process
		// may have taken the file for an orphan: then it is locked by that
		// process, or its name is gone. Either way, start again.
		if err = d.hook("lock", tmp); err == nil {
			err = lockFile(f)
		}
		if err == nil && !d.names(tmp, f) {
			err = errLocked
		}
		if errors.Is(err, errLocked) {
			_ = f.Close()
			continue
		}
		if err != nil {
			_ = f.Close()
			_ = d.root.Remove(tmp)
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("create temporary file in %s: %w", d.Abs(filepath.Dir(dest)), unwrapPath(err))
	}
	fail := func(err error) (*tempFile, error) {
		_ = f.Close()
		_ = d.root.Remove(tmp)
		return nil, fmt.Errorf("create temporary file %s: %w", d.Abs(tmp), err)
	}
	if mode != 0 {
		// fchmod is not subject to the umask: the mode is exactly the one
		// configured.
		if err := f.Chmod(mode); err != nil {
			return fail(err)
		}
	}
	return &tempFile{d: d, f: f, tmp: tmp, dest: dest, hash: sha256.New()}, nil
}

// errLocked is lockFile's error for a file another process holds.
var errLocked = errors.New("locked by another process")

// errNoLocks is tryLock's error where the file system has no flock.
var errNoLocks = errors.New("the file system does not lock files")

// names reports whether name (relative to d) still names the open file f.
func (d *Dir) names(name string, f *os.File) bool {
	a, err := d.root.Lstat(name)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	return err == nil && os.SameFile(a, b)
}

// writebackEvery is how many written bytes make tempFile start their
// writeback to disk: without it, the fsync before the rename found most of
// a large file still to write, at the end of the run, after the last row
// (see BENCHMARKS.md, Numbers moved from code comments, output/dir.go).
const writebackEvery = 8 << 20

func (t *tempFile) Write(p []byte) (int, error) {
	if t.f == nil {
		return 0, os.ErrClosed
	}
	if err := t.d.hook("write", t.tmp); err != nil {
		return 0, err
	}
	n, err := t.f.Write(p)
	t.hash.Write(p[:n])
	t.size += int64(n)
	if t.size-t.flushed >= writebackEvery {
		startWriteback(t.f, t.flushed, t.size-t.flushed)
		t.flushed = t.size
	}
	return n, err
}

// sum returns the hex SHA-256 of what was written.
func (t *tempFile) sum() string { return hex.EncodeToString(t.hash.Sum(nil)) }

// finish syncs the file to disk; it stays open (and locked) until close.
// It is idempotent.
func (t *tempFile) finish() error {
	if t.synced {
		return nil
	}
	if t.f == nil {
		return os.ErrClosed
	}
	if err := t.d.hook("sync", t.tmp); err != nil {
		return fmt.Errorf("sync %s: %w", t.d.Abs(t.tmp), err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", t.d.Abs(t.tmp), err)
	}
	t.synced = true
	return nil
}

// close closes the descriptor, which releases the lock.
func (t *tempFile) close() error {
	if t.f == nil {
		return nil
	}
	f := t.f
	t.f = nil
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", t.d.Abs(t.tmp), err)
	}
	return nil
}

// remove closes and deletes the temporary file unless it was renamed.
func (t *tempFile) remove() error {
	_ = t.close()
	if t.renamed {
		return nil
	}
	if err := t.d.root.Remove(t.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove temporary file: %w", err)
	}
	return nil
}

// scratch creates a temporary file for work in progress beside dest (the
// compressed rows of a workbook's sheets). Where the system allows it, its
// name is removed at once, so that even a killed run leaves nothing behind;
// release closes it (and removes the name elsewhere).
func (d *Dir) scratch(dest string) (f *os.File, release func() error, err error) {
	t, err := d.createTemp(dest, 0o600)
	if err != nil {
		return nil, nil, err
	}
	f, t.f = t.f, nil
	if runtime.GOOS != "windows" {
		if err := d.root.Remove(t.tmp); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("remove temporary file: %w", err)
		}
		return f, f.Close, nil
	}
	return f, func() error {
		return errors.Join(f.Close(), d.root.Remove(t.tmp))
	}, nil
}

// syncDir makes the renames and removals in dir (relative to d) durable.
func (d *Dir) syncDir(dir string) error {
	if err := d.hook("syncdir", dir); err != nil {
		return fmt.Errorf("sync folder %s: %w", d.Abs(dir), err)
	}
	f, err := d.root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", d.Abs(dir), err)
	}
	return nil
}

// rename moves from to to, both relative to d, replacing what to named
// (a file, or a symbolic link: the link itself is replaced, not followed).
func (d *Dir) rename(from, to string) error {
	if err := d.hook("rename", to); err != nil {
		return fmt.Errorf("rename %s into place: %w", d.Abs(to), err)
	}
	if err := d.root.Rename(from, to); err != nil {
		return fmt.Errorf("rename %s into place: %w", d.Abs(to), unwrapPath(err))
	}
	return nil
}

// remove deletes name (relative to d); a name that is gone already is not
// an error.
func (d *Dir) remove(name string) error {
	if err := d.hook("remove", name); err != nil {
		return fmt.Errorf("remove %s: %w", d.Abs(name), err)
	}
	if err := d.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", d.Abs(name), unwrapPath(err))
	}
	return nil
}

// writeFileAtomic writes data to name (relative to d) through a synced
// temporary file and a rename, then syncs the folder.
func (d *Dir) writeFileAtomic(name string, data []byte) error {
	tf, err := d.createTemp(name, 0)
	if err != nil {
		return err
	}
	if _, err := tf.Write(data); err != nil {
		_ = tf.remove()
		return fmt.Errorf("write %s: %w", d.Abs(tf.tmp), err)
	}
	if err := tf.finish(); err != nil {
		_ = tf.remove()
		return err
	}
	if err := d.rename(tf.tmp, name); err != nil {
		_ = tf.remove()
		return err
	}
	tf.renamed = true
	_ = tf.close()
	return d.syncDir(filepath.Dir(name))
}

// unwrapPath drops the *PathError around an os.Root error: its operation
// and path repeat what the message that wraps it says, and os.Root names
// the path relative to the root.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// FileMode is a file's permission bits, written in config.yaml in octal
// ("0640", 0640 or "0o640").
type FileMode fs.FileMode

// UnmarshalText parses an octal mode.
func (m *FileMode) UnmarshalText(text []byte) error {
	s := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(string(text)), "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o777 {
		return fmt.Errorf("file mode %q: want octal permission bits such as 0640", text)
	}
	if v&0o600 != 0o600 {
		return fmt.Errorf("file mode %q: the owner needs read and write (0600), so that joinery can check and replace its reports", text)
	}
	*m = FileMode(v)
	return nil
}

// String returns the mode in octal, such as "0640".
func (m FileMode) String() string { return fmt.Sprintf("%#04o", uint32(m)) }

// ReadState returns the content of name in the state folder (StateDir).
func (d *Dir) ReadState(name string) ([]byte, error) {
	data, err := d.root.ReadFile(filepath.Join(StateDir, name))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.Abs(filepath.Join(StateDir, name)), unwrapPath(err))
	}
	return data, nil
}

// WriteState replaces name in the state folder (StateDir) with data,
// atomically and durably.
func (d *Dir) WriteState(name string, data []byte) error {
	return d.writeFileAtomic(filepath.Join(StateDir, name), data)
}
