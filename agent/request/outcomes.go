package request

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"porthole/internal/durable"
	"porthole/internal/wire"
)

// OutcomesFile keeps, in the state directory, the ids of request outcomes
// the end user has been told.
const OutcomesFile = "request-outcomes.json"

// outcomesKept is how long a told outcome's id is remembered: well past
// the broker's resend window (a week), so no resend is shown twice.
const outcomesKept = 30 * 24 * time.Hour

// Outcomes remembers, durably, which request outcomes the end user has
// been told. The broker resends an outcome until the agent acknowledges
// it, so an acknowledgement lost to a disconnect or a restart brings the
// outcome again: Outcomes keeps it from being shown twice.
type Outcomes struct {
	path string // "" keeps them in memory only

	mu   sync.Mutex
	told map[string]time.Time // agent request id → when it was told; guarded by mu
}

// OpenOutcomes loads the told outcomes kept in dir.
func OpenOutcomes(dir string) (*Outcomes, error) {
	o := &Outcomes{path: filepath.Join(dir, OutcomesFile), told: map[string]time.Time{}}
	b, err := os.ReadFile(o.path)
	if errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &o.told)
	}
	if err != nil {
		return nil, fmt.Errorf("request outcomes: %w", err)
	}
	return o, nil
}

// Told reports whether id's outcome was told already.
func (o *Outcomes) Told(id string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.told[id]
	return ok
}

// Mark remembers that id's outcome was told at now (and forgets ids older
// than outcomesKept), durably before it returns.
func (o *Outcomes) Mark(id string, now time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.told[id] = now
	for k, at := range o.told {
		if now.Sub(at) > outcomesKept {
			delete(o.told, k)
		}
	}
	if o.path == "" {
		return nil
	}
	b, err := json.Marshal(o.told)
	if err != nil {
		return err
	}
	return durable.WriteFile(o.path, b, 0o600)
}

// Outcome hands the end user a request's final outcome once: show runs
// unless id's outcome was told before (a resend after a lost
// acknowledgement or a restart); id is then remembered and acknowledged to
// the broker, which stops resending it. Elevation outcomes use it too.
func (s *Service) Outcome(id string, show func()) {
	if !s.outcomes.Told(id) {
		show()
		if err := s.outcomes.Mark(id, time.Now()); err != nil {
			// Not remembered, so not acknowledged: the broker resends it.
			s.log.Error("request outcome not remembered", "request_id", id, "err", err)
			return
		}
	} else {
		s.log.Info("request outcome told before", "request_id", id)
	}
	if err := s.cfg.Send(&wire.RequestOutcomeAck{RequestID: id}); err != nil {
		s.log.Info("request outcome not acknowledged", "request_id", id, "err", err)
	}
}

// When names the time of a request for the end user: "14:02" today,
// "Mar 3 14:02" on another day.
func When(at, now time.Time) string {
	at, now = at.Local(), now.Local()
	if y, m, d := at.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return at.Format("15:04")
	}
	return at.Format("Jan 2 15:04")
}
