package localsock

import (
	"strings"
	"testing"
)

func TestPipeSDDL(t *testing.T) {
	const user, svc = "S-1-5-21-1004336348-1177238915-682003330-1001", "S-1-5-21-1004336348-1177238915-682003330-1002"
	for _, tc := range []struct {
		name string
		got  func() (string, error)
		want string
	}{
		{"public, served by SYSTEM", func() (string, error) { return PublicSDDL(sidSystem) },
			"D:P(A;;GA;;;S-1-5-18)(A;;0x12008b;;;S-1-5-4)"},
		{"public, served by a user (run by hand)", func() (string, error) { return PublicSDDL(svc) },
			"D:P(A;;GA;;;S-1-5-18)(A;;GA;;;" + svc + ")(A;;0x12008b;;;S-1-5-4)"},
		{"private, served by SYSTEM", func() (string, error) { return PrivateSDDL(sidSystem, user) },
			"D:P(A;;GA;;;S-1-5-18)(A;;0x12008b;;;" + user + ")"},
		{"private, helper spawned by its own user", func() (string, error) { return PrivateSDDL(user, user) },
			"D:P(A;;GA;;;S-1-5-18)(A;;GA;;;" + user + ")"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.got()
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestClientAccessCannotServe: clients may read, write and wait, but never
// create a pipe instance (and so answer the next caller), change the ACL
// or take ownership.
func TestClientAccessCannotServe(t *testing.T) {
	const (
		fileAppendData = 0x4
		writeDAC       = 0x40000
		writeOwner     = 0x80000
		delete         = 0x10000
		writeAttrs     = 0x100
		writeEA        = 0x10
	)
	if ClientAccess != 0x12008b {
		t.Fatalf("ClientAccess = %#x", ClientAccess)
	}
	for _, bad := range []int{fileCreateInstance, fileAppendData, writeDAC, writeOwner, delete, writeAttrs, writeEA} {
		if ClientAccess&bad != 0 {
			t.Errorf("ClientAccess %#x grants %#x", ClientAccess, bad)
		}
	}
	// Dial asks for GENERIC_READ, which the pipe maps to FILE_GENERIC_READ
	// (0x120089), and FILE_WRITE_DATA: all granted by ClientAccess.
	const fileGenericRead = 0x120089
	if (fileGenericRead|dialAccess&^genericRead)&^ClientAccess != 0 {
		t.Errorf("Dial asks for %#x, more than clients are granted", dialAccess)
	}
}

// TestSDDLRefusesInjection: only SID strings reach the SDDL, so a crafted
// "SID" cannot add ACEs.
func TestSDDLRefusesInjection(t *testing.T) {
	for _, bad := range []string{"", "S-1", "S-1-5-18)(A;;GA;;;WD", "WD", "S-1-5-x", "s-1-5-18", "S-1-5--1",
		"S-2-5-18", "S-1-5-" + strings.Repeat("1", 21)} {
		if _, err := PublicSDDL(bad); err == nil {
			t.Errorf("PublicSDDL(%q) accepted", bad)
		}
		if _, err := PrivateSDDL(sidSystem, bad); err == nil {
			t.Errorf("PrivateSDDL(SYSTEM, %q) accepted", bad)
		}
	}
	if _, err := PrivateSDDL(sidSystem, sidInteractive); err == nil {
		t.Error("a private pipe for INTERACTIVE was accepted")
	}
}

func TestPipeModes(t *testing.T) {
	open, mode := pipeModes(true)
	if open != 0x40080003 || mode != 0x8 {
		t.Fatalf("first instance: open %#x mode %#x, want FIRST_PIPE_INSTANCE|OVERLAPPED|DUPLEX, REJECT_REMOTE_CLIENTS", open, mode)
	}
	open, mode = pipeModes(false)
	if open != 0x40000003 || mode != 0x8 {
		t.Fatalf("further instance: open %#x mode %#x", open, mode)
	}
}
