package durable

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ReadJSON decodes the versioned JSON state file at path into v. The file's
// top-level "version" must equal version, so a file written by a future
// format is refused rather than half understood. A missing file is not an
// error and leaves v untouched (callers preset v to their empty state); any
// other failure is an error, never an empty state, because forgetting what
// the file recorded (an account, a grant) would leave an administrator
// behind. Errors name path.
func ReadJSON(path string, version int, v any) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	// v decoded, so the version field parses too.
	var head struct {
		Version int `json:"version"`
	}
	_ = json.Unmarshal(b, &head)
	if head.Version != version {
		return fmt.Errorf("%s has version %d, want %d", path, head.Version, version)
	}
	return nil
}

// WriteJSON replaces path with v as indented JSON and a final newline,
// through WriteFile (never a torn file). v must carry its own "version"
// field for ReadJSON to check.
func WriteJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return WriteFile(path, append(b, '\n'), mode)
}
