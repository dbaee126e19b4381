package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDatabaseFilesPrivate: the database and its -wal and -shm files are
// 0600, for a new database and for one an older broker left 0644.
func TestDatabaseFilesPrivate(t *testing.T) {
	for _, old := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "porthole.db")
		if old {
			for _, p := range []string{path, path + "-wal"} {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		st, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetSetting(context.Background(), "global", "k", "v"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			info, err := os.Stat(p)
			if err != nil {
				t.Fatalf("old=%v: %v", old, err)
			}
			if m := info.Mode().Perm(); m != 0o600 {
				t.Errorf("old=%v: %s is %v, want 0600", old, filepath.Base(p), m)
			}
		}
		st.Close()
	}
}
