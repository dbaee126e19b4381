package recording

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func openStoreT(t *testing.T) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// record makes a small real recording in s.
func record(t *testing.T, s *Store, id string, frames []frame) Result {
	t.Helper()
	r, err := s.New(id, Options{QueueSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, r, flat(newStream(1, 1, 1).packets(frames)))
	res, err := r.Close()
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Ids, never paths: nothing outside the store can be reached, listed or
// deleted, whatever the id or the links planted inside the store.
func TestStorePathTricks(t *testing.T) {
	frames := encodeFrames(t, 160, 120, 10, 30)
	s := openStoreT(t)
	record(t, s, "good", frames)

	outside := t.TempDir()
	secret := filepath.Join(outside, "1.webm")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, SidecarName), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory symlink out of the store, and a file symlink inside a
	// real recording directory.
	if err := os.Symlink(outside, filepath.Join(s.Dir(), "evil")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(s.Dir(), "linked"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(s.Dir(), "linked", "1.webm")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../good/1.webm", filepath.Join(s.Dir(), "linked", "2.webm")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		id   string
		n    int
		want error
	}{
		{"good", 1, nil},
		{"good", 0, nil},
		{"good", 2, ErrNotFound},
		{"good", -1, ErrNotFound},
		{"good", 10000, ErrNotFound},
		{"missing", 1, ErrNotFound},
		{"evil", 1, ErrNotFound},   // directory symlink out of the store
		{"evil", 0, ErrNotFound},   //
		{"linked", 1, ErrNotFound}, // file symlink out of the store
		{"linked", 2, ErrNotFound}, // file symlink inside the store: not followed either
		{"../good", 1, ErrBadID},
		{"good/..", 1, ErrBadID},
		{"..", 1, ErrBadID},
		{".", 1, ErrBadID},
		{"", 1, ErrBadID},
		{"/etc", 1, ErrBadID},
		{outside, 1, ErrBadID},
		{"good\x00", 1, ErrBadID},
		{"góod", 1, ErrBadID},
		{"a%2F..", 1, ErrBadID},
		{string(bytes.Repeat([]byte("a"), 65)), 1, ErrBadID},
	} {
		t.Run(tc.id+"/"+strconv.Itoa(tc.n), func(t *testing.T) {
			p, err := s.Path(tc.id, tc.n)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (p != "") {
				t.Errorf("Path = %q, %v; want %v", p, err, tc.want)
			}
			rec := httptest.NewRecorder()
			err = s.Serve(rec, httptest.NewRequest("GET", "/x", nil), tc.id, tc.n)
			if !errors.Is(err, tc.want) {
				t.Errorf("Serve: %v, want %v", err, tc.want)
			}
			if tc.want != nil && (rec.Body.Len() != 0 || bytes.Contains(rec.Body.Bytes(), []byte("secret"))) {
				t.Errorf("Serve wrote %q", rec.Body.Bytes())
			}
		})
	}
	for _, id := range []string{"evil", "../good", outside} {
		if err := s.Delete(id); err == nil {
			t.Errorf("Delete(%q) succeeded", id)
		}
	}
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("outside file gone: %v", err)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range list {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"good", "linked"}) {
		t.Errorf("List ids %v", ids)
	}
	for _, in := range list {
		if in.ID == "linked" && len(in.Files) != 0 {
			t.Errorf("linked lists symlinks: %+v", in.Files)
		}
	}
	// Deleting a directory that holds a symlink removes the link, not its target.
	if err := s.Delete("linked"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(secret); err != nil {
		t.Fatalf("symlink target deleted: %v", err)
	}
	if _, err := s.Path("good", 1); err != nil {
		t.Fatalf("good recording harmed: %v", err)
	}
}

func TestStoreServeRanges(t *testing.T) {
	s := openStoreT(t)
	record(t, s, "rec1", encodeFrames(t, 320, 240, 30, 30))
	path, err := s.Path("rec1", 1)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		if err := s.Serve(w, r, r.URL.Query().Get("id"), n); err != nil {
			http.Error(w, "no", http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	size := len(whole)
	for _, tc := range []struct {
		rng        string
		status     int
		start, end int // body is whole[start:end]
	}{
		{"", 200, 0, size},
		{"bytes=0-99", 206, 0, 100},
		{"bytes=100-", 206, 100, size},
		{"bytes=-50", 206, size - 50, size},
		{"bytes=" + strconv.Itoa(size+10) + "-", 416, 0, 0},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/?id=rec1&n=1", nil)
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%q: status %d, want %d", tc.rng, resp.StatusCode, tc.status)
			continue
		}
		if tc.status == 416 {
			continue
		}
		if !bytes.Equal(body, whole[tc.start:tc.end]) {
			t.Errorf("%q: body %d bytes, want [%d:%d]", tc.rng, len(body), tc.start, tc.end)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "video/webm" {
			t.Errorf("content type %q", ct)
		}
		if resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("no Accept-Ranges")
		}
	}
	resp, err := http.Get(srv.URL + "/?id=rec1&n=0")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/x-ndjson" || !bytes.Contains(body, []byte(`"kind":"segment"`)) {
		t.Errorf("sidecar: %s %q", resp.Header.Get("Content-Type"), body)
	}
}

func TestStoreVerify(t *testing.T) {
	s := openStoreT(t)
	res := record(t, s, "rec1", encodeFrames(t, 160, 120, 10, 30))
	if err := s.Verify("rec1", res.All()); err != nil {
		t.Fatalf("untouched recording: %v", err)
	}
	path, _ := s.Path("rec1", 1)
	orig, _ := os.ReadFile(path)
	side, _ := s.Path("rec1", 0)
	for _, tc := range []struct {
		name   string
		tamper func() error
		undo   func() error
	}{
		{"flipped byte", func() error {
			b := slices.Clone(orig)
			b[len(b)/2] ^= 1
			return os.WriteFile(path, b, 0o600)
		}, func() error { return os.WriteFile(path, orig, 0o600) }},
		{"truncated", func() error { return os.Truncate(path, int64(len(orig)-10)) },
			func() error { return os.WriteFile(path, orig, 0o600) }},
		{"missing", func() error { return os.Rename(path, path+".x") },
			func() error { return os.Rename(path+".x", path) }},
		{"extra file", func() error { return os.WriteFile(filepath.Join(filepath.Dir(path), "2.webm"), orig, 0o600) },
			func() error { return os.Remove(filepath.Join(filepath.Dir(path), "2.webm")) }},
		{"sidecar edited", func() error {
			f, err := os.OpenFile(side, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteString("{}\n")
			return err
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.tamper(); err != nil {
				t.Fatal(err)
			}
			if err := s.Verify("rec1", res.All()); !errors.Is(err, ErrMismatch) {
				t.Errorf("Verify = %v, want ErrMismatch", err)
			}
			if tc.undo != nil {
				if err := tc.undo(); err != nil {
					t.Fatal(err)
				}
				if err := s.Verify("rec1", res.All()); err != nil {
					t.Errorf("after undo: %v", err)
				}
			}
		})
	}
	if err := s.Verify("../rec1", res.All()); !errors.Is(err, ErrBadID) {
		t.Errorf("Verify bad id: %v", err)
	}
}

func TestStoreExpireAndList(t *testing.T) {
	s := openStoreT(t)
	frames := encodeFrames(t, 160, 120, 10, 30)
	now := time.Now()
	old := now.Add(-40 * 24 * time.Hour)
	for _, id := range []string{"old1", "old2", "new1"} {
		res := record(t, s, id, frames)
		if id == "new1" {
			continue
		}
		for _, f := range res.All() {
			if err := os.Chtimes(f.Path, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A live recording is never expired, however old its files look.
	live, err := s.New("live1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if err := os.Chtimes(filepath.Join(live.Dir(), SidecarName), old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := s.New("live1", Options{}); !errors.Is(err, ErrExists) {
		t.Errorf("second New on a live id: %v", err)
	}
	if err := s.Delete("live1"); !errors.Is(err, ErrBusy) {
		t.Errorf("Delete live: %v", err)
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 {
		t.Fatalf("List: %+v", list)
	}
	for _, in := range list {
		var sum int64
		for _, f := range in.Files {
			sum += f.Size
		}
		if in.Size != sum || in.Size == 0 || in.Live != (in.ID == "live1") {
			t.Errorf("%+v", in)
		}
		if in.ID == "new1" && (len(in.Files) != 2 || in.Files[0].Name != "1.webm" || in.Files[1].Name != SidecarName) {
			t.Errorf("new1 files %+v", in.Files)
		}
	}

	deleted, err := s.Expire(context.Background(), now.Add(-30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(deleted)
	if diff := cmp.Diff([]string{"old1", "old2"}, deleted); diff != "" {
		t.Errorf("expired (-want +got):\n%s", diff)
	}
	list, _ = s.List()
	var ids []string
	for _, in := range list {
		ids = append(ids, in.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"live1", "new1"}) {
		t.Errorf("left %v", ids)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Expire(ctx, now.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Errorf("Expire with a cancelled context: %v", err)
	}
}
