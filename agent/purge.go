package agent

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// purgeAt is "every deadline has passed" for Purge.
const purgeAt = 100 * 365 * 24 * time.Hour

// Purge removes, now, every break-glass account and every elevation grant
// the journals hold, as if their deadlines had all passed: what an
// uninstall must do first, so that no administrator the agent made
// outlives it. The removals are audit events in the outbox; Purge then
// keeps the link up until the broker has acknowledged them all or ctx ends,
// and returns how many are still undelivered (they stay in the state
// directory's outbox). It does not serve sessions or local sockets; use it
// on an agent that is not running, instead of Run.
func (a *Agent) Purge(ctx context.Context) (undelivered int, err error) {
	defer a.events.Close()
	defer a.rtc.Close()
	defer a.support.Close()
	far := time.Now().Add(purgeAt)
	var errs []error
	if a.bg.mgr != nil {
		if err := a.bg.mgr.Reconcile(ctx, far); err != nil {
			errs = append(errs, fmt.Errorf("break glass: %w", err))
		}
	}
	if a.elev != nil {
		if err := a.elev.Reconcile(ctx, far); err != nil {
			errs = append(errs, fmt.Errorf("elevation: %w", err))
		}
	}
	if a.events.Len() > 0 {
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		pumped := make(chan struct{})
		go func() {
			defer close(pumped)
			a.events.Pump(dctx, a.lnk)
		}()
		linked := make(chan struct{})
		go func() {
			defer close(linked)
			_ = a.lnk.Run(dctx)
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		for a.events.Len() > 0 && dctx.Err() == nil {
			select {
			case <-dctx.Done():
			case <-tick.C:
			}
		}
		tick.Stop()
		cancel()
		<-pumped
		<-linked
	}
	return a.events.Len(), errors.Join(errs...)
}
