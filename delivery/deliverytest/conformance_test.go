package deliverytest_test

import (
	"testing"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/delivery/deliverytest"
)

// TestConformanceOfFake runs the conformance test on the fake kind: the
// test itself works, as the destinations' end-to-end tests call it.
func TestConformanceOfFake(t *testing.T) {
	t.Setenv("JOINERY_TEST_FAKE_URL", "http://127.0.0.1:1/hooks/sekrit-token")
	fake := &deliverytest.Fake{KindName: "webhook"}
	deliverytest.Conformance(t, deliverytest.Case{
		Kind:     fake,
		Spec:     delivery.Spec{Name: "fake", Webhook: &delivery.Webhook{URL: "${JOINERY_TEST_FAKE_URL}"}},
		ReadBack: fake.Files,
		Secrets:  []string{"sekrit-token"},
	})
	if fake.Attempts() < 4 {
		t.Errorf("%d attempts: the conformance test delivered less than it says", fake.Attempts())
	}
}
