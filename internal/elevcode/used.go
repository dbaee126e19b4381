package elevcode

import (
	"encoding/json"
	"fmt"
	"time"
)

// UsedSet remembers redeemed codes until they could no longer be accepted
// anyway, which makes codes single use. It is a plain value that marshals to
// JSON, so the agent keeps it inside its fsynced state file and a restart
// cannot replay a code. Not safe for concurrent use: the owner locks.
type UsedSet struct {
	until map[string]time.Time // Grant.Key → Grant.ValidUntil
}

// Redeem marks g used, or returns ErrUsed if it already was.
func (s *UsedSet) Redeem(g Grant) error {
	if g.Key == "" {
		return fmt.Errorf("%w: grant without key", ErrBadCode)
	}
	if _, ok := s.until[g.Key]; ok {
		return ErrUsed
	}
	if s.until == nil {
		s.until = make(map[string]time.Time)
	}
	s.until[g.Key] = g.ValidUntil
	return nil
}

// Used reports whether g was redeemed.
func (s *UsedSet) Used(g Grant) bool {
	_, ok := s.until[g.Key]
	return ok
}

// Prune forgets codes that Verify would refuse as expired at now, and
// returns how many it dropped.
func (s *UsedSet) Prune(now time.Time) int {
	n := 0
	for k, until := range s.until {
		if !now.Before(until) {
			delete(s.until, k)
			n++
		}
	}
	return n
}

// Len is the number of remembered codes.
func (s *UsedSet) Len() int { return len(s.until) }

// MarshalJSON writes {"key": "RFC3339 time", …}.
func (s UsedSet) MarshalJSON() ([]byte, error) {
	if s.until == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(s.until)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *UsedSet) UnmarshalJSON(b []byte) error {
	m := map[string]time.Time{}
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("elevcode: used set: %w", err)
	}
	s.until = m
	return nil
}
