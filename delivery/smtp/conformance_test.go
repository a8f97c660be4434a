package smtp

import (
	"net/mail"
	"path/filepath"
	"testing"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
)

// TestConformance runs the shared checks of every destination against
// the Mailpit of .ci/servers/mailpit.sh: every file an attachment byte
// for byte, twice; a changed file never sent; Check; a delivery through
// the engine recorded as sent; a password the server refuses failing at
// once, and never shown.
func TestConformance(t *testing.T) {
	m := servers(t)
	spec := m.spec(t, "mail")
	refused := m.spec(t, "mail")
	t.Setenv("JOINERY_TEST_SMTP_WRONG", "not-"+m.password)
	refused.Email.Password = "${JOINERY_TEST_SMTP_WRONG}"
	from, err := mail.ParseAddress(spec.Email.From)
	if err != nil {
		t.Fatal(err)
	}
	deliverytest.Conformance(t, deliverytest.Case{
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
	})
}
