package relay

import "errors"

// End reasons reported by Session.Err, and misuse errors, matched with errors.Is.
var (
	// ErrClosed ends a session that the broker closed (Close).
	ErrClosed = errors.New("relay: closed by broker")
	// ErrAgentFailed ends a session whose agent leg reached ICE/DTLS "failed".
	ErrAgentFailed = errors.New("relay: agent leg failed")
	// ErrAgentClosed ends a session whose agent leg was closed by the agent.
	ErrAgentClosed = errors.New("relay: agent leg closed")
	// ErrAgentLost ends a session whose agent leg stayed "disconnected" past the grace period.
	ErrAgentLost = errors.New("relay: agent leg disconnected")
	// ErrBrowserFailed ends a session whose browser leg reached ICE/DTLS "failed".
	ErrBrowserFailed = errors.New("relay: browser leg failed")
	// ErrBrowserClosed ends a session whose browser leg was closed by the browser.
	ErrBrowserClosed = errors.New("relay: browser leg closed")
	// ErrBrowserLost ends a session whose browser leg stayed "disconnected" past the grace period.
	ErrBrowserLost = errors.New("relay: browser leg disconnected")

	// ErrState reports a signaling call out of order (answer before offer, offer twice)
	// or on an ended session.
	ErrState = errors.New("relay: invalid signaling state")
	// ErrNegotiate reports a failure while building an offer or applying an answer.
	ErrNegotiate = errors.New("relay: negotiate")
)
