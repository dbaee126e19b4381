package stream

import "errors"

// Errors returned by Sender, matched with errors.Is.
var (
	// ErrClosed reports use of a Sender after Close or after its connection ended.
	ErrClosed = errors.New("stream: closed")
	// ErrNotNegotiated reports WriteFrame before Answer.
	ErrNotNegotiated = errors.New("stream: not negotiated")
	// ErrNegotiate reports a failure while answering the broker's offer.
	ErrNegotiate = errors.New("stream: negotiate")
)
