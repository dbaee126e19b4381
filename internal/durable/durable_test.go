package durable

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, content := range []string{"first", "second, longer content", ""} {
		if err := WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read %q, %v; want %q", b, err, content)
		}
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	// Windows has only the read-only attribute: Go shows 0600 as 0666.
	wantMode := os.FileMode(0o600)
	if runtime.GOOS == "windows" {
		wantMode = 0o666
	}
	if fi.Mode().Perm() != wantMode {
		t.Fatalf("mode %v, want %v", fi.Mode(), wantMode)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}

func TestWriteFileErrors(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
	// A directory in the way: the rename fails and no temporary file stays.
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "taken", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "taken"), []byte("x"), 0o600); err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
	// Windows cannot fsync a directory: SyncDir does nothing there.
	if err := SyncDir(filepath.Join(dir, "nope")); err == nil && runtime.GOOS != "windows" {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}

func TestWriteCheckedRefusal(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sudoers")
	if err := WriteFile(p, []byte("old"), 0o440); err != nil {
		t.Fatal(err)
	}
	refused := os.ErrInvalid
	var checked string
	err := WriteChecked(p, []byte("new"), 0o440, func(tmp string) error {
		b, _ := os.ReadFile(tmp)
		checked = string(b)
		return refused
	})
	if err != refused {
		t.Fatalf("err %v, want the check's error", err)
	}
	if checked != "new" {
		t.Fatalf("check saw %q, want the complete new content", checked)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("refused write replaced the file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}
