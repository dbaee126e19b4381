package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"porthole/broker"
)

// TestAuditVerifyAndExport: an intact log verifies; its exports parse and
// the JSON Lines export re-verifies offline; editing a row behind the
// broker's back makes "audit verify" fail naming that record.
func TestAuditVerifyAndExport(t *testing.T) {
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
	t.Setenv("PORTHOLE_CONFIG", filepath.Join(t.TempDir(), "cli.json"))
	if err := run(ctx, []string{"login", "--broker", srv.URL(), "--user", "admin", "--password-stdin"}, strings.NewReader(pw+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	for range 5 { // a few more records
		if err := run(ctx, []string{"token", "create"}, nil, &out); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify"}, nil, &out); err != nil || !strings.Contains(out.String(), "audit log intact") {
		t.Fatalf("intact log: %v %s", err, out.String())
	}

	jsonl := filepath.Join(t.TempDir(), "a.jsonl")
	if err := run(ctx, []string{"audit", "export", "--format", "jsonl", "-o", jsonl}, nil, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(ctx, []string{"audit", "verify", "--file", jsonl}, nil, &out); err != nil || !strings.Contains(out.String(), "signed by key") {
		t.Fatalf("export does not verify: %v %s", err, out.String())
	}
	// A truncated export and an unsigned one are refused, each said so.
	exported, _ := os.ReadFile(jsonl)
	all := strings.SplitAfter(strings.TrimSuffix(string(exported), "\n"), "\n")
	for name, c := range map[string]struct {
		lines []string
		say   string
	}{
		"cut before its trailer": {all[:len(all)-1], "export is truncated"},
		"cut mid-way":            {all[:3], "export is truncated"},
		"unsigned":               {all[1 : len(all)-1], "export is unsigned"},
	} {
		f := filepath.Join(t.TempDir(), "x.jsonl")
		if err := os.WriteFile(f, []byte(strings.Join(c.lines, "")), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := run(ctx, []string{"audit", "verify", "--file", f}, nil, &out); err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: %v, want %q", name, err, c.say)
		}
	}
	if err := run(ctx, []string{"audit", "verify", "--file", jsonl, "--public-key", "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="}, nil, &out); err == nil ||
		!strings.Contains(err.Error(), "signed by another key") {
		t.Errorf("checked against another key: %v", err)
	}
	var csvOut bytes.Buffer
	if err := run(ctx, []string{"audit", "export", "--format", "csv", "--action", "enroll_token.created"}, nil, &csvOut); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&csvOut).ReadAll()
	if err != nil {
		t.Fatalf("csv export does not parse: %v", err)
	}
	if len(rows) < 2 || rows[0][0] != "seq" || len(rows[0]) != 9 {
		t.Fatalf("csv rows: %q", rows)
	}

	// Tamper with record 3, as someone holding the database file would.
	db, err := sql.Open("sqlite", filepath.Join(dir, "porthole.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET actor = 'user:mallory' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	err = run(ctx, []string{"audit", "verify"}, nil, &out)
	if err == nil || !strings.Contains(err.Error(), "first bad record 3") {
		t.Fatalf("tampered log: %v", err)
	}
	// The offline check of a tampered export names the record too.
	b, _ := os.ReadFile(jsonl)
	lines := strings.SplitAfter(string(b), "\n")
	lines[2], lines[3] = lines[3], lines[2] // reorder records 2 and 3 (line 0 is the signed header)
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := run(ctx, []string{"audit", "verify", "--file", bad}, nil, &out); err == nil || !strings.Contains(err.Error(), "chain broken at record 2") {
		t.Fatalf("reordered export: %v", err)
	}
}
