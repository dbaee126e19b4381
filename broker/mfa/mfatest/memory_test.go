package mfatest

import (
	"testing"

	"porthole/broker/mfa"
)

func TestMemory(t *testing.T) {
	StoreSuite(t, func(*testing.T) mfa.Store { return &Memory{} })
}
