package mysqlconn

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"
)

// LockHeldError is the error of a run skipped because another session
// holds its job's lock (see lockName). It wraps ErrAlreadyRunning and
// says what the server knows of the holder: whether it is running a
// query, and for how long, or idle. joinery never kills the holder: see
// lockHolder.
type LockHeldError struct {
	Lock string
	// ConnID is the holder's connection id (IS_USED_LOCK), 0 when the
	// lock was free again by the time it was asked.
	ConnID uint64
	// Found reports whether the holder is in information_schema.
	// PROCESSLIST as this account sees it: an account without the
	// PROCESS privilege sees only its own sessions.
	Found bool
	// The holder's PROCESSLIST row: Command is "Sleep" for a session
	// between statements; For is the time spent in its current command;
	// Query the start of the statement it runs.
	User, Host, Command, State, Query string
	For                               time.Duration
	// Lookup is the error that kept the holder from being looked up.
	Lookup error
}

func (e *LockHeldError) Error() string {
	return ErrAlreadyRunning.Error() + ": " + e.holder()
}

func (e *LockHeldError) Unwrap() error { return ErrAlreadyRunning }

// Idle reports whether the holder is a session between statements.
func (e *LockHeldError) Idle() bool { return e.Found && e.Command == "Sleep" }

// holder describes the session that holds the lock, for a person.
func (e *LockHeldError) holder() string {
	who := fmt.Sprintf("the lock %s is held by connection %d", e.Lock, e.ConnID)
	switch {
	case e.Lookup != nil:
		return fmt.Sprintf("the lock %s is held (its holder could not be looked up: %v)", e.Lock, e.Lookup)
	case e.ConnID == 0:
		return fmt.Sprintf("the lock %s was held, and was free again when its holder was looked up", e.Lock)
	case !e.Found:
		return who + ", which this account cannot see in the process list (it lacks the PROCESS privilege, or the session has just ended)"
	}
	who += fmt.Sprintf(" (%s@%s)", e.User, e.Host)
	switch e.Command {
	case "Sleep":
		return fmt.Sprintf("%s, idle (between statements) for %s: a run writing its files, or a session whose client is gone "+
			"without the server noticing; if no run of this job is alive, KILL %d on the server frees the lock", who, e.For, e.ConnID)
	case "Killed":
		return fmt.Sprintf("%s, being killed", who)
	}
	s := fmt.Sprintf("%s, running a query for %s", who, e.For)
	if e.State != "" {
		s += " (" + e.State + ")"
	}
	if e.Query != "" {
		s += ": " + e.Query
	}
	return s
}

// HolderValue is the holder's fields, for the skip's log record. (Not
// LogValue: the error itself is logged as its text.)
func (e *LockHeldError) HolderValue() slog.Value {
	attrs := []slog.Attr{slog.String("lock", e.Lock)}
	if e.ConnID != 0 {
		attrs = append(attrs, slog.Uint64("connection_id", e.ConnID))
	}
	if e.Found {
		state := "running"
		if e.Idle() {
			state = "idle"
		}
		attrs = append(attrs, slog.String("user", e.User), slog.String("host", e.Host), slog.String("command", e.Command),
			slog.String("state", state), slog.Duration("for", e.For))
		if e.Query != "" {
			attrs = append(attrs, slog.String("query", e.Query))
		}
	}
	return slog.GroupValue(attrs...)
}

// holderQueryChars is how much of the holder's statement a LockHeldError
// quotes: enough to recognise it, not a whole report's SQL.
const holderQueryChars = 120

// lockHolder looks up who holds lock, on conn (a session of this run that
// did not get it), for the run's skip message.
//
// joinery does not kill the holder, even one idle for long. The lock
// means "a run of this job is under way", and an idle holder may be
// exactly that: a run between its queries while it writes and commits
// its files, which can take minutes for a large workbook on a slow disk,
// or a run of another joinery (another host, another configuration)
// whose timings this one cannot know; or a person holding the lock on
// purpose to keep the job from running. Killing any of them would fail
// or corrupt the intent of a live run. An orphan that is truly gone
// (its host lost, so the server never saw the connection close) is ended
// by the server at its wait_timeout; the README says how to lower it for
// joinery's account. The message names the connection to KILL by hand.
func lockHolder(ctx context.Context, conn *sql.Conn, lock string) *LockHeldError {
	e := &LockHeldError{Lock: lock}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var id sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", lock).Scan(&id); err != nil {
		e.Lookup = err
		return e
	}
	if !id.Valid {
		return e
	}
	e.ConnID = uint64(id.Int64)
	var user, host, command, state, info sql.NullString
	var secs sql.NullInt64
	err := conn.QueryRowContext(ctx, "SELECT USER, HOST, COMMAND, TIME, STATE, INFO FROM information_schema.PROCESSLIST WHERE ID = ?", e.ConnID).
		Scan(&user, &host, &command, &secs, &state, &info)
	if err == sql.ErrNoRows {
		return e
	}
	if err != nil {
		e.Lookup = err
		return e
	}
	e.Found = true
	e.User, e.Host, e.Command, e.State = user.String, host.String, command.String, state.String
	e.For = time.Duration(secs.Int64) * time.Second
	e.Query = clip(strings.Join(strings.Fields(info.String), " "), holderQueryChars)
	return e
}

// clip cuts s to at most n characters, marking the cut with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
