package accounts

import (
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j := newJournal(dir)
	f, err := j.Load()
	if err != nil || len(f.Accounts) != 0 {
		t.Fatalf("load of missing journal = %v, %v; want empty, nil", f, err)
	}
	at := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	want := []*entry{
		{Username: "ph-abc", GrantID: "g1", Requester: "alice", State: stateCreated, CreatedAt: at, ExpiresAt: at.Add(time.Hour), UseBy: at.Add(time.Minute)},
		{Username: "ph-def", GrantID: "g2", State: stateRemoved, CreatedAt: at, ExpiresAt: at.Add(time.Hour), RemovedAt: at.Add(time.Hour), Reason: EventExpired},
	}
	if err := j.Save(&journalFile{Accounts: want}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	// Windows keeps no Unix mode: Go shows a file that is not read-only as
	// 0666, and the state directory's ACL is what protects the journal.
	wantMode := os.FileMode(0o600)
	if runtime.GOOS == "windows" {
		wantMode = 0o666
	}
	if fi.Mode().Perm() != wantMode {
		t.Fatalf("journal mode %v, want %v", fi.Mode().Perm(), wantMode)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("state dir holds %d files after save, want only the journal (no temp files)", len(ents))
	}
	f, err = j.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, f.Accounts); diff != "" {
		t.Fatalf("journal round trip (-want +got):\n%s", diff)
	}
}

func TestJournalRejectsBadFiles(t *testing.T) {
	tests := []struct {
		name, content string
	}{
		{"torn", `{"version":1,"accounts":[{"username":"ph-`},
		{"not json", "hello"},
		{"wrong version", `{"version":2,"accounts":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := newJournal(t.TempDir())
			if err := os.WriteFile(j.Path(), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := j.Load(); !errors.Is(err, ErrJournal) {
				t.Fatalf("load = %v, want ErrJournal", err)
			}
		})
	}
}

func TestEntryDeadline(t *testing.T) {
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		e    entry
		want time.Time
	}{
		{"no window", entry{ExpiresAt: at.Add(time.Hour)}, at.Add(time.Hour)},
		{"unused", entry{ExpiresAt: at.Add(time.Hour), UseBy: at.Add(time.Minute)}, at.Add(time.Minute)},
		{"used", entry{ExpiresAt: at.Add(time.Hour), UseBy: at.Add(time.Minute), UsedAt: at}, at.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.deadline(); !got.Equal(tt.want) {
				t.Fatalf("deadline = %v, want %v", got, tt.want)
			}
		})
	}
}
