package smtp

import (
	"net/mail"
	"os"
	"path/filepath"
	"testing"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
)

// testCase is what the shared checks of deliverytest run against: the Mailpit of .ci/servers/mailpit.sh: every file an attachment byte
// for byte, twice; a changed file never sent; Check; a delivery through
// the engine recorded as sent; a password the server refuses failing at
// once, and never shown.
func testCase(t *testing.T) deliverytest.Case {
	t.Helper()
	m := servers(t)
	spec := m.spec(t, "mail")
	refused := m.spec(t, "mail")
	t.Setenv("JOINERY_TEST_SMTP_WRONG", "not-"+m.password)
	refused.Email.Password = "${JOINERY_TEST_SMTP_WRONG}"
	from, err := mail.ParseAddress(spec.Email.From)
	if err != nil {
		t.Fatal(err)
	}
	return deliverytest.Case{
		Kind: Kind{},
		Spec: spec,
		// The attachments of the newest message of the run (Mailpit lists
		// the newest first), by file name.
		ReadBack: func(t testing.TB, r *delivery.Report) map[string][]byte {
			got := make(map[string][]byte)
			ids := find(t, m.api, messageID(r, spec.Name, from))
			if len(ids) == 0 {
				return got
			}
			var msg mpMessage
			apiGet(t, m.api, "/api/v1/message/"+ids[0], &msg)
			for _, f := range r.Files {
				for _, a := range msg.Attachments {
					if a.FileName == filepath.Base(f.Rel) {
						got[f.Rel] = part(t, m.api, ids[0], a.PartID)
					}
				}
			}
			return got
		},
		Secrets: []string{m.password, "not-" + m.password},
		Refused: &refused,
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
