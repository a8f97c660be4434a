package smtp

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/joinery/joinery/delivery"
	"github.com/joinery/joinery/output"
)

// TestMemoryFlat: a 100 MB attachment is streamed from its file into the
// SMTP session: the heap in use while it is sent stays within a few MB of
// where it started (go-mail's own message writer would hold the encoded
// part, about 135 MB, in a buffer). Skipped with -short.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 137 MB to Mailpit")
	}
	m := servers(t)
	const size = 100 << 20
	dir := t.TempDir()
	path := filepath.Join(dir, "big.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	chunk := randomBytes(1 << 20)
	for range size / len(chunk) {
		chunk[0]++
		f.Write(chunk)
		h.Write(chunk)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	chunk = nil
	sum := hex.EncodeToString(h.Sum(nil))
	r := newReport(t, nil)
	r.Files = []delivery.File{{File: output.File{Path: path, Format: "csv", Size: size, SHA256: sum}, Rel: "big.csv"}}
	spec := m.spec(t, "memory")
	spec.Email.MaxSize = "200MiB"
	d := newDest(t, spec)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, ms.HeapInuse
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	}()
	start := time.Now()
	rec, err := deliver(t, d, r)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100 MiB attachment sent in %v; heap in use %.1f MiB before, %.1f MiB at most while sending",
		time.Since(start).Round(time.Millisecond), float64(base)/(1<<20), float64(peak)/(1<<20))
	if grew := int64(peak) - int64(base); grew > 16<<20 {
		t.Errorf("the heap grew by %.1f MiB while sending: the attachment is not streamed", float64(grew)/(1<<20))
	}
	msg := received(t, m.api, rec.ID)
	if len(msg.Attachments) != 1 || msg.Attachments[0].Size != size || msg.Attachments[0].Checksums.SHA256 != sum {
		t.Fatalf("attachments %+v, want one of %d bytes with SHA-256 %s", msg.Attachments, size, sum)
	}
}
