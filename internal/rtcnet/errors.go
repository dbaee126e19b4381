package rtcnet

import "errors"

// Errors returned by NewAPI, matched with errors.Is.
var (
	// ErrConfig reports a Config that cannot be used (bad port, bad IP).
	ErrConfig = errors.New("rtcnet: invalid config")
	// ErrListen reports that the shared UDP or TCP port could not be opened.
	ErrListen = errors.New("rtcnet: listen")
	// ErrMedia reports a failure while registering codecs, extensions or interceptors.
	ErrMedia = errors.New("rtcnet: media engine")
)
