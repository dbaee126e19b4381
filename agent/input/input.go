// Package input injects the remote user's pointer and keyboard events
// (wire.Input, decoded from the session's data channel) into the endpoint's
// graphical session.
//
// The consumer (the session code) declares the small interface it needs,
//
//	type injector interface{ Inject(ctx context.Context, ev wire.Input) error }
//
// and gets a Robot (the real X11 injector, built on robotgo) in production
// or an inputtest.Recorder in tests. The Robot is the agent-side half of the
// view-only rule: in a view-only session it refuses every event with
// ErrViewOnly even though the broker already drops them.
package input

import (
	"log/slog"

	"porthole/internal/wire"
)

// Config says where a Robot injects.
type Config struct {
	// Display is the X display name of the session, e.g. ":0" (required;
	// never taken from the environment, so the agent, running as a service,
	// acts on the session it was told about).
	Display string
	// Displays are the monitors of the X screen, as in the agent's
	// inventory; wire.Input move events address them by index.
	Displays []wire.Display
	// ViewOnly starts the Robot refusing all events (see SetViewOnly).
	ViewOnly bool
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
}
