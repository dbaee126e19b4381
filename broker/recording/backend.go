package recording

import (
	"io"
	"time"
)

// Backend is where a Store keeps recordings' files: a directory (Dir, the
// default) or an S3-compatible bucket (package recording/s3). Recordings
// are named by id (checked against IDPattern by the Store before any call)
// and their files by plain names ("1.webm", "events.jsonl"). A Backend is
// safe for concurrent use.
type Backend interface {
	// Create starts recording id; ErrExists if it already has files.
	Create(id string) error
	// NewFile creates file name of recording id for the recorder to write.
	NewFile(id, name string) (Writer, error)
	// Open opens a file for reading (a live one as far as it is written).
	// ErrNotFound when it is missing or not a regular file.
	Open(id, name string) (io.ReadSeekCloser, BackendFile, error)
	// Files lists recording id's files; ErrNotFound when it has none.
	Files(id string) ([]BackendFile, error)
	// IDs lists every recording, in no particular order.
	IDs() ([]string, error)
	// Remove deletes recording id and its files.
	Remove(id string) error
	// Recover finishes, as far as it can, the files of recording id that a
	// crash left half-written, so that Files and Open see them.
	Recover(id string) error
	// Close releases the backend.
	Close() error
}

// BackendFile is one file as a Backend lists it.
type BackendFile struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Writer is one recording file being written: appended to, patched in
// place (WebM sizes, Duration, Cues), cut back after a failed write,
// synced, and closed, which finishes it. *os.File is one.
type Writer interface {
	io.Writer
	io.WriterAt
	Truncate(size int64) error
	Sync() error
	Close() error
}

// Settler is a Writer that wants to know which bytes will not change any
// more: the WebM muxer tells it, as each cluster starts, that everything
// before off is final except the header it patches on finish. An object
// store uploads final bytes early; a file ignores the hint.
type Settler interface {
	Settled(off int64)
}

// file is the muxer's name for a Writer.
type file = Writer
