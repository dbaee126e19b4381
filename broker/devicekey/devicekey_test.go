package devicekey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"porthole/broker/audit"
	"porthole/broker/secretbox"
	"porthole/broker/store"
	"porthole/internal/clock/clocktest"
	"porthole/internal/elevcode"
	"porthole/internal/wire"
)

// fakeAgents is the hub as the service sees it: one device, online or
// not, and what was sent to it.
type fakeAgents struct {
	mu     sync.Mutex
	online bool
	sent   []wire.Message
}

func (f *fakeAgents) Online(string) bool { f.mu.Lock(); defer f.mu.Unlock(); return f.online }

func (f *fakeAgents) Send(_ string, m wire.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.online {
		return errors.New("offline")
	}
	f.sent = append(f.sent, m)
	return nil
}

// take returns what was sent since the last take, as "type:rotation".
func (f *fakeAgents) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.sent {
		switch m := m.(type) {
		case *wire.DeviceKey:
			out = append(out, "key:"+m.RotationID)
		case *wire.DeviceKeyDone:
			out = append(out, "done:"+m.RotationID)
		}
	}
	f.sent = nil
	return strings.Join(out, " ")
}

func (f *fakeAgents) lastKey() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := len(f.sent) - 1; i >= 0; i-- {
		if k, ok := f.sent[i].(*wire.DeviceKey); ok {
			return k.Secret
		}
	}
	return nil
}

type fixture struct {
	st   *store.Store
	path string
	log  *audit.Log
	ag   *fakeAgents
	svc  *Service
	key0 []byte
}

func setup(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "p.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	log := audit.New(st, clk)
	ag := &fakeAgents{}
	n := 0
	svc := New(Config{Store: st, Box: box, Audit: log, Agents: ag, Clock: clk, NewID: func() string { n++; return fmt.Sprint("rot", n) }})
	key0, sealed, err := svc.NewKey("dev1")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEnrollToken(ctx, store.EnrollToken{ID: "t", Hash: "h", CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(time.Hour), MaxUses: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Enroll(ctx, "h", clk.Now(), store.Device{ID: "dev1", PublicKey: []byte("k"), SecretSealed: sealed, Hostname: "pc"}); err != nil {
		t.Fatal(err)
	}
	return fixture{st: st, path: path, log: log, ag: ag, svc: svc, key0: key0}
}

func (f fixture) secret(t *testing.T) []byte {
	t.Helper()
	k, err := f.svc.Secret(context.Background(), "dev1")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (f fixture) actions(t *testing.T) string {
	t.Helper()
	recs, err := f.log.Query(context.Background(), audit.Filter{Action: "device.*", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Actor+" "+r.Action)
	}
	return strings.Join(out, ", ")
}

// TestRotationNeverLosesAKey walks a rotation of an offline device: codes
// are issued with the old key until the agent has stored the new one;
// stale and repeated acknowledgements change nothing; the new key is in
// force after the acknowledgement, and its confirmation is resent at every
// connection.
func TestRotationNeverLosesAKey(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	if got := f.secret(t); !bytes.Equal(got, f.key0) {
		t.Fatal("the enrollment key does not open")
	}
	r1, err := f.svc.Rotate(ctx, "user:admin", "127.0.0.1", "dev1")
	if err != nil || r1.State != "pending" {
		t.Fatalf("rotate: %+v %v", r1, err)
	}
	if !bytes.Equal(f.secret(t), f.key0) {
		t.Fatal("the new key is in force before the agent has it")
	}
	// A second rotation while the first is pending replaces it.
	r2, err := f.svc.Rotate(ctx, "user:admin", "127.0.0.1", "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := f.svc.Status(ctx, "dev1", r1.ID); st.State != "replaced" {
		t.Fatalf("first rotation: %+v", st)
	}
	// The agent connects: it gets the pending key (nothing to confirm yet).
	f.ag.online = true
	f.svc.Online(ctx, "dev1")
	newKey := f.ag.lastKey()
	if got := f.ag.take(); got != "key:"+r2.ID {
		t.Fatalf("sent at connection: %q", got)
	}
	if len(newKey) != 32 || bytes.Equal(newKey, f.key0) {
		t.Fatalf("new key %x", newKey)
	}
	// An acknowledgement of the replaced rotation changes nothing.
	f.svc.HandleAgent("dev1", &wire.DeviceKeyAck{RotationID: r1.ID})
	if !bytes.Equal(f.secret(t), f.key0) || f.ag.take() != "" {
		t.Fatal("a replaced rotation's acknowledgement was taken")
	}
	waited := make(chan bool, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		waited <- f.svc.Wait(ctx, "dev1", r2.ID)
	}()
	if !f.svc.HandleAgent("dev1", &wire.DeviceKeyAck{RotationID: r2.ID}) {
		t.Fatal("ack not handled")
	}
	if !<-waited {
		t.Fatal("Wait did not see the rotation complete")
	}
	if !bytes.Equal(f.secret(t), newKey) {
		t.Fatal("the acknowledged key is not in force")
	}
	if got := f.ag.take(); got != "done:"+r2.ID {
		t.Fatalf("after the ack: %q", got)
	}
	// A code issued now is the new key's; one of the old key is not.
	code, err := elevcode.Issue(f.secret(t), elevcode.Claims{DeviceID: "dev1", User: "ann", Duration: 30 * time.Minute, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elevcode.Verify(f.key0, "dev1", "ann", code, time.Now(), 0); !errors.Is(err, elevcode.ErrBadCode) {
		t.Fatalf("the old key verifies a new code: %v", err)
	}
	// Repeated ack: confirmed again, audited once.
	f.svc.HandleAgent("dev1", &wire.DeviceKeyAck{RotationID: r2.ID})
	if got := f.ag.take(); got != "done:"+r2.ID {
		t.Fatalf("repeated ack: %q", got)
	}
	// Each connection re-confirms the rotation in force.
	f.svc.Online(ctx, "dev1")
	if got := f.ag.take(); got != "done:"+r2.ID {
		t.Fatalf("reconnection: %q", got)
	}
	if st, _ := f.svc.Status(ctx, "dev1", r2.ID); st.State != "done" {
		t.Fatalf("status %+v", st)
	}
	want := "user:admin device.key_rotation_started, user:admin device.key_rotation_started, device:dev1 device.key_rotated"
	if got := f.actions(t); got != want {
		t.Fatalf("audit: %s\nwant: %s", got, want)
	}
	if n, err := f.log.Verify(ctx); err != nil || n != 3 {
		t.Fatalf("chain %d %v", n, err)
	}
}

// TestKeysSealedAtRest: no device key is in the database file in the
// clear, and a sealed key does not open for another device.
func TestKeysSealedAtRest(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	f.ag.online = true
	if _, err := f.svc.Rotate(ctx, "user:admin", "", "dev1"); err != nil {
		t.Fatal(err)
	}
	next := f.ag.lastKey()
	if _, err := f.st.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.path, f.path + "-wal"} {
		b, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(b, f.key0) || bytes.Contains(b, next) {
			t.Fatalf("%s holds a device key in the clear", filepath.Base(p))
		}
	}
	k, err := f.st.DeviceKeys(ctx, "dev1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.open("dev2", k.Current); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("dev1's key opened as dev2's: %v", err)
	}
	if _, err := f.st.DB().ExecContext(ctx, `UPDATE devices SET revoked = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Rotate(ctx, "user:admin", "", "dev1"); !errors.Is(err, ErrRevoked) {
		t.Fatalf("revoked device rotated: %v", err)
	}
	if _, err := f.svc.Rotate(ctx, "user:admin", "", "nosuch"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown device: %v", err)
	}
}

// TestSealPlaintextMigration: a database an older broker wrote, with a
// device secret in the plaintext column, is sealed at start: the column is
// emptied, the sealed key opens to the same secret, the plaintext is gone
// from the file and its write-ahead log, and the sealing is audited.
func TestSealPlaintextMigration(t *testing.T) {
	f := setup(t)
	ctx := context.Background()
	plain := bytes.Repeat([]byte{0xA7, 0x3C}, 16)
	if _, err := f.st.DB().ExecContext(ctx, `INSERT INTO devices(id, public_key, secret, hostname, enrolled_at) VALUES('old1', x'01', ?, 'h', 0)`, plain); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f.path); !bytes.Contains(b, plain) {
		t.Fatal("test setup: the plaintext is not in the file")
	}
	n, err := f.svc.SealPlaintext(ctx)
	if err != nil || n != 1 {
		t.Fatalf("sealed %d: %v", n, err)
	}
	got, err := f.svc.Secret(ctx, "old1")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("sealed secret opens to %x, %v", got, err)
	}
	var left int
	if err := f.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM devices WHERE length(secret) > 0`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("plaintext rows left: %d %v", left, err)
	}
	for _, p := range []string{f.path, f.path + "-wal"} {
		if b, _ := os.ReadFile(p); bytes.Contains(b, plain) {
			t.Fatalf("%s still holds the plaintext secret", filepath.Base(p))
		}
	}
	if n, err := f.svc.SealPlaintext(ctx); err != nil || n != 0 {
		t.Fatalf("second run sealed %d: %v", n, err)
	}
	if got := f.actions(t); got != "system device.secrets_sealed" {
		t.Fatalf("audit: %s", got)
	}
}
