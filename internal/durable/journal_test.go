package durable

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var errTest = errors.New("test journal")

type testState struct {
	Items []string `json:"items"`
	Count int      `json:"count,omitempty"`
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j := NewJournal[testState](filepath.Join(dir, "state.json"), 7, errTest)
	got, err := j.Load()
	if err != nil || got == nil || got.Items != nil {
		t.Fatalf("missing file: %+v, %v; want a zero state and no error", got, err)
	}
	if err := j.Save(&testState{Items: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(j.Path())
	if want := "{\n  \"version\": 7,\n  \"items\": [\n    \"a\"\n  ]\n}\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
	fi, err := os.Stat(j.Path())
	// Windows has only the read-only attribute: Go shows 0600 as 0666.
	wantMode := os.FileMode(0o600)
	if runtime.GOOS == "windows" {
		wantMode = 0o666
	}
	if err != nil || fi.Mode().Perm() != wantMode {
		t.Fatalf("journal mode %v, %v; want %v", fi.Mode().Perm(), err, wantMode)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("dir holds %d files after Save, want only the journal (no temp files)", len(ents))
	}
	got, err = j.Load()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&testState{Items: []string{"a"}}, got); d != "" {
		t.Fatalf("round trip (-want +got):\n%s", d)
	}
	// An empty state still carries its version.
	if err := j.Save(&testState{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(j.Path()); string(b) != "{\n  \"version\": 7,\n  \"items\": null\n}\n" {
		t.Fatalf("empty state written as %q", b)
	}
	type empty struct{}
	e := NewJournal[empty](filepath.Join(dir, "empty.json"), 3, errTest)
	if err := e.Save(&empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(); err != nil {
		t.Fatalf("an object without fields did not round-trip: %v", err)
	}
}

func TestJournalRefusesBadFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"torn", `{"version":1,"items":["a`, "parse "},
		{"not json", "hello", "parse "},
		{"wrong type", `{"version":"1"}`, "parse "},
		{"other version", `{"version":2,"items":[]}`, "has version 2, want 1"},
		{"no version", `{"items":[]}`, "has version 0, want 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := NewJournal[testState](p, 1, errTest).Load()
			if !errors.Is(err, errTest) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err %v, want errTest naming %s and containing %q", err, p, tc.want)
			}
		})
	}
	if _, err := NewJournal[testState](dir, 1, errTest).Load(); !errors.Is(err, errTest) || !strings.Contains(err.Error(), "read ") {
		t.Fatalf("reading a directory: %v", err)
	}
	if err := NewJournal[[]string](filepath.Join(dir, "list"), 1, errTest).Save(&[]string{"x"}); !errors.Is(err, errTest) {
		t.Fatalf("saving a non-object: %v", err)
	}
}
