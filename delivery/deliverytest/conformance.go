// Package deliverytest holds what the tests of destinations share: the
// conformance test every kind of destination passes against its real
// server (Conformance), and a fake kind for tests of what drives
// destinations (Fake).
package deliverytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/internal/testlog"
	"github.com/joinery/joinery/output"
)

// Case is a kind of destination, configured for a real server, as
// Conformance tests it.
type Case struct {
	// Kind is the kind under test.
	Kind delivery.Kind
	// Spec is a deliver entry of Kind for the server, as config.yaml
	// would give it: Conformance validates it (Spec.Validate) first. Its
	// credentials are ${VAR} references, set in the environment by the
	// test.
	Spec delivery.Spec
	// ReadBack returns what the server holds of the files of r, the
	// report just delivered, by File.Rel: the object under its key, the
	// remote file, the attachment of the newest message for r.RunID. A
	// file the server lacks is left out.
	ReadBack func(t testing.TB, r *delivery.Report) map[string][]byte
	// Secrets are the credentials the test put in the environment for
	// Spec (a password, a secret key): none may appear in an error, a
	// log record or the ledger. Spec.Secrets() is added to them.
	Secrets []string
	// Refused, when set, is Spec with credentials the server refuses:
	// Deliver must fail with a Permanent error (not retried forever) and
	// Check must fail, neither showing a secret.
	Refused *delivery.Spec
	// Outputs are the outputs of the sample report's files (default
	// "csv" and "xlsx"), for a Spec that names some.
	Outputs []string
}

// Conformance checks that c.Kind, against its server, delivers every
// file of a report byte for byte; that delivering the same report again
// is safe (it succeeds, and the server then holds the same files); that
// a file that changed after its run is never delivered (an error
// wrapping delivery.ErrChanged: read files through File.Open); that
// Check reaches the server without delivering anything; that a delivery
// through the Engine records it as sent; and that no secret appears in
// any error, log record or ledger. With c.Refused, that refused
// credentials fail at once (delivery.Permanent) and Check says so.
//
// Each call delivers reports with a run id of its own, so that it can run
// against a server other tests use.
func Conformance(t *testing.T, c Case) {
	t.Helper()
	spec := c.Spec
	if errs := spec.Validate(outputsOr(c.Outputs)); len(errs) > 0 {
		t.Fatalf("the spec is not valid: %v", errors.Join(errs...))
	}
	secrets := append(append([]string(nil), c.Secrets...), spec.Secrets()...)
	var logs testlog.Buffer
	env := delivery.Env{Log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	noSecret := func(t *testing.T, what, text string) {
		t.Helper()
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Errorf("the %s shows a secret:\n%s", what, text)
			}
		}
	}
	defer func() { noSecret(t, "log", logs.String()) }()
	dest, err := c.Kind.New(spec, env)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx := t.Context()

	t.Run("check", func(t *testing.T) {
		if err := dest.Check(ctx); err != nil {
			noSecret(t, "error", err.Error())
			t.Fatalf("Check: %v", err)
		}
	})

	t.Run("delivers every file byte for byte, twice", func(t *testing.T) {
		_, r := SampleFiles(t, c.Outputs)
		for round := 1; round <= 2; round++ {
			rc, err := dest.Deliver(ctx, r)
			if err != nil {
				noSecret(t, "error", err.Error())
				t.Fatalf("Deliver (round %d): %v", round, err)
			}
			if rc.ID == "" {
				t.Errorf("round %d: the receipt has no ID", round)
			}
			noSecret(t, "receipt", fmt.Sprint(rc))
			checkReadBack(t, c, r)
		}
	})

	t.Run("a changed file is never delivered", func(t *testing.T) {
		_, r := SampleFiles(t, c.Outputs)
		f := r.Files[len(r.Files)-1]
		if err := os.WriteFile(f.Path, bytes.Repeat([]byte("x"), int(f.Size)), 0o666); err != nil {
			t.Fatal(err)
		}
		_, err := dest.Deliver(ctx, r)
		if !errors.Is(err, delivery.ErrChanged) {
			t.Errorf("Deliver of a report whose file changed: %v, want an error wrapping delivery.ErrChanged (read files with File.Open)", err)
		}
		if got, ok := c.ReadBack(t, r)[f.Rel]; ok && bytes.Equal(got, bytes.Repeat([]byte("x"), int(f.Size))) {
			t.Errorf("%s: the changed content reached the server", f.Rel)
		}
	})

	t.Run("through the engine", func(t *testing.T) {
		dir, r := SampleFiles(t, c.Outputs)
		e := &delivery.Engine{Kinds: delivery.NewRegistry(c.Kind), Log: env.Log}
		out, err := e.Deliver(ctx, delivery.Delivery{Dir: dir, Specs: []delivery.Spec{spec}, Report: r})
		if err != nil {
			noSecret(t, "error", err.Error())
			t.Fatalf("Engine.Deliver: %v", err)
		}
		if len(out) != 1 || out[0].State != delivery.Sent {
			t.Fatalf("outcomes %+v", out)
		}
		data, err := os.ReadFile(filepath.Join(dir.Path(), output.StateDir, "deliveries", r.Job, r.RunID+".json"))
		if err != nil {
			t.Fatal(err)
		}
		noSecret(t, "ledger", string(data))
		carried := *r
		carried.Files = nil
		for _, f := range r.Files {
			if len(spec.Outputs) == 0 || slices.Contains(spec.Outputs, f.Output) {
				carried.Files = append(carried.Files, f)
			}
		}
		checkReadBack(t, c, &carried)
	})

	if c.Refused != nil {
		t.Run("refused credentials", func(t *testing.T) {
			refused := *c.Refused
			if errs := refused.Validate(outputsOr(c.Outputs)); len(errs) > 0 {
				t.Fatalf("the refused spec is not valid: %v", errors.Join(errs...))
			}
			d, err := c.Kind.New(refused, env)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := d.Check(cctx); err == nil {
				t.Error("Check with refused credentials succeeded")
			} else {
				noSecret(t, "error", err.Error())
			}
			_, r := SampleFiles(t, c.Outputs)
			_, err = d.Deliver(cctx, r)
			if err == nil || !delivery.IsPermanent(err) {
				t.Errorf("Deliver with refused credentials: %v, want a Permanent error", err)
			}
			if err != nil {
				noSecret(t, "error", err.Error())
			}
		})
	}
}

// checkReadBack compares what the server holds of r with r's files.
func checkReadBack(t *testing.T, c Case, r *delivery.Report) {
	t.Helper()
	got := c.ReadBack(t, r)
	for _, f := range r.Files {
		want, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		switch b, ok := got[f.Rel]; {
		case !ok:
			t.Errorf("%s: not on the server", f.Rel)
		case !bytes.Equal(b, want):
			t.Errorf("%s: %d bytes on the server differ from the %d written", f.Rel, len(b), len(want))
		}
	}
}

func outputsOr(outputs []string) []string {
	if len(outputs) == 0 {
		return []string{"csv", "xlsx"}
	}
	return outputs
}

// SampleFiles writes the files of a sample report in a fresh output_dir
// and returns the folder and the report (delivery.SampleReport, with a
// run id of its own): a small CSV of the first output, and 300 KB of
// random bytes (a workbook's size, and incompressible) for each other.
func SampleFiles(t testing.TB, outputs []string) (*output.Dir, *delivery.Report) {
	t.Helper()
	root := t.TempDir()
	dir, err := output.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dir.Close() })
	r := delivery.SampleReport()
	r.RunID = time.Now().UTC().Format("20060102T150405Z") + "-" + rand.Text()[:8]
	r.Dir = root
	r.Files = nil
	for i, o := range outputsOr(outputs) {
		var body []byte
		rel := fmt.Sprintf("sample/%s-%s.csv", o, r.RunID)
		if i == 0 {
			body = []byte("id,title\r\n1,\"Grüße, \"\"quoted\"\"\"\r\n2,plain\r\n")
		} else {
			body = make([]byte, 300<<10)
			_, _ = rand.Read(body)
			rel = fmt.Sprintf("sample/%s-%s.xlsx", o, r.RunID)
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o666); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(body)
		format := strings.TrimPrefix(filepath.Ext(rel), ".")
		r.Files = append(r.Files, delivery.File{
			File: output.File{Path: p, Format: format, Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:]), Rows: 2, Output: o},
			Rel:  rel, Output: o,
		})
	}
	// The manifest, as the run's commit writes it beside the files: object
	// stores and SFTP carry it last, as the run's commit marker.
	r.Manifest = filepath.Join(root, "sample", "sample-"+r.RunID+output.ManifestSuffix)
	m := output.Manifest{Job: r.Job, RunID: r.RunID, Logical: r.Logical}
	for _, f := range r.Files {
		m.Files = append(m.Files, output.ManifestFile{Path: f.Rel, Format: f.Format, Size: f.Size, SHA256: f.SHA256})
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.Manifest, append(data, '\n'), 0o666); err != nil {
		t.Fatal(err)
	}
	return dir, r
}
