package archive

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/recording"
	"porthole/broker/settings"
	"porthole/broker/store"
	"porthole/internal/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type rig struct {
	st   *store.Store
	log  *audit.Log
	recs *recording.Store
	set  *settings.Settings
	a    *Archive
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	recs, err := recording.OpenStore(filepath.Join(t.TempDir(), "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { recs.Close() })
	r := &rig{st: st, log: audit.New(st, clock.Real{}), recs: recs, set: settings.New(st)}
	r.a = New(Config{Files: recs, Rows: st, Audit: r.log, Settings: r.set})
	return r
}

// finished records a session the way the session manager does: a recording
// closed normally, its row and its recording.finished audit entry.
func (r *rig) finished(t *testing.T, id string) recording.Result {
	t.Helper()
	ctx := context.Background()
	rec, err := r.recs.New(id, recording.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Event(recording.EventInput, time.Now(), map[string]any{"t": "down", "b": 0}); err != nil {
		t.Fatal(err)
	}
	res, err := rec.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.log.Append(ctx, audit.Event{Actor: "user:ann", Action: ActionFinished, Target: id,
		Details: map[string]any{"files": res.All()}}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.SaveRecording(ctx, store.Recording{ID: id, DeviceID: "d1", Hostname: "h", Requester: "ann",
		State: store.RecordingFinished, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return res
}

func actions(t *testing.T, st *store.Store, target string) []string {
	t.Helper()
	recs, err := st.AuditRecords(context.Background(), store.AuditFilter{Target: target, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Action)
	}
	return out
}

func TestVerify(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	res := r.finished(t, "rec1")
	if err := r.a.Verify(ctx, "rec1"); err != nil {
		t.Fatalf("Verify of an untouched recording: %v", err)
	}
	if err := os.WriteFile(res.Sidecar.Path, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Verify(ctx, "rec1"); !errors.Is(err, recording.ErrMismatch) {
		t.Fatalf("Verify of a rewritten sidecar = %v, want ErrMismatch", err)
	}
	checks, err := r.a.VerifyAll(ctx)
	if err != nil || len(checks) != 1 || checks[0].OK {
		t.Fatalf("VerifyAll = %+v, %v; want one failed check", checks, err)
	}
	// A recording without an audit entry cannot pass.
	if err := r.st.SaveRecording(ctx, store.Recording{ID: "rec2", State: store.RecordingFinished, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Verify(ctx, "rec2"); !errors.Is(err, ErrNoAuditEntry) {
		t.Fatalf("Verify without an audit entry = %v, want ErrNoAuditEntry", err)
	}
}

// TestRecover: a recording a crash left behind (files on disk, row still
// "recording", no Close) is digested into the audit log at the next start
// and verifies from then on.
func TestRecover(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	dir := filepath.Join(r.recs.Dir(), "cut1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"1.webm": "\x1a\x45\xdf\xa3 video", recording.SidecarName: `{"ms":0,"kind":"start"}` + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.st.SaveRecording(ctx, store.Recording{ID: "cut1", DeviceID: "d1", State: store.RecordingActive, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := r.a.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	row, err := r.st.Recording(ctx, "cut1")
	if err != nil || row.State != store.RecordingInterrupted || row.Files != 1 || row.Size == 0 {
		t.Fatalf("row after Recover: %+v, %v", row, err)
	}
	if got := actions(t, r.st, "cut1"); !slices.Equal(got, []string{ActionRecovered}) {
		t.Fatalf("audit %v", got)
	}
	if err := r.a.Verify(ctx, "cut1"); err != nil {
		t.Fatalf("Verify after Recover: %v", err)
	}
}

// TestExpire: recordings older than the retention are audited, then
// deleted; newer ones and live ones stay.
func TestExpire(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.finished(t, "old1")
	r.finished(t, "new1")
	live, err := r.recs.New("live1", recording.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := r.set.Set(ctx, settings.Global, settings.RecordingRetentionDays, "1"); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-49 * time.Hour)
	for _, id := range []string{"old1", "live1"} {
		ents, _ := os.ReadDir(filepath.Join(r.recs.Dir(), id))
		for _, e := range ents {
			if err := os.Chtimes(filepath.Join(r.recs.Dir(), id, e.Name()), old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	deleted, err := r.a.Expire(ctx)
	if err != nil || !slices.Equal(deleted, []string{"old1"}) {
		t.Fatalf("Expire = %v, %v; want [old1]", deleted, err)
	}
	if _, err := os.Stat(filepath.Join(r.recs.Dir(), "old1")); !os.IsNotExist(err) {
		t.Fatalf("old1 still on disk: %v", err)
	}
	for _, id := range []string{"new1", "live1"} {
		if _, err := os.Stat(filepath.Join(r.recs.Dir(), id)); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if got := actions(t, r.st, "old1"); !slices.Equal(got, []string{ActionFinished, ActionDeleted}) {
		t.Fatalf("audit of old1: %v", got)
	}
	if row, _ := r.st.Recording(ctx, "old1"); row.State != store.RecordingDeleted {
		t.Fatalf("old1 row state %q", row.State)
	}
}
