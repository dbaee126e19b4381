// Package durable writes the agent's and broker's small state files so that
// a crash or power loss leaves either the old or the new content, never a
// torn file: the break-glass journal, the elevation state and the event
// outbox all depend on that to never leave an administrator behind or lose
// an audit event.
package durable

import (
	"os"
	"path/filepath"
	"runtime"
)

// WriteFile replaces path with data: it writes a temporary file in the same
// directory with mode, fsyncs it, renames it over path and fsyncs the
// directory.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return WriteChecked(path, data, mode, nil)
}

// WriteChecked is WriteFile with check run on the complete temporary file
// before it replaces path (sudoers drop-ins are validated by visudo there):
// a check error leaves path untouched and is returned as is.
func WriteChecked(path string, data []byte, mode os.FileMode, check func(tmp string) error) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// CreateTemp uses 0600; Chmod makes the mode independent of that detail.
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if check != nil {
		if err := check(tmp.Name()); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	ok = true
	return SyncDir(dir)
}

// SyncDir makes a rename, creation or removal in dir durable. Windows cannot
// fsync a directory (NTFS journals the change itself), so it is skipped there.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
