package sftp

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
)

// testCase is what the shared checks of deliverytest run against: the sshd of .ci/servers/sshd.sh: every file byte for byte, twice; a
// changed file never delivered; Check; a delivery through the engine
// recorded as sent; a key the server refuses failing at once.
func testCase(t *testing.T) deliverytest.Case {
	t.Helper()
	s := testServer(t)
	set := s.settings(t)
	wrong := set
	wrong.KeyFile = writeKey(t, "") // a key the server does not know
	return deliverytest.Case{
		Kind: Kind{},
		Spec: delivery.Spec{Name: "drop", SFTP: &set},
		ReadBack: func(t testing.TB, r *delivery.Report) map[string][]byte {
			tmpl, err := set.DirTemplate()
			if err != nil {
				t.Fatal(err)
			}
			dir, err := delivery.RenderDir(tmpl, r)
			if err != nil {
				t.Fatal(err)
			}
			got := make(map[string][]byte)
			for _, f := range r.Files {
				if b, err := os.ReadFile(filepath.Join(dir, filepath.Base(f.Rel))); err == nil {
					got[f.Rel] = b
				}
			}
			return got
		},
		Refused: &delivery.Spec{Name: "drop", SFTP: &wrong},
	}
}

// TestConformance runs the shared checks of every destination against
// the test server.
func TestConformance(t *testing.T) { deliverytest.Conformance(t, testCase(t)) }

// TestCrash kills a delivery to the test server between the upload and
// the ledger, then resumes it (see deliverytest.Crash).
func TestCrash(t *testing.T) { deliverytest.Crash(t, testCase(t)) }

func TestMain(m *testing.M) {
	deliverytest.CrashChild(Kind{})
	os.Exit(m.Run())
}
