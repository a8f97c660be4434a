package mysqlconn

import (
	"strings"
	"testing"
)

func TestLockName(t *testing.T) {
	if got := lockName("app", "nightly"); got != "joinery/app/nightly" {
		t.Errorf("lockName = %q", got)
	}
	long := lockName(strings.Repeat("d", 64), strings.Repeat("j", 64))
	if len(long) > 64 || !strings.HasPrefix(long, "joinery/") || long == lockName(strings.Repeat("d", 64), strings.Repeat("j", 63)) {
		t.Errorf("lockName of long names = %q (%d characters)", long, len(long))
	}
}
