package backup_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"porthole/broker/audit"
	"porthole/broker/backup"
	"porthole/broker/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// dataDir makes a broker data dir: a store with n audit records (anchored
// like the broker's), a secret key and a TLS certificate.
func dataDir(t *testing.T, n int) (string, *store.Store, *audit.Log) {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, backup.DBName))
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(st, nil, audit.NewAnchor(filepath.Join(dir, "audit-head")))
	t.Cleanup(func() { log.Close(); st.Close() })
	for i := range n {
		if _, err := log.Append(context.Background(), audit.Event{Actor: "system", Action: "test.event", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for name, body := range map[string]string{"secret.key": "c2VjcmV0LWtleS1ieXRlcw==\n", "tls-cert.pem": "CERT\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir, st, log
}

// TestBackupWhileWritingThenRestore: a backup taken while audit records
// are appended holds a consistent snapshot; restored into a fresh dir, the
// chain verifies against the anchor restore writes, and the key files came
// along byte for byte.
func TestBackupWhileWritingThenRestore(t *testing.T) {
	dir, _, log := dataDir(t, 50)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := log.Append(ctx, audit.Event{Actor: "system", Action: "test.during", Target: fmt.Sprint(i)}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var buf bytes.Buffer
	res, err := backup.Create(ctx, dir, &buf, backup.Options{})
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.AuditSeq < 50 || res.Verified != res.Manifest.AuditSeq || res.Encrypted {
		t.Fatalf("backup result %+v", res)
	}
	names := map[string]bool{}
	for _, f := range res.Manifest.Files {
		names[f.Name] = true
	}
	for _, n := range []string{backup.DBName, "secret.key", "tls-cert.pem"} {
		if !names[n] {
			t.Errorf("backup lacks %s: %+v", n, res.Manifest.Files)
		}
	}
	if names["audit-head"] || names[backup.DBName+"-wal"] {
		t.Errorf("backup holds live-only files: %+v", res.Manifest.Files)
	}

	to := filepath.Join(t.TempDir(), "restored")
	got, err := backup.Restore(ctx, bytes.NewReader(buf.Bytes()), to, backup.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Verified != res.Manifest.AuditSeq {
		t.Fatalf("restore verified %d records, backup had %d", got.Verified, res.Manifest.AuditSeq)
	}
	for _, n := range []string{"secret.key", "tls-cert.pem"} {
		a, _ := os.ReadFile(filepath.Join(dir, n))
		b, err := os.ReadFile(filepath.Join(to, n))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s not restored: %v", n, err)
		}
	}
	// The broker's start-up check: the chain against the anchor.
	st, err := store.Open(ctx, filepath.Join(to, backup.DBName))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := audit.New(st, nil, audit.NewAnchor(filepath.Join(to, "audit-head"))).Verify(ctx)
	if err != nil || n != res.Manifest.AuditSeq {
		t.Fatalf("restored chain: %d records, %v", n, err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(to, ".restore-*"))
	if more, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(leftovers)+len(more) > 0 {
		t.Errorf("staging left behind: %v %v", leftovers, more)
	}
}

// TestRestoreRefusals: a non-empty data dir without Force, a missing or
// wrong passphrase, and a tampered file are refused, and nothing is
// restored.
func TestRestoreRefusals(t *testing.T) {
	dir, _, _ := dataDir(t, 5)
	ctx := context.Background()
	var plain, sealed bytes.Buffer
	if _, err := backup.Create(ctx, dir, &plain, backup.Options{}); err != nil {
		t.Fatal(err)
	}
	if res, err := backup.Create(ctx, dir, &sealed, backup.Options{Passphrase: "correct horse", WorkFactor: 10}); err != nil || !res.Encrypted {
		t.Fatal(res, err)
	}
	if bytes.Contains(sealed.Bytes(), []byte("c2VjcmV0LWtleS1ieXRlcw")) || !bytes.HasPrefix(sealed.Bytes(), []byte("age-encryption.org/v1")) {
		t.Fatal("the encrypted backup is not encrypted")
	}

	busy := t.TempDir()
	os.WriteFile(filepath.Join(busy, "something"), []byte("x"), 0o600)
	if _, err := backup.Restore(ctx, bytes.NewReader(plain.Bytes()), busy, backup.Options{}); !errors.Is(err, backup.ErrNotEmpty) {
		t.Errorf("non-empty dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(busy, backup.DBName)); err == nil {
		t.Error("restored into a non-empty dir")
	}
	if _, err := backup.Restore(ctx, bytes.NewReader(plain.Bytes()), busy, backup.Options{Force: true}); err != nil {
		t.Errorf("forced: %v", err)
	}
	for _, pass := range []string{"", "wrong horse"} {
		to := filepath.Join(t.TempDir(), "r")
		if _, err := backup.Restore(ctx, bytes.NewReader(sealed.Bytes()), to, backup.Options{Passphrase: pass}); !errors.Is(err, backup.ErrPassphrase) {
			t.Errorf("passphrase %q: %v", pass, err)
		}
	}
	to := filepath.Join(t.TempDir(), "r")
	if res, err := backup.Restore(ctx, bytes.NewReader(sealed.Bytes()), to, backup.Options{Passphrase: "correct horse"}); err != nil || !res.Encrypted {
		t.Errorf("right passphrase: %+v %v", res, err)
	}

	// A file altered inside the archive fails its digest.
	tampered := rewrite(t, plain.Bytes(), func(name string, b []byte) []byte {
		if name == "secret.key" {
			b = append([]byte(nil), b...)
			b[0] ^= 1
		}
		return b
	})
	to = filepath.Join(t.TempDir(), "r")
	if _, err := backup.Restore(ctx, bytes.NewReader(tampered), to, backup.Options{}); !errors.Is(err, backup.ErrFormat) {
		t.Errorf("tampered: %v", err)
	}
	if ents, _ := os.ReadDir(to); len(ents) > 0 {
		t.Errorf("a refused restore left %v", ents)
	}
}

// rewrite re-packs a plain backup with each file passed through f.
func rewrite(t *testing.T, in []byte, f func(name string, b []byte) []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		var b bytes.Buffer
		b.ReadFrom(tr)
		nb := f(h.Name, b.Bytes())
		h.Size = int64(len(nb))
		tw.WriteHeader(h)
		tw.Write(nb)
	}
	tw.Close()
	zw.Close()
	return out.Bytes()
}

// FuzzRead: the backup reader takes untrusted files; whatever it is given,
// it returns an error or files that match their manifest, and never writes
// outside its directory.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	st, err := store.Open(context.Background(), filepath.Join(dir, backup.DBName))
	if err != nil {
		f.Fatal(err)
	}
	st.Close()
	os.WriteFile(filepath.Join(dir, "secret.key"), []byte("k"), 0o600)
	var good bytes.Buffer
	if _, err := backup.Create(context.Background(), dir, &good, backup.Options{}); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add([]byte("age-encryption.org/v1\n-> scrypt x 10\n"))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0})
	f.Add([]byte("not a backup"))
	evil := func(name string, size int) []byte {
		var out bytes.Buffer
		zw := gzip.NewWriter(&out)
		tw := tar.NewWriter(zw)
		man := fmt.Sprintf(`{"format":1,"files":[{"name":%q,"size":%d,"sha256":"%064x"}]}`, name, size, 0)
		tw.WriteHeader(&tar.Header{Name: backup.ManifestName, Size: int64(len(man)), Typeflag: tar.TypeReg})
		tw.Write([]byte(man))
		tw.WriteHeader(&tar.Header{Name: name, Size: int64(size), Typeflag: tar.TypeReg})
		tw.Write(make([]byte, size))
		tw.Close()
		zw.Close()
		return out.Bytes()
	}
	f.Add(evil("../escape", 3))
	f.Add(evil("porthole.db", 3))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := t.TempDir()
		man, _, err := backup.Read(bytes.NewReader(data), out, "pw")
		ents, _ := os.ReadDir(filepath.Dir(out))
		if len(ents) != 1 {
			t.Fatalf("wrote beside its directory: %v", ents)
		}
		if err != nil {
			return
		}
		for _, fl := range man.Files {
			fi, err := os.Stat(filepath.Join(out, fl.Name))
			if err != nil || fi.Size() != fl.Size {
				t.Fatalf("%s: %v", fl.Name, err)
			}
		}
	})
}
