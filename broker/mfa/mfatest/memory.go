// Package mfatest provides an in-memory mfa.Store for tests, with the same
// conditional-write semantics the SQL store must have, and a Dump of every
// byte it holds so tests can prove no secret or code is stored in clear.
package mfatest

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"time"

	"porthole/broker/mfa"
)

var _ mfa.Store = (*Memory)(nil)

// Memory is an in-memory mfa.Store. The zero value is ready to use.
type Memory struct {
	mu    sync.Mutex
	totp  map[string]mfa.Enrollment     // by user id; guarded by mu
	codes map[string][]mfa.RecoveryCode // by user id; guarded by mu
}

func (m *Memory) initLocked() {
	if m.totp == nil {
		m.totp = make(map[string]mfa.Enrollment)
		m.codes = make(map[string][]mfa.RecoveryCode)
	}
}

func cloneEnrollment(e mfa.Enrollment) mfa.Enrollment {
	e.SealedSecret = bytes.Clone(e.SealedSecret)
	return e
}

// InsertMFA implements mfa.Store.
func (m *Memory) InsertMFA(_ context.Context, e mfa.Enrollment, codes []mfa.RecoveryCode) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	if _, ok := m.totp[e.UserID]; ok {
		return false, nil
	}
	m.totp[e.UserID] = cloneEnrollment(e)
	m.codes[e.UserID] = slices.Clone(codes)
	return true, nil
}

// TOTP implements mfa.Store.
func (m *Memory) TOTP(_ context.Context, userID string) (mfa.Enrollment, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.totp[userID]
	return cloneEnrollment(e), ok, nil
}

// AdvanceTOTPStep implements mfa.Store.
func (m *Memory) AdvanceTOTPStep(_ context.Context, userID string, step int64) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.totp[userID]
	if !ok || step <= e.LastStep {
		return false, nil
	}
	e.LastStep = step
	m.totp[userID] = e
	return true, nil
}

// RecoveryCodes implements mfa.Store.
func (m *Memory) RecoveryCodes(_ context.Context, userID string) ([]mfa.RecoveryCode, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mfa.RecoveryCode
	for _, c := range m.codes[userID] {
		if c.UsedAt.IsZero() {
			out = append(out, c)
		}
	}
	return out, nil
}

// UseRecoveryCode implements mfa.Store.
func (m *Memory) UseRecoveryCode(_ context.Context, userID, codeID string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	codes := m.codes[userID]
	for i := range codes {
		if codes[i].ID == codeID && codes[i].UsedAt.IsZero() {
			codes[i].UsedAt = at
			return true, nil
		}
	}
	return false, nil
}

// ReplaceRecoveryCodes implements mfa.Store.
func (m *Memory) ReplaceRecoveryCodes(_ context.Context, userID string, codes []mfa.RecoveryCode) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.totp[userID]; !ok {
		return false, nil
	}
	m.codes[userID] = slices.Clone(codes)
	return true, nil
}

// DeleteMFA implements mfa.Store.
func (m *Memory) DeleteMFA(_ context.Context, userID string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.totp[userID]
	delete(m.totp, userID)
	delete(m.codes, userID)
	return ok, nil
}

// Dump returns every byte the store holds (secrets, hashes, ids), so a test
// can assert that no plaintext secret or recovery code is among them.
func (m *Memory) Dump() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b bytes.Buffer
	for id, e := range m.totp {
		b.WriteString(id)
		b.Write(e.SealedSecret)
	}
	for _, cs := range m.codes {
		for _, c := range cs {
			b.WriteString(c.ID + c.UserID + c.Hash)
		}
	}
	return b.Bytes()
}
