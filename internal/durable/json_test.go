package durable

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type testState struct {
	Version int      `json:"version"`
	Items   []string `json:"items"`
}

func TestJSONRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "state.json")
	missing := testState{Version: 7}
	if err := ReadJSON(p, 7, &missing); err != nil || missing.Version != 7 || missing.Items != nil {
		t.Fatalf("missing file: %+v, %v; want untouched and no error", missing, err)
	}
	if err := WriteJSON(p, testState{Version: 7, Items: []string{"a"}}, 0o600); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := "{\n  \"version\": 7,\n  \"items\": [\n    \"a\"\n  ]\n}\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
	var got testState
	if err := ReadJSON(p, 7, &got); err != nil || got.Version != 7 || len(got.Items) != 1 || got.Items[0] != "a" {
		t.Fatalf("read back %+v, %v", got, err)
	}
}

func TestReadJSONErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
	}{
		{"corrupt", "{not json", "parse "},
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
			var s testState
			err := ReadJSON(p, 1, &s)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err %v, want one naming %s and containing %q", err, p, tc.want)
			}
		})
	}
	if err := ReadJSON(dir, 1, &testState{}); err == nil || !strings.Contains(err.Error(), "read ") {
		t.Fatalf("reading a directory: %v", err)
	}
}
