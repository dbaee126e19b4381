package recording

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrDiskFull means a write failed for lack of space (ENOSPC, EDQUOT) or
	// the recording reached Options.MaxBytes. The recorder has stopped.
	ErrDiskFull = errors.New("recording: disk full")
	// ErrWrite means a write to a recording file failed for another reason.
	// The recorder has stopped.
	ErrWrite = errors.New("recording: write failed")
	// ErrClosed is returned by Event after Close.
	ErrClosed = errors.New("recording: closed")
	// ErrBadID means a recording id does not match IDPattern; the store never
	// turns it into a path.
	ErrBadID = errors.New("recording: invalid id")
	// ErrBadEvent means an event's kind or data cannot be recorded.
	ErrBadEvent = errors.New("recording: invalid event")
	// ErrExists means a recording with this id already exists; recordings are
	// never overwritten.
	ErrExists = errors.New("recording: already exists")
	// ErrNotFound means the recording or file does not exist, or is not a
	// regular file inside the store (a symlink, a device, a directory).
	ErrNotFound = errors.New("recording: not found")
	// ErrMismatch means Verify found a file whose size or digest differs from
	// the audited one, or a missing or unexpected file.
	ErrMismatch = errors.New("recording: verification failed")
	// ErrBusy means the recording is still being written.
	ErrBusy = errors.New("recording: in progress")
)
