package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is the directory of recordings. Every method takes an id (checked
// against IDPattern) and never a name or path from a request; files are
// reached through an os.Root, so neither "..", absolute paths nor symlinks
// lead outside the store, and only regular files are served. Its methods are
// safe for concurrent use.
type Store struct {
	root *os.Root
	dir  string

	mu   sync.Mutex // guards live
	live map[string]bool
}

// Info describes a stored recording for listings.
type Info struct {
	ID      string     `json:"id"`
	Files   []FileInfo `json:"files"` // video files in order, then the sidecar
	Size    int64      `json:"size"`  // all files
	ModTime time.Time  `json:"mod_time"`
	Live    bool       `json:"live"` // still being written by this broker
}

// FileInfo is one file of a listed recording.
type FileInfo struct {
	Name    string    `json:"name"`
	N       int       `json:"n,omitempty"` // video file number; 0 for the sidecar
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// OpenStore opens (creating it if needed, mode 0700) the recordings directory.
// Close releases it.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create recordings dir: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("recordings dir: %w", err)
	}
	rt, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("open recordings dir: %w", err)
	}
	return &Store{root: rt, dir: abs, live: map[string]bool{}}, nil
}

// Close releases the store's directory handle.
func (s *Store) Close() error { return s.root.Close() }

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// New starts a recording in the store (see the package function New). Expire
// and Delete leave it alone until it is closed.
func (s *Store) New(id string, opts Options) (*Recorder, error) {
	s.mu.Lock()
	if s.live[id] {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrExists, id)
	}
	s.live[id] = true
	s.mu.Unlock()
	r, err := New(s.dir, id, opts)
	if err != nil {
		s.release(id)
		return nil, err
	}
	r.release = func() { s.release(id) }
	return r, nil
}

func (s *Store) release(id string) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
}

func (s *Store) isLive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[id]
}

func checkID(id string) error {
	if !ValidID(id) {
		return fmt.Errorf("%w: %q", ErrBadID, id)
	}
	return nil
}

// openRegular opens name under the root for reading and refuses anything but
// a regular file (symlinks inside the root are not followed either).
func (s *Store) openRegular(name string) (*os.File, fs.FileInfo, error) {
	li, err := s.root.Lstat(name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	if !li.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, name)
	}
	f, err := s.root.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	fi, err := f.Stat()
	if err != nil || !os.SameFile(fi, li) {
		f.Close()
		return nil, nil, fmt.Errorf("%w: %s changed", ErrNotFound, name)
	}
	return f, fi, nil
}

// checkDir makes sure id names a real directory (not a symlink) in the store.
func (s *Store) checkDir(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	fi, err := s.root.Lstat(id)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}

// fileName is the name inside the store of video file n (n >= 1) or, for
// n == 0, of the sidecar.
func fileName(id string, n int) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if n < 0 || n > 9999 {
		return "", fmt.Errorf("%w: file %d", ErrNotFound, n)
	}
	if n == 0 {
		return id + "/" + SidecarName, nil
	}
	return id + "/" + SegmentName(n), nil
}

// Path returns the path on disk of video file n (from 1) of recording id, or
// of its sidecar for n == 0, after checking that it is a regular file in the
// store.
func (s *Store) Path(id string, n int) (string, error) {
	name, err := fileName(id, n)
	if err != nil {
		return "", err
	}
	if err := s.checkDir(id); err != nil {
		return "", err
	}
	f, _, err := s.openRegular(name)
	if err != nil {
		return "", err
	}
	f.Close()
	return filepath.Join(s.dir, filepath.FromSlash(name)), nil
}

// Serve writes video file n (from 1) of recording id, or its sidecar for
// n == 0, with http.ServeContent: range requests, If-Modified-Since, HEAD.
// It returns ErrBadID or ErrNotFound without writing anything, so the API
// layer picks the status; authorisation and the audit event are the
// caller's.
func (s *Store) Serve(w http.ResponseWriter, r *http.Request, id string, n int) error {
	name, err := fileName(id, n)
	if err != nil {
		return err
	}
	if err := s.checkDir(id); err != nil {
		return err
	}
	f, fi, err := s.openRegular(name)
	if err != nil {
		return err
	}
	defer f.Close()
	ctype := "video/webm"
	if n == 0 {
		ctype = "application/x-ndjson"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeContent(w, r, "", fi.ModTime(), f)
	return nil
}

// Delete removes recording id and all its files. A live recording is refused
// with ErrBusy.
func (s *Store) Delete(id string) error {
	if err := s.checkDir(id); err != nil {
		return err
	}
	if s.isLive(id) {
		return fmt.Errorf("%w: %s", ErrBusy, id)
	}
	if err := s.root.RemoveAll(id); err != nil {
		return fmt.Errorf("delete recording %s: %w", id, err)
	}
	return nil
}

// Stat describes recording id.
func (s *Store) Stat(id string) (Info, error) {
	if err := s.checkDir(id); err != nil {
		return Info{}, err
	}
	dir, err := s.root.Open(id)
	if err != nil {
		return Info{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return Info{}, fmt.Errorf("list recording %s: %w", id, err)
	}
	in := Info{ID: id, Live: s.isLive(id)}
	var side *FileInfo
	for _, e := range ents {
		n, ok := fileNumber(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		f := FileInfo{Name: e.Name(), N: n, Size: fi.Size(), ModTime: fi.ModTime()}
		in.Size += f.Size
		if f.ModTime.After(in.ModTime) {
			in.ModTime = f.ModTime
		}
		if n == 0 {
			side = &f
			continue
		}
		in.Files = append(in.Files, f)
	}
	sort.Slice(in.Files, func(i, j int) bool { return in.Files[i].N < in.Files[j].N })
	if side != nil {
		in.Files = append(in.Files, *side)
	}
	if in.ModTime.IsZero() {
		if fi, err := dir.Stat(); err == nil {
			in.ModTime = fi.ModTime()
		}
	}
	return in, nil
}

// fileNumber parses a recording file name: n for "n.webm", 0 for the sidecar.
func fileNumber(name string) (int, bool) {
	if name == SidecarName {
		return 0, true
	}
	num, ok := strings.CutSuffix(name, ".webm")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || SegmentName(n) != name {
		return 0, false
	}
	return n, true
}

// List describes every recording in the store, newest first. Entries that
// are not recordings (bad names, symlinks, plain files) are skipped.
func (s *Store) List() ([]Info, error) {
	dir, err := s.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	var out []Info
	for _, e := range ents {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		in, err := s.Stat(e.Name())
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, in)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ModTime.After(out[j].ModTime) })
	return out, nil
}

// Verify checks recording id against the files its audit entry lists (the
// Result's All()): each must exist with the same size and SHA-256, and no
// other video file may be present. The error wraps ErrMismatch and names
// every difference.
func (s *Store) Verify(id string, want []File) error {
	if err := s.checkDir(id); err != nil {
		return err
	}
	var probs []string
	listed := map[string]bool{}
	for _, w := range want {
		listed[w.Name] = true
		n, ok := fileNumber(w.Name)
		if !ok {
			probs = append(probs, fmt.Sprintf("%s: not a recording file name", w.Name))
			continue
		}
		name, _ := fileName(id, n)
		size, sum, err := s.hash(name)
		switch {
		case err != nil:
			probs = append(probs, fmt.Sprintf("%s: missing", w.Name))
		case size != w.Size:
			probs = append(probs, fmt.Sprintf("%s: size %d, audited %d", w.Name, size, w.Size))
		case sum != w.SHA256:
			probs = append(probs, fmt.Sprintf("%s: sha256 %s, audited %s", w.Name, sum, w.SHA256))
		}
	}
	in, err := s.Stat(id)
	if err != nil {
		return err
	}
	for _, f := range in.Files {
		if !listed[f.Name] {
			probs = append(probs, fmt.Sprintf("%s: not in the audit entry", f.Name))
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrMismatch, id, strings.Join(probs, "; "))
	}
	return nil
}

func (s *Store) hash(name string) (int64, string, error) {
	f, _, err := s.openRegular(name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// Expire deletes the recordings whose newest file is older than olderThan
// (live ones are kept) and returns the ids deleted, for the audit log. It
// stops early when ctx ends, returning what it deleted so far.
func (s *Store) Expire(ctx context.Context, olderThan time.Time) ([]string, error) {
	list, err := s.List()
	if err != nil {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, in := range list {
		if err := ctx.Err(); err != nil {
			return deleted, err
		}
		if in.Live || !in.ModTime.Before(olderThan) {
			continue
		}
		if err := s.Delete(in.ID); err != nil {
			if !errors.Is(err, ErrBusy) {
				errs = append(errs, err)
			}
			continue
		}
		deleted = append(deleted, in.ID)
	}
	return deleted, errors.Join(errs...)
}

// Digest returns the size and SHA-256 of every file of recording id (video
// files in order, then the sidecar), for a recording whose Close never ran:
// the broker stopped while writing it. A live recording is refused with
// ErrBusy.
func (s *Store) Digest(id string) ([]File, error) {
	if s.isLive(id) {
		return nil, fmt.Errorf("%w: %s", ErrBusy, id)
	}
	in, err := s.Stat(id)
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(in.Files))
	for _, f := range in.Files {
		size, sum, err := s.hash(id + "/" + f.Name)
		if err != nil {
			return nil, fmt.Errorf("digest %s/%s: %w", id, f.Name, err)
		}
		out = append(out, File{Name: f.Name, Path: filepath.Join(s.dir, id, f.Name), Size: size, SHA256: sum})
	}
	return out, nil
}
