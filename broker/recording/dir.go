package recording

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Dir keeps recordings in a directory: ID/NAME. Files are reached through
// an os.Root, so neither "..", absolute paths nor symlinks lead outside it,
// and only regular files (not symlinks) are opened for reading.
type Dir struct {
	root *os.Root
	dir  string
	// create opens a new file for writing; set only by this package's
	// tests to inject write failures.
	create func(root *os.Root, name string) (file, error)
}

var _ Backend = (*Dir)(nil)

// OpenDir opens (creating it if needed, mode 0700) a recordings directory.
func OpenDir(dir string) (*Dir, error) {
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
	return &Dir{root: rt, dir: abs}, nil
}

// Path is where the directory is.
func (d *Dir) Path() string { return d.dir }

// Close releases the directory handle.
func (d *Dir) Close() error { return d.root.Close() }

// Create makes the recording's directory.
func (d *Dir) Create(id string) error {
	if err := d.root.Mkdir(id, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, id)
		}
		return fmt.Errorf("create recording %s: %w", id, err)
	}
	return nil
}

// NewFile creates id/name, which must not exist.
func (d *Dir) NewFile(id, name string) (Writer, error) {
	if d.create != nil {
		return d.create(d.root, id+"/"+name)
	}
	return d.root.OpenFile(id+"/"+name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

// Open opens id/name for reading; anything but a regular file is refused.
func (d *Dir) Open(id, name string) (io.ReadSeekCloser, BackendFile, error) {
	if err := d.checkDir(id); err != nil {
		return nil, BackendFile{}, err
	}
	p := id + "/" + name
	li, err := d.root.Lstat(p)
	if err != nil {
		return nil, BackendFile{}, fmt.Errorf("%w: %s", ErrNotFound, p)
	}
	if !li.Mode().IsRegular() {
		return nil, BackendFile{}, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, p)
	}
	f, err := d.root.Open(p)
	if err != nil {
		return nil, BackendFile{}, fmt.Errorf("%w: %s", ErrNotFound, p)
	}
	fi, err := f.Stat()
	if err != nil || !os.SameFile(fi, li) {
		f.Close()
		return nil, BackendFile{}, fmt.Errorf("%w: %s changed", ErrNotFound, p)
	}
	return f, BackendFile{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// checkDir makes sure id names a real directory (not a symlink).
func (d *Dir) checkDir(id string) error {
	fi, err := d.root.Lstat(id)
	if err != nil || !fi.IsDir() {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}

// Files lists the regular files in id's directory.
func (d *Dir) Files(id string) ([]BackendFile, error) {
	if err := d.checkDir(id); err != nil {
		return nil, err
	}
	dir, err := d.root.Open(id)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list recording %s: %w", id, err)
	}
	out := []BackendFile{}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, BackendFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	if len(out) == 0 {
		// An empty directory still dates the recording.
		if fi, err := dir.Stat(); err == nil {
			out = append(out, BackendFile{Name: ".", ModTime: fi.ModTime()})
		}
	}
	return out, nil
}

// IDs lists the directories (not symlinks) in the store.
func (d *Dir) IDs() ([]string, error) {
	dir, err := d.root.Open(".")
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	defer dir.Close()
	ents, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("list recordings: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// Remove deletes id's directory.
func (d *Dir) Remove(id string) error {
	if err := d.checkDir(id); err != nil {
		return err
	}
	if err := d.root.RemoveAll(id); err != nil {
		return fmt.Errorf("delete recording %s: %w", id, err)
	}
	return nil
}

// Recover has nothing to do: a file cut short by a crash is already in
// place, readable to its last whole frame.
func (d *Dir) Recover(string) error { return nil }

// path returns where id/name is on disk.
func (d *Dir) path(id, name string) string { return filepath.Join(d.dir, id, name) }
