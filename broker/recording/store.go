package recording

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Store is the recordings catalogue's files, on a Backend (a directory or
// an S3 bucket). Every method takes an id (checked against IDPattern) and
// never a name or path from a request; only regular files are served. Its
// methods are safe for concurrent use.
type Store struct {
	b Backend

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

// OpenStore opens (creating it if needed, mode 0700) the recordings
// directory dir. Close releases it.
func OpenStore(dir string) (*Store, error) {
	d, err := OpenDir(dir)
	if err != nil {
		return nil, err
	}
	return NewStore(d), nil
}

// NewStore returns a Store on b; Close closes b.
func NewStore(b Backend) *Store { return &Store{b: b, live: map[string]bool{}} }

// Close releases the backend.
func (s *Store) Close() error { return s.b.Close() }

// Dir returns the store's directory ("" when it is not a directory).
func (s *Store) Dir() string {
	if d, ok := s.b.(*Dir); ok {
		return d.Path()
	}
	return ""
}

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
	if err := checkID(id); err != nil {
		s.release(id)
		return nil, err
	}
	if err := s.b.Create(id); err != nil {
		s.release(id)
		return nil, err
	}
	r, err := startRecorder(s.b, id, opts)
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

// fileName is the name of video file n (n >= 1) of a recording or, for
// n == 0, of its sidecar.
func fileName(id string, n int) (string, error) {
	if err := checkID(id); err != nil {
		return "", err
	}
	if n < 0 || n > 9999 {
		return "", fmt.Errorf("%w: file %d", ErrNotFound, n)
	}
	if n == 0 {
		return SidecarName, nil
	}
	return SegmentName(n), nil
}

// Check reports whether video file n (from 1) of recording id, or its
// sidecar for n == 0, is there to be served: nil, ErrBadID or ErrNotFound.
func (s *Store) Check(id string, n int) error {
	name, err := fileName(id, n)
	if err != nil {
		return err
	}
	f, _, err := s.b.Open(id, name)
	if err != nil {
		return err
	}
	return f.Close()
}

// Path returns the path on disk of video file n (from 1) of recording id,
// or of its sidecar for n == 0, after checking that it is a regular file in
// the store; "" for a store that is not a directory.
func (s *Store) Path(id string, n int) (string, error) {
	if err := s.Check(id, n); err != nil {
		return "", err
	}
	name, _ := fileName(id, n)
	return s.filePath(id, name), nil
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
	f, fi, err := s.b.Open(id, name)
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
	http.ServeContent(w, r, "", fi.ModTime, f)
	return nil
}

// Delete removes recording id and all its files. A live recording is refused
// with ErrBusy.
func (s *Store) Delete(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	if s.isLive(id) {
		return fmt.Errorf("%w: %s", ErrBusy, id)
	}
	return s.b.Remove(id)
}

// Stat describes recording id.
func (s *Store) Stat(id string) (Info, error) {
	if err := checkID(id); err != nil {
		return Info{}, err
	}
	files, err := s.b.Files(id)
	if err != nil {
		return Info{}, err
	}
	in := Info{ID: id, Live: s.isLive(id)}
	var side *FileInfo
	for _, bf := range files {
		if bf.ModTime.After(in.ModTime) {
			in.ModTime = bf.ModTime
		}
		n, ok := fileNumber(bf.Name)
		if !ok {
			continue
		}
		f := FileInfo{Name: bf.Name, N: n, Size: bf.Size, ModTime: bf.ModTime}
		in.Size += f.Size
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
	ids, err := s.b.IDs()
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, id := range ids {
		if !ValidID(id) {
			continue
		}
		in, err := s.Stat(id)
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
	if _, err := s.Stat(id); err != nil {
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
		size, sum, err := s.hash(id, name)
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

func (s *Store) hash(id, name string) (int64, string, error) {
	return digest(s.b, id, name)
}

// digest reads file name of recording id from b and returns its size and
// SHA-256 (hex).
func digest(b Backend, id, name string) (int64, string, error) {
	f, _, err := b.Open(id, name)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("read %s/%s: %w", id, name, err)
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

// filePath is where a file is on disk, for a directory store ("" else).
func (s *Store) filePath(id, name string) string {
	if d, ok := s.b.(*Dir); ok {
		return d.path(id, name)
	}
	return ""
}

// Digest returns the size and SHA-256 of every file of recording id (video
// files in order, then the sidecar), for a recording whose Close never ran:
// the broker stopped while writing it. A live recording is refused with
// ErrBusy.
func (s *Store) Digest(id string) ([]File, error) {
	if s.isLive(id) {
		return nil, fmt.Errorf("%w: %s", ErrBusy, id)
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	// Finish what the crash left half-written (an object store's
	// uploads) before reading it.
	if err := s.b.Recover(id); err != nil {
		return nil, fmt.Errorf("recover %s: %w", id, err)
	}
	in, err := s.Stat(id)
	if err != nil {
		return nil, err
	}
	out := make([]File, 0, len(in.Files))
	for _, f := range in.Files {
		size, sum, err := s.hash(id, f.Name)
		if err != nil {
			return nil, fmt.Errorf("digest %s/%s: %w", id, f.Name, err)
		}
		out = append(out, File{Name: f.Name, Path: s.filePath(id, f.Name), Size: size, SHA256: sum})
	}
	return out, nil
}
