package auditstream

import "errors"

// Errors, matched with errors.Is.
var (
	// ErrConfig reports an unusable destination address or option.
	ErrConfig = errors.New("auditstream: bad configuration")
	// ErrRejected reports a webhook answer other than 2xx.
	ErrRejected = errors.New("auditstream: webhook rejected the event")
)
