package sessions

import (
	"context"
	"sort"
)

// Info identifies a live session for callers deciding whether it may go on.
type Info struct {
	ID        string
	DeviceID  string
	Requester string
	// Grant is the access request the session runs under ("": the role).
	Grant string
}

// EndWhere ends every live session (waiting for consent, connecting or
// live) for which match says true, with reason, and returns their ids,
// sorted. match runs without the manager's lock held, so it may look
// things up; an error from it leaves that session alone and is returned
// (after the others were handled).
func (m *Manager) EndWhere(ctx context.Context, reason string, match func(context.Context, Info) (bool, error)) ([]string, error) {
	m.mu.Lock()
	live := make([]*Session, 0, len(m.byDevice))
	for _, s := range m.byDevice {
		live = append(live, s)
	}
	m.mu.Unlock()
	var ended []string
	var firstErr error
	for _, s := range live {
		ok, err := match(ctx, Info{ID: s.ID, DeviceID: s.DeviceID, Requester: s.Requester, Grant: s.Grant})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if ok && s.ending(reason) {
			ended = append(ended, s.ID)
		}
	}
	sort.Strings(ended)
	return ended, firstErr
}

// ending ends the session with reason; false if it had already ended.
func (s *Session) ending(reason string) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	s.End(reason)
	return true
}

// Live lists the live sessions (waiting for consent, connecting or live), sorted by id.
func (m *Manager) Live() []Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Info, 0, len(m.byDevice))
	for _, s := range m.byDevice {
		out = append(out, Info{ID: s.ID, DeviceID: s.DeviceID, Requester: s.Requester, Grant: s.Grant})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}
