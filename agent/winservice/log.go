package winservice

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// LogFile is the service's log in the state directory (the service has no
// console; the directory's ACL keeps it to SYSTEM and Administrators).
const LogFile = "agent.log"

// maxLog is the size past which the log is rotated at start (to
// agent.log.1, replacing the older one).
const maxLog = 10 << 20

// OpenLog opens dir's log for appending, first rotating it when it has
// grown past maxLog.
func OpenLog(dir string) (io.WriteCloser, error) {
	path := filepath.Join(dir, LogFile)
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLog {
		if err := os.Rename(path, path+".1"); err != nil {
			return nil, err
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}
