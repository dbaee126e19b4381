// Package consenttest provides fakes of the consent interfaces and helpers
// that answer the real zenity dialogs on an Xvfb display, so end-to-end tests
// can play the end user.
package consenttest

import (
	"context"
	"sync"

	"porthole/agent/consent"
)

// Fixed is an Asker that gives the same answer (and error) every time and
// records what it was asked. The zero value declines.
type Fixed struct {
	Answer consent.Answer
	Err    error

	mu   sync.Mutex
	reqs []consent.Request // guarded by mu
}

var _ consent.Asker = (*Fixed)(nil)

// Ask records req and returns the configured answer, or ctx.Err() if ctx
// has already ended.
func (f *Fixed) Ask(ctx context.Context, req consent.Request) (consent.Answer, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return consent.Declined, err
	}
	if f.Err != nil {
		return consent.Declined, f.Err
	}
	return f.Answer, nil
}

// Requests returns the requests asked so far, oldest first.
func (f *Fixed) Requests() []consent.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]consent.Request(nil), f.reqs...)
}

// Indicator is a fake session indicator. End plays the user pressing Done
// on the most recent Show; Stopped says whether the session stopped it.
type Indicator struct {
	// Err, if set, makes Show fail.
	Err error

	mu      sync.Mutex
	reqs    []consent.Request // guarded by mu
	done    chan struct{}     // guarded by mu; of the latest Show
	ended   bool              // guarded by mu
	stopped bool              // guarded by mu
}

var _ consent.Indicator = (*Indicator)(nil)

// Show records req. stop (or ctx ending) marks the indicator stopped.
func (ind *Indicator) Show(ctx context.Context, req consent.Request) (<-chan struct{}, func(), error) {
	if ind.Err != nil {
		return nil, nil, ind.Err
	}
	done := make(chan struct{})
	ind.mu.Lock()
	ind.reqs = append(ind.reqs, req)
	ind.done, ind.ended, ind.stopped = done, false, false
	ind.mu.Unlock()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ind.mu.Lock()
			if ind.done == done {
				ind.stopped = true
			}
			ind.mu.Unlock()
		})
	}
	unwatch := context.AfterFunc(ctx, stop)
	return done, func() { unwatch(); stop() }, nil
}

// End plays the user pressing Done: the latest Show's done channel closes.
// It reports false if nothing is showing (never shown, stopped, or ended).
func (ind *Indicator) End() bool {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	if ind.done == nil || ind.ended || ind.stopped {
		return false
	}
	ind.ended = true
	close(ind.done)
	return true
}

// Stopped reports whether the latest Show was stopped by its caller.
func (ind *Indicator) Stopped() bool {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	return ind.stopped
}

// Shown returns the requests shown so far, oldest first.
func (ind *Indicator) Shown() []consent.Request {
	ind.mu.Lock()
	defer ind.mu.Unlock()
	return append([]consent.Request(nil), ind.reqs...)
}

// Unanswered is an Asker whose end user never answers: the prompt stays
// open until the session is ended, so a test can act on a session held in
// waiting_consent.
type Unanswered struct{}

var _ consent.Asker = Unanswered{}

// Ask blocks until ctx ends and then declines.
func (Unanswered) Ask(ctx context.Context, _ consent.Request) (consent.Answer, error) {
	<-ctx.Done()
	return consent.Declined, ctx.Err()
}
