package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
)

// profiles names the files of run's --cpuprofile, --memprofile and
// --trace; an empty name is not written.
type profiles struct{ cpu, mem, trace string }

// start starts the CPU profile and the execution trace and arranges the
// allocation profile. stop ends them and writes the allocation profile;
// docs/BENCHMARKS.md shows how they are used.
func (p profiles) start() (stop func() error, err error) {
	var cpu, tr *os.File
	closeAll := func() {
		if cpu != nil {
			pprof.StopCPUProfile()
			_ = cpu.Close()
		}
	}
	if p.cpu != "" {
		if cpu, err = os.Create(p.cpu); err != nil {
			return nil, usageErr("--cpuprofile: %v", err)
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			_ = cpu.Close()
			return nil, fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	if p.trace != "" {
		if tr, err = os.Create(p.trace); err != nil {
			closeAll()
			return nil, usageErr("--trace: %v", err)
		}
		if err := trace.Start(tr); err != nil {
			_ = tr.Close()
			closeAll()
			return nil, fmt.Errorf("--trace: %w", err)
		}
	}
	return func() error {
		var errs []error
		if cpu != nil {
			pprof.StopCPUProfile()
			errs = append(errs, cpu.Close())
		}
		if tr != nil {
			trace.Stop()
			errs = append(errs, tr.Close())
		}
		if p.mem != "" {
			errs = append(errs, writeHeapProfile(p.mem))
		}
		return errors.Join(errs...)
	}, nil
}

// writeHeapProfile writes the allocation profile (every allocation since
// the start, sampled; "go tool pprof -sample_index=alloc_space").
func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return fmt.Errorf("--memprofile: %w", err)
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		_ = f.Close()
		return fmt.Errorf("--memprofile: %w", err)
	}
	return f.Close()
}
