package platform

import (
	"log/slog"

	"porthole/agent"
	"porthole/agent/helper"
)

// HelperLocal is what `porthole-agent helper` serves in the user's
// session: this OS's capture, encoder, input and dialogs, assembled as for
// an agent that does them in its own process. Services this endpoint
// lacks are answered with an error when the service asks for them; the
// error returned names them (the helper logs it and serves the rest).
func HelperLocal(o Options, log *slog.Logger) (helper.Local, error) {
	var cfg agent.Config
	err := Assemble(&cfg, o.inProcess(), true, log)
	l := helper.Local{Displays: cfg.Displays, CaptureMethod: cfg.CaptureMethod, OpenSource: cfg.Support.OpenSource,
		NewEncoder: cfg.Support.NewEncoder, NewInjector: cfg.Support.NewInjector, Logger: log}
	if cfg.Support.Asker != nil {
		l.Asker = cfg.Support.Asker
	}
	if cfg.Support.Indicator != nil {
		l.Indicator = cfg.Support.Indicator
	}
	if cfg.Request.Form != nil {
		l.Form = cfg.Request.Form
	}
	if cfg.Request.Notify != nil {
		l.Info = cfg.Request.Notify
	}
	return l, err
}
