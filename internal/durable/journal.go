package durable

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// Journal is an intent journal: the small state file in which the agent
// writes down what it is about to change on the system (a break-glass
// account, an elevation grant) before changing it, so that after a crash
// it knows the most that may have happened and can undo it. Break glass
// (agent/accounts) and elevation (agent/elevation) each keep one, on every
// OS.
//
// The file holds one T as a JSON object with a "version" field beside T's
// own fields (T must not have one): a file of another version is refused
// rather than half understood. Save rewrites the whole file through
// WriteFile (never a torn file). A Journal does no locking: its owner
// serialises Load and Save.
type Journal[T any] struct {
	path    string
	version int
	kind    error
}

// NewJournal returns the journal kept at path in format version; every
// error it returns wraps kind (e.g. accounts.ErrJournal) and names path.
func NewJournal[T any](path string, version int, kind error) *Journal[T] {
	return &Journal[T]{path: path, version: version, kind: kind}
}

// Path is where the journal is kept.
func (j *Journal[T]) Path() string { return j.path }

// Load reads the journal. A missing file is a zero T; any other failure
// is an error, never an empty journal, because forgetting what the file
// recorded (an account, a grant) would leave an administrator behind.
func (j *Journal[T]) Load() (*T, error) {
	var v T
	b, err := os.ReadFile(j.path)
	if errors.Is(err, fs.ErrNotExist) {
		return &v, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", j.kind, j.path, err)
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%w: parse %s: %w", j.kind, j.path, err)
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%w: parse %s: %w", j.kind, j.path, err)
	}
	if head.Version != j.version {
		return nil, fmt.Errorf("%w: %s has version %d, want %d", j.kind, j.path, head.Version, j.version)
	}
	return &v, nil
}

// Save replaces the journal with v (mode 0600), indented, version first.
func (j *Journal[T]) Save(v *T) error {
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("%w: encode %s: %w", j.kind, j.path, err)
	}
	if len(body) < 2 || body[0] != '{' {
		return fmt.Errorf("%w: %s: a journal holds a JSON object, not %.20s", j.kind, j.path, body)
	}
	flat := []byte(`{"version":` + strconv.Itoa(j.version))
	if len(body) > 2 {
		flat = append(flat, ',')
	}
	flat = append(flat, body[1:]...)
	var out bytes.Buffer
	if err := json.Indent(&out, flat, "", "  "); err != nil {
		return fmt.Errorf("%w: encode %s: %w", j.kind, j.path, err)
	}
	out.WriteByte('\n')
	if err := WriteFile(j.path, out.Bytes(), 0o600); err != nil {
		return fmt.Errorf("%w: write %s: %w", j.kind, j.path, err)
	}
	return nil
}
