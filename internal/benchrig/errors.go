package benchrig

import "errors"

// Sentinel errors, wrapped with detail by the functions that return them.
var (
	// ErrConfig reports an unusable Config (no binaries, bad size, bad mode).
	ErrConfig = errors.New("benchrig: invalid config")
	// ErrStage reports that one stage of the rig did not come up (broker,
	// agent enrollment, session, video); the wrapping message says which.
	ErrStage = errors.New("benchrig: stage failed")
	// ErrAPI reports an unexpected answer from the broker's HTTP API.
	ErrAPI = errors.New("benchrig: broker API")
	// ErrProc reports that /proc could not be read for a process's CPU time.
	ErrProc = errors.New("benchrig: /proc")
)
