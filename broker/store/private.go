package store

import (
	"errors"
	"io/fs"
	"os"
)

// private makes the database file at path, and the -wal and -shm files
// SQLite keeps beside it, readable and writable by the broker's user only.
// The file is created 0600 before SQLite opens it, because SQLite creates
// its -wal and -shm files with the mode of the database file; files an
// older broker made with the umask's mode are narrowed to 0600.
func private(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}
