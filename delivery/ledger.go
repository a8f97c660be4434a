package delivery

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/joinery/joinery/output"
)

// State is where the delivery of a run to one destination stands.
type State string

// The states of a ledger entry.
const (
	// Pending: an attempt is being made or is to be made (recorded before
	// each attempt): after a crash, the delivery resumes.
	Pending State = "pending"
	// Sent: the destination took the reports; never sent again unless
	// asked by name (joinery deliver --to).
	Sent State = "sent"
	// Failed: the retries ran out or the error was permanent; joinery
	// deliver tries again.
	Failed State = "failed"
)

// Ledger records the delivery of one committed run: one file per run in
// output_dir/.joinery/deliveries/<job>/<run id>.json, replaced atomically
// (a synced temporary file renamed over it) at each change of state.
type Ledger struct {
	Job     string    `json:"job"`
	RunID   string    `json:"run_id"`
	Created time.Time `json:"created"`
	// Report is the run as its destinations saw it: what a resumed
	// delivery sends (each file checked again first).
	Report       *Report       `json:"report"`
	Destinations []LedgerEntry `json:"destinations"`
}

// LedgerEntry is the delivery of a run to one destination.
type LedgerEntry struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Event Event  `json:"event"`
	State State  `json:"state"`
	// Attempts counts every attempt, across resumes and joinery deliver.
	Attempts int `json:"attempts"`
	// LastError is the last attempt's error, secrets redacted.
	LastError string    `json:"last_error,omitempty"`
	Receipt   *Receipt  `json:"receipt,omitempty"`
	Started   time.Time `json:"started"`          // the first attempt
	Updated   time.Time `json:"updated"`          // the last change
	SentAt    time.Time `json:"sent_at,omitzero"` // when it was sent
}

// entry returns the entry of the destination name, or nil.
func (l *Ledger) entry(name string) *LedgerEntry {
	for i := range l.Destinations {
		if l.Destinations[i].Name == name {
			return &l.Destinations[i]
		}
	}
	return nil
}

// Pending returns the names of the destinations still pending.
func (l *Ledger) Pending() []string {
	var out []string
	for _, e := range l.Destinations {
		if e.State == Pending {
			out = append(out, e.Name)
		}
	}
	return out
}

// ledgerDir is the folder of job's ledgers, relative to the state folder.
func ledgerDir(job string) string { return path.Join("deliveries", job) }

// ledgerName is the ledger of a run, relative to the state folder.
func ledgerName(job, runID string) string { return path.Join(ledgerDir(job), runID+".json") }

// ReadLedger reads the ledger of job's run runID; an error wrapping
// fs.ErrNotExist when the run has none.
func ReadLedger(dir *output.Dir, job, runID string) (*Ledger, error) {
	if !validID(runID) {
		return nil, fmt.Errorf("run id %q: %w", runID, fs.ErrNotExist)
	}
	data, err := dir.ReadState(ledgerName(job, runID))
	if err != nil {
		return nil, err
	}
	var l Ledger
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("read %s: %w", dir.Abs(path.Join(output.StateDir, ledgerName(job, runID))), err)
	}
	if l.Report != nil {
		l.Report.InZone()
	}
	return &l, nil
}

// writeLedger replaces the ledger of l's run.
func writeLedger(dir *output.Dir, l *Ledger) error {
	c := *l
	if c.Report != nil {
		c.Report = c.Report.exact()
	}
	data, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		return err
	}
	return dir.WriteState(ledgerName(l.Job, l.RunID), append(data, '\n'))
}

// Ledgers returns the run ids of job's ledgers, newest first (run ids
// start with the run's start time in UTC).
func Ledgers(dir *output.Dir, job string) ([]string, error) {
	entries, err := fs.ReadDir(dir.Root().FS(), path.Join(output.StateDir, ledgerDir(job)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read ledgers of %s: %w", job, err)
	}
	var ids []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".json"); ok && e.Type().IsRegular() && validID(id) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}

// validID reports whether id can be a run id: it names a file.
func validID(id string) bool {
	return id != "" && !strings.HasPrefix(id, ".") && !strings.ContainsAny(id, `/\`) && len(id) <= 128
}

// lockName is the lock of a run's delivery, relative to the state folder.
func lockName(job, runID string) string { return path.Join(ledgerDir(job), runID+".lock") }
