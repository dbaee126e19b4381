package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker"
	"porthole/broker/audit"
	"porthole/broker/store"
)

// TestAuditExport10k: an export of 10,000 events streams through the broker
// and the CLI in flat memory and re-verifies offline.
func TestAuditExport10k(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := broker.New(ctx, broker.Config{Listen: "127.0.0.1:0", DataDir: dir, Out: &out})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	pw := regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(out.String())[1]

	// 10,000 events through a second handle on the same database, anchored
	// like the broker's own, so the chain stays one chain.
	st, err := store.Open(ctx, filepath.Join(dir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	log, err := broker.OpenAuditOffline(ctx, st, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 10000 {
		if _, err := log.Append(ctx, audit.Event{Actor: "system", Action: "test.bulk", Target: "t", Details: map[string]any{"i": i, "pad": strings.Repeat("x", 200)}}); err != nil {
			t.Fatal(err)
		}
	}
	log.Close()
	st.Close()
	t.Logf("10000 durable, signed appends in %v", time.Since(start))

	t.Setenv("PORTHOLE_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	if err := run(ctx, []string{"login", "--broker", srv.URL(), "--user", "admin", "--password-stdin"}, strings.NewReader(pw+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	// Sample the heap while the export runs (broker and CLI are both in
	// this process); a tight GC makes the peak track live memory.
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	var mu sync.Mutex
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
		}
	})
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	err = run(ctx, []string{"audit", "export", "--format", "jsonl", "-o", file}, nil, &out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(file)
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines++
	}
	f.Close()
	if lines < 10000 {
		t.Fatalf("export has %d lines, want ≥ 10000", lines)
	}
	growth := int64(peak) - int64(base.HeapAlloc)
	t.Logf("export %d records, %d bytes; heap peak %+d bytes over the start", lines, fi.Size(), growth)
	if growth > fi.Size()/2 {
		t.Fatalf("heap grew %d bytes for a %d-byte export: not streaming", growth, fi.Size())
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify", "--file", file}, nil, &out); err != nil {
		t.Fatalf("export does not re-verify: %v", err)
	}
	if err := run(ctx, []string{"audit", "verify"}, nil, &out); err != nil {
		t.Fatalf("broker log does not verify: %v", err)
	}
}
