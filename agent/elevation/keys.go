package elevation

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"porthole/internal/elevcode"
)

// SetKeys replaces the device keys codes are verified with: secret, and
// previous while a key rotation is not yet confirmed by the broker (nil
// once it is, or when there is no rotation). The broker issues codes with
// the old key until it has heard that the agent stored the new one, so both
// verify in between; after the confirmation only secret does.
func (m *Manager) SetKeys(secret, previous []byte) error {
	if len(secret) < elevcode.MinSecretLen || (previous != nil && len(previous) < elevcode.MinSecretLen) {
		return fmt.Errorf("%w: device key too short", ErrConfig)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg.Secret, m.previous = slices.Clone(secret), slices.Clone(previous)
	return nil
}

// verifyLocked checks code with the key in force, then with the previous
// key of an unconfirmed rotation. Only a bad code (not an expired or
// malformed one) is tried again.
func (m *Manager) verifyLocked(user, code string, now time.Time) (elevcode.Grant, error) {
	g, err := elevcode.Verify(m.cfg.Secret, m.cfg.DeviceID, user, code, now, m.cfg.CodeWindow)
	if errors.Is(err, elevcode.ErrBadCode) && len(m.previous) > 0 {
		if pg, perr := elevcode.Verify(m.previous, m.cfg.DeviceID, user, code, now, m.cfg.CodeWindow); perr == nil {
			return pg, nil
		}
	}
	return g, err
}
