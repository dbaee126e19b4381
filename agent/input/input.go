// Package input injects the remote user's pointer and keyboard events
// (wire.Input, decoded from the session's data channel) into the endpoint's
// graphical session.
//
// The consumer (the session code) declares the small interface it needs,
//
//	type injector interface{ Inject(ctx context.Context, ev wire.Input) error }
//
// and gets the OS's injector in production (Linux: Robot, XTEST through
// robotgo; Windows: SendInput, user32's SendInput) or an inputtest.Recorder
// in tests. Both share one core (core.go): validation, display geometry,
// the keys and buttons held down and release-all, the view-only rule (the
// agent-side half of it: in a view-only session every event is refused
// with ErrViewOnly even though the broker already drops them), and one key
// table for both OSes (keymap.go). Ctrl+Alt+Del (Delete pressed while Ctrl
// and Alt are held) becomes SendSAS on Windows, where injected keys cannot
// produce it.
package input

import (
	"log/slog"

	"porthole/internal/wire"
)

// Config says where an injector injects.
type Config struct {
	// Display is the X display name of the session, e.g. ":0" (required on
	// Linux; never taken from the environment, so the agent, running as a
	// service, acts on the session it was told about). Windows ignores it.
	Display string
	// Displays are the monitors of the X screen, as in the agent's
	// inventory; wire.Input move events address them by index.
	Displays []wire.Display
	// ViewOnly starts the Robot refusing all events (see SetViewOnly).
	ViewOnly bool
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// SAS, on Windows, sends Ctrl+Alt+Del; nil calls sas.dll's SendSAS in
	// this process, which Windows honours only in a LocalSystem service
	// with the SoftwareSASGeneration policy set. A helper process in the
	// user's session would ask the service instead. Linux ignores it.
	SAS func() error
}
