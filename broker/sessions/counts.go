package sessions

import "porthole/broker/relay"

// Counts is what this broker's sessions add up to, for metrics.
type Counts struct {
	// ByState counts the sessions of this broker run by state: the
	// waiting, connecting and live ones now, and the ended and declined
	// ones so far.
	ByState map[string]int
	// Relay adds up the relay counters of every session of this run.
	Relay relay.Stats
}

// Counts adds up the manager's sessions. It relies on byID holding every
// session of the run (Get serves ended ones too): whoever ever prunes it
// must fold the pruned sessions' counters into a running total here, or
// the totals would go backwards.
func (m *Manager) Counts() Counts {
	m.mu.Lock()
	all := make([]*Session, 0, len(m.byID))
	for _, s := range m.byID {
		all = append(all, s)
	}
	m.mu.Unlock()
	c := Counts{ByState: map[string]int{}}
	for _, s := range all {
		s.mu.Lock()
		st, rel := s.state, s.rel
		s.mu.Unlock()
		c.ByState[st]++
		if rel == nil {
			continue
		}
		r := rel.Stats()
		c.Relay.PacketsForwarded += r.PacketsForwarded
		c.Relay.BytesForwarded += r.BytesForwarded
		c.Relay.PLIsReceived += r.PLIsReceived
		c.Relay.PLIsForwarded += r.PLIsForwarded
		c.Relay.InputForwarded += r.InputForwarded
		c.Relay.InputDropped += r.InputDropped
		c.Relay.InputUndelivered += r.InputUndelivered
	}
	return c
}
