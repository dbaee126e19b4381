package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"go.uber.org/goleak"

	"porthole/broker/recording"
	"porthole/internal/s3test"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"), goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

const part = MinPartSize // SeaweedFS, like AWS, refuses smaller parts but the last

// open starts a store on bucket of srv with small parts.
func open(t *testing.T, srv *s3test.Server, bucket string, adjust func(*Config)) *Store {
	t.Helper()
	cfg := Config{Endpoint: srv.Endpoint, Bucket: bucket, Prefix: "recs/x", PathStyle: true, Region: "us-east-1",
		Credentials: credentials.NewStaticV4(s3test.AccessKey, s3test.SecretKey, ""), PartSize: part,
		SpoolDir: filepath.Join(t.TempDir(), "spool")}
	if adjust != nil {
		adjust(&cfg)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// pattern is n bytes that differ at every offset that matters.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// TestWriteAndRead: a file written in pieces, with a patch into a part
// already uploaded (like the WebM header at finish), becomes exactly the
// spool's bytes as one object; it is listed, range-read through Open, and
// digested by the recording store; the spool is gone.
func TestWriteAndRead(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "recs", false)
	s := open(t, srv, "recs", nil)
	st := recording.NewStore(s)
	if err := s.Create("rec_1"); err != nil {
		t.Fatal(err)
	}
	w, err := s.NewFile("rec_1", "1.webm")
	if err != nil {
		t.Fatal(err)
	}
	want := pattern(2*part + 1234)
	for off := 0; off < len(want); off += 10_000 {
		if _, err := w.Write(want[off:min(off+10_000, len(want))]); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.(*writer).uploaded; got != 2 {
		t.Fatalf("%d parts uploaded while writing, want 2", got)
	}
	copy(want[100:], "PATCHED HEADER")
	if _, err := w.WriteAt([]byte("PATCHED HEADER"), 100); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := srv.Get(t, "recs", "recs/x/rec_1/1.webm"); !bytes.Equal(got, want) {
		t.Fatalf("object differs from what was written (%d bytes, want %d)", len(got), len(want))
	}
	if ents, _ := os.ReadDir(filepath.Join(s.cfg.SpoolDir, "rec_1")); len(ents) != 0 {
		t.Errorf("spool left: %v", ents)
	}
	in, err := st.Stat("rec_1")
	if err != nil || len(in.Files) != 1 || in.Files[0].Size != int64(len(want)) {
		t.Fatalf("stat: %+v %v", in, err)
	}
	f, _, err := s.Open("rec_1", "1.webm")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(2*part-5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(f, buf); err != nil || !bytes.Equal(buf, want[2*part-5:2*part+5]) {
		t.Fatalf("ranged read: %v", err)
	}
	f.Close()
	ds, err := st.Digest("rec_1")
	if err != nil || len(ds) != 1 || ds[0].Size != int64(len(want)) {
		t.Fatalf("digest: %+v %v", ds, err)
	}
	if err := st.Verify("rec_1", ds); err != nil {
		t.Fatal(err)
	}
	if err := s.Create("rec_1"); !errors.Is(err, recording.ErrExists) {
		t.Errorf("second create: %v", err)
	}
	list, err := st.List()
	if err != nil || len(list) != 1 || list[0].ID != "rec_1" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if err := st.Delete("rec_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Stat("rec_1"); !errors.Is(err, recording.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

// crash leaves w as a killed broker would: the upload open, its spool
// file in place (or, with lose, gone with the machine).
func crash(t *testing.T, s *Store, w recording.Writer, lose bool) {
	t.Helper()
	ww := w.(*writer)
	if err := ww.spool.Sync(); err != nil {
		t.Fatal(err)
	}
	ww.spool.Close()
	s.mu.Lock()
	delete(s.writers, ww.key)
	s.mu.Unlock()
	if lose {
		if err := os.Remove(ww.spool.Name()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRecover: after a crash, Recover completes the open uploads: from the
// spool when it survived (every byte), else from the uploaded parts (the
// file up to its last part); a spool file whose upload never started is
// put whole. Before recovery the recording is listed from its spool.
func TestRecover(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "recs", false)
	s := open(t, srv, "recs", nil)
	data := pattern(2*part + 777)

	for _, tc := range []struct {
		id   string
		lose bool
		want []byte
	}{
		{"kept_spool", false, data},
		{"lost_spool", true, data[:2*part]},
	} {
		if err := s.Create(tc.id); err != nil {
			t.Fatal(err)
		}
		w, err := s.NewFile(tc.id, "1.webm")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
		side, err := s.NewFile(tc.id, recording.SidecarName)
		if err != nil {
			t.Fatal(err)
		}
		side.Write([]byte(`{"ms":0,"kind":"start"}` + "\n"))
		crash(t, s, w, tc.lose)
		crash(t, s, side, false)
		// A file whose upload had not started: only its spool.
		os.WriteFile(s.spoolPath(tc.id, "2.webm"), []byte("second"), 0o600)

		if err := s.Recover(tc.id); err != nil {
			t.Fatalf("%s: recover: %v", tc.id, err)
		}
		if got := srv.Get(t, "recs", "recs/x/"+tc.id+"/1.webm"); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: recovered %d bytes, want %d", tc.id, len(got), len(tc.want))
		}
		if got := srv.Get(t, "recs", "recs/x/"+tc.id+"/"+recording.SidecarName); !strings.Contains(string(got), "start") {
			t.Errorf("%s: sidecar %q", tc.id, got)
		}
		if got := srv.Get(t, "recs", "recs/x/"+tc.id+"/2.webm"); string(got) != "second" {
			t.Errorf("%s: spool-only file %q", tc.id, got)
		}
		if ups, _ := s.uploads(tc.id); len(ups) != 0 {
			t.Errorf("%s: uploads left open: %v", tc.id, ups)
		}
		if _, err := os.Stat(filepath.Join(s.cfg.SpoolDir, tc.id)); !os.IsNotExist(err) {
			t.Errorf("%s: spool dir left: %v", tc.id, err)
		}
	}
}

// TestObjectLock: with Object Lock configured, every object carries the
// retention; deleting the recording (retention, like AWS) only hides it
// behind a delete marker, and the locked version itself cannot be deleted
// before the retention ends.
func TestObjectLock(t *testing.T) {
	srv := s3test.Start(t)
	srv.Bucket(t, "locked", true)
	s := open(t, srv, "locked", func(c *Config) { c.LockMode = "GOVERNANCE"; c.LockDays = 1 })
	if err := s.Create("rec_l"); err != nil {
		t.Fatal(err)
	}
	w, err := s.NewFile("rec_l", "1.webm")
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pattern(1000))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mode, until, err := srv.Client.GetObjectRetention(ctx, "locked", "recs/x/rec_l/1.webm", "")
	if err != nil || mode == nil || string(*mode) != "GOVERNANCE" || until == nil {
		t.Fatalf("retention: %v %v %v", mode, until, err)
	}
	info, err := srv.Client.StatObject(ctx, "locked", "recs/x/rec_l/1.webm", minio.StatObjectOptions{})
	if err != nil || info.VersionID == "" {
		t.Fatalf("locked object has no version: %+v %v", info, err)
	}
	if err := s.Remove("rec_l"); err != nil {
		t.Fatalf("remove (a delete marker): %v", err)
	}
	if err := srv.Client.RemoveObject(ctx, "locked", "recs/x/rec_l/1.webm", minio.RemoveObjectOptions{VersionID: info.VersionID}); err == nil {
		t.Fatal("the server deleted a version under retention")
	}
	if _, err := srv.Client.StatObject(ctx, "locked", "recs/x/rec_l/1.webm", minio.StatObjectOptions{VersionID: info.VersionID}); err != nil {
		t.Fatalf("the locked version is gone: %v", err)
	}
}

// TestConfig: part sizes below S3's minimum, unknown lock modes and bad
// URLs are refused.
func TestConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Bucket: "b", SpoolDir: t.TempDir(), PartSize: 1 << 20},
		{Bucket: "b", SpoolDir: t.TempDir(), LockMode: "FOREVER", LockDays: 1},
		{Bucket: "b", SpoolDir: t.TempDir(), LockMode: "COMPLIANCE"},
		{SpoolDir: t.TempDir()},
		{Bucket: "b"},
	} {
		if _, err := Open(context.Background(), cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	var c Config
	if err := c.ParseURL("s3://bucket/a/b/"); err != nil || c.Bucket != "bucket" || c.Prefix != "a/b" {
		t.Errorf("parse: %+v %v", c, err)
	}
	for _, bad := range []string{"s3://", "http://b/x", "s3://user:pw@b/x", "s3://b/x?y=1", "/dir"} {
		if err := c.ParseURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
