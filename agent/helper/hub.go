package helper

import (
	"context"
	"sync"
	"time"

	"porthole/agent/consent"
	"porthole/agent/support"
	"porthole/internal/wire"
)

// Hub is the service's stable handle on whichever helper is connected now:
// the helper is restarted when it dies or the console session changes,
// and the agent core keeps calling the same Hub. Calls while no helper is
// connected fail with ErrNoHelper (a session then ends with that reason).
type Hub struct {
	mu  sync.Mutex
	cur *Remote // guarded by mu; nil when no helper is connected
}

// Set makes r the connected helper (nil: none), closing the one before.
func (h *Hub) Set(r *Remote) {
	h.mu.Lock()
	old := h.cur
	h.cur = r
	h.mu.Unlock()
	if old != nil && old != r {
		old.Close()
	}
}

// Current is the connected helper, or ErrNoHelper.
func (h *Hub) Current() (*Remote, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil {
		return nil, ErrNoHelper
	}
	return h.cur, nil
}

// Displays lists the screens of the console session.
func (h *Hub) Displays() ([]wire.Display, error) {
	r, err := h.Current()
	if err != nil {
		return nil, err
	}
	return r.Displays()
}

// CaptureMethod is how the current helper captures the screen; "" with
// no helper (nobody logged on yet).
func (h *Hub) CaptureMethod() string {
	r, err := h.Current()
	if err != nil {
		return ""
	}
	return r.CaptureMethod()
}

// Ask asks the user at the console (consent.Asker).
func (h *Hub) Ask(ctx context.Context, req consent.Request) (consent.Answer, error) {
	r, err := h.Current()
	if err != nil {
		return consent.Declined, err
	}
	return r.Ask(ctx, req)
}

// Show shows the indicator at the console (consent.Indicator).
func (h *Hub) Show(ctx context.Context, req consent.Request) (<-chan struct{}, func(), error) {
	r, err := h.Current()
	if err != nil {
		return nil, nil, err
	}
	return r.Show(ctx, req)
}

// Form shows the request-support form at the console.
func (h *Hub) Form(ctx context.Context, text string, fields []string, timeout time.Duration) ([]string, error) {
	r, err := h.Current()
	if err != nil {
		return nil, err
	}
	return r.Form(ctx, text, fields, timeout)
}

// Info shows a notice at the console.
func (h *Hub) Info(ctx context.Context, text string, timeout time.Duration) error {
	r, err := h.Current()
	if err != nil {
		return err
	}
	return r.Info(ctx, text, timeout)
}

// RunVideo is support.VideoFunc through the connected helper.
func (h *Hub) RunVideo(ctx context.Context, d wire.Display, cfg support.EncoderConfig, sink func([]byte, bool, time.Duration) error, keyframes <-chan struct{}) error {
	r, err := h.Current()
	if err != nil {
		return err
	}
	return r.RunVideo(ctx, d, cfg, sink, keyframes)
}

// NewInjector opens an injector in the connected helper.
func (h *Hub) NewInjector(displays []wire.Display, viewOnly bool) (support.Injector, error) {
	r, err := h.Current()
	if err != nil {
		return nil, err
	}
	return r.NewInjector(displays, viewOnly)
}
